//! The state every handler and server function shares.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sea_orm::DatabaseConnection;
use std::{sync::Arc, time::Duration};

use super::{
    password::PasswordHasher,
    services::fetch::{FetchPolicy, Fetcher},
};

/// Settings the app needs at run time (the server crate reads them from flags, env, file).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The base URL clients use, without a trailing slash; `None` to use the request's host.
    pub public_url: Option<String>,
    /// Whether cookies are marked `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// How long a boot session lives after its last use.
    pub boot_token_ttl: Duration,
    /// How long a web session lives after its sign-in (or password change).
    pub web_session_ttl: Duration,
    /// Failed logins for one username from one address within `throttle_window` before that
    /// address is refused for that username.
    pub max_failures_per_user: u64,
    /// Failed logins for one username from anywhere within `throttle_window` before every
    /// attempt for it is slowed down (never refused).
    pub backoff_after_failures: u64,
    /// The longest an attempt is slowed down.
    pub max_backoff: Duration,
    /// Failed logins per client address within `throttle_window`.
    pub max_failures_per_address: u64,
    /// The window over which failed logins are counted.
    pub throttle_window: Duration,
    /// syslinux's memdisk, served to BIOS clients that boot an ISO from memory.
    pub memdisk_path: Option<std::path::PathBuf>,
    /// The file holding the first-start admin's generated password; deleted once they
    /// choose their own.
    pub first_password_file: Option<std::path::PathBuf>,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers name the client's address.
    pub trusted_proxies: Vec<super::net::Network>,
    /// How long boot log rows are kept.
    pub boot_log_retention: Duration,
    /// iPXE steps one boot session may take per minute.
    pub boot_steps_per_minute: u32,
    /// The files folder: hosted files' bytes and uploads in progress, shared by replicas.
    pub files_dir: std::path::PathBuf,
    /// The networks files may be fetched from; empty: any address but loopback,
    /// link-local and this server's own (see `services::fetch::FetchPolicy`).
    pub fetch_allow: Vec<super::net::Network>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: None,
            secure_cookies: false,
            boot_token_ttl: Duration::from_secs(15 * 60),
            web_session_ttl: Duration::from_secs(7 * 24 * 3600),
            max_failures_per_user: 5,
            backoff_after_failures: 10,
            max_backoff: Duration::from_secs(3),
            max_failures_per_address: 20,
            throttle_window: Duration::from_secs(5 * 60),
            memdisk_path: Some("/usr/lib/syslinux/memdisk".into()),
            first_password_file: None,
            trusted_proxies: Vec::new(),
            boot_log_retention: Duration::from_secs(180 * 24 * 3600),
            boot_steps_per_minute: 60,
            files_dir: "pxecloud-data/files".into(),
            fetch_allow: Vec::new(),
        }
    }
}

/// Everything shared: the database, the password hasher, settings and Leptos's options.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub hasher: PasswordHasher,
    pub settings: Arc<Settings>,
    pub leptos_options: LeptosOptions,
    /// Steps per boot session: a signed-in machine cannot hammer the server or fill the
    /// boot log by replaying its URLs.
    pub boot_steps: Arc<super::rate::StepLimiter>,
    /// What the boot server listens on and did (filled by `pxecloud serve`; `None` in tests
    /// that start no boot server).
    pub boot_server: Option<Arc<dyn super::boot_server::BootServerProbe>>,
    /// Reads hosted files for downloads (their memory bounded, blobs kept open a while).
    pub blobs: Arc<super::file_store::BlobReader>,
    /// The trees of library ISOs, to serve the files inside them.
    pub iso_trees: Arc<super::services::iso::Trees>,
    /// The HTTP client that fetches files from URLs, made on first use from the settings.
    pub fetcher: Arc<std::sync::OnceLock<Arc<Fetcher>>>,
    /// Writes the boot log by group commit.
    pub boot_log: super::services::boot_log::Writer,
    /// What boot steps read, kept while the database's boot generation stays the same.
    pub boot_cache: Arc<super::boot_cache::BootCache>,
}

impl AppState {
    /// The client for fetches from URLs, with the settings' policy.
    pub fn fetcher(&self) -> Result<Arc<Fetcher>, crate::error::AppError> {
        if let Some(fetcher) = self.fetcher.get() {
            return Ok(fetcher.clone());
        }
        let own_host = self
            .settings
            .public_url
            .as_deref()
            .and_then(|url| url::Url::parse(url).ok())
            .and_then(|url| url.host_str().map(str::to_owned));
        let fetcher = Arc::new(Fetcher::new(FetchPolicy {
            allow: self.settings.fetch_allow.clone(),
            own_host,
        })?);
        Ok(self.fetcher.get_or_init(|| fetcher).clone())
    }

    /// Runs the fetch `id` in the background (unless another task runs it already).
    pub fn spawn_fetch(&self, id: String) -> Result<(), crate::error::AppError> {
        let fetcher = self.fetcher()?;
        tokio::spawn(super::services::fetch::run(
            self.db.clone(),
            self.file_store(),
            fetcher,
            id,
        ));
        Ok(())
    }

    /// Where hosted files' bytes are.
    pub fn file_store(&self) -> super::file_store::FileStore {
        super::file_store::FileStore::new(&self.settings.files_dir)
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for DatabaseConnection {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

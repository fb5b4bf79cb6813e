//! `pxecloud serve`: open the database, migrate, make the first admin, listen.

use app::server::{
    file_store::BlobReader,
    password::PasswordHasher,
    rate::StepLimiter,
    services::{
        accounts, boot_log, boot_sessions, fetch, files, invitations, iso, network_log, throttle,
    },
    session_store::DbSessionStore,
    state::{AppState, Settings},
};
use leptos::config::LeptosOptions;
use sea_orm::DatabaseConnection;
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tower_sessions::ExpiredDeletion;

use crate::{
    config::Config,
    database, dhcp,
    http::{self, assets, router},
    tftp,
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Database(#[from] database::DatabaseError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot prepare password hashing")]
    Hasher,
    #[error("cannot create the first admin: {0}")]
    FirstAdmin(app::error::AppError),
    #[error("cannot write the first admin's password to {path}: {source}")]
    FirstPassword {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serve TFTP on {address}: {}", tftp_hint(source))]
    TftpBind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot answer DHCP on {}", proxy_dhcp_hint(.0))]
    ProxyDhcpBind(dhcp::BindError),
    #[error("cannot choose the interfaces ProxyDHCP answers on: {0}")]
    Interfaces(#[from] dhcp::InterfaceError),
    #[error(
        "cannot use the files folder {path}: {source}; give PXE Cloud a folder it may write (--files-dir)"
    )]
    FilesDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] http::TlsError),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// What to do about a TFTP port that cannot be bound.
fn tftp_hint(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "{error}; another TFTP server (tftpd-hpa, dnsmasq with enable-tftp) runs on this \
             host: stop it, or give PXE Cloud another --tftp-listen"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "{error}; ports below 1024 need root or the CAP_NET_BIND_SERVICE capability \
             (`setcap cap_net_bind_service=+ep` on the binary, or AmbientCapabilities= in \
             a systemd unit)"
        ),
        _ => error.to_string(),
    }
}

/// What to do about a DHCP port that cannot be bound.
fn proxy_dhcp_hint(error: &dhcp::BindError) -> String {
    let dhcp::BindError { port, source } = error;
    match source.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "UDP {port}: {source}; a DHCP server (dnsmasq, isc-dhcp-server, Kea) runs on this \
             host: run PXE Cloud's ProxyDHCP on another host, or turn it off (--proxy-dhcp \
             false, TFTP stays on with --tftp) and give that DHCP server the boot options \
             from the README's \"Using your own DHCP server\""
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "UDP {port}: {source}; ports below 1024 need root or the CAP_NET_BIND_SERVICE \
             capability (`setcap cap_net_bind_service=+ep` on the binary, or \
             AmbientCapabilities= in a systemd unit)"
        ),
        _ => format!("UDP {port}: {source}"),
    }
}

/// The base URL iPXE chains to over plain HTTP: the public URL when it is one, else `None`
/// (this server's HTTP port at the address the client reached).
pub(crate) fn ipxe_base_url(config: &Config) -> Option<&str> {
    config
        .public_url
        .as_deref()
        .filter(|url| url.starts_with("http://") && config.tls.is_none())
}

/// The loaders and the generated `autoexec.ipxe`, when TFTP or ProxyDHCP is on (the loader
/// sets server admins added join them once the database is open).
fn boot_files(config: &Config) -> Option<Arc<tftp::files::LiveFiles>> {
    if config.tftp.is_none() && config.proxy_dhcp.is_none() {
        return None;
    }
    use tftp::files::BootFiles;
    // iPXE chains over plain HTTP: to the public URL when it is one, else to this server's
    // HTTP port at the address the client reached.
    let (base_url, port) = (ipxe_base_url(config), config.listen.port());
    let files = match &config.loaders_dir {
        Some(dir) => BootFiles::new(dir, base_url, port),
        None if !tftp::files::bundled::LOADERS.is_empty() => BootFiles::bundled(base_url, port),
        None => {
            let installed = std::path::Path::new("/usr/lib/ipxe");
            tracing::warn!(
                dir = %installed.display(),
                "this binary has no iPXE loaders built in: reading Debian's ipxe package"
            );
            BootFiles::new(installed, base_url, port)
        }
    };
    if files.loader_names().is_empty() {
        tracing::warn!(
            source = files.source(),
            "no iPXE loaders found: install Debian's ipxe package or point --loaders-dir at them"
        );
    }
    Some(Arc::new(tftp::files::LiveFiles::new(files)))
}

/// Binds ProxyDHCP when it is on, offering the loaders (over TFTP when it is on, and over
/// HTTP for UEFI HTTP Boot).
fn bind_proxy_dhcp(
    config: &Config,
    files: Option<&Arc<tftp::files::LiveFiles>>,
) -> Result<Option<dhcp::ProxyDhcp>, ServeError> {
    let (Some(settings), Some(files)) = (&config.proxy_dhcp, files) else {
        return Ok(None);
    };
    let interfaces = dhcp::interfaces::choose(&settings.interfaces)?;
    let public_url = ipxe_base_url(config).map(|url| url.trim_end_matches('/').to_owned());
    if public_url.is_none() && config.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %config.listen,
            "ProxyDHCP sends iPXE to this server's HTTP port, which listens on loopback only: \
             listen on 0.0.0.0 or give --public-url"
        );
    }
    // Firmware fetches its loader from port 69 at the address ProxyDHCP names: the
    // interface's own.
    let tftp = match &config.tftp {
        None => {
            tracing::warn!(
                "TFTP is off: ProxyDHCP answers iPXE and UEFI HTTP Boot only (turn on --tftp, \
                 or --pxe, to boot bare PXE firmware)"
            );
            false
        }
        Some(tftp) if tftp.listen.port() != 69 => {
            tracing::warn!(
                tftp_listen = %tftp.listen,
                "TFTP is not on port 69, where PXE firmware asks: ProxyDHCP answers iPXE and \
                 UEFI HTTP Boot only"
            );
            false
        }
        Some(tftp) => {
            let ip = tftp.listen.ip();
            if !ip.is_unspecified()
                && !interfaces
                    .iter()
                    .any(|i| std::net::IpAddr::V4(i.address) == ip)
            {
                tracing::warn!(
                    tftp_listen = %tftp.listen,
                    "TFTP listens on an address ProxyDHCP does not name (it names each \
                     interface's own): listen on 0.0.0.0:69"
                );
            }
            true
        }
    };
    let names: Vec<String> = interfaces
        .iter()
        .map(|i| format!("{} ({})", i.name, i.address))
        .collect();
    let server = dhcp::ProxyDhcp::bind(dhcp::Settings {
        interfaces,
        public_url,
        http_port: config.listen.port(),
        files: files.clone(),
        tftp,
        ports: dhcp::Ports::default(),
    })
    .map_err(ServeError::ProxyDhcpBind)?;
    tracing::info!(
        interfaces = names.join(", "),
        "ProxyDHCP is answering on UDP 67 and 4011"
    );
    Ok(Some(server))
}

/// Binds the TFTP server when it is on, serving `files`.
async fn bind_tftp(
    config: &Config,
    files: Option<&Arc<tftp::files::LiveFiles>>,
) -> Result<Option<tftp::TftpServer>, ServeError> {
    let (Some(settings), Some(files)) = (&config.tftp, files) else {
        return Ok(None);
    };
    let (names, source) = {
        let current = files.current();
        (current.names().join(" "), current.source().to_owned())
    };
    let server = tftp::TftpServer::bind(
        settings.listen,
        files.clone(),
        tftp::Settings {
            blksize_max: settings.block_size_max,
            ..tftp::Settings::default()
        },
    )
    .await
    .map_err(|source| ServeError::TftpBind {
        address: settings.listen,
        source,
    })?;
    tracing::info!(
        address = %server.local_addr()?,
        files = names,
        loaders = source,
        "TFTP is listening"
    );
    Ok(Some(server))
}

/// How many passwords are hashed at once: each takes 19 MiB and one core for ~50 ms.
fn hashing_concurrency() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8)
}

/// The state for a connected, migrated database.
pub fn state(db: DatabaseConnection, config: &Config) -> Result<AppState, ServeError> {
    let settings = Settings {
        secure_cookies: config.tls.is_some()
            || config
                .public_url
                .as_deref()
                .is_some_and(|url| url.starts_with("https://")),
        public_url: config.public_url.clone(),
        boot_token_ttl: config.boot_token_ttl,
        web_session_ttl: config.session_ttl,
        memdisk_path: Some(config.memdisk.clone()),
        first_password_file: Some(first_password_file(config)),
        trusted_proxies: config.trusted_proxies.clone(),
        boot_log_retention: config.boot_log_retention,
        files_dir: config.files_dir.clone(),
        fetch_allow: config.fetch_allow.clone(),
        ..Settings::default()
    };
    let leptos_options = LeptosOptions::builder()
        .output_name(assets::hashed_output_name())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build();
    Ok(AppState {
        boot_log: app::server::services::boot_log::Writer::new(db.clone()),
        boot_cache: Arc::default(),
        db,
        hasher: PasswordHasher::new(hashing_concurrency()).map_err(|_| ServeError::Hasher)?,
        boot_steps: Arc::new(StepLimiter::new(
            settings.boot_steps_per_minute,
            Duration::from_secs(60),
        )),
        settings: Arc::new(settings),
        leptos_options,
        boot_server: None,
        blobs: Arc::new(BlobReader::new(BlobReader::SERVER_BUDGET)),
        iso_trees: Arc::default(),
        fetcher: Arc::default(),
    })
}

/// Connects and migrates.
pub async fn open_database(config: &Config) -> Result<DatabaseConnection, ServeError> {
    let db = database::connect(&config.database_url).await?;
    database::migrate(&db, &config.database_url).await?;
    Ok(db)
}

/// Where the first-start admin's password is written.
pub fn first_password_file(config: &Config) -> PathBuf {
    config.data_dir.join(FIRST_PASSWORD_FILE)
}

/// The name of the file, in the data directory, with the first-start admin's password.
pub const FIRST_PASSWORD_FILE: &str = "first-admin-password";

/// Creates the first admin if there are no users, with a generated password written to a
/// file only this user can read (never to the log); the admin replaces it at first sign-in.
/// A file left from a first start whose password was since changed is deleted.
pub async fn first_start(state: &AppState, config: &Config) -> Result<(), ServeError> {
    let file = first_password_file(config);
    match accounts::ensure_first_admin(&state.db, &state.hasher)
        .await
        .map_err(ServeError::FirstAdmin)?
    {
        Some(password) => {
            database::create_private_dir(&config.data_dir).map_err(|source| {
                ServeError::FirstPassword {
                    path: file.clone(),
                    source,
                }
            })?;
            crate::cli::write_private(&file, &format!("{password}\n")).map_err(|source| {
                ServeError::FirstPassword {
                    path: file.clone(),
                    source,
                }
            })?;
            tracing::warn!(
                username = "admin",
                file = %file.display(),
                "FIRST START: created the server admin `admin`; its password is in this file, \
                 readable by this user only. Sign in with it and choose a new password: the \
                 file is deleted then."
            );
        }
        None => {
            let stale = file.exists()
                && !accounts::first_admin_must_change(&state.db)
                    .await
                    .map_err(ServeError::FirstAdmin)?;
            if stale && std::fs::remove_file(&file).is_ok() {
                tracing::info!(file = %file.display(), "deleted the first-start password file: the password was changed");
            }
        }
    }
    Ok(())
}

/// Deletes expired web and boot sessions, invitations and old login failures, every few
/// minutes.
fn spawn_housekeeping(state: &AppState) {
    let db = state.db.clone();
    let window = state.settings.throttle_window;
    let retention = state.settings.boot_log_retention;
    let store = state.file_store();
    tokio::spawn(async move {
        let sessions = DbSessionStore::new(db.clone());
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            if let Err(error) = sessions.delete_expired().await {
                tracing::warn!(%error, "could not delete expired sessions");
            }
            if let Err(error) = throttle::prune(&db, window).await {
                tracing::warn!(%error, "could not prune login failures");
            }
            if let Err(error) = boot_sessions::prune(&db).await {
                tracing::warn!(%error, "could not delete expired boot sessions");
            }
            if let Err(error) = invitations::prune(&db).await {
                tracing::warn!(%error, "could not delete expired invitations");
            }
            match network_log::prune(&db, retention).await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::info!(deleted, "deleted network boot events past their retention")
                }
                Err(error) => tracing::warn!(%error, "could not prune network boot events"),
            }
            match boot_log::prune(&db, retention).await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::info!(deleted, "deleted boot log rows past their retention")
                }
                Err(error) => tracing::warn!(%error, "could not delete old boot log rows"),
            }
            match files::sweep(&db, &store).await {
                Ok((0, _)) => {}
                Ok((deleted, bytes)) => tracing::info!(
                    deleted,
                    bytes,
                    "deleted hosted files' bytes no file names, and abandoned uploads"
                ),
                Err(error) => tracing::warn!(%error, "could not sweep the files folder"),
            }
            match iso::sweep(&db, &store).await {
                Ok(0) => {}
                Ok(read) => tracing::info!(read, "looked inside ISOs of the file library"),
                Err(error) => tracing::warn!(%error, "could not look inside the library's ISOs"),
            }
        }
    });
}

/// Takes over fetches from URLs that nobody runs (their replica died, or this one restarted),
/// at start and every 30 seconds.
fn spawn_fetch_takeover(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            match fetch::orphans(&state.db).await {
                Ok(ids) => {
                    for id in ids {
                        tracing::info!(fetch = id, "taking over a fetch nobody runs");
                        if let Err(error) = state.spawn_fetch(id) {
                            tracing::warn!(?error, "could not take over a fetch");
                        }
                    }
                }
                Err(error) => tracing::warn!(?error, "could not look for fetches to take over"),
            }
        }
    });
}

/// Serves the loader sets server admins added: read now, again at once when they change on
/// this replica, and every few seconds in case another replica changed them.
pub async fn follow_loader_sets(db: DatabaseConnection, files: Arc<tftp::files::LiveFiles>) {
    use app::server::services::loader_sets;
    async fn refresh(
        db: &DatabaseConnection,
        files: &tftp::files::LiveFiles,
        seen: &mut Option<String>,
    ) {
        let version = match loader_sets::version(db).await {
            Ok(version) if seen.as_ref() == Some(&version) => return,
            Ok(version) => version,
            Err(error) => return tracing::warn!(%error, "could not check the loader sets"),
        };
        match loader_sets::load(db).await {
            Ok(library) => {
                let (sets, chosen) = (library.files.len(), library.chosen.clone());
                files.replace_library(library);
                *seen = Some(version);
                if sets > 0 || !chosen.is_empty() {
                    tracing::info!(files = sets, ?chosen, "serving the loader sets added");
                }
            }
            Err(error) => tracing::warn!(%error, "could not read the loader sets"),
        }
    }
    let mut seen = None;
    refresh(&db, &files, &mut seen).await;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = files.changed() => {}
                () = tokio::time::sleep(Duration::from_secs(10)) => {}
            }
            refresh(&db, &files, &mut seen).await;
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), ServeError> {
    // Bind first, and read the certificate: a busy port or a bad file is reported before
    // any work is done.
    let bind = |address: SocketAddr| async move {
        TcpListener::bind(address)
            .await
            .map_err(|source| ServeError::Bind { address, source })
    };
    let listener = bind(config.listen).await?;
    let boot_files = boot_files(&config);
    let tftp = bind_tftp(&config, boot_files.as_ref()).await?;
    let proxy_dhcp = bind_proxy_dhcp(&config, boot_files.as_ref())?;
    let tls = match &config.tls {
        Some(tls) => Some((
            http::tls_acceptor(&tls.cert, &tls.key)?,
            bind(tls.listen).await?,
        )),
        None => None,
    };
    let db = open_database(&config).await?;
    let mut state = state(db, &config)?;
    state
        .file_store()
        .prepare()
        .await
        .map_err(|source| ServeError::FilesDir {
            path: config.files_dir.clone(),
            source,
        })?;
    first_start(&state, &config).await?;
    spawn_housekeeping(&state);
    spawn_fetch_takeover(&state);
    if let Some(files) = &boot_files {
        follow_loader_sets(state.db.clone(), files.clone()).await;
    }
    if !assets::front_end_present() {
        tracing::warn!("this binary has no front end built in: build it with `cargo leptos build`");
    }
    warn_if_cleartext(&config);
    let address = listener.local_addr()?;
    tracing::info!(
        %address,
        database = %database::redact(&config.database_url),
        public_url = config.public_url.as_deref().unwrap_or("(from each request)"),
        "PXE Cloud is listening"
    );
    let limits = http::Limits {
        max_connections: config.max_connections,
        ..http::Limits::default()
    };
    let recorder = (tftp.is_some() || proxy_dhcp.is_some())
        .then(|| crate::netlog::Recorder::start(state.db.clone()));
    state.boot_server = Some(Arc::new(crate::boot_status::Probe {
        http: Some(address),
        https: tls
            .as_ref()
            .map(|(_, listener)| listener.local_addr())
            .transpose()?,
        http_port: address.port(),
        public_http_url: ipxe_base_url(&config).map(str::to_owned),
        tftp: match &tftp {
            Some(server) => Some((server.local_addr()?, server.stats())),
            None => None,
        },
        proxy_dhcp: proxy_dhcp
            .as_ref()
            .map(|server| (server.interfaces(), server.stats())),
        files: boot_files.clone(),
        recorder: recorder.clone(),
    }));
    let app = router::router(state, boot_files);
    if let Some(recorder) = recorder {
        if let Some(tftp) = tftp {
            tokio::spawn(tftp.with_recorder(recorder.clone()).run());
        }
        if let Some(proxy_dhcp) = proxy_dhcp {
            tokio::spawn(proxy_dhcp.with_recorder(recorder).run());
        }
    }
    // One signal stops every listener.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    match tls {
        None => http::serve(listener, app, limits, until_stopped()).await,
        Some((acceptor, tls_listener)) => {
            let https = tls_listener.local_addr()?;
            tracing::info!(address = %https, "the web app is served over HTTPS here; plain HTTP serves iPXE only");
            tokio::join!(
                http::serve(
                    listener,
                    router::ipxe_only(app.clone(), https.port()),
                    limits,
                    until_stopped()
                ),
                http::serve_with(
                    tls_listener,
                    router::with_hsts(app),
                    limits,
                    Some(acceptor),
                    until_stopped()
                ),
            );
        }
    }
    Ok(())
}

/// Warns when browsers would send passwords in clear: no HTTPS here, and no public URL
/// saying a proxy in front provides it.
fn warn_if_cleartext(config: &Config) {
    if config.tls.is_some() {
        return;
    }
    let https_in_front = config
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"));
    if !https_in_front {
        tracing::warn!(
            public_url = config.public_url.as_deref().unwrap_or("(unset)"),
            "browsers reach PXE Cloud over plain HTTP, so passwords cross the network in clear: \
             give it --tls-cert and --tls-key, or put an HTTPS proxy in front and set \
             --public-url https://…"
        );
    }
}

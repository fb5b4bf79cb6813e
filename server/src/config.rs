//! Settings from flags, environment variables and an optional TOML file, in that order of
//! precedence, checked once at start so that a bad value is named before anything runs.
//!
//! Each setting is declared once, as a field of [`CommonArgs`] or [`ServeArgs`]: the field
//! gives the flag and the variable (clap), the config file's key (serde, the field's name),
//! and the help text with its default, which a test holds the README's table to.

use app::server::net::Network;
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Options every command takes.
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
#[serde(default)]
pub struct CommonArgs {
    /// A TOML file with settings; flags and environment variables override what it says.
    #[arg(long, env = "PXECLOUD_CONFIG", global = true, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Where PXE Cloud keeps its files, the SQLite database among them [default: ./pxecloud-data]
    #[arg(long, env = "PXECLOUD_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The database: `postgres://user:pass@host/db`, or `sqlite:PATH` [default: an SQLite file in the data directory]
    #[arg(
        long,
        env = "PXECLOUD_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// How log lines are written; the `RUST_LOG` variable filters them [default: text]
    #[arg(long, env = "PXECLOUD_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
}

/// Options of `pxecloud serve`.
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
#[serde(default)]
pub struct ServeArgs {
    /// The address and port to listen on [default: 0.0.0.0:8080]
    #[arg(long, env = "PXECLOUD_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// The base URL machines and browsers reach PXE Cloud at, e.g. `http://boot.example.org:8080`
    /// [default: taken from each request's Host header]
    #[arg(long, env = "PXECLOUD_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// How long an iPXE boot session lives after its last use, in seconds [default: 900]
    #[arg(long, env = "PXECLOUD_BOOT_TOKEN_TTL", value_name = "SECONDS")]
    pub boot_token_ttl: Option<u64>,
    /// How long a browser session lives after its sign-in, in seconds [default: 604800]
    #[arg(long, env = "PXECLOUD_SESSION_TTL", value_name = "SECONDS")]
    pub session_ttl: Option<u64>,
    /// syslinux's memdisk, served to BIOS machines that boot an ISO from memory
    /// [default: /usr/lib/syslinux/memdisk]
    #[arg(long, env = "PXECLOUD_MEMDISK", value_name = "FILE")]
    pub memdisk: Option<PathBuf>,
    /// The folder holding hosted files (kernels, initrds, ISOs) and uploads in progress;
    /// replicas share one, e.g. on NFS [default: the data folder's `files`]
    #[arg(long, env = "PXECLOUD_FILES_DIR", value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
    /// How many connections are served at once; more wait until one closes [default: 1024]
    #[arg(long, env = "PXECLOUD_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// A PEM certificate chain: serve the web app over HTTPS on `--tls-listen` (iPXE stays
    /// on plain HTTP on `--listen`, where browsers are sent to HTTPS); needs `--tls-key`
    #[arg(
        long,
        env = "PXECLOUD_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`
    #[arg(
        long,
        env = "PXECLOUD_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// The address and port of the HTTPS listener [default: 0.0.0.0:8443]
    #[arg(long, env = "PXECLOUD_TLS_LISTEN", value_name = "ADDR:PORT")]
    pub tls_listen: Option<String>,
    /// A proxy (address or network, e.g. 10.0.0.0/8) whose Forwarded / X-Forwarded-For
    /// headers name the client; repeat for several (the variable takes a comma-separated list)
    #[arg(
        long = "trusted-proxy",
        env = "PXECLOUD_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// The only networks files may be fetched from (e.g. 10.0.0.0/8); repeat for several
    /// (the variable takes a comma-separated list) [default: any address except loopback,
    /// link-local and this server's own]
    #[arg(
        long = "fetch-allow",
        env = "PXECLOUD_FETCH_ALLOW",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub fetch_allow: Vec<String>,
    /// How many days boot log rows are kept [default: 180]
    #[arg(long, env = "PXECLOUD_BOOT_LOG_DAYS", value_name = "DAYS")]
    pub boot_log_days: Option<u64>,
    /// Serve the iPXE loaders and a generated autoexec.ipxe over TFTP [default: false]
    #[arg(
        long,
        env = "PXECLOUD_TFTP",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub tftp: Option<bool>,
    /// Network boot in one switch: TFTP and ProxyDHCP both on [default: false]
    #[arg(
        long,
        env = "PXECLOUD_PXE",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub pxe: Option<bool>,
    /// Answer network-booting firmware beside the site's DHCP server (UDP 67 and 4011),
    /// never handing out addresses [default: false]
    #[arg(
        long,
        env = "PXECLOUD_PROXY_DHCP",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub proxy_dhcp: Option<bool>,
    /// A network interface ProxyDHCP answers on; repeat for several (the variable takes a
    /// comma-separated list) [default: every interface with an IPv4 address]
    #[arg(
        long = "pxe-interface",
        env = "PXECLOUD_PXE_INTERFACES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub pxe_interfaces: Vec<String>,
    /// The TFTP server's address and port [default: 0.0.0.0:69]
    #[arg(long, env = "PXECLOUD_TFTP_LISTEN", value_name = "ADDR:PORT")]
    pub tftp_listen: Option<String>,
    /// The largest TFTP block size granted to a client that asks; smaller asks are honoured
    /// [default: 1456]
    #[arg(long, env = "PXECLOUD_TFTP_BLOCK_SIZE", value_name = "BYTES")]
    pub tftp_block_size: Option<u16>,
    /// A folder to read the iPXE loaders (served over TFTP, and over HTTP for UEFI HTTP
    /// Boot) from at start, instead of those built in [default: the loaders built in]
    #[arg(long, env = "PXECLOUD_LOADERS_DIR", value_name = "DIR")]
    pub loaders_dir: Option<PathBuf>,
}

/// The TFTP server: where it listens and the largest block it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpConfig {
    pub listen: SocketAddr,
    pub block_size_max: u16,
}

/// ProxyDHCP: the interfaces it answers on (none named: every one with an IPv4 address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyDhcpConfig {
    pub interfaces: Vec<String>,
}

/// The web app over HTTPS: the certificate, its key, and where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub listen: SocketAddr,
}

/// A setting that could not be used, naming the setting and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("the config file {path} has an unknown key `{key}` (known keys: {known})")]
    UnknownKey {
        path: PathBuf,
        key: String,
        known: String,
    },
    #[error("`{key}` {origin}: {message}")]
    Value {
        key: String,
        origin: String,
        message: String,
    },
}

/// The settings of a run, resolved and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub log_format: LogFormat,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub boot_token_ttl: Duration,
    pub session_ttl: Duration,
    pub memdisk: PathBuf,
    pub max_connections: usize,
    pub tls: Option<TlsConfig>,
    pub trusted_proxies: Vec<Network>,
    /// Empty: the default policy of fetches.
    pub fetch_allow: Vec<Network>,
    pub boot_log_retention: Duration,
    /// Hosted files and uploads.
    pub files_dir: PathBuf,
    /// `None` when TFTP is off.
    pub tftp: Option<TftpConfig>,
    /// `None` when ProxyDHCP is off.
    pub proxy_dhcp: Option<ProxyDhcpConfig>,
    /// Where the iPXE loaders are read from when TFTP or ProxyDHCP is on (`None`: the ones
    /// built in).
    pub loaders_dir: Option<PathBuf>,
}

/// The config file keys: the settings' field names, `config` aside.
fn known_keys() -> (Vec<String>, Vec<String>) {
    fn ids(command: clap::Command) -> Vec<String> {
        command
            .get_arguments()
            .map(|arg| arg.get_id().as_str().to_owned())
            .filter(|id| id != "config")
            .collect()
    }
    (
        ids(<CommonArgs as clap::Args>::augment_args(
            clap::Command::new("common"),
        )),
        ids(<ServeArgs as clap::Args>::augment_args(clap::Command::new(
            "serve",
        ))),
    )
}

/// What a config file gives: the same settings as the flags, each optional.
#[derive(Debug, Default)]
struct FileConfig {
    common: CommonArgs,
    serve: ServeArgs,
}

impl FileConfig {
    fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let table: toml::Table =
            text.parse()
                .map_err(|error: toml::de::Error| ConfigError::Syntax {
                    path: path.to_owned(),
                    message: error.to_string().trim().to_owned(),
                })?;
        let (common_keys, serve_keys) = known_keys();
        // Each value is read on its own first, so that a bad one is named by its key.
        for (key, value) in &table {
            let alone = toml::Table::from_iter([(key.clone(), value.clone())]);
            let read = if common_keys.contains(key) {
                alone.try_into::<CommonArgs>().map(drop)
            } else if serve_keys.contains(key) {
                alone.try_into::<ServeArgs>().map(drop)
            } else {
                return Err(ConfigError::UnknownKey {
                    path: path.to_owned(),
                    key: key.clone(),
                    known: [common_keys, serve_keys].concat().join(", "),
                });
            };
            read.map_err(|error| ConfigError::Value {
                key: key.clone(),
                origin: format!("in {}", path.display()),
                message: error.message().trim().to_owned(),
            })?;
        }
        let read = |error: toml::de::Error| ConfigError::Syntax {
            path: path.to_owned(),
            message: error.to_string().trim().to_owned(),
        };
        Ok(Self {
            common: table.clone().try_into().map_err(read)?,
            serve: table.try_into().map_err(read)?,
        })
    }
}

/// Where a value came from, for error messages.
fn origin(from_args: bool, file: Option<&Path>) -> String {
    match (from_args, file) {
        (true, _) => "(from the command line or environment)".into(),
        (false, Some(path)) => format!("in {}", path.display()),
        (false, None) => "(default)".into(),
    }
}

fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not an address like 0.0.0.0:8080 or [::1]:8080"))
}

/// Checks a public URL: http(s), a host, no query or fragment; drops a trailing slash.
pub fn parse_public_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or_else(|| format!("`{value}` must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("`{value}` has no host"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) || value.contains(['?', '#']) {
        return Err(format!(
            "`{value}` must be a plain base URL without spaces, query or fragment"
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

fn check_database_url(value: &str) -> Result<String, String> {
    let value = value.trim();
    if ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| value.starts_with(scheme))
    {
        Ok(value.to_owned())
    } else {
        Err("must start with sqlite:, postgres:// or postgresql://".into())
    }
}

fn check_ttl(seconds: u64) -> Result<Duration, String> {
    const MAX: u64 = 365 * 24 * 3600;
    if (1..=MAX).contains(&seconds) {
        Ok(Duration::from_secs(seconds))
    } else {
        Err(format!("must be between 1 and {MAX} seconds"))
    }
}

fn check_days(days: u64) -> Result<Duration, String> {
    const MAX: u64 = 100 * 365;
    if (1..=MAX).contains(&days) {
        Ok(Duration::from_secs(days * 24 * 3600))
    } else {
        Err(format!("must be between 1 and {MAX} days"))
    }
}

fn check_max_connections(value: usize) -> Result<usize, String> {
    const MAX: usize = 1_000_000;
    if (1..=MAX).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be between 1 and {MAX}"))
    }
}

fn check_block_size(value: u16) -> Result<u16, String> {
    const MIN: u16 = 512;
    const MAX: u16 = 65464;
    if (MIN..=MAX).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be between {MIN} and {MAX} bytes"))
    }
}

/// A network interface name as Linux allows it: 1 to 15 bytes, no `/`, blank or `:`.
fn check_interface(name: String) -> Result<String, String> {
    let valid = (1..=15).contains(&name.len())
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if valid {
        Ok(name)
    } else {
        Err(format!(
            "{name:?} is not a network interface name (1 to 15 characters, no `/`, `:` or blanks)"
        ))
    }
}

/// Resolves one setting: the argument if given, else the file's value, else the default.
fn pick<T>(arg: Option<T>, file: Option<T>) -> (Option<T>, bool) {
    match (arg, file) {
        (Some(value), _) => (Some(value), true),
        (None, value) => (value, false),
    }
}

impl Config {
    /// Resolves the settings of a command; `serve` is `None` for commands that do not serve.
    pub fn load(common: &CommonArgs, serve: Option<&ServeArgs>) -> Result<Self, ConfigError> {
        let file_path = common.config.as_deref();
        let file = match file_path {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let serve = serve.cloned().unwrap_or_default();
        let fail = |key: &'static str, from_args: bool| {
            move |message: String| ConfigError::Value {
                key: key.to_owned(),
                origin: origin(from_args, file_path),
                message,
            }
        };

        let (data_dir, _) = pick(common.data_dir.clone(), file.common.data_dir);
        let data_dir = data_dir.unwrap_or_else(|| PathBuf::from("./pxecloud-data"));

        let database_url = match pick(common.database_url.clone(), file.common.database_url) {
            (Some(url), from_args) => {
                check_database_url(&url).map_err(fail("database_url", from_args))?
            }
            (None, _) => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("pxecloud.db").display()
            ),
        };

        let (log_format, _) = pick(common.log_format, file.common.log_format);

        let listen = match pick(serve.listen, file.serve.listen) {
            (Some(value), from_args) => parse_listen(&value).map_err(fail("listen", from_args))?,
            (None, _) => SocketAddr::from(([0, 0, 0, 0], 8080)),
        };

        let public_url = match pick(serve.public_url, file.serve.public_url) {
            (Some(value), from_args) => {
                Some(parse_public_url(&value).map_err(fail("public_url", from_args))?)
            }
            (None, _) => None,
        };

        let boot_token_ttl = match pick(serve.boot_token_ttl, file.serve.boot_token_ttl) {
            (Some(value), from_args) => {
                check_ttl(value).map_err(fail("boot_token_ttl", from_args))?
            }
            (None, _) => Duration::from_secs(15 * 60),
        };
        let session_ttl = match pick(serve.session_ttl, file.serve.session_ttl) {
            (Some(value), from_args) => check_ttl(value).map_err(fail("session_ttl", from_args))?,
            (None, _) => Duration::from_secs(7 * 24 * 3600),
        };

        let (memdisk, _) = pick(serve.memdisk, file.serve.memdisk);
        let memdisk = memdisk.unwrap_or_else(|| PathBuf::from("/usr/lib/syslinux/memdisk"));

        let max_connections = match pick(serve.max_connections, file.serve.max_connections) {
            (Some(value), from_args) => {
                check_max_connections(value).map_err(fail("max_connections", from_args))?
            }
            (None, _) => crate::http::Limits::default().max_connections,
        };

        let tls_listen = match pick(serve.tls_listen, file.serve.tls_listen) {
            (Some(value), from_args) => {
                parse_listen(&value).map_err(fail("tls_listen", from_args))?
            }
            (None, _) => SocketAddr::from(([0, 0, 0, 0], 8443)),
        };
        let tls = match (
            pick(serve.tls_cert, file.serve.tls_cert),
            pick(serve.tls_key, file.serve.tls_key),
        ) {
            ((Some(cert), _), (Some(key), _)) => Some(TlsConfig {
                cert,
                key,
                listen: tls_listen,
            }),
            ((None, _), (None, _)) => None,
            ((Some(_), from_args), (None, _)) => {
                return Err(fail("tls_key", from_args)("is needed with tls_cert".into()));
            }
            ((None, _), (Some(_), from_args)) => {
                return Err(fail("tls_cert", from_args)("is needed with tls_key".into()));
            }
        };

        let networks = |given: Vec<String>, in_file: Vec<String>, key| {
            let given = (!given.is_empty()).then_some(given);
            match pick(given, (!in_file.is_empty()).then_some(in_file)) {
                (Some(values), from_args) => values
                    .iter()
                    .map(|value| Network::parse(value))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(fail(key, from_args)),
                (None, _) => Ok(Vec::new()),
            }
        };
        let trusted_proxies = networks(
            serve.trusted_proxies,
            file.serve.trusted_proxies,
            "trusted_proxies",
        )?;
        let fetch_allow = networks(serve.fetch_allow, file.serve.fetch_allow, "fetch_allow")?;

        let boot_log_retention = match pick(serve.boot_log_days, file.serve.boot_log_days) {
            (Some(days), from_args) => {
                check_days(days).map_err(fail("boot_log_days", from_args))?
            }
            (None, _) => Duration::from_secs(180 * 24 * 3600),
        };

        let tftp_listen = match pick(serve.tftp_listen, file.serve.tftp_listen) {
            (Some(value), from_args) => parse_listen(&value)
                .and_then(|address| match address {
                    SocketAddr::V4(_) => Ok(address),
                    SocketAddr::V6(_) => Err(format!(
                        "`{value}` is IPv6; TFTP is served on IPv4 (PXE firmware asks for it \
                             there), e.g. 0.0.0.0:69"
                    )),
                })
                .map_err(fail("tftp_listen", from_args))?,
            (None, _) => SocketAddr::from(([0, 0, 0, 0], 69)),
        };
        let tftp_block_size = match pick(serve.tftp_block_size, file.serve.tftp_block_size) {
            (Some(value), from_args) => {
                check_block_size(value).map_err(fail("tftp_block_size", from_args))?
            }
            (None, _) => 1456,
        };
        let pxe = pick(serve.pxe, file.serve.pxe).0.unwrap_or(false);
        let given = (!serve.pxe_interfaces.is_empty()).then_some(serve.pxe_interfaces);
        let in_file = file.serve.pxe_interfaces;
        let pxe_interfaces = match pick(given, (!in_file.is_empty()).then_some(in_file)) {
            (Some(names), from_args) => names
                .into_iter()
                .map(|name| check_interface(name).map_err(fail("pxe_interfaces", from_args)))
                .collect::<Result<Vec<_>, _>>()?,
            (None, _) => Vec::new(),
        };
        // `pxe` turns both on; an explicit `false` for one of them still turns it off.
        let proxy_dhcp = pick(serve.proxy_dhcp, file.serve.proxy_dhcp)
            .0
            .unwrap_or(pxe)
            .then_some(ProxyDhcpConfig {
                interfaces: pxe_interfaces,
            });
        let tftp = pick(serve.tftp, file.serve.tftp)
            .0
            .unwrap_or(pxe)
            .then_some(TftpConfig {
                listen: tftp_listen,
                block_size_max: tftp_block_size,
            });
        let loaders_dir = pick(serve.loaders_dir, file.serve.loaders_dir).0;
        let files_dir = pick(serve.files_dir, file.serve.files_dir)
            .0
            .unwrap_or_else(|| data_dir.join("files"));

        Ok(Self {
            tftp,
            proxy_dhcp,
            loaders_dir,
            files_dir,
            memdisk,
            max_connections,
            tls,
            trusted_proxies,
            fetch_allow,
            boot_log_retention,
            data_dir,
            database_url,
            log_format: log_format.unwrap_or_default(),
            listen,
            public_url,
            boot_token_ttl,
            session_ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn common_with(path: &Path) -> CommonArgs {
        CommonArgs {
            config: Some(path.to_owned()),
            ..CommonArgs::default()
        }
    }

    #[test]
    fn defaults_put_an_sqlite_file_in_the_data_directory() {
        let config = Config::load(&CommonArgs::default(), None).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(
            config.database_url,
            "sqlite://./pxecloud-data/pxecloud.db?mode=rwc"
        );
        assert_eq!(config.public_url, None);
    }

    #[test]
    fn the_file_fills_in_and_arguments_win() {
        let f = file("listen = \"127.0.0.1:9000\"\npublic_url = \"http://boot.lan/\"\n");
        let from_file = Config::load(&common_with(f.path()), None).unwrap();
        assert_eq!(from_file.public_url.as_deref(), Some("http://boot.lan"));
        let serve = ServeArgs {
            listen: Some("127.0.0.1:9100".into()),
            ..ServeArgs::default()
        };
        let both = Config::load(&common_with(f.path()), Some(&serve)).unwrap();
        assert_eq!(both.listen.to_string(), "127.0.0.1:9100");
    }

    #[test]
    fn a_wrongly_typed_value_names_its_key() {
        let f = file("listen = 8080\n");
        let error = Config::load(&common_with(f.path()), None)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("`listen` in "), "{error}");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let f = file("listen = \"everywhere\"\n");
        let error = Config::load(&common_with(f.path()), None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`listen`") && error.contains("everywhere"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_key_is_named() {
        let f = file("lisen = \"0.0.0.0:1\"\n");
        let error = Config::load(&common_with(f.path()), None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown key `lisen`"), "{error}");
    }

    #[test]
    fn broken_toml_is_reported_with_its_place() {
        let f = file("listen = \"0.0.0.0:1\n");
        let error = Config::load(&common_with(f.path()), None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("not valid TOML") && error.contains("line 1"),
            "{error}"
        );
    }

    #[test]
    fn a_database_url_of_another_kind_is_refused() {
        let common = CommonArgs {
            database_url: Some("mysql://x".into()),
            ..CommonArgs::default()
        };
        let error = Config::load(&common, None).unwrap_err().to_string();
        assert!(error.starts_with("`database_url`"), "{error}");
    }

    #[test]
    fn trusted_proxies_come_from_flags_or_the_file_and_bad_ones_are_named() {
        let f = file("trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n");
        let from_file = Config::load(&common_with(f.path()), None).unwrap();
        assert_eq!(from_file.trusted_proxies.len(), 2);
        let serve = ServeArgs {
            trusted_proxies: vec!["192.0.2.0/24".into()],
            ..ServeArgs::default()
        };
        let both = Config::load(&common_with(f.path()), Some(&serve)).unwrap();
        assert_eq!(
            both.trusted_proxies,
            [Network::parse("192.0.2.0/24").unwrap()]
        );
        let bad = ServeArgs {
            trusted_proxies: vec!["10.0.0.0/40".into()],
            ..ServeArgs::default()
        };
        let error = Config::load(&CommonArgs::default(), Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("`trusted_proxies`") && error.contains("10.0.0.0/40"),
            "{error}"
        );
    }

    #[test]
    fn fetches_are_allowed_to_the_networks_given_or_by_the_default_policy() {
        let default = Config::load(&CommonArgs::default(), None).unwrap();
        assert!(default.fetch_allow.is_empty());
        let f = file("fetch_allow = [\"127.0.0.1/32\"]\n");
        let from_file = Config::load(&common_with(f.path()), None).unwrap();
        assert_eq!(
            from_file.fetch_allow,
            [Network::parse("127.0.0.1").unwrap()]
        );
        let bad = ServeArgs {
            fetch_allow: vec!["example.org".into()],
            ..ServeArgs::default()
        };
        let error = Config::load(&CommonArgs::default(), Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("`fetch_allow`") && error.contains("example.org"),
            "{error}"
        );
    }

    #[test]
    fn the_boot_log_is_kept_180_days_unless_told_otherwise() {
        let default = Config::load(&CommonArgs::default(), None).unwrap();
        assert_eq!(
            default.boot_log_retention,
            Duration::from_secs(180 * 86_400)
        );
        let f = file("boot_log_days = 30\n");
        let from_file = Config::load(&common_with(f.path()), None).unwrap();
        assert_eq!(
            from_file.boot_log_retention,
            Duration::from_secs(30 * 86_400)
        );
        let f = file("boot_log_days = 0\n");
        let error = Config::load(&common_with(f.path()), None)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("`boot_log_days`"), "{error}");
    }

    /// The README's settings table, row by row: flag, variable, file key, default.
    fn readme_rows() -> Vec<Vec<String>> {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        readme
            .lines()
            .filter(|line| line.starts_with("| `--"))
            .map(|line| line.split('|').map(|cell| cell.trim().to_owned()).collect())
            .collect()
    }

    #[test]
    fn the_readme_lists_every_setting_as_the_code_declares_it() {
        let rows = readme_rows();
        let mut documented = 0;
        for command in [
            <CommonArgs as clap::Args>::augment_args(clap::Command::new("common")),
            <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve")),
        ] {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "config" {
                    continue;
                }
                let flag = format!("`--{}`", arg.get_long().unwrap());
                let row = rows
                    .iter()
                    .find(|row| row[1] == flag)
                    .unwrap_or_else(|| panic!("the README has no row for {flag}"));
                let env = arg.get_env().unwrap().to_str().unwrap();
                assert!(
                    row[2].starts_with(&format!("`{env}`")),
                    "{flag}: {}",
                    row[2]
                );
                assert!(row[3].starts_with(&format!("`{id}`")), "{flag}: {}", row[3]);
                // A default the help gives as one word must be the README's, word for word.
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                if let Some(default) = help
                    .split_once("[default: ")
                    .and_then(|(_, rest)| rest.split_once(']'))
                    .map(|(default, _)| default)
                    .filter(|default| !default.contains(' '))
                {
                    assert_eq!(row[4], format!("`{default}`"), "{flag}");
                }
                documented += 1;
            }
        }
        assert_eq!(
            rows.len(),
            documented,
            "the README has rows for settings that do not exist"
        );
    }

    #[test]
    fn the_defaults_are_what_the_help_says() {
        let config = Config::load(&CommonArgs::default(), None).unwrap();
        let help = |name: &str| -> String {
            let command = <ServeArgs as clap::Args>::augment_args(
                <CommonArgs as clap::Args>::augment_args(clap::Command::new("pxecloud")),
            );
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_id().as_str() == name)
                .unwrap();
            arg.get_help().unwrap().to_string()
        };
        for (name, value) in [
            ("listen", config.listen.to_string()),
            (
                "boot_token_ttl",
                config.boot_token_ttl.as_secs().to_string(),
            ),
            ("session_ttl", config.session_ttl.as_secs().to_string()),
            ("memdisk", config.memdisk.display().to_string()),
            ("max_connections", config.max_connections.to_string()),
            (
                "boot_log_days",
                (config.boot_log_retention.as_secs() / 86_400).to_string(),
            ),
            ("data_dir", config.data_dir.display().to_string()),
            ("tftp", config.tftp.is_some().to_string()),
        ] {
            assert!(
                help(name).contains(&format!("[default: {value}]")),
                "{name}: {value} / {}",
                help(name)
            );
        }
    }

    #[test]
    fn pxe_turns_on_tftp_and_proxy_dhcp_and_interface_names_are_checked() {
        let off = Config::load(&CommonArgs::default(), None).unwrap();
        assert_eq!(off.proxy_dhcp, None);
        let f = file("pxe = true\npxe_interfaces = [\"br0\", \"eth1\"]\n");
        let on = Config::load(&common_with(f.path()), None).unwrap();
        assert!(on.tftp.is_some());
        assert_eq!(
            on.proxy_dhcp,
            Some(ProxyDhcpConfig {
                interfaces: vec!["br0".into(), "eth1".into()]
            })
        );
        // ProxyDHCP on its own (then it answers iPXE and UEFI HTTP Boot only).
        let serve = ServeArgs {
            proxy_dhcp: Some(true),
            ..ServeArgs::default()
        };
        let alone = Config::load(&CommonArgs::default(), Some(&serve)).unwrap();
        assert_eq!(alone.tftp, None);
        assert_eq!(
            alone.proxy_dhcp,
            Some(ProxyDhcpConfig { interfaces: vec![] })
        );
        // `pxe` in the file, ProxyDHCP turned off on the command line: TFTP only.
        let serve = ServeArgs {
            proxy_dhcp: Some(false),
            ..ServeArgs::default()
        };
        let tftp_only = Config::load(&common_with(f.path()), Some(&serve)).unwrap();
        assert_eq!(tftp_only.proxy_dhcp, None);
        assert!(tftp_only.tftp.is_some());
        for bad in ["", "a/b", "eth0:1", "much-too-long-name", "has space"] {
            let serve = ServeArgs {
                pxe: Some(true),
                pxe_interfaces: vec![bad.to_owned()],
                ..ServeArgs::default()
            };
            let error = Config::load(&CommonArgs::default(), Some(&serve))
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("`pxe_interfaces`"), "{bad}: {error}");
        }
    }

    #[test]
    fn tftp_is_off_unless_asked_for_and_its_block_size_is_checked() {
        assert_eq!(
            Config::load(&CommonArgs::default(), None).unwrap().tftp,
            None
        );
        let f = file("tftp = true\ntftp_listen = \"127.0.0.1:6969\"\n");
        let on = Config::load(&common_with(f.path()), None).unwrap();
        assert_eq!(
            on.tftp,
            Some(TftpConfig {
                listen: "127.0.0.1:6969".parse().unwrap(),
                block_size_max: 1456,
            })
        );
        let serve = ServeArgs {
            tftp: Some(true),
            tftp_block_size: Some(100),
            ..ServeArgs::default()
        };
        let error = Config::load(&CommonArgs::default(), Some(&serve))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("`tftp_block_size`"), "{error}");
        let serve = ServeArgs {
            tftp: Some(true),
            tftp_listen: Some("[::]:69".into()),
            ..ServeArgs::default()
        };
        let error = Config::load(&CommonArgs::default(), Some(&serve))
            .unwrap_err()
            .to_string();
        assert!(error.contains("TFTP is served on IPv4"), "{error}");
    }

    #[test]
    fn public_urls_must_be_plain_http_base_urls() {
        assert!(parse_public_url("ftp://x").is_err());
        assert!(parse_public_url("http://").is_err());
        assert!(parse_public_url("http://a b").is_err());
        assert!(parse_public_url("http://a/?x").is_err());
        assert_eq!(
            parse_public_url("https://a:8443/pxe/").unwrap(),
            "https://a:8443/pxe"
        );
    }
}

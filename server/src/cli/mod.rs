//! The command line: `serve`, `migrate`, `user add|passwd|list`, `import`, `export`,
//! `dhcp-config`.

use app::server::dhcp_snippets::{self, BootServer, DhcpServer};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod users;

use crate::{
    config::{CommonArgs, Config, ServeArgs},
    database, import, logging, serve,
};

/// PXE Cloud: network-boot live images and OS installers, managed from a browser.
#[derive(Debug, Parser)]
#[command(
    name = "pxecloud",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web app and the iPXE endpoints (migrates the database first)
    Serve(Box<ServeArgs>),
    /// Bring the database schema up to date, then exit
    Migrate,
    /// Manage user accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Apply a TOML file of users, organizations, images, menus and groups (matched by name)
    Import {
        /// The file to apply (see the README for its format)
        file: std::path::PathBuf,
    },
    /// Write the whole configuration as a TOML file that `import` accepts
    Export {
        /// Include password hashes, so that an import restores passwords too
        #[arg(long)]
        with_password_hashes: bool,
        /// Write to this file instead of stdout
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Print what to add to the site's DHCP server so that it sends booting machines here,
    /// for sites that cannot run ProxyDHCP beside it (then run `serve --tftp`)
    DhcpConfig {
        /// The DHCP server: dnsmasq or isc-dhcpd
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(
            DhcpServer::ALL.map(DhcpServer::id)
        ))]
        server: String,
        /// This server's IPv4 address as booting machines reach it
        #[arg(long, value_name = "IPV4")]
        address: std::net::Ipv4Addr,
        /// The port of this server's plain HTTP listener [default: the port of `listen`]
        #[arg(long, value_name = "PORT")]
        http_port: Option<u16>,
    },
    /// Measure the raw argon2id verification rate with this server's parameters (for
    /// `bench/boot.py`)
    #[command(hide = true)]
    BenchHash {
        /// Threads verifying at once
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// How long to measure
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

/// Account commands; passwords are read from a prompt, or from stdin when it is not a terminal.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user
    Add {
        /// The username (letters, digits, '.', '_', '-'; case-insensitive)
        name: String,
        /// The user's email address
        #[arg(long)]
        email: Option<String>,
        /// Make the user a server admin
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's password
    Passwd {
        /// The username
        name: String,
    },
    /// List all users
    List,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("pxecloud: error: {message}");
    ExitCode::FAILURE
}

/// Parses the command line and runs the command; errors are printed, not panicked.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        Command::Serve(args) => Some(args.as_ref()),
        _ => None,
    };
    let config = match Config::load(&cli.common, serve_args) {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    logging::init(config.log_format);

    match cli.command {
        Command::BenchHash { threads, seconds } => {
            let duration = std::time::Duration::from_secs_f64(seconds.clamp(0.1, 600.0));
            match app::server::password::verification_rate(threads, duration) {
                Ok(rate) => {
                    println!("{rate:.1} hashes/s on {threads} threads (argon2id m=19456 t=2 p=1)");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(error),
            }
        }
        Command::Serve(_) => match serve::run(config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(error),
        },
        Command::Migrate => {
            let result = async {
                let db = database::connect(&config.database_url).await?;
                database::migrate(&db, &config.database_url).await
            }
            .await;
            match result {
                Ok(()) => {
                    eprintln!("the database is up to date");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(error),
            }
        }
        Command::Import { file } => {
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(error) => return fail(format!("cannot read {}: {error}", file.display())),
            };
            let db = match serve::open_database(&config).await {
                Ok(db) => db,
                Err(error) => return fail(error),
            };
            let hasher = match app::server::password::PasswordHasher::new(2) {
                Ok(hasher) => hasher,
                Err(error) => return fail(error),
            };
            match import::apply(&db, &hasher, &text).await {
                Ok(report) => {
                    eprintln!(
                        "imported {}: {} users, {} organizations, {} images, {} menus, {} groups",
                        file.display(),
                        report.users,
                        report.organizations,
                        report.images,
                        report.menus,
                        report.groups
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => fail(format!("{}: {error}", file.display())),
            }
        }
        Command::Export {
            with_password_hashes,
            output,
        } => {
            let db = match serve::open_database(&config).await {
                Ok(db) => db,
                Err(error) => return fail(error),
            };
            let text = match import::export(&db, with_password_hashes).await {
                Ok(text) => text,
                Err(error) => return fail(error),
            };
            let written = match &output {
                Some(path) => write_private(path, &text),
                None => std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes()),
            };
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(format!("cannot write the export: {error}")),
            }
        }
        Command::DhcpConfig {
            server,
            address,
            http_port,
        } => {
            let Some(server) = DhcpServer::from_id(&server) else {
                return fail(format!("unknown DHCP server {server:?}"));
            };
            let boot = BootServer::new(
                address,
                http_port.unwrap_or(config.listen.port()),
                serve::ipxe_base_url(&config),
            );
            print!("{}", dhcp_snippets::snippet(server, &boot));
            eprintln!(
                "pxecloud: for {server}, put these lines in {}",
                server.placement()
            );
            ExitCode::SUCCESS
        }
        Command::User(command) => {
            let db = match serve::open_database(&config).await {
                Ok(db) => db,
                Err(error) => return fail(error),
            };
            let hasher = match app::server::password::PasswordHasher::new(1) {
                Ok(hasher) => hasher,
                Err(error) => return fail(error),
            };
            let result = match command {
                UserCommand::Add { name, email, admin } => {
                    users::add(&db, &hasher, &name, email.as_deref(), admin).await
                }
                UserCommand::Passwd { name } => users::passwd(&db, &hasher, &name).await,
                UserCommand::List => users::list(&db).await,
            };
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(error),
            }
        }
    }
}

/// Writes a file only its owner can read (an export may hold password hashes), replacing
/// what was there.
pub(crate) fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    // An existing file keeps its mode when opened: narrow it too.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}

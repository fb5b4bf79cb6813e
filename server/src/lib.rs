//! The PXE Cloud server, by what listens and what starts it:
//!
//! - [`http`]: the HTTP front door (listener, router, pages and assets, iPXE steps,
//!   security layers); the REST API, metrics and hosted files join it as routes.
//! - The boot server's UDP doors sit beside `http`, each with its own listener: [`tftp`] and
//!   [`dhcp`] (ProxyDHCP), on [`udp`] sockets that know each packet's interface and address;
//!   [`netlog`] records what they do.
//! - [`cli`]: the command line (`serve`, `migrate`, `user`, `import`, `export`,
//!   `dhcp-config`).
//! - [`serve`] wires a run together from its [`config`]: database, listeners, housekeeping.
//! - [`import`]: the configuration file format, applied and exported through the services.

// Leptos view types nest deeply in builds without `erase_components` (tests, clippy).
#![recursion_limit = "256"]

pub mod boot_status;
pub mod cli;
pub mod config;
pub mod database;
pub mod dhcp;
pub mod http;
pub mod import;
pub mod logging;
pub mod netlog;
pub mod serve;
pub mod tftp;
pub mod udp;

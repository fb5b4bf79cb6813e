//! The PXE Cloud server: configuration, router, sessions, embedded assets and the CLI.

pub mod assets;
pub mod cli;
pub mod config;
pub mod database;
pub mod http;
pub mod import;
pub mod ipxe;
pub mod logging;
pub mod router;
pub mod security;
pub mod serve;
pub mod users;

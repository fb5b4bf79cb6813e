//! The HTTP front door: one listener (with its limits) serving one router, which joins the
//! web app's pages and server functions, the embedded assets, the iPXE boot steps and the
//! iPXE loaders (for UEFI HTTP Boot), under the security layers every answer passes through.
//!
//! Hosted files (`files`), the REST API (`rest`) and metrics (`metrics`) join here as routes
//! of their own; the boot server's UDP doors (TFTP, ProxyDHCP) sit beside this module at the
//! crate's top, each with its own listener.

pub mod assets;
pub mod files;
pub mod ipxe;
pub mod listener;
pub mod loaders;
pub mod ranges;
pub mod router;
pub mod security;

pub use listener::{Limits, TlsError, serve, serve_with, tls_acceptor};

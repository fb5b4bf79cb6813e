//! Server functions: public HTTP endpoints that authorize first, then call a service.

pub mod account;
pub mod organizations;

#[cfg(feature = "ssr")]
pub(crate) mod context;

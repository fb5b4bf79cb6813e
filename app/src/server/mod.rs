//! Server-only code: database entities, services, sessions and password hashing.

pub mod actor;
pub mod boot_cache;
pub mod boot_flow;
pub mod boot_server;
pub mod client;
pub mod db;
pub mod dhcp_snippets;
pub mod entities;
pub mod file_store;
pub mod iso;
pub mod net;
pub mod password;
pub mod rate;
pub mod services;
pub mod session_store;
pub mod sha256_state;
pub mod state;

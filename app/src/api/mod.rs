//! Server functions: public HTTP endpoints that authorize first, then call a service.

pub mod account;
pub mod boot_log;
pub mod files;
pub mod groups;
pub mod images;
pub mod invitations;
pub mod loader_sets;
pub mod members;
pub mod menus;
pub mod network_boot;
pub mod organizations;
pub mod users;

#[cfg(feature = "ssr")]
pub mod context;

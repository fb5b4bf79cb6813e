//! Domain operations: each takes the acting user and checks what it may do.

pub mod accounts;
pub mod boot_log;
pub mod boot_sessions;
pub mod fetch;
pub mod files;
pub mod groups;
pub mod images;
pub mod invitations;
pub mod iso;
pub mod loader_sets;
pub mod menus;
pub mod network_boot;
pub mod network_log;
pub mod organizations;
pub mod throttle;

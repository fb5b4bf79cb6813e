//! SeaORM entities, one per table of the initial migration.

pub mod boot_event;
pub mod boot_image;
pub mod boot_menu;
pub mod boot_token;
pub mod file;
pub mod group;
pub mod group_member;
pub mod invitation;
pub mod iso_index;
pub mod loader_default;
pub mod loader_file;
pub mod loader_set;
pub mod login_attempt;
pub mod menu_entry;
pub mod network_event;
pub mod organization;
pub mod organization_member;
pub mod upload;
pub mod user;
pub mod web_session;

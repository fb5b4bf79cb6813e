//! `pxecloud import` and `pxecloud export`: the whole configuration as one TOML file.
//!
//! Records are matched by name (users by username, organizations by name; images, menus and
//! groups by title or name within their organization), so applying a file twice changes
//! nothing the second time. Lists inside a record (an organization's members, a menu's
//! entries, a group's members) are set exactly as written; records the file does not
//! mention are left alone. Everything happens in one transaction, through the services
//! (`apply`), so an import keeps every rule the web app keeps.
//!
//! - [`format`]: the file's records, parsing, and errors with their line and field;
//! - [`apply`](apply()): applying a file;
//! - [`export`](export()): writing one.

mod apply;
mod export;
mod format;

pub use apply::{Report, apply};
pub use export::export;
pub use format::{
    Document, EntryDoc, GroupDoc, ImageDoc, ImportError, MemberDoc, MenuDoc, OrganizationDoc,
    UserDoc, parse,
};

//! The pages, one file each.

pub mod account;
pub mod dashboard;
pub mod login;
pub mod not_found;

//! Types that cross between server and browser.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A user's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Manages the organization's users, groups, images and menus.
    Admin,
    /// Boots what the organization's groups give them.
    Member,
}

impl Role {
    /// The role as stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Parses a stored role.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The signed-in user, as the UI sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub id: i32,
    pub username: String,
    pub is_server_admin: bool,
}

/// One organization of the signed-in user, with their role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationSummary {
    pub id: i32,
    pub name: String,
    pub description: String,
    /// `None` for a server admin who is not a member.
    pub role: Option<Role>,
    pub member_count: u64,
    pub group_count: u64,
}

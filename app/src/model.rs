//! Types that cross between server and browser.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A user's role in an organization (stored as text; a row with another value is a loud
/// database error, not a missing member).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum),
    sea_orm(rs_type = "String", db_type = "Text")
)]
pub enum Role {
    /// Manages the organization's users, groups, images and menus.
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "admin"))]
    Admin,
    /// Boots what the organization's groups give them.
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "member"))]
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
    /// Signed in with the first-start password: the app asks for a new one before anything.
    pub must_change_password: bool,
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

/// How many rows a page of a list holds.
pub const PAGE_SIZE: u64 = 50;

/// One page of a long list, and where it sits in the whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many rows match the filter, over all pages.
    pub total: u64,
    /// The page shown, from 0.
    pub page: u64,
    pub page_size: u64,
}

impl<T> Page<T> {
    /// How many pages the matching rows fill (at least one).
    pub fn page_count(&self) -> u64 {
        self.total.div_ceil(self.page_size.max(1)).max(1)
    }
}

/// A user account as a server admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i32,
    pub username: String,
    pub email: Option<String>,
    pub is_server_admin: bool,
    pub is_disabled: bool,
}

/// A member of an organization, as its admins see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    pub user_id: i32,
    pub username: String,
    pub email: Option<String>,
    pub role: Role,
}

/// What adding a user to an organization did: a server admin adds the account at once; an
/// organization admin invites the name, and its owner accepts on their dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddOutcome {
    Added,
    Invited,
}

/// A pending invitation to an organization, as its admins see it. The name need not belong
/// to an account: the list is the same whether it does or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRow {
    pub id: i32,
    pub username: String,
    pub role: Role,
    pub invited_by: String,
    /// When it lapses, as RFC 3339 in UTC.
    pub expires_at: String,
}

/// An invitation the signed-in user may accept or decline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyInvitation {
    pub id: i32,
    pub organization_name: String,
    pub role: Role,
    pub invited_by: String,
    /// When it lapses, as RFC 3339 in UTC.
    pub expires_at: String,
}

/// An organization with what it holds, for its admins' page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationDetail {
    pub id: i32,
    pub name: String,
    pub description: String,
    /// The viewer's role; `None` for a server admin who is not a member.
    pub role: Option<Role>,
    pub contents: OrganizationContents,
}

/// What an organization holds: what deleting it would take along.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationContents {
    pub members: u64,
    pub groups: u64,
    pub menus: u64,
    pub images: u64,
}

impl OrganizationContents {
    /// Whether nothing but memberships would go with the organization.
    pub fn is_empty(&self) -> bool {
        self.groups == 0 && self.menus == 0 && self.images == 0
    }
}

/// A group in a list, with the title of the menu it boots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    pub id: i32,
    pub name: String,
    pub description: String,
    pub menu_id: Option<i32>,
    pub menu_title: Option<String>,
    pub member_count: u64,
}

/// A group with its members, for its edit page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub group: GroupRow,
    /// The usernames of its members, by name.
    pub members: Vec<String>,
}

/// A menu in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuRow {
    pub id: i32,
    pub title: String,
    pub entry_count: u64,
}

/// A choice in a select box: an id and what it reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub id: i32,
    pub text: String,
}

/// One line of the boot log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootLogRow {
    pub id: i32,
    /// When, as RFC 3339 in UTC.
    pub at: String,
    pub username: Option<String>,
    pub client_mac: Option<String>,
    pub client_ip: Option<String>,
    pub client_platform: Option<String>,
    pub entry_title: Option<String>,
    pub entry_kind: Option<String>,
    pub outcome: String,
}

/// What the menu editor starts from: the menu, the images it can place, and who boots it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuEditorData {
    pub menu: crate::boot::BootMenu,
    /// The organization's images, by title: the editor's palette.
    pub images: Vec<crate::boot::BootImage>,
    /// The names of the groups that boot this menu.
    pub groups: Vec<String>,
    /// The base URL iPXE clients reach this server at, for the preview.
    pub boot_url_base: String,
}

/// The boot server as a server admin sees it: what listens, the loaders, what the UDP doors
/// did lately, and configuration for the site's own DHCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkBoot {
    /// What listens where, HTTP first.
    pub listeners: Vec<Listener>,
    /// Where the loaders come from (built in and from which package, or a folder).
    pub loader_source: String,
    /// The loaders built in (or read from `--loaders-dir`).
    pub loaders: Vec<LoaderRow>,
    /// The loader sets server admins added.
    pub loader_sets: Vec<LoaderSetRow>,
    /// Which loader each architecture is offered.
    pub loader_choices: Vec<LoaderChoice>,
    /// Counters since start: what ProxyDHCP and TFTP answered, ignored and refused.
    pub counters: Vec<Counter>,
    /// The newest DHCP answers and TFTP transfers, newest first.
    pub events: Vec<NetworkEventRow>,
    /// This host's IPv4 addresses (interface, address), to write the DHCP configuration for.
    pub addresses: Vec<(String, String)>,
    /// The address the snippets below are written for.
    pub snippet_address: Option<String>,
    pub snippets: Vec<DhcpSnippet>,
    /// Why a snippet would not work as it is (e.g. TFTP is off), if anything.
    pub snippet_warning: Option<String>,
}

/// A door of the boot server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// `HTTP`, `HTTPS`, `TFTP`, `ProxyDHCP`.
    pub service: String,
    /// Where it listens, or why it is off.
    pub address: String,
    pub on: bool,
    /// What it does, or how to turn it on.
    pub note: String,
}

/// One loader the boot server serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderRow {
    /// The name TFTP and `/loaders/` serve it under.
    pub name: String,
    /// The machines that get it, e.g. "BIOS", "x86-64 UEFI".
    pub used_for: Vec<String>,
    pub size: u64,
    pub sha256: String,
}

/// A named count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// `ProxyDHCP`, `TFTP` or `Recording`.
    pub group: String,
    pub name: String,
    pub value: u64,
}

/// A ProxyDHCP answer or TFTP transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkEventRow {
    /// When, as RFC 3339 in UTC.
    pub at: String,
    /// `dhcp` or `tftp`.
    pub protocol: String,
    pub client_ip: String,
    pub client_mac: Option<String>,
    /// The client's architecture (option 93), as a name when known.
    pub arch: Option<String>,
    pub vendor_class: Option<String>,
    pub interface: Option<String>,
    pub file: Option<String>,
    pub bytes: Option<u64>,
    pub duration_ms: Option<u64>,
    pub outcome: String,
}

/// Configuration for one kind of DHCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpSnippet {
    /// `dnsmasq`, `isc-dhcpd`, `kea`, `windows`, `mikrotik`.
    pub id: String,
    pub name: String,
    /// Where the text goes.
    pub placement: String,
    pub text: String,
}

/// The machines a loader is chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum LoaderArch {
    /// x86 BIOS (option 93 code 0).
    Bios,
    /// x86-64 UEFI (7 and 9, 16 over HTTP).
    X64Uefi,
    /// ARM64 UEFI (11, 19 over HTTP).
    Arm64Uefi,
}

impl LoaderArch {
    pub const ALL: [Self; 3] = [Self::Bios, Self::X64Uefi, Self::Arm64Uefi];

    /// As stored.
    pub fn id(self) -> &'static str {
        match self {
            Self::Bios => "bios",
            Self::X64Uefi => "x64-uefi",
            Self::Arm64Uefi => "arm64-uefi",
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|arch| arch.id() == id)
    }

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Bios => "BIOS",
            Self::X64Uefi => "x86-64 UEFI",
            Self::Arm64Uefi => "ARM64 UEFI",
        }
    }

    /// The built-in loader it gets unless another is chosen: `snponly.efi` for x86-64 UEFI,
    /// because the full `ipxe.efi` loses USB keyboards on many machines and users type a
    /// password.
    pub fn builtin(self) -> &'static str {
        match self {
            Self::Bios => "undionly.kpxe",
            Self::X64Uefi => "snponly.efi",
            Self::Arm64Uefi => "ipxe-arm64.efi",
        }
    }
}

/// A loader set a server admin added; its files are served as `<name>/<file>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderSetRow {
    pub id: i32,
    pub name: String,
    /// When, as RFC 3339 in UTC.
    pub created_at: String,
    pub created_by: Option<String>,
    pub files: Vec<LoaderRow>,
}

/// Which loader an architecture is offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderChoice {
    pub arch: LoaderArch,
    /// `<set>/<file>`, or `None` for the built-in loader.
    pub chosen: Option<String>,
    /// Whether the built-in loader for it exists in this binary.
    pub builtin_present: bool,
}

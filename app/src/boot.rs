//! The boot domain shared by server and browser: images, menu entries, and the input types
//! that keep what users type safe to put into an iPXE script.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The longest URL accepted.
pub const URL_MAX: usize = 2048;
/// The longest boot argument accepted.
pub const BOOT_ARG_MAX: usize = 1024;
/// The most boot arguments an image may have.
pub const BOOT_ARGS_MAX: usize = 64;
/// The longest title (image, menu, separator text) accepted.
pub const TITLE_MAX: usize = 200;
/// The most entries a menu may have.
pub const MENU_ENTRIES_MAX: usize = 500;
/// The longest menu timeout, in seconds.
pub const TIMEOUT_MAX_SECS: i32 = 3600;

/// What kind of image: a kernel with an initrd, or an ISO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum),
    sea_orm(rs_type = "String", db_type = "Text")
)]
pub enum ImageKind {
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "kernel_initrd"))]
    KernelInitrd,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "iso"))]
    Iso,
}

impl ImageKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KernelInitrd => "kernel_initrd",
            Self::Iso => "iso",
        }
    }

    /// Parses a stored or submitted kind.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "kernel_initrd" => Ok(Self::KernelInitrd),
            "iso" => Ok(Self::Iso),
            other => Err(format!(
                "`{other}` is not an image type (kernel_initrd or iso)."
            )),
        }
    }
}

/// How an ISO boots: `sanboot` over HTTP (BIOS and UEFI) or `memdisk` (BIOS only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum),
    sea_orm(rs_type = "String", db_type = "Text")
)]
pub enum IsoBoot {
    #[default]
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "sanboot"))]
    Sanboot,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "memdisk"))]
    Memdisk,
}

impl IsoBoot {
    /// The method as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sanboot => "sanboot",
            Self::Memdisk => "memdisk",
        }
    }

    /// Parses a stored or submitted method.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "sanboot" => Ok(Self::Sanboot),
            "memdisk" => Ok(Self::Memdisk),
            other => Err(format!(
                "`{other}` is not an ISO boot method (sanboot or memdisk)."
            )),
        }
    }
}

/// An http or https URL with a host, without whitespace, control characters or `${`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// Parses a URL typed by a user.
    pub fn parse(input: &str) -> Result<Self, String> {
        let url = input.trim();
        if url.is_empty() {
            return Err("Enter a URL.".into());
        }
        if url.chars().count() > URL_MAX {
            return Err(format!("A URL has at most {URL_MAX} characters."));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(
                "A URL cannot contain spaces or control characters; write a space as %20.".into(),
            );
        }
        let lower = url.to_ascii_lowercase();
        let rest = if lower.starts_with("http://") {
            &url[7..]
        } else if lower.starts_with("https://") {
            &url[8..]
        } else {
            return Err("A URL starts with http:// or https://.".into());
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        if host.is_empty() || host.starts_with(':') {
            return Err("A URL names a host, like http://boot.example.org/….".into());
        }
        if url.contains("${") || url.contains(['{', '}', '\\', '"', '<', '>', '`']) {
            return Err("A URL cannot contain { } \\ \" < > or `; percent-encode them.".into());
        }
        Ok(Self(url.to_owned()))
    }

    /// The URL as typed, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an image's kernel, initrd or ISO comes from: a URL, or a file of the organization's
/// library, written `file:<name>` (stored so, and resolved to a URL for the machine at boot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    Url(HttpUrl),
    File(String),
}

impl ImageSource {
    /// How a library file is written in an image's URL field.
    pub const FILE_PREFIX: &'static str = "file:";

    /// Parses what the admin typed (or picked from the library).
    pub fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        match input.strip_prefix(Self::FILE_PREFIX) {
            Some(name) => {
                crate::library::check_file_name(name)?;
                Ok(Self::File(name.to_owned()))
            }
            None => HttpUrl::parse(input).map(Self::Url).map_err(|message| {
                if input.is_empty() {
                    "Enter a URL, or pick a file of the library.".to_owned()
                } else {
                    message
                }
            }),
        }
    }

    /// The library file a stored value names, if it names one.
    pub fn file_name(stored: &str) -> Option<&str> {
        stored.strip_prefix(Self::FILE_PREFIX)
    }

    /// As stored.
    pub fn to_stored(&self) -> String {
        match self {
            Self::Url(url) => url.as_str().to_owned(),
            Self::File(name) => format!("{}{name}", Self::FILE_PREFIX),
        }
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// In the arguments of an image that uses an ISO of the library: the URL of that ISO, as the
/// machine reaches it (it ends in `.iso`, as casper wants).
pub const ISO_PLACEHOLDER: &str = "{iso}";
/// …and the URL of the folder of the files inside it (no trailing slash): `{tree}/live/…`.
pub const TREE_PLACEHOLDER: &str = "{tree}";

/// One kernel argument: `key=value` or a bare flag, one word, with nothing iPXE would act on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BootArg(String);

impl TryFrom<String> for BootArg {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<BootArg> for String {
    fn from(arg: BootArg) -> Self {
        arg.0
    }
}

impl BootArg {
    /// Parses an argument typed by a user.
    pub fn parse(input: &str) -> Result<Self, String> {
        let arg = input.trim();
        if arg.is_empty() {
            return Err("Enter an argument, like quiet or console=ttyS0.".into());
        }
        if arg.chars().count() > BOOT_ARG_MAX {
            return Err(format!(
                "An argument has at most {BOOT_ARG_MAX} characters."
            ));
        }
        if arg.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("An argument is one word: add each argument as its own row.".into());
        }
        if arg.starts_with('=') {
            return Err("An argument starts with its name, like console=ttyS0.".into());
        }
        let plain = arg
            .replace(ISO_PLACEHOLDER, "")
            .replace(TREE_PLACEHOLDER, "");
        if let Some(bad) = plain
            .chars()
            .find(|c| matches!(c, '$' | '{' | '}' | '\\' | '#' | '"' | '\''))
        {
            return Err(if matches!(bad, '{' | '}') {
                format!(
                    "An argument cannot contain `{bad}` (iPXE would interpret it), except in \
                     {ISO_PLACEHOLDER} and {TREE_PLACEHOLDER}, which stand for the URLs of the \
                     image's ISO."
                )
            } else {
                format!("An argument cannot contain `{bad}`: iPXE would interpret it.")
            });
        }
        if matches!(arg, "||" | "&&" | ";") {
            return Err("This argument would end the iPXE command.".into());
        }
        if !arg.is_ascii() {
            return Err("An argument is plain ASCII.".into());
        }
        Ok(Self(arg.to_owned()))
    }

    /// The argument.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it names the image's ISO by [`ISO_PLACEHOLDER`] or [`TREE_PLACEHOLDER`].
    pub fn has_placeholder(&self) -> bool {
        self.0.contains(ISO_PLACEHOLDER) || self.0.contains(TREE_PLACEHOLDER)
    }

    /// The argument with its placeholders replaced by the URLs a machine reaches the ISO by.
    pub fn expand(&self, iso_url: &str, tree_url: &str) -> String {
        self.0
            .replace(ISO_PLACEHOLDER, iso_url)
            .replace(TREE_PLACEHOLDER, tree_url)
    }
}

/// An image's kernel arguments in order, each a checked `BootArg`. The database keeps them as
/// a JSON array in a text column; a stored list that no longer parses is a database error.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType),
    sea_orm(
        value_type = "String",
        from_str = "BootArgs::from_json",
        to_str = "BootArgs::to_json"
    )
)]
pub struct BootArgs(Vec<BootArg>);

impl BootArgs {
    /// Parses an ordered list of arguments; the error names the first bad row (1-based).
    pub fn parse<S: AsRef<str>>(rows: &[S]) -> Result<Self, (usize, String)> {
        if rows.len() > BOOT_ARGS_MAX {
            return Err((
                BOOT_ARGS_MAX + 1,
                format!("An image has at most {BOOT_ARGS_MAX} arguments."),
            ));
        }
        rows.iter()
            .enumerate()
            .map(|(i, row)| BootArg::parse(row.as_ref()).map_err(|m| (i + 1, m)))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The arguments, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(BootArg::as_str)
    }

    /// The arguments as plain strings, in order (what a form edits).
    pub fn to_strings(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }

    /// The row (1-based) of the first argument that names the image's ISO, if any does.
    pub fn first_placeholder(&self) -> Option<usize> {
        self.0
            .iter()
            .position(BootArg::has_placeholder)
            .map(|i| i + 1)
    }

    /// The arguments with the ISO's URLs filled in (see [`BootArg::expand`]).
    pub fn expand(&self, iso_url: &str, tree_url: &str) -> Vec<String> {
        self.0
            .iter()
            .map(|arg| arg.expand(iso_url, tree_url))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[cfg(feature = "ssr")]
    fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        use serde::de::Error as _;
        let rows: Vec<String> = serde_json::from_str(text)?;
        Self::parse(&rows)
            .map_err(|(row, message)| serde_json::Error::custom(format!("row {row}: {message}")))
    }

    #[cfg(feature = "ssr")]
    fn to_json(&self) -> String {
        serde_json::Value::from(self.to_strings()).to_string()
    }
}

/// What a menu entry can do besides booting an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum),
    sea_orm(rs_type = "String", db_type = "Text")
)]
pub enum MenuAction {
    /// Boot from the first local disk (BIOS), or leave iPXE to the firmware's next device (UEFI).
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "local_disk"))]
    LocalDisk,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "reboot"))]
    Reboot,
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "poweroff"))]
    PowerOff,
    /// Drop to the iPXE shell.
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "shell"))]
    Shell,
    /// Leave iPXE and return to the firmware.
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "exit"))]
    Exit,
    /// Chain-load another script or binary from a URL.
    #[cfg_attr(feature = "ssr", sea_orm(string_value = "chain"))]
    Chain,
}

impl MenuAction {
    /// Every action, in the order the editor's palette shows them.
    pub const ALL: [Self; 6] = [
        Self::LocalDisk,
        Self::Reboot,
        Self::PowerOff,
        Self::Shell,
        Self::Exit,
        Self::Chain,
    ];

    /// The action as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LocalDisk => "local_disk",
            Self::Reboot => "reboot",
            Self::PowerOff => "poweroff",
            Self::Shell => "shell",
            Self::Exit => "exit",
            Self::Chain => "chain",
        }
    }

    /// Parses a stored or submitted action.
    pub fn parse(value: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == value)
            .ok_or_else(|| format!("`{value}` is not a menu action."))
    }

    /// How the action reads in a menu.
    pub fn label(self) -> &'static str {
        match self {
            Self::LocalDisk => "Boot from local disk",
            Self::Reboot => "Reboot",
            Self::PowerOff => "Power off",
            Self::Shell => "iPXE shell",
            Self::Exit => "Exit to firmware",
            Self::Chain => "Chain to URL",
        }
    }
}

/// What a menu entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MenuItem {
    /// Boots one of the organization's images.
    Image { image_id: i32 },
    /// A line of text between entries.
    Separator { text: String },
    /// An action; `url` is the target of `Chain` and absent otherwise.
    Action {
        action: MenuAction,
        url: Option<String>,
    },
}

/// One entry of a menu, in its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuEntry {
    pub item: MenuItem,
    /// Whether the menu selects this entry when its timeout runs out.
    pub is_default: bool,
}

/// A boot image as the UI and the renderer see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootImage {
    pub id: i32,
    pub title: String,
    pub kind: ImageKind,
    pub kernel_url: Option<String>,
    pub image_url: String,
    pub iso_boot: IsoBoot,
    pub args: BootArgs,
    /// A kernel image made from (or using) an ISO of the library: `file:<name>`, whose URLs
    /// `{iso}` and `{tree}` in `args` stand for.
    #[serde(default)]
    pub iso_url: Option<String>,
}

/// A boot menu with its entries in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootMenu {
    pub id: i32,
    pub title: String,
    pub background_url: Option<String>,
    pub timeout_secs: Option<i32>,
    /// Bumped by every save, and when deleting an image takes entries away; a save names
    /// the version it started from, and a boot choice the version it was shown.
    pub version: i32,
    pub entries: Vec<MenuEntry>,
    /// The stored ids of `entries`, in the same order (empty for a menu not read from the
    /// database): what boot URLs name, so that a choice never lands on another entry.
    #[serde(default)]
    pub entry_ids: Vec<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Label;

    #[test]
    fn urls_must_be_http_with_a_host_and_no_spaces() {
        assert_eq!(
            ImageSource::parse(" file:debian.iso "),
            Ok(ImageSource::File("debian.iso".into()))
        );
        assert!(ImageSource::parse("file:../etc/passwd").is_err());
        assert!(ImageSource::parse("file:").is_err());
        assert!(matches!(
            ImageSource::parse("http://boot.lan/linux"),
            Ok(ImageSource::Url(_))
        ));
        assert!(ImageSource::parse("").unwrap_err().contains("library"));
        assert_eq!(ImageSource::file_name("file:k"), Some("k"));
        assert_eq!(ImageSource::file_name("http://a/file:k"), None);
        assert!(HttpUrl::parse("http://boot.lan/linux").is_ok());
        assert!(HttpUrl::parse(" HTTPS://boot.lan:8443/a?b=c&d=e ").is_ok());
        assert!(HttpUrl::parse("ftp://boot.lan/linux").is_err());
        assert!(HttpUrl::parse("http:///linux").is_err());
        assert!(HttpUrl::parse("http://boot.lan/a b").is_err());
        assert!(HttpUrl::parse("http://boot.lan/a\nb").is_err());
        assert!(HttpUrl::parse("http://boot.lan/${password}").is_err());
        assert!(HttpUrl::parse("http://boot.lan/a\\").is_err());
        assert!(HttpUrl::parse(&format!("http://a/{}", "x".repeat(URL_MAX))).is_err());
    }

    #[test]
    fn boot_args_are_single_safe_words() {
        assert_eq!(
            BootArg::parse(" console=ttyS0 ").unwrap().as_str(),
            "console=ttyS0"
        );
        assert!(BootArg::parse("quiet").is_ok());
        assert!(BootArg::parse("url=http://x/p?a=1&b=2").is_ok());
        for bad in [
            "",
            "a b",
            "a\tb",
            "x=${password}",
            "a\\",
            "#x",
            "||",
            "&&",
            ";",
            "=x",
            "é",
        ] {
            assert!(BootArg::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_bad_argument_row_is_named() {
        assert_eq!(BootArgs::parse(&["quiet", "a b"]).unwrap_err().0, 2);
        assert_eq!(BootArgs::parse(&["quiet", "splash"]).unwrap().len(), 2);
    }

    #[test]
    fn titles_may_hold_anything_printable_on_one_line() {
        assert!(Label::title("Ubuntu || shell ${password} x\\", "image").is_ok());
        assert!(Label::title("a\nb", "image").is_err());
        assert!(Label::title("Debian\u{202E}txt.exe", "image").is_err());
        assert!(Label::title(" ", "image").is_err());
    }

    #[test]
    fn actions_round_trip_through_their_stored_names() {
        for action in MenuAction::ALL {
            assert_eq!(MenuAction::parse(action.as_str()).unwrap(), action);
        }
    }
}

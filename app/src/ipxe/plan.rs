//! What each boot step shows and does, before it is written as a script.

use super::escape;
use serde::{Deserialize, Serialize};

/// An absolute URL of this server, safe to write as one script word. Built only from the
/// (percent-encoded) base URL, fixed path segments, and the client variables of
/// [`CLIENT_QUERY`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerUrl(String);

/// The query that names the client in every URL before the login: iPXE fills it in.
pub const CLIENT_QUERY: &str =
    "mac=${mac:hexhyp}&uuid=${uuid}&platform=${platform}&arch=${buildarch}";

impl ServerUrl {
    /// `base` (the public URL, or one built from the request's Host) joined with `path`.
    pub fn new(base: &str, path: &str) -> Self {
        let base = escape::url_word(base.trim_end_matches('/'));
        let path = escape::url_word(path.trim_start_matches('/'));
        Self(format!("{base}/{path}"))
    }

    /// This URL with the client query appended.
    pub fn with_client_query(&self) -> Self {
        let separator = if self.0.contains('?') { '&' } else { '?' };
        Self(format!("{}{separator}{CLIENT_QUERY}", self.0))
    }

    /// The URL as a script word.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The login prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct LoginPlan {
    /// Shown above the prompt, e.g. after a wrong password.
    pub notice: Option<String>,
    /// Where the credentials go: POSTed as form parameters where iPXE has `params`, else as
    /// hex-encoded `username` and `password` query parameters added to this URL.
    pub session_url: ServerUrl,
}

/// A choice of organization or group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ChoicePlan {
    pub title: String,
    pub options: Vec<ChoiceOption>,
    /// Where "Back" leads, if there is a step to go back to.
    pub back_url: Option<ServerUrl>,
    pub logout_url: ServerUrl,
}

/// One option of a choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ChoiceOption {
    pub text: String,
    pub url: ServerUrl,
}

/// A group's boot menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct MenuPlan {
    pub title: String,
    /// Shown behind the menu where iPXE has the `console` command.
    pub background_url: Option<String>,
    /// Seconds before the default entry boots.
    pub timeout_secs: Option<i32>,
    pub lines: Vec<MenuLine>,
    /// Where "Back" leads (the group choice), if it was shown.
    pub back_url: Option<ServerUrl>,
    pub logout_url: ServerUrl,
}

/// One line of a menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum MenuLine {
    /// An entry that fetches the boot script at `url`.
    Entry {
        text: String,
        url: ServerUrl,
        is_default: bool,
    },
    /// Text between entries.
    Gap { text: String },
}

/// What booting an entry does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum BootStep {
    /// `kernel` (+ `initrd`) + `boot`.
    KernelInitrd {
        kernel_url: String,
        /// `None`: a kernel that boots alone (memtest86+, an EFI program).
        initrd_url: Option<String>,
        args: Vec<String>,
    },
    /// An ISO attached as a SAN disk over HTTP (BIOS and UEFI).
    Sanboot {
        iso_url: String,
    },
    /// An ISO loaded into memory by memdisk (BIOS only).
    Memdisk {
        iso_url: String,
        memdisk_url: ServerUrl,
    },
    /// The first local disk on BIOS; back to the firmware's boot order on UEFI.
    LocalDisk,
    Reboot,
    PowerOff,
    Shell,
    Exit,
    Chain {
        url: String,
    },
}

/// The script that boots one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct BootPlan {
    /// The entry's title, shown while booting and in error messages.
    pub title: String,
    pub step: BootStep,
    /// Where a failure returns to.
    pub menu_url: ServerUrl,
}

/// A message, a pause, and on to the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct NoticePlan {
    pub lines: Vec<String>,
    pub next_url: ServerUrl,
}

/// One boot step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Plan {
    /// `/boot.ipxe`: hands over to the login, naming the machine.
    Entry {
        login_url: ServerUrl,
    },
    Login(LoginPlan),
    Choice(ChoicePlan),
    Menu(MenuPlan),
    Boot(BootPlan),
    Notice(NoticePlan),
}

/// Fuzzed URLs are built like real ones, so they keep the type's promise.
#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for ServerUrl {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let base: String = u.arbitrary()?;
        let path: String = u.arbitrary()?;
        Ok(Self::new(&base, &path))
    }
}

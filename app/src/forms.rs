//! Forms as the browser submits them, checked by one `parse` that runs in the browser (to
//! show errors as the user types) and on the server (which trusts nothing).

use serde::{Deserialize, Serialize};

use crate::{
    boot::{
        BootArgs, HttpUrl, ISO_PLACEHOLDER, ImageKind, ImageSource, IsoBoot, MenuAction, MenuEntry,
        MenuItem, TIMEOUT_MAX_SECS, TREE_PLACEHOLDER,
    },
    error::AppError,
    validate::Label,
};

/// The longest description (organization, group) accepted.
pub const DESCRIPTION_MAX: usize = 2000;

/// Checks a description: trimmed, at most [`DESCRIPTION_MAX`] characters.
pub fn parse_description(input: &str) -> Result<String, AppError> {
    let description = input.trim();
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(AppError::invalid(
            "description",
            format!("A description has at most {DESCRIPTION_MAX} characters."),
        ));
    }
    Ok(description.to_owned())
}

/// Checks a name and description of `what` (an organization, a group).
pub fn parse_named(name: &str, description: &str, what: &str) -> Result<(Label, String), AppError> {
    let name = Label::name(name, what).map_err(|m| AppError::invalid("name", m))?;
    Ok((name, parse_description(description)?))
}

/// An image as a form submits it, before checking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageForm {
    pub title: String,
    pub kind: String,
    pub kernel_url: String,
    pub image_url: String,
    pub iso_boot: String,
    pub args: Vec<String>,
    /// A kernel image's ISO of the library (`file:<name>`; empty for none), which `{iso}` and
    /// `{tree}` in the arguments stand for.
    #[serde(default)]
    pub iso_url: String,
}

/// An image whose every field has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidImage {
    pub title: Label,
    pub kind: ImageKind,
    pub kernel_url: Option<ImageSource>,
    /// The initrd (none for a kernel that boots alone), or the ISO.
    pub image_url: Option<ImageSource>,
    pub iso_boot: Option<IsoBoot>,
    pub args: BootArgs,
    /// Always a library file.
    pub iso_url: Option<ImageSource>,
}

impl From<&crate::boot::BootImage> for ImageForm {
    /// The form that describes a stored image (what the editor starts from).
    fn from(image: &crate::boot::BootImage) -> Self {
        let iso = image.kind == crate::boot::ImageKind::Iso;
        Self {
            title: image.title.clone(),
            kind: image.kind.as_str().to_owned(),
            kernel_url: image.kernel_url.clone().unwrap_or_default(),
            image_url: image.image_url.clone(),
            iso_boot: if iso {
                image.iso_boot.as_str().to_owned()
            } else {
                String::new()
            },
            args: image.args.to_strings(),
            iso_url: image.iso_url.clone().unwrap_or_default(),
        }
    }
}

impl ImageForm {
    /// Checks every field; errors name the field (`args.N` for the Nth argument row).
    pub fn parse(&self) -> Result<ValidImage, AppError> {
        let title =
            Label::title(&self.title, "image").map_err(|m| AppError::invalid("title", m))?;
        let kind = ImageKind::parse(&self.kind).map_err(|m| AppError::invalid("kind", m))?;
        let (kernel_url, iso_boot) = match kind {
            ImageKind::KernelInitrd => {
                let kernel = ImageSource::parse(&self.kernel_url)
                    .map_err(|m| AppError::invalid("kernel_url", m))?;
                (Some(kernel), None)
            }
            ImageKind::Iso => {
                if !self.kernel_url.trim().is_empty() {
                    return Err(AppError::invalid(
                        "kernel_url",
                        "An ISO image has no separate kernel; leave this empty.",
                    ));
                }
                let method = if self.iso_boot.trim().is_empty() {
                    IsoBoot::default()
                } else {
                    IsoBoot::parse(self.iso_boot.trim())
                        .map_err(|m| AppError::invalid("iso_boot", m))?
                };
                (None, Some(method))
            }
        };
        // A kernel may boot alone (memtest86+, an EFI program); an ISO image is its ISO.
        let image_url = match (kind, self.image_url.trim()) {
            (ImageKind::KernelInitrd, "") => None,
            _ => Some(
                ImageSource::parse(&self.image_url)
                    .map_err(|m| AppError::invalid("image_url", m))?,
            ),
        };
        let args = BootArgs::parse(&self.args)
            .map_err(|(row, m)| AppError::invalid(format!("args.{row}"), m))?;
        let iso_url = match (kind, self.iso_url.trim()) {
            (_, "") => None,
            (ImageKind::Iso, _) => {
                return Err(AppError::invalid(
                    "iso_url",
                    "An ISO image boots the ISO itself; leave this empty.",
                ));
            }
            (ImageKind::KernelInitrd, text) => match ImageSource::parse(text) {
                Ok(source @ ImageSource::File(_)) => Some(source),
                Ok(ImageSource::Url(_)) => {
                    return Err(AppError::invalid(
                        "iso_url",
                        "Pick an ISO of the library: PXE Cloud serves the files inside it.",
                    ));
                }
                Err(message) => return Err(AppError::invalid("iso_url", message)),
            },
        };
        if iso_url.is_none()
            && let Some(row) = args.first_placeholder()
        {
            return Err(AppError::invalid(
                format!("args.{row}"),
                format!(
                    "{ISO_PLACEHOLDER} and {TREE_PLACEHOLDER} stand for the URLs of the image's \
                     ISO: pick one of the library, or remove them."
                ),
            ));
        }
        Ok(ValidImage {
            title,
            kind,
            kernel_url,
            image_url,
            iso_boot,
            args,
            iso_url,
        })
    }
}

/// Parses a menu's background picture URL; empty means none.
pub fn parse_background(input: &str) -> Result<Option<HttpUrl>, String> {
    match input.trim() {
        "" => Ok(None),
        url => HttpUrl::parse(url).map(Some),
    }
}

/// Parses a menu timeout in whole seconds; empty means none.
pub fn parse_timeout(input: &str) -> Result<Option<i32>, String> {
    match input.trim() {
        "" => Ok(None),
        text => {
            let seconds: i32 = text
                .parse()
                .map_err(|_| "Enter a whole number of seconds.".to_owned())?;
            if !(1..=TIMEOUT_MAX_SECS).contains(&seconds) {
                return Err(format!(
                    "A timeout is between 1 and {TIMEOUT_MAX_SECS} seconds."
                ));
            }
            Ok(Some(seconds))
        }
    }
}

/// Checks one menu entry on its own (whether its image exists is the server's to say) and
/// returns it tidied: separator text and chain URLs trimmed, URLs only on chain actions.
pub fn check_entry(entry: &MenuEntry) -> Result<MenuEntry, String> {
    let item = match &entry.item {
        MenuItem::Image { .. } => entry.item.clone(),
        MenuItem::Separator { text } => MenuItem::Separator {
            text: match text.trim() {
                "" => String::new(),
                text => Label::title(text, "separator")?.as_str().to_owned(),
            },
        },
        MenuItem::Action { action, url } => {
            let url = match (action, url.as_deref().map(str::trim)) {
                (MenuAction::Chain, Some(url)) if !url.is_empty() => {
                    Some(HttpUrl::parse(url)?.as_str().to_owned())
                }
                (MenuAction::Chain, _) => return Err("Enter the URL to chain to.".into()),
                _ => None,
            };
            MenuItem::Action {
                action: *action,
                url,
            }
        }
    };
    if entry.is_default && matches!(item, MenuItem::Separator { .. }) {
        return Err("A separator cannot be the default.".into());
    }
    Ok(MenuEntry {
        item,
        is_default: entry.is_default,
    })
}

/// A menu's own settings as a form submits them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuSettings {
    pub title: String,
    pub background_url: String,
    /// Seconds before the default entry boots; empty for no timeout.
    pub timeout_secs: String,
}

/// Menu settings whose every field has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSettings {
    pub title: Label,
    pub background_url: Option<HttpUrl>,
    pub timeout_secs: Option<i32>,
}

impl MenuSettings {
    /// Checks every field; errors name the field.
    pub fn check(&self) -> Result<ValidSettings, AppError> {
        let title = Label::title(&self.title, "menu").map_err(|m| AppError::invalid("title", m))?;
        let background_url = parse_background(&self.background_url)
            .map_err(|m| AppError::invalid("background_url", m))?;
        let timeout_secs =
            parse_timeout(&self.timeout_secs).map_err(|m| AppError::invalid("timeout_secs", m))?;
        Ok(ValidSettings {
            title,
            background_url,
            timeout_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel_form() -> ImageForm {
        ImageForm {
            title: "Debian".into(),
            kind: "kernel_initrd".into(),
            kernel_url: "http://boot.lan/linux".into(),
            image_url: "http://boot.lan/initrd.gz".into(),
            iso_boot: String::new(),
            args: vec!["console=ttyS0".into(), "quiet".into()],
            iso_url: String::new(),
        }
    }

    #[test]
    fn a_kernel_image_needs_a_kernel_url() {
        let form = ImageForm {
            kernel_url: String::new(),
            ..kernel_form()
        };
        assert!(
            form.parse()
                .unwrap_err()
                .field_message("kernel_url")
                .is_some()
        );
        assert!(kernel_form().parse().is_ok());
    }

    #[test]
    fn a_kernel_may_boot_without_an_initrd_but_an_iso_image_needs_its_iso() {
        let alone = ImageForm {
            image_url: " ".into(),
            ..kernel_form()
        };
        assert_eq!(alone.parse().unwrap().image_url, None);
        let no_iso = ImageForm {
            kind: "iso".into(),
            kernel_url: String::new(),
            image_url: String::new(),
            ..kernel_form()
        };
        assert!(
            no_iso
                .parse()
                .unwrap_err()
                .field_message("image_url")
                .is_some()
        );
    }

    #[test]
    fn placeholders_need_an_iso_of_the_library() {
        let form = ImageForm {
            args: vec![
                "quiet".into(),
                "fetch={tree}/live/filesystem.squashfs".into(),
            ],
            ..kernel_form()
        };
        assert!(form.parse().unwrap_err().field_message("args.2").is_some());
        let with_iso = ImageForm {
            iso_url: "file:live.iso".into(),
            ..form.clone()
        };
        assert_eq!(
            with_iso.parse().unwrap().iso_url,
            Some(ImageSource::File("live.iso".into()))
        );
        let by_url = ImageForm {
            iso_url: "http://boot.lan/live.iso".into(),
            ..form.clone()
        };
        assert!(
            by_url
                .parse()
                .unwrap_err()
                .field_message("iso_url")
                .is_some()
        );
        let on_an_iso = ImageForm {
            kind: "iso".into(),
            kernel_url: String::new(),
            args: vec![],
            ..with_iso
        };
        assert!(
            on_an_iso
                .parse()
                .unwrap_err()
                .field_message("iso_url")
                .is_some()
        );
        // Braces are refused but in the two placeholders.
        let other = ImageForm {
            args: vec!["x={other}".into()],
            ..form
        };
        assert!(other.parse().unwrap_err().field_message("args.1").is_some());
    }

    #[test]
    fn an_iso_has_no_kernel_and_sanboots_by_default() {
        let form = ImageForm {
            kind: "iso".into(),
            kernel_url: String::new(),
            ..kernel_form()
        };
        assert_eq!(form.parse().unwrap().iso_boot, Some(IsoBoot::Sanboot));
        let with_kernel = ImageForm {
            kind: "iso".into(),
            ..kernel_form()
        };
        assert!(with_kernel.parse().is_err());
    }

    #[test]
    fn a_bad_argument_is_named_by_its_row() {
        let form = ImageForm {
            args: vec!["quiet".into(), "two words".into()],
            ..kernel_form()
        };
        assert!(form.parse().unwrap_err().field_message("args.2").is_some());
    }

    #[test]
    fn menu_timeouts_are_whole_seconds_within_bounds() {
        let settings = |timeout: &str| MenuSettings {
            title: "Main".into(),
            timeout_secs: timeout.into(),
            ..MenuSettings::default()
        };
        assert_eq!(settings("").check().unwrap().timeout_secs, None);
        assert_eq!(settings(" 10 ").check().unwrap().timeout_secs, Some(10));
        for bad in ["0", "-1", "1.5", "ten", "3601"] {
            let error = settings(bad).check().unwrap_err();
            assert!(
                error.field_message("timeout_secs").is_some(),
                "{bad} passed"
            );
        }
    }

    #[test]
    fn descriptions_are_bounded() {
        assert!(parse_named("Lab", &"x".repeat(DESCRIPTION_MAX), "group").is_ok());
        let error = parse_named("Lab", &"x".repeat(DESCRIPTION_MAX + 1), "group").unwrap_err();
        assert!(error.field_message("description").is_some());
    }
}

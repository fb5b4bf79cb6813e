//! An organization's file library, as both sides see it: the rules for a file's name (the
//! browser shows the error the server would return) and the rows the Files page shows.

use serde::{Deserialize, Serialize};

/// The type of an ISO 9660 image (told by its bytes): PXE Cloud looks inside these.
pub const ISO_TYPE: &str = "application/x-iso9660-image";

/// How much of a file's start [`content_type_of`] looks at.
pub const SNIFF_BYTES: usize = 0x8006;

/// The content type of a file that starts with `head` (up to [`SNIFF_BYTES`]): what it is
/// served with (never one a browser would run).
pub fn content_type_of(head: &[u8]) -> &'static str {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0x8001, b"CD001") {
        ISO_TYPE
    } else if at(0x202, b"HdrS") {
        // A Linux kernel (bzImage), which is also a PE file when built with an EFI stub.
        "application/x-linux-kernel"
    } else if at(0, b"MZ") {
        "application/efi"
    } else if at(0, &[0x1f, 0x8b]) {
        "application/gzip"
    } else if at(0, &[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        "application/x-xz"
    } else if at(0, &[0x28, 0xb5, 0x2f, 0xfd]) {
        "application/zstd"
    } else if at(0, b"070701") || at(0, b"070702") {
        "application/x-cpio"
    } else if at(0, b"hsqs") {
        "application/vnd.squashfs"
    } else {
        "application/octet-stream"
    }
}

/// The longest file name accepted.
pub const FILE_NAME_MAX: usize = 128;

/// Checks a file's name: it ends boot URLs, so it is 1 to 128 letters, digits, `.`, `_`,
/// `+` and `-`, starting with a letter or a digit (never `.` or `..`).
pub fn check_file_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Enter a file name.".into());
    }
    if name.len() > FILE_NAME_MAX {
        return Err(format!(
            "A file name has at most {FILE_NAME_MAX} characters."
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
    {
        return Err(
            "A file name may contain only letters, digits, '.', '_', '+' and '-' (it ends the URL machines fetch it by)."
                .into(),
        );
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("A file name starts with a letter or a digit.".into());
    }
    Ok(())
}

/// A name that passes [`check_file_name`] made from any name (a file picked in the browser):
/// other characters become `-`, runs of them one.
pub fn suggest_file_name(original: &str) -> String {
    let mut name = String::with_capacity(original.len());
    for c in original.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
            c
        } else {
            '-'
        };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    let name = name.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let mut name: String = name.chars().take(FILE_NAME_MAX).collect();
    if name.is_empty() {
        name = "file".into();
    }
    name
}

/// Parses a SHA-256 as typed (hex, either case, spaces around); `None` when it is not one.
pub fn parse_sha256(text: &str) -> Option<String> {
    let text = text.trim();
    (text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

/// Reads a size as people write it: a number with an optional unit (`B`, `KiB`/`KB`,
/// `MiB`/`MB`, `GiB`/`GB`, `TiB`/`TB`, all powers of 1024); a bare number is GiB.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let wrong = || format!("{text:?} is not a size: write e.g. 500 MiB, 50 GiB or 2 TiB.");
    let number: f64 = number.parse().map_err(|_| wrong())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "" | "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(wrong()),
    };
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= 2f64.powi(62) {
        return Err("That is too large.".into());
    }
    Ok(bytes.round() as u64)
}

/// A size in the units people read: `512 B`, `1.5 MiB`, `4.0 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A file of the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRow {
    pub id: i32,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    pub sha256: String,
    pub public: bool,
    pub added_by: String,
    /// When, as RFC 3339 in UTC.
    pub added_at: String,
    /// What was found inside, for an ISO; `None` for other files.
    pub iso: Option<IsoNote>,
}

/// What PXE Cloud found inside an ISO of the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IsoNote {
    /// Not looked inside yet: it will be within minutes.
    Pending,
    /// A distribution that boots as a kernel and initrds from this server, no `sanboot`.
    Netboot { distribution: String },
    /// A distribution known to boot only whole, by `sanboot` or `memdisk`.
    SanbootOnly { distribution: String, why: String },
    /// Not recognised (or not readable): it boots whole, by `sanboot` or `memdisk`.
    Unknown { why: String },
}

impl IsoNote {
    /// The line the Files page shows.
    pub fn describe(&self) -> String {
        match self {
            Self::Pending => "Looking inside this ISO…".into(),
            Self::Netboot { distribution } => format!("Recognised: {distribution}."),
            Self::SanbootOnly { distribution, why } => format!("{distribution}: {why}"),
            Self::Unknown { why } => why.clone(),
        }
    }
}

impl FileRow {
    /// Where a signed-in browser (or anyone, when the file is public) fetches it.
    pub fn url(&self) -> String {
        format!("/files/{}/{}", self.id, self.name)
    }
}

/// An upload that has not finished: it can be resumed (from any browser of an admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRow {
    pub id: String,
    pub name: String,
    pub length: u64,
    pub received: u64,
    pub expected_sha256: Option<String>,
    pub started_by: String,
    /// When its last piece arrived, as RFC 3339 in UTC.
    pub updated_at: String,
    /// Where the server fetches it from; `None`: a browser uploads it.
    pub source_url: Option<String>,
    /// The checksum list its expected SHA-256 came from.
    pub sums_url: Option<String>,
    /// Why a fetch stopped (it waits for a retry or a dismissal).
    pub failure: Option<String>,
    /// Whether something writes to it now (a fetch running, a piece arriving).
    pub running: bool,
}

/// An organization's library: its files, its uploads in progress, and its space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Library {
    pub files: Vec<FileRow>,
    pub uploads: Vec<UploadRow>,
    /// Bytes its files take, counted per organization (the same bytes in two organizations
    /// count in both, though stored once).
    pub used: u64,
    /// Bytes reserved by uploads in progress.
    pub reserved: u64,
    /// The most it may hold; `None`: no limit.
    pub quota: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_end_urls_safely_pass_and_others_say_why() {
        for good in ["debian-12.iso", "vmlinuz", "initrd.img-6.1.0+1", "A_b.c"] {
            assert_eq!(check_file_name(good), Ok(()), "{good}");
        }
        for bad in [
            "", ".", "..", ".hidden", "-x", "a/b", "a b", "a?b", "é.iso", "a%2f",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad}");
        }
        assert!(check_file_name(&"a".repeat(FILE_NAME_MAX + 1)).is_err());
    }

    #[test]
    fn suggested_names_always_pass() {
        for original in [
            "Debian 12 (netinst).iso",
            "..",
            "",
            "é",
            "-x",
            "ok.iso",
            "a  b",
        ] {
            let name = suggest_file_name(original);
            assert_eq!(check_file_name(&name), Ok(()), "{original:?} → {name:?}");
        }
        assert_eq!(
            suggest_file_name("Debian 12 (netinst).iso"),
            "Debian-12-netinst-.iso"
        );
    }

    #[test]
    fn sizes_are_read_as_people_write_them() {
        assert_eq!(parse_size("50"), Ok(50 << 30));
        assert_eq!(parse_size("500 MiB"), Ok(500 << 20));
        assert_eq!(parse_size("1.5GB"), Ok(3 << 29));
        assert_eq!(parse_size("2 TiB"), Ok(2 << 40));
        assert_eq!(parse_size("0"), Ok(0));
        for bad in ["", "lots", "5 PB", "1e9", "-1", "99999999999 TiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3 << 29), "1.5 GiB");
    }

    #[test]
    fn checksums_are_read_as_typed() {
        let hex = "AB".repeat(32);
        assert_eq!(parse_sha256(&format!(" {hex} ")), Some("ab".repeat(32)));
        assert_eq!(parse_sha256("abc"), None);
        assert_eq!(parse_sha256(&"g".repeat(64)), None);
    }
}

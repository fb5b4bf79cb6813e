//! An ISO's file tree, read once with `hadris-iso` (see `docs/design/iso-reading.md`): every
//! file's path (Rock Ridge names, else Joliet, else plain ISO 9660 without `;1`), size and
//! extents in the ISO, so that files inside it can be served by byte range without hadris
//! in the request path, and the small text files the recipes read.
//!
//! Blocking: call inside `spawn_blocking`, one image per call (hadris keeps its reader in a
//! spin lock). Any parse error is "not an ISO PXE Cloud can read", never a panic or a 500.

use std::{
    fs::File,
    io::BufReader,
    os::unix::fs::FileExt,
    path::Path,
};

use hadris_iso::{
    directory::DirectoryRef,
    file::EntryType,
    read::{DirEntry, IsoImage},
};

use super::recipes::{Listing, TEXT_MAX, WANTED_TEXTS};

/// The deepest folder followed, and the most files listed: an ISO is untrusted input.
const MAX_DEPTH: usize = 32;
const MAX_FILES: usize = 200_000;
/// ISO 9660 logical blocks.
const SECTOR: u64 = 2048;

/// A file inside an ISO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsoFile {
    /// From the root, `/` first, as the ISO names it.
    pub path: String,
    pub size: u64,
    /// Byte offsets in the ISO and lengths, in order (more than one for files over 4 GiB).
    pub extents: Vec<(u64, u64)>,
}

/// What is in an ISO.
#[derive(Debug, Clone, Default)]
pub struct IsoIndex {
    pub volume_id: String,
    pub rock_ridge: bool,
    pub joliet: bool,
    pub files: Vec<IsoFile>,
}

/// Why an ISO could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("this is not an ISO 9660 image PXE Cloud can read ({0})")]
    NotIso(String),
    #[error("the ISO's file tree is deeper than {MAX_DEPTH} folders or has more than {MAX_FILES} files")]
    TooLarge,
    #[error("the ISO could not be read: {0}")]
    Io(#[from] std::io::Error),
}

fn not_iso(error: impl std::fmt::Display) -> ReadError {
    ReadError::NotIso(error.to_string())
}

/// Reads the tree of the ISO at `path`.
pub fn index(path: &Path) -> Result<IsoIndex, ReadError> {
    let iso = IsoImage::open(BufReader::new(File::open(path)?)).map_err(not_iso)?;
    let volume_id = iso
        .read_pvd()
        .map_err(not_iso)?
        .volume_identifier
        .to_string()
        .trim()
        .to_owned();
    let joliet = iso
        .root_dirs()
        .iter()
        .any(|root| matches!(root.entry_type(), EntryType::Joliet { .. }));
    let rock_ridge = iso.supports_rrip();
    let root = iso.root_dir();
    let joliet_names = matches!(root.entry_type(), EntryType::Joliet { .. }) && !rock_ridge;
    let mut files = Vec::new();
    walk(&iso, root.dir_ref(), joliet_names, "", 0, &mut files)?;
    Ok(IsoIndex {
        volume_id,
        rock_ridge,
        joliet,
        files,
    })
}

/// An entry's name: Rock Ridge's, else Joliet's (in a Joliet tree), else the plain one
/// without its version.
fn name_of(entry: &DirEntry, joliet_names: bool) -> String {
    if let Some(name) = entry.rrip.as_ref().and_then(|m| m.alternate_name.clone()) {
        return name.to_string();
    }
    if joliet_names {
        return entry.record.joliet_name().to_string();
    }
    let name = entry.name().to_string();
    let name = name.strip_suffix(";1").unwrap_or(&name);
    name.strip_suffix('.').unwrap_or(name).to_owned()
}

fn walk<R: std::io::Read + std::io::Seek>(
    iso: &IsoImage<R>,
    dir: DirectoryRef,
    joliet_names: bool,
    prefix: &str,
    depth: usize,
    out: &mut Vec<IsoFile>,
) -> Result<(), ReadError> {
    if depth > MAX_DEPTH {
        return Err(ReadError::TooLarge);
    }
    for entry in iso.open_dir(dir).read_entries().map_err(not_iso)? {
        if entry.is_special() {
            continue;
        }
        let name = name_of(&entry, joliet_names);
        // Rock Ridge's relocation folder holds what CL entries point at: reached there.
        if depth == 0 && name.eq_ignore_ascii_case("rr_moved")
            || name.eq_ignore_ascii_case(".rr_moved") && depth == 0
        {
            continue;
        }
        // Symbolic links are not followed (Debian's `debian -> .` would loop).
        if entry
            .rrip
            .as_ref()
            .is_some_and(|m| m.symlink_target.is_some())
        {
            continue;
        }
        let path = format!("{prefix}/{name}");
        if entry.is_directory() {
            let child = entry.as_dir_ref(iso).map_err(not_iso)?;
            walk(iso, child, joliet_names, &path, depth + 1, out)?;
        } else {
            if out.len() >= MAX_FILES {
                return Err(ReadError::TooLarge);
            }
            out.push(IsoFile {
                path,
                size: entry.total_size() as u64,
                extents: entry
                    .extents()
                    .map(|extent| (extent.sector.0 as u64 * SECTOR, u64::from(extent.length)))
                    .collect(),
            });
        }
    }
    Ok(())
}

/// Up to `max` bytes of `file`, read from the ISO at `iso` by its extents.
pub fn read_small(iso: &File, file: &IsoFile, max: usize) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(file.size.min(max as u64) as usize);
    for &(offset, length) in &file.extents {
        let room = max - bytes.len();
        if room == 0 {
            break;
        }
        let take = length.min(room as u64) as usize;
        let start = bytes.len();
        bytes.resize(start + take, 0);
        iso.read_exact_at(&mut bytes[start..], offset)?;
    }
    Ok(bytes)
}

/// What the recipes need from an indexed ISO: its volume id, its paths, and the small texts
/// they read.
pub fn listing(iso: &File, index: &IsoIndex) -> std::io::Result<Listing> {
    let mut listing = Listing {
        volume_id: index.volume_id.clone(),
        files: index.files.iter().map(|f| f.path.clone()).collect(),
        ..Listing::default()
    };
    for wanted in WANTED_TEXTS {
        if let Some(file) = index
            .files
            .iter()
            .find(|f| f.path.eq_ignore_ascii_case(wanted))
        {
            let bytes = read_small(iso, file, TEXT_MAX)?;
            listing
                .texts
                .insert(wanted.to_owned(), String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(listing)
}

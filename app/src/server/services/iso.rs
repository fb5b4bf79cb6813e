//! ISOs of the file library, looked inside once per content: the tree (to serve files from
//! inside an ISO) and what distribution it is (to boot it as a kernel and initrd). See
//! `server::iso` for the reading, `docs/design/hosted-files.md` for the plan.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::OnConflict,
};
use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
};

use crate::{
    boot::{BootImage, ImageKind, ImageSource, TITLE_MAX},
    error::AppError,
    forms::ImageForm,
    library::{ISO_TYPE, IsoNote, SNIFF_BYTES, content_type_of},
    server::{
        actor::Actor,
        db,
        entities::{boot_image, file, iso_index, upload},
        file_store::FileStore,
        iso::{
            read::{self, IsoFile},
            recipes::{Recipe, Recognition, recognise},
        },
        services::{
            files::{self, NewUpload},
            images,
        },
    },
};

/// The version of what is stored: rows of another are made again (the recipes learnt more).
pub const FORMAT: i32 = 1;

/// How many ISOs one housekeeping run looks inside at most.
const PER_SWEEP: u64 = 8;

/// What an ISO holds and is.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub volume_id: String,
    pub recognition: Recognition,
    pub tree: Vec<IsoFile>,
}

/// Reads the ISO at `path` (blocking): an image that cannot be read is an `Unknown` that
/// says why; only a failure to read the file at all is an error.
fn look_inside(path: &std::path::Path) -> std::io::Result<Inspection> {
    let index = match read::index(path) {
        Ok(index) => index,
        Err(read::ReadError::Io(error)) => return Err(error),
        Err(error) => {
            return Ok(Inspection {
                volume_id: String::new(),
                recognition: Recognition::Unknown {
                    why: format!("{error}; it can still be booted whole, by sanboot or memdisk."),
                },
                tree: Vec::new(),
            });
        }
    };
    let listing = read::listing(&std::fs::File::open(path)?, &index)?;
    Ok(Inspection {
        recognition: recognise(&listing),
        volume_id: index.volume_id,
        tree: index.files,
    })
}

/// Looks inside the ISO with this SHA-256 (once: what is stored in the current format is
/// kept) and stores what was found.
pub async fn inspect(
    conn: &impl db::Conn,
    store: &FileStore,
    sha256: &str,
) -> Result<(), AppError> {
    let stored = iso_index::Entity::find_by_id(sha256.to_owned())
        .select_only()
        .column(iso_index::Column::Format)
        .into_tuple::<i32>()
        .one(conn)
        .await?;
    if stored == Some(FORMAT) {
        return Ok(());
    }
    let path = store.blob(sha256);
    let found = tokio::task::spawn_blocking(move || look_inside(&path))
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(|error| {
            tracing::warn!(%error, sha256, "an ISO of the library could not be read");
            AppError::Internal
        })?;
    let row = iso_index::ActiveModel {
        sha256: Set(sha256.to_owned()),
        format: Set(FORMAT),
        volume_id: Set(found.volume_id.chars().take(64).collect()),
        recognition: Set(json(&found.recognition)?),
        tree: Set(json(&found.tree)?),
        created_at: Set(Utc::now()),
    };
    // Another replica may have looked at the same bytes: the same answer, kept once.
    iso_index::Entity::insert(row)
        .on_conflict(
            OnConflict::column(iso_index::Column::Sha256)
                .update_columns([
                    iso_index::Column::Format,
                    iso_index::Column::VolumeId,
                    iso_index::Column::Recognition,
                    iso_index::Column::Tree,
                    iso_index::Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// What is stored, as JSON (plain data: this does not fail in practice).
fn json(value: &impl serde::Serialize) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|_| AppError::Internal)
}

/// What the Files page says of each ISO among `files` (by SHA-256).
pub async fn notes(
    conn: &impl db::Conn,
    files: &[file::Model],
) -> Result<HashMap<String, IsoNote>, AppError> {
    let isos: HashSet<&str> = files
        .iter()
        .filter(|f| f.content_type == ISO_TYPE)
        .map(|f| f.sha256.as_str())
        .collect();
    if isos.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i32, String)> = iso_index::Entity::find()
        .select_only()
        .columns([
            iso_index::Column::Sha256,
            iso_index::Column::Format,
            iso_index::Column::Recognition,
        ])
        .filter(iso_index::Column::Sha256.is_in(isos.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    let mut notes: HashMap<String, IsoNote> = isos
        .iter()
        .map(|sha| ((*sha).to_owned(), IsoNote::Pending))
        .collect();
    for (sha256, format, recognition) in rows {
        let note = match serde_json::from_str::<Recognition>(&recognition) {
            Ok(recognition) if format == FORMAT => note_of(recognition),
            _ => IsoNote::Pending,
        };
        notes.insert(sha256, note);
    }
    Ok(notes)
}

fn note_of(recognition: Recognition) -> IsoNote {
    match recognition {
        Recognition::Netboot(recipe) => IsoNote::Netboot {
            distribution: recipe.distribution,
        },
        Recognition::SanbootOnly { distribution, why } => {
            IsoNote::SanbootOnly { distribution, why }
        }
        Recognition::Unknown { why } => IsoNote::Unknown { why },
    }
}

/// The housekeeping's part: looks inside a few ISOs not yet looked inside (in this format),
/// and forgets what was found in bytes no file names any more. Returns how many were read.
pub async fn sweep(conn: &impl db::Conn, store: &FileStore) -> Result<u64, AppError> {
    let isos: HashSet<String> = file::Entity::find()
        .select_only()
        .column(file::Column::Sha256)
        .filter(file::Column::ContentType.eq(ISO_TYPE))
        .distinct()
        .into_tuple()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let current: HashSet<String> = iso_index::Entity::find()
        .select_only()
        .column(iso_index::Column::Sha256)
        .filter(iso_index::Column::Format.eq(FORMAT))
        .into_tuple()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let mut read = 0;
    for sha256 in isos.difference(&current).take(PER_SWEEP as usize) {
        // One ISO that cannot be read is logged and does not stop the others.
        if inspect(conn, store, sha256).await.is_ok() {
            read += 1;
        }
    }
    let orphans: Vec<String> = iso_index::Entity::find()
        .select_only()
        .column(iso_index::Column::Sha256)
        .into_tuple::<String>()
        .all(conn)
        .await?
        .into_iter()
        .filter(|sha| !isos.contains(sha))
        .collect();
    if !orphans.is_empty() {
        iso_index::Entity::delete_many()
            .filter(iso_index::Column::Sha256.is_in(orphans))
            .exec(conn)
            .await?;
    }
    Ok(read)
}

/// The tree of one library ISO, to serve the files inside it: each file by its path (as the
/// ISO names it, or in any case when only one file has that name).
#[derive(Debug)]
pub struct Tree {
    by_path: HashMap<String, IsoFile>,
    /// Lower-cased path to the ISO's own, for paths asked in another case (`/LIVE/…` on a
    /// plain ISO 9660 image); `None` where two files differ only in case.
    by_lower: HashMap<String, Option<String>>,
}

impl Tree {
    /// The tree of an ISO of `iso_size` bytes from what was read of it: a file whose extents
    /// lie outside the ISO is left out (an untrusted image can claim anything), and none is
    /// longer than its extents.
    pub fn new(files: Vec<IsoFile>, iso_size: u64) -> Self {
        let mut by_path = HashMap::with_capacity(files.len());
        let mut by_lower: HashMap<String, Option<String>> = HashMap::with_capacity(files.len());
        for mut file in files {
            let inside = file.extents.iter().all(|&(offset, length)| {
                offset
                    .checked_add(length)
                    .is_some_and(|end| end <= iso_size)
            });
            if !inside {
                continue;
            }
            let held: u64 = file.extents.iter().map(|&(_, length)| length).sum();
            file.size = file.size.min(held);
            by_lower
                .entry(file.path.to_lowercase())
                .and_modify(|other| *other = None)
                .or_insert_with(|| Some(file.path.clone()));
            by_path.insert(file.path.clone(), file);
        }
        Self { by_path, by_lower }
    }

    /// The file at `path` (from the root, `/` first).
    pub fn find(&self, path: &str) -> Option<&IsoFile> {
        self.by_path.get(path).or_else(|| {
            let own = self.by_lower.get(&path.to_lowercase())?.as_ref()?;
            self.by_path.get(own)
        })
    }
}

/// The trees of the library ISOs files were last served from, at most [`Trees::KEPT`].
#[derive(Debug, Default)]
pub struct Trees {
    /// By SHA-256; the most recently used last.
    kept: Mutex<Vec<(String, Arc<Tree>)>>,
}

impl Trees {
    /// ISOs whose trees stay in memory: a few distributions booting at once.
    const KEPT: usize = 8;

    /// The tree of the ISO with this SHA-256 and size: kept, else read from the index (and
    /// the ISO looked inside first if it has not been yet).
    pub async fn get(
        &self,
        conn: &impl db::Conn,
        store: &FileStore,
        sha256: &str,
        iso_size: u64,
    ) -> Result<Arc<Tree>, AppError> {
        {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(at) = kept.iter().position(|(sha, _)| sha == sha256) {
                let entry = kept.remove(at);
                let tree = entry.1.clone();
                kept.push(entry);
                return Ok(tree);
            }
        }
        let files = match stored(conn, sha256).await? {
            Some((_, files)) => files,
            None => {
                inspect(conn, store, sha256).await?;
                stored(conn, sha256)
                    .await?
                    .map(|(_, files)| files)
                    .unwrap_or_default()
            }
        };
        let tree = Arc::new(Tree::new(files, iso_size));
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.retain(|(sha, _)| sha != sha256);
        if kept.len() >= Self::KEPT {
            kept.remove(0);
        }
        kept.push((sha256.to_owned(), tree.clone()));
        Ok(tree)
    }
}

/// Makes a kernel + initrd image of a recognised ISO of the library, for an admin of its
/// organization: copies the kernel and the initrds out of the ISO into the library (as
/// `<iso>-kernel` and `<iso>-initrd`; memtest86+ has no initrd), and adds an image that boots them with the arguments
/// the distribution needs to fetch the rest from this server, `{iso}` and `{tree}` standing
/// for the ISO. So the ISO boots on BIOS and UEFI without `sanboot`, and cannot be deleted
/// while the image uses it.
#[tracing::instrument(skip_all, fields(actor = %actor.username, file_id))]
pub async fn create_image(
    conn: &impl db::Conn,
    store: &FileStore,
    actor: &Actor,
    file_id: i32,
) -> Result<BootImage, AppError> {
    let iso = files::administered(conn, actor, file_id).await?;
    let refuse = |message: String| AppError::invalid("file", message);
    if iso.content_type != ISO_TYPE {
        return Err(refuse(format!("{} is not an ISO image.", iso.name)));
    }
    let iso_source = ImageSource::File(iso.name.clone()).to_stored();
    let made: Option<String> = boot_image::Entity::find()
        .select_only()
        .column(boot_image::Column::Title)
        .filter(boot_image::Column::OrganizationId.eq(iso.organization_id))
        .filter(boot_image::Column::IsoUrl.eq(&iso_source))
        .into_tuple()
        .one(conn)
        .await?;
    if let Some(title) = made {
        return Err(AppError::conflict(
            "file",
            format!("The image “{title}” uses this ISO already: edit that one."),
        ));
    }
    inspect(conn, store, &iso.sha256).await?;
    let (recognition, listed) = stored(conn, &iso.sha256).await?.ok_or(AppError::Internal)?;
    let recipe = match recognition {
        Recognition::Netboot(recipe) => recipe,
        Recognition::SanbootOnly { distribution, why } => {
            return Err(refuse(format!("{distribution}: {why}")));
        }
        Recognition::Unknown { why } => return Err(refuse(why)),
    };
    let tree = Tree::new(listed, iso.size.max(0) as u64);
    let inside = |path: &str| {
        tree.find(path).cloned().ok_or_else(|| {
            refuse(format!(
                "{path} is missing from {} (or lies outside it): boot it whole (sanboot).",
                iso.name
            ))
        })
    };
    let kernel = inside(&recipe.kernel)?;
    let initrds = recipe
        .initrds
        .iter()
        .map(|path| inside(path))
        .collect::<Result<Vec<_>, _>>()?;
    let stem = stem_of(&iso.name);
    let kernel = extract(
        conn,
        store,
        actor,
        &iso,
        vec![kernel],
        &format!("{stem}-kernel"),
    )
    .await?;
    // memtest86+ boots alone.
    let initrd = match initrds.as_slice() {
        [] => None,
        _ => Some(extract(conn, store, actor, &iso, initrds, &format!("{stem}-initrd")).await?),
    };
    let initrd = initrd.as_ref().map(|file| file.name.as_str());
    let form = image_form(&recipe, &kernel.name, initrd, &iso_source);
    match images::create(conn, actor, iso.organization_id, &form).await {
        // A title in use (another image of the same distribution): named by the ISO too.
        Err(AppError::Conflict { field, .. }) if field == "title" => {
            let title = format!("{} ({})", recipe.distribution, iso.name);
            let form = ImageForm {
                title: title.chars().take(TITLE_MAX).collect(),
                ..form
            };
            images::create(conn, actor, iso.organization_id, &form).await
        }
        other => other,
    }
}

/// What was found in the bytes with this SHA-256, in the current format.
async fn stored(
    conn: &impl db::Conn,
    sha256: &str,
) -> Result<Option<(Recognition, Vec<IsoFile>)>, AppError> {
    let row: Option<(i32, String, String)> = iso_index::Entity::find_by_id(sha256.to_owned())
        .select_only()
        .columns([
            iso_index::Column::Format,
            iso_index::Column::Recognition,
            iso_index::Column::Tree,
        ])
        .into_tuple()
        .one(conn)
        .await?;
    let Some((FORMAT, recognition, tree)) = row else {
        return Ok(None);
    };
    let parsed = serde_json::from_str(&recognition)
        .and_then(|recognition| serde_json::from_str(&tree).map(|tree| (recognition, tree)));
    parsed.map(Some).map_err(|error| {
        tracing::error!(%error, sha256, "what was stored of an ISO does not parse");
        AppError::Internal
    })
}

/// The image a recipe makes.
fn image_form(recipe: &Recipe, kernel: &str, initrd: Option<&str>, iso_source: &str) -> ImageForm {
    let file = |name: &str| ImageSource::File(name.to_owned()).to_stored();
    ImageForm {
        title: recipe
            .distribution
            .chars()
            .filter(|c| !c.is_control())
            .take(TITLE_MAX)
            .collect(),
        kind: ImageKind::KernelInitrd.as_str().to_owned(),
        kernel_url: file(kernel),
        image_url: initrd.map(file).unwrap_or_default(),
        iso_boot: String::new(),
        args: recipe.args.clone(),
        iso_url: iso_source.to_owned(),
    }
}

/// A library file's name without its `.iso`, short enough to take a suffix.
fn stem_of(name: &str) -> &str {
    let stem = match name.len().checked_sub(4) {
        Some(cut) if name[cut..].eq_ignore_ascii_case(".iso") => &name[..cut],
        _ => name,
    };
    // Names are ASCII (see `check_file_name`): any byte is a boundary.
    &stem[..stem
        .len()
        .min(crate::library::FILE_NAME_MAX - "-initrd-9".len())]
}

/// Copies `parts` of the library ISO into a new file of its organization named `name` (or
/// `name-2` … when taken), through an upload like any other (quota held, bytes hashed and
/// moved into place). When a file of those names already holds the same bytes (an image
/// made before and deleted), that file is the answer and nothing new is kept.
async fn extract(
    conn: &impl db::Conn,
    store: &FileStore,
    actor: &Actor,
    iso: &file::Model,
    parts: Vec<IsoFile>,
    name: &str,
) -> Result<file::Model, AppError> {
    let names: Vec<String> = std::iter::once(name.to_owned())
        .chain((2..=9).map(|n| format!("{name}-{n}")))
        .collect();
    let taken: HashSet<String> = file::Entity::find()
        .select_only()
        .column(file::Column::Name)
        .filter(file::Column::OrganizationId.eq(iso.organization_id))
        .filter(file::Column::Name.is_in(names.iter().map(String::as_str)))
        .into_tuple::<String>()
        .all(conn)
        .await?
        .into_iter()
        .chain(
            upload::Entity::find()
                .select_only()
                .column(upload::Column::Name)
                .filter(upload::Column::OrganizationId.eq(iso.organization_id))
                .filter(upload::Column::Name.is_in(names.iter().map(String::as_str)))
                .into_tuple::<String>()
                .all(conn)
                .await?,
        )
        .collect();
    let Some(free) = names.iter().find(|n| !taken.contains(*n)) else {
        return Err(AppError::conflict(
            "file",
            format!("The library has files {name} to {name}-9 already: delete some first."),
        ));
    };
    let new = NewUpload {
        organization_id: iso.organization_id,
        name: free.clone(),
        length: copied_length(&parts),
        expected_sha256: None,
        public: false,
        source_url: None,
        sums_url: None,
    };
    let length = new.length;
    let started = files::start_upload(conn, actor, new).await?;
    let upload = files::lease(conn, actor, &started.id, 0).await?;
    let copied = async {
        let (from, to) = (store.blob(&iso.sha256), store.part(&upload.id));
        let (sha256, kind) = tokio::task::spawn_blocking(move || copy_out(&from, &parts, &to))
            .await
            .map_err(|_| AppError::Internal)?
            .map_err(|error| {
                tracing::error!(%error, iso = iso.id, "could not copy files out of an ISO");
                AppError::Internal
            })?;
        let same: Option<file::Model> = file::Entity::find()
            .filter(file::Column::OrganizationId.eq(iso.organization_id))
            .filter(file::Column::Name.is_in(names.iter().map(String::as_str)))
            .filter(file::Column::Sha256.eq(&sha256))
            .one(conn)
            .await?;
        if let Some(same) = same {
            files::discard(conn, store, &upload.id).await?;
            return Ok(same);
        }
        if !files::complete(conn, &upload, length, &sha256).await? {
            return Err(AppError::NotFound);
        }
        files::finish(conn, store, upload.clone(), &sha256, kind).await
    }
    .await;
    if copied.is_err() {
        // Its quota is free again; the bytes, if any were moved, go with the next sweep.
        files::discard(conn, store, &upload.id).await?;
    }
    copied
}

/// The length of `parts` one after the other, as [`copy_out`] writes them.
fn copied_length(parts: &[IsoFile]) -> u64 {
    let padded: u64 = parts.iter().map(|part| part.size.next_multiple_of(4)).sum();
    let last_pad = parts
        .last()
        .map_or(0, |part| part.size.next_multiple_of(4) - part.size);
    padded - last_pad
}

/// Copies `parts` of the ISO at `iso` into a new file at `out`, one after the other, each
/// but the last padded with zeros to a multiple of 4 bytes: so several initrds make one, as
/// boot loaders place them (Linux unpacks the archives in turn and skips the zeros). Returns
/// the SHA-256 of what was written and its content type. Blocking.
fn copy_out(
    iso: &std::path::Path,
    parts: &[IsoFile],
    out: &std::path::Path,
) -> std::io::Result<(String, &'static str)> {
    use sha2::Digest;
    use std::{io::Write, os::unix::fs::FileExt};

    let source = std::fs::File::open(iso)?;
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)?;
    let mut hasher = sha2::Sha256::new();
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut buffer = vec![0u8; 1 << 20];
    let mut write = |bytes: &[u8]| -> std::io::Result<()> {
        target.write_all(bytes)?;
        hasher.update(bytes);
        let room = SNIFF_BYTES - head.len();
        head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        Ok(())
    };
    for (index, part) in parts.iter().enumerate() {
        let mut left = part.size;
        for &(offset, length) in &part.extents {
            let (mut at, mut remaining) = (offset, length.min(left));
            left -= remaining;
            while remaining > 0 {
                // At most the buffer's length, so the cast holds.
                let n = remaining.min(buffer.len() as u64) as usize;
                source.read_exact_at(&mut buffer[..n], at)?;
                write(&buffer[..n])?;
                at += n as u64;
                remaining -= n as u64;
            }
        }
        if index + 1 < parts.len() {
            let pad = (part.size.next_multiple_of(4) - part.size) as usize;
            write(&[0u8; 3][..pad])?;
        }
    }
    target.sync_all()?;
    Ok((hex::encode(hasher.finalize()), content_type_of(&head)))
}

//! ISOs of the file library, looked inside once per content: the tree (to serve files from
//! inside an ISO) and what distribution it is (to boot it as a kernel and initrd). See
//! `server::iso` for the reading, `docs/design/hosted-files.md` for the plan.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::OnConflict,
};
use std::collections::{HashMap, HashSet};

use crate::{
    error::AppError,
    library::{ISO_TYPE, IsoNote},
    server::{
        db,
        entities::{file, iso_index},
        file_store::FileStore,
        iso::{
            read::{self, IsoFile},
            recipes::{Recognition, recognise},
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

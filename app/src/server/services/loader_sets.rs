//! Loader sets a server admin adds (e.g. an upstream Secure Boot set) and which loader each
//! architecture is offered. A set is added whole, with all its files, and never changed
//! (delete it and add it again); its files are kept in the database, so every replica serves
//! the same bytes, and are served over TFTP and HTTP as `<set>/<file>`.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    TransactionSession, sea_query::OnConflict,
};
use sha2::{Digest, Sha256};

use crate::{
    error::AppError,
    model::{LoaderArch, LoaderRow, LoaderSetRow},
    server::{
        actor::Actor,
        db,
        entities::{loader_default, loader_file, loader_set, user},
    },
};

/// Files in one set at most, and the largest file (iPXE loaders are under 2 MiB; a shim
/// under 1 MiB): shared with the upload form, which says them first.
pub use crate::components::loader_sets::{MAX_FILE_BYTES, MAX_FILES};
/// The longest set name (it is a folder name in TFTP and HTTP paths).
pub const NAME_MAX: usize = 32;
/// The longest file name.
pub const FILE_NAME_MAX: usize = 64;
/// Changes of the loader library run one after the other (`db::serialize`).
const SERIALIZE_KEY: &str = "loader_sets";
/// All sets' files together at most: every replica keeps them in memory.
pub const TOTAL_MAX_BYTES: i64 = 256 * 1024 * 1024;

/// A file to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub name: String,
    pub content: Vec<u8>,
}

/// Checks a set's name: lower-case letters, digits and dashes, a letter or digit first.
pub fn check_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    let fail = |message: &str| Err(AppError::invalid("name", message));
    if name.is_empty() {
        return fail("Give the set a name, e.g. secure-boot.");
    }
    if name.len() > NAME_MAX {
        return fail(&format!("At most {NAME_MAX} characters."));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || !name.as_bytes()[0].is_ascii_alphanumeric()
    {
        return fail(
            "Lower-case letters, digits and dashes only, starting with a letter or digit: it \
             is the folder the files are served from.",
        );
    }
    Ok(name.to_owned())
}

/// Checks a file's name: letters, digits, dots, dashes and underscores, not starting with a
/// dot (firmware and TFTP clients name files this way).
pub fn check_file_name(name: &str) -> Result<String, AppError> {
    let fail = |message: String| Err(AppError::invalid("files", message));
    if name.is_empty() || name.len() > FILE_NAME_MAX {
        return fail(format!("File names have 1 to {FILE_NAME_MAX} characters."));
    }
    if name.starts_with('.')
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return fail(format!(
            "“{name}”: file names may hold letters, digits, dots, dashes and underscores, \
             and not start with a dot."
        ));
    }
    if name == "autoexec.ipxe" {
        return fail(
            "autoexec.ipxe is written by PXE Cloud beside every set's loaders; it cannot be \
             uploaded."
                .to_owned(),
        );
    }
    Ok(name.to_owned())
}

/// Adds a set with its files, for a server admin; returns its id.
pub async fn create(
    conn: &impl db::Conn,
    actor: &Actor,
    name: &str,
    files: Vec<NewFile>,
) -> Result<i32, AppError> {
    actor.require_server_admin()?;
    let name = check_name(name)?;
    if files.is_empty() {
        return Err(AppError::invalid("files", "Choose the set's files."));
    }
    if files.len() > MAX_FILES {
        return Err(AppError::invalid(
            "files",
            format!("A set holds at most {MAX_FILES} files."),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for file in &files {
        check_file_name(&file.name)?;
        if file.content.is_empty() {
            return Err(AppError::invalid(
                "files",
                format!("“{}” is empty.", file.name),
            ));
        }
        if file.content.len() > MAX_FILE_BYTES {
            return Err(AppError::invalid(
                "files",
                format!(
                    "“{}” is larger than {} MiB.",
                    file.name,
                    MAX_FILE_BYTES >> 20
                ),
            ));
        }
        if !seen.insert(file.name.as_str()) {
            return Err(AppError::invalid(
                "files",
                format!("“{}” is there twice.", file.name),
            ));
        }
    }
    let txn = conn.begin().await?;
    // One change of the library at a time: the total checked, the choice written.
    db::serialize(&txn, SERIALIZE_KEY).await?;
    // Summed here: a few files per set, and PostgreSQL's SUM of a bigint is a numeric.
    let stored: i64 = loader_file::Entity::find()
        .select_only()
        .column(loader_file::Column::Size)
        .into_tuple::<i64>()
        .all(&txn)
        .await?
        .into_iter()
        .sum();
    let adding: i64 = files
        .iter()
        .map(|f| i64::try_from(f.content.len()).unwrap_or(i64::MAX))
        .sum();
    if stored.saturating_add(adding) > TOTAL_MAX_BYTES {
        return Err(AppError::invalid(
            "files",
            format!(
                "All loader sets together hold at most {} MiB (every replica keeps them in \
                 memory): delete a set first.",
                TOTAL_MAX_BYTES >> 20
            ),
        ));
    }
    let set = loader_set::Entity::insert(loader_set::ActiveModel {
        name: Set(name),
        created_at: Set(chrono::Utc::now()),
        created_by: Set(actor.user_id),
        ..Default::default()
    })
    .exec(&txn)
    .await
    .map_err(db::conflict_on("name", "A set with this name exists."))?;
    let id = set.last_insert_id;
    for file in files {
        let size = i64::try_from(file.content.len()).unwrap_or(i64::MAX);
        loader_file::Entity::insert(loader_file::ActiveModel {
            set_id: Set(id),
            name: Set(file.name),
            size: Set(size),
            sha256: Set(hex::encode(Sha256::digest(&file.content))),
            content: Set(file.content),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(id)
}

/// Deletes a set; the architectures offered one of its files get the built-in loader again.
pub async fn delete(conn: &impl db::Conn, actor: &Actor, id: i32) -> Result<(), AppError> {
    actor.require_server_admin()?;
    let txn = conn.begin().await?;
    // One change of the library at a time: the total checked, the choice written.
    db::serialize(&txn, SERIALIZE_KEY).await?;
    loader_default::Entity::delete_many()
        .filter(loader_default::Column::SetId.eq(id))
        .exec(&txn)
        .await?;
    loader_file::Entity::delete_many()
        .filter(loader_file::Column::SetId.eq(id))
        .exec(&txn)
        .await?;
    let deleted = loader_set::Entity::delete_by_id(id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    txn.commit().await?;
    Ok(())
}

/// Offers `arch` the file `<set>/<file>`, or (with `None`) the built-in loader.
pub async fn choose(
    conn: &impl db::Conn,
    actor: &Actor,
    arch: LoaderArch,
    choice: Option<&str>,
) -> Result<(), AppError> {
    actor.require_server_admin()?;
    let txn = conn.begin().await?;
    // One change of the library at a time: the total checked, the choice written.
    db::serialize(&txn, SERIALIZE_KEY).await?;
    if let Some(path) = choice {
        let unknown = || AppError::invalid("loader", format!("There is no loader “{path}”."));
        let (set_name, file_name) = path.split_once('/').ok_or_else(unknown)?;
        let set = loader_set::Entity::find()
            .filter(loader_set::Column::Name.eq(set_name))
            .one(&txn)
            .await?
            .ok_or_else(unknown)?;
        let has_file = loader_file::Entity::find()
            .select_only()
            .column(loader_file::Column::Id)
            .filter(loader_file::Column::SetId.eq(set.id))
            .filter(loader_file::Column::Name.eq(file_name))
            .into_tuple::<i32>()
            .one(&txn)
            .await?
            .is_some();
        if !has_file {
            return Err(unknown());
        }
        // An upsert: two admins choosing at once both succeed, the later choice stays; a set
        // deleted meanwhile is the same unknown loader.
        loader_default::Entity::insert(loader_default::ActiveModel {
            arch: Set(arch.id().to_owned()),
            set_id: Set(set.id),
            file: Set(file_name.to_owned()),
        })
        .on_conflict(
            OnConflict::column(loader_default::Column::Arch)
                .update_columns([loader_default::Column::SetId, loader_default::Column::File])
                .to_owned(),
        )
        .exec(&txn)
        .await
        .map_err(|error| match error.sql_err() {
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => unknown(),
            _ => db::internal(error),
        })?;
    } else {
        loader_default::Entity::delete_by_id(arch.id().to_owned())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Every set with its files (without their bytes), oldest first, and the choice of each
/// architecture that does not get the built-in loader, for a server admin.
pub async fn list(
    conn: &impl db::Conn,
    actor: &Actor,
) -> Result<(Vec<LoaderSetRow>, BTreeMap<LoaderArch, String>), AppError> {
    actor.require_server_admin()?;
    let sets = loader_set::Entity::find()
        .order_by_asc(loader_set::Column::Id)
        .all(conn)
        .await?;
    let files: Vec<(i32, String, i64, String)> = loader_file::Entity::find()
        .select_only()
        .columns([
            loader_file::Column::SetId,
            loader_file::Column::Name,
            loader_file::Column::Size,
            loader_file::Column::Sha256,
        ])
        .order_by_asc(loader_file::Column::Name)
        .into_tuple()
        .all(conn)
        .await?;
    let creators: BTreeMap<i32, String> = user::Entity::find()
        .select_only()
        .columns([user::Column::Id, user::Column::Username])
        .filter(user::Column::Id.is_in(sets.iter().filter_map(|s| s.created_by)))
        .into_tuple::<(i32, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let chosen = chosen(conn, &sets).await?;
    let rows = sets
        .into_iter()
        .map(|set| LoaderSetRow {
            files: files
                .iter()
                .filter(|(set_id, ..)| *set_id == set.id)
                .map(|(_, name, size, sha256)| {
                    let path = format!("{}/{name}", set.name);
                    LoaderRow {
                        used_for: chosen
                            .iter()
                            .filter(|(_, p)| **p == path)
                            .map(|(arch, _)| arch.label().to_owned())
                            .collect(),
                        name: name.clone(),
                        size: u64::try_from(*size).unwrap_or(0),
                        sha256: sha256.clone(),
                    }
                })
                .collect(),
            created_at: set
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            created_by: set.created_by.and_then(|id| creators.get(&id).cloned()),
            id: set.id,
            name: set.name,
        })
        .collect();
    Ok((rows, chosen))
}

/// The architectures' choices as `<set>/<file>`.
async fn chosen(
    conn: &impl db::Conn,
    sets: &[loader_set::Model],
) -> Result<BTreeMap<LoaderArch, String>, AppError> {
    Ok(loader_default::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|row| {
            let arch = LoaderArch::from_id(&row.arch)?;
            let set = sets.iter().find(|set| set.id == row.set_id)?;
            Some((arch, format!("{}/{}", set.name, row.file)))
        })
        .collect())
}

/// What the boot server serves from the database: every set's files as `<set>/<file>` with
/// their bytes, and the architectures' choices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Library {
    pub files: Vec<(String, Vec<u8>)>,
    pub chosen: BTreeMap<LoaderArch, String>,
}

/// Reads the whole library (for the boot server, not a user).
pub async fn load(conn: &impl db::Conn) -> Result<Library, AppError> {
    let sets = loader_set::Entity::find().all(conn).await?;
    let files = loader_file::Entity::find()
        .order_by_asc(loader_file::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|file| {
            let set = sets.iter().find(|set| set.id == file.set_id)?;
            Some((format!("{}/{}", set.name, file.name), file.content))
        })
        .collect();
    Ok(Library {
        files,
        chosen: chosen(conn, &sets).await?,
    })
}

/// A cheap summary that changes whenever the library does (sets are never changed, only
/// added and deleted): replicas compare it to know when to read the library again.
pub async fn version(conn: &impl db::Conn) -> Result<String, AppError> {
    let files: Vec<i32> = loader_file::Entity::find()
        .select_only()
        .column(loader_file::Column::Id)
        .order_by_asc(loader_file::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    let defaults = loader_default::Entity::find()
        .order_by_asc(loader_default::Column::Arch)
        .all(conn)
        .await?;
    let mut version = format!("{files:?}");
    for row in defaults {
        version.push_str(&format!("|{}={}/{}", row.arch, row.set_id, row.file));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_file_names_are_what_paths_can_hold() {
        assert_eq!(check_name(" secure-boot ").unwrap(), "secure-boot");
        for bad in ["", "Secure", "a/b", "-x", "a b", "é", &"a".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_file_name("ipxe-shim.efi").is_ok());
        assert!(check_file_name("snp_only.EFI").is_ok());
        for bad in [
            "",
            ".hidden",
            "a/b",
            "..",
            "a\\b",
            "a b",
            "autoexec.ipxe",
            &"a".repeat(65),
        ] {
            assert!(check_file_name(bad).is_err(), "{bad}");
        }
    }
}

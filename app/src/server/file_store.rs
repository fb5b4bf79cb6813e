//! Where hosted files' bytes live: one folder (`--files-dir`) that every replica shares, e.g.
//! on NFS. Nothing about a file is kept in one process's memory: the database names the
//! files, this folder holds their bytes.
//!
//! - `blobs/sha256/<ab>/<hex>`: the bytes of every file, once, named by their SHA-256 (two
//!   organizations adding the same ISO store it once);
//! - `uploads/<id>.part`: an upload in progress, renamed into `blobs/` when it is complete.
//!
//! A blob goes when no file names it any more, after a grace period (an upload finishing the
//! same bytes on another replica may be about to name it again).

use std::{
    io,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

/// How long a blob no file names is kept before it is deleted.
pub const BLOB_GRACE: Duration = Duration::from_secs(10 * 60);

/// The files folder.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blobs(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// Where the bytes with this SHA-256 (lower-case hex, checked by the caller) are.
    pub fn blob(&self, sha256: &str) -> PathBuf {
        self.blobs().join(&sha256[..2]).join(sha256)
    }

    /// Where an upload's bytes arrive.
    pub fn part(&self, upload_id: &str) -> PathBuf {
        self.uploads().join(format!("{upload_id}.part"))
    }

    /// Creates the folders (readable by this user only) if they are missing.
    pub async fn prepare(&self) -> io::Result<()> {
        for dir in [self.blobs(), self.uploads()] {
            create_private_dir_all(&dir).await?;
        }
        Ok(())
    }

    /// Moves a complete upload into its blob: renamed when these bytes are new, else dropped
    /// (they are stored already, by another upload or by this one before a failure). Either
    /// way the blob's time is refreshed first, so that a sweep running now on another
    /// replica leaves it alone. `NotFound` when neither the part nor the blob is there.
    pub async fn commit(&self, upload_id: &str, sha256: &str) -> io::Result<()> {
        let part = self.part(upload_id);
        let blob = self.blob(sha256);
        if let Some(dir) = blob.parent() {
            create_private_dir_all(dir).await?;
        }
        match touch(&blob).await {
            Ok(()) => match tokio::fs::remove_file(&part).await {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            },
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                tokio::fs::rename(&part, &blob).await?;
                touch(&blob).await
            }
            Err(error) => Err(error),
        }
    }

    /// Deletes an upload's bytes (cancelled, or failed its checksum); gone already is fine.
    pub async fn discard(&self, upload_id: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.part(upload_id)).await {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    /// Deletes blobs no file names (`named` says which are), once older than
    /// [`BLOB_GRACE`], and upload parts no upload names (`uploading`), once as old; returns
    /// how many files were deleted and the bytes freed.
    pub async fn sweep(
        &self,
        named: impl Fn(&str) -> bool + Send + 'static,
        uploading: impl Fn(&str) -> bool + Send + 'static,
    ) -> io::Result<(u64, u64)> {
        let (blobs, uploads) = (self.blobs(), self.uploads());
        tokio::task::spawn_blocking(move || {
            // A file another replica's sweep (or a cancel) deleted first is skipped.
            let old = |path: &Path| -> io::Result<Option<u64>> {
                let meta = match std::fs::metadata(path) {
                    Ok(meta) => meta,
                    Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(error) => return Err(error),
                };
                let age = SystemTime::now()
                    .duration_since(meta.modified()?)
                    .unwrap_or_default();
                Ok((age >= BLOB_GRACE).then_some(meta.len()))
            };
            let remove = |path: &Path| match std::fs::remove_file(path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
                _ => Ok(()),
            };
            let (mut count, mut bytes) = (0, 0);
            for shard in read_dir_or_empty(&blobs)? {
                for entry in read_dir_or_empty(&shard)? {
                    let Some(name) = entry
                        .file_name()
                        .and_then(|n| n.to_str())
                        .map(str::to_owned)
                    else {
                        continue;
                    };
                    if !named(&name)
                        && let Some(len) = old(&entry)?
                    {
                        std::fs::remove_file(&entry)?;
                        (count, bytes) = (count + 1, bytes + len);
                    }
                }
            }
            for entry in read_dir_or_empty(&uploads)? {
                let id = entry
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".part"))
                    .map(str::to_owned);
                if let Some(id) = id
                    && !uploading(&id)
                    && let Some(len) = old(&entry)?
                {
                    remove(&entry)?;
                    (count, bytes) = (count + 1, bytes + len);
                }
            }
            Ok((count, bytes))
        })
        .await
        .map_err(io::Error::other)?
    }
}

fn read_dir_or_empty(dir: &Path) -> io::Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.map(|e| e.path())).collect(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error),
    }
}

async fn touch(path: &Path) -> io::Result<()> {
    let file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .await?;
    file.into_std().await.set_modified(SystemTime::now())
}

async fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
    })
    .await
    .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_same_bytes_committed_twice_are_stored_once() {
        let dir = tempfile_dir();
        let store = FileStore::new(&dir);
        store.prepare().await.unwrap();
        let sha = "ab".repeat(32);
        for id in ["one", "two"] {
            tokio::fs::write(store.part(id), b"same").await.unwrap();
            store.commit(id, &sha).await.unwrap();
            assert!(!store.part(id).exists());
        }
        assert_eq!(std::fs::read(store.blob(&sha)).unwrap(), b"same");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_sweep_spares_named_and_young_blobs() {
        let dir = tempfile_dir();
        let store = FileStore::new(&dir);
        store.prepare().await.unwrap();
        let (named, orphan, young) = ("aa".repeat(32), "bb".repeat(32), "cc".repeat(32));
        for sha in [&named, &orphan, &young] {
            tokio::fs::write(store.part(sha), sha.as_bytes())
                .await
                .unwrap();
            store.commit(sha, sha).await.unwrap();
        }
        let long_ago = SystemTime::now() - BLOB_GRACE * 2;
        for sha in [&named, &orphan] {
            std::fs::File::options()
                .append(true)
                .open(store.blob(sha))
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        let keep = named.clone();
        let (count, bytes) = store
            .sweep(move |sha| sha == keep, |_| false)
            .await
            .unwrap();
        assert_eq!((count, bytes), (1, 64));
        assert!(store.blob(&named).exists() && store.blob(&young).exists());
        assert!(!store.blob(&orphan).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let mut bytes = [0u8; 8];
        rand::fill(&mut bytes);
        std::env::temp_dir().join(format!("pxecloud-store-{}", hex::encode(bytes)))
    }
}

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
    collections::HashMap,
    io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use axum::body::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::sha256_state::Sha256State;

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
                touch(&blob).await?;
                // The rename itself must survive a crash: the database names the bytes next.
                sync_dir(blob.parent()).await
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

/// Bytes gathered before they are written (and hashed) in one go.
pub const WRITE_CHUNK: usize = 1024 * 1024;

/// The part file an upload (or a fetch) is written to, with its running hash. Its methods
/// block: call them on a blocking thread.
pub struct Part {
    file: std::fs::File,
    hasher: Sha256State,
    /// Bytes written so far.
    written: u64,
}

impl Part {
    /// Opens the part at `offset`: anything past it (written but never synced and counted)
    /// is cut off, and the hash goes on from the stored state (reading back the bytes after
    /// its last whole block), or from the start of the file when there is none.
    /// `UnexpectedEof` when the part holds fewer bytes than `offset`.
    pub fn open(path: PathBuf, offset: u64, stored: Option<String>) -> io::Result<Self> {
        use std::io::{Read, Seek, SeekFrom};
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        if file.metadata()?.len() < offset {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the upload's part file is shorter than its recorded progress",
            ));
        }
        file.set_len(offset)?;
        let covered = Sha256State::covered(offset);
        let (mut hasher, from) = match stored.and_then(|s| Sha256State::resume(&s, covered)) {
            Some(hasher) => (hasher, covered),
            None => (Sha256State::new(), 0),
        };
        file.seek(SeekFrom::Start(from))?;
        let mut buffer = vec![0; WRITE_CHUNK];
        let mut reader = (&mut file).take(offset - from);
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        file.seek(SeekFrom::Start(offset))?;
        Ok(Self {
            file,
            hasher,
            written: offset,
        })
    }

    /// Appends `bytes`.
    pub fn write(mut self, bytes: Vec<u8>) -> io::Result<Self> {
        use std::io::Write;
        self.file.write_all(&bytes)?;
        self.hasher.update(&bytes);
        self.written += bytes.len() as u64;
        Ok(self)
    }

    /// Makes what was written durable: only then may it be counted.
    pub fn sync(self) -> io::Result<Self> {
        self.file.sync_data()?;
        Ok(self)
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The hash state to store with the count (see [`Sha256State::stored`]).
    pub fn hash_state(&self) -> String {
        self.hasher.stored()
    }

    /// The SHA-256 of everything written, in lower-case hex.
    pub fn finish(self) -> String {
        self.hasher.finish()
    }
}

/// Reads blobs for downloads, fast and within bounds.
///
/// - The bytes held in memory on their way to clients, in all downloads at once, are
///   bounded: in a boot storm of slow clients, reads wait for their turn (in order) instead
///   of growing the heap. Each piece read holds its share until the connection has written
///   it and dropped it.
/// - Blobs stay open for a while: `sanboot` reads an ISO in thousands of small ranges, and a
///   blob never changes under its name (it is named by its SHA-256).
/// - What the page cache holds is read at once; only a read that would wait for the disk
///   (or a file system that cannot tell) takes a blocking thread.
#[derive(Debug)]
pub struct BlobReader {
    units: Arc<Semaphore>,
    total: usize,
    open: Mutex<HashMap<PathBuf, (Arc<std::fs::File>, Instant)>>,
}

impl BlobReader {
    /// The budget is counted in units of this many bytes.
    const UNIT: usize = 16 * 1024;
    /// The budget of a server: 64 MiB, 64 downloads reading ahead at full speed at once.
    pub const SERVER_BUDGET: usize = 64 * 1024 * 1024;
    /// Blobs kept open at most, and for how long after they were opened.
    const OPEN_MAX: usize = 64;
    const OPEN_FOR: Duration = Duration::from_secs(30);

    /// A reader with a budget of `bytes` (at least one unit).
    pub fn new(budget: usize) -> Self {
        let units = (budget / Self::UNIT).clamp(1, Semaphore::MAX_PERMITS);
        Self {
            units: Arc::new(Semaphore::new(units)),
            total: units * Self::UNIT,
            open: Mutex::default(),
        }
    }

    /// The most one read may take: the whole budget.
    pub fn budget(&self) -> usize {
        self.total
    }

    /// The bytes held now.
    pub fn held(&self) -> usize {
        self.total - self.units.available_permits() * Self::UNIT
    }

    /// The blob at `path`, opened (or still open from a moment ago).
    pub async fn open(&self, path: &Path) -> io::Result<Arc<std::fs::File>> {
        let now = Instant::now();
        if let Some((file, opened)) = self.open_files().get(path)
            && now.duration_since(*opened) < Self::OPEN_FOR
        {
            return Ok(file.clone());
        }
        let owned = path.to_owned();
        let file = Arc::new(
            tokio::task::spawn_blocking(move || std::fs::File::open(owned))
                .await
                .map_err(io::Error::other)??,
        );
        let mut open = self.open_files();
        open.retain(|_, (_, opened)| now.duration_since(*opened) < Self::OPEN_FOR);
        if open.len() >= Self::OPEN_MAX
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, (_, opened))| *opened)
                .map(|(path, _)| path.clone())
        {
            open.remove(&oldest);
        }
        open.insert(path.to_owned(), (file.clone(), now));
        Ok(file)
    }

    fn open_files(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Arc<std::fs::File>, Instant)>> {
        // The map holds no invariant a panic could break halfway.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `length` bytes (at most [`Self::budget`]) of `file` from `start`, read once the budget
    /// allows, into the buffer that is sent.
    pub async fn read(
        &self,
        file: Arc<std::fs::File>,
        start: u64,
        length: usize,
    ) -> io::Result<Bytes> {
        let units = length.div_ceil(Self::UNIT).max(1);
        let units = u32::try_from(units)
            .ok()
            .filter(|_| units * Self::UNIT <= self.total)
            .ok_or_else(|| io::Error::other("a read larger than the budget of downloads"))?;
        let share = self
            .units
            .clone()
            .acquire_many_owned(units)
            .await
            .map_err(io::Error::other)?;
        let mut buffer = vec![0; length];
        let cached = read_cached(&file, &mut buffer, start);
        if cached < length {
            buffer = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                file.read_exact_at(&mut buffer[cached..], start + cached as u64)
                    .map(|()| buffer)
            })
            .await
            .map_err(io::Error::other)??;
        }
        Ok(Bytes::from_owner(Held {
            buffer,
            _share: share,
        }))
    }
}

/// Reads into `buffer` from `start` what the page cache holds, without waiting for a disk;
/// answers how many bytes were read (the rest, if any, is for a blocking read).
fn read_cached(file: &std::fs::File, buffer: &mut [u8], start: u64) -> usize {
    use rustix::io::{ReadWriteFlags, preadv2};
    let mut done = 0;
    while done < buffer.len() {
        let mut rest = [io::IoSliceMut::new(&mut buffer[done..])];
        match preadv2(file, &mut rest, start + done as u64, ReadWriteFlags::NOWAIT) {
            Ok(read) if read > 0 => done += read,
            // The end of the file, a page on disk, or a file system without the flag.
            _ => break,
        }
    }
    done
}

/// Bytes read, holding their share of the [`BlobReader`]'s budget until dropped.
struct Held {
    buffer: Vec<u8>,
    _share: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
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

/// Makes a folder's entries (a file renamed into it) durable.
async fn sync_dir(dir: Option<&Path>) -> io::Result<()> {
    let Some(dir) = dir.map(Path::to_owned) else {
        return Ok(());
    };
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
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
    async fn reads_wait_for_the_bytes_held_to_be_dropped() {
        let dir = tempfile_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("blob");
        std::fs::write(&path, (0..=255u8).cycle().take(200_000).collect::<Vec<_>>()).unwrap();
        let budget = Arc::new(BlobReader::new(64 * 1024));
        assert_eq!(budget.budget(), 64 * 1024);
        let file = budget.open(&path).await.unwrap();
        assert!(
            Arc::ptr_eq(&file, &budget.open(&path).await.unwrap()),
            "a blob read again is still open"
        );

        let first = budget.read(file.clone(), 1000, 40_000).await.unwrap();
        assert_eq!(first.len(), 40_000);
        assert_eq!(first[0], (1000 % 256) as u8);
        // 40,000 bytes hold three units of 16 KiB.
        assert_eq!(budget.held(), 48 * 1024);
        let second = {
            let (budget, file) = (budget.clone(), file.clone());
            tokio::spawn(async move { budget.read(file, 0, 30_000).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !second.is_finished(),
            "two reads fit only one after the other"
        );
        // A clone of the bytes (as a connection writes them) holds them too.
        let sent = first.slice(..10);
        drop(first);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished());
        drop(sent);
        let second = second.await.unwrap().unwrap();
        assert_eq!(second.len(), 30_000);
        assert_eq!(budget.held(), 32 * 1024);
        drop(second);
        assert_eq!(budget.held(), 0);

        let too_big = budget
            .read(file.clone(), 0, 64 * 1024 + 1)
            .await
            .unwrap_err();
        assert!(too_big.to_string().contains("budget"), "{too_big}");
        let past_the_end = budget.read(file, 199_000, 4096).await.unwrap_err();
        assert_eq!(past_the_end.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(budget.held(), 0, "a failed read gives its share back");
        assert_eq!(
            budget.open(&dir.join("missing")).await.unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

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

//! Password hashing with argon2id, bounded so that a login storm cannot exhaust memory.

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::phc::{Output, ParamsString, Salt},
};
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// How many password checks may wait for a free slot, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    /// Checks waiting at most; one more is answered "busy" at once.
    pub max_waiting: usize,
    /// How long a check waits for a slot before it is answered "busy".
    pub max_wait: Duration,
}

impl Default for Queue {
    /// Enough for a lab of machines signing in together: ~500 checks clear in about 15 s on
    /// two cores.
    fn default() -> Self {
        Self {
            max_waiting: 512,
            max_wait: Duration::from_secs(15),
        }
    }
}

/// The answer to a check the server has no room for now.
fn busy() -> AppError {
    AppError::Busy {
        retry_after_secs: BUSY_RETRY_AFTER_SECS,
    }
}

/// A check's place in the queue (see [`PasswordHasher::admit`]).
#[derive(Debug)]
pub struct Admission {
    _place: tokio::sync::OwnedSemaphorePermit,
}

/// What a client that found the queue full is told to wait.
const BUSY_RETRY_AFTER_SECS: u64 = 2;

/// Hashes and verifies passwords on blocking threads, a bounded number at once, with a
/// bounded queue in front.
#[derive(Clone)]
pub struct PasswordHasher {
    /// One per running or waiting check: the queue's bound.
    admission: Arc<Semaphore>,
    /// One per running check: the bound on memory (19 MiB each) and cores.
    workers: Arc<Semaphore>,
    max_wait: Duration,
    /// Hashes run at once at most.
    concurrency: usize,
    /// A hash of a random password, verified against for unknown users so that the answer
    /// takes as long as for a known one.
    dummy_hash: Arc<str>,
    /// Passwords verified since the start (hashes of new passwords not counted).
    verifications: Arc<AtomicU64>,
    memory: Arc<Memory>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("idle_workers", &self.workers.available_permits())
            .field("verifications", &self.verifications())
            .finish()
    }
}

/// The OWASP parameters: m = 19 MiB, t = 2, p = 1.
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid")
}

/// argon2id with the OWASP parameters.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Checks that a stored hash is an argon2 PHC string that costs no more than the hashes this
/// server makes. argon2 verifies with the *hash's* parameters, so one imported with
/// m = 4 GiB would make every sign-in attempt for its user, even a wrong one, that costly.
pub fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash)
        .ok()
        .filter(|_| hash.starts_with("$argon2"))
        .ok_or_else(|| "not an argon2 PHC string ($argon2id$…)".to_owned())?;
    let theirs = Params::try_from(&parsed)
        .map_err(|error| format!("its argon2 parameters cannot be read: {error}"))?;
    let ours = params();
    if theirs.m_cost() > ours.m_cost()
        || theirs.t_cost() > ours.t_cost()
        || theirs.p_cost() > ours.p_cost()
    {
        return Err(format!(
            "its argon2 parameters (m={}, t={}, p={}) cost more than this server's (m={}, t={}, p={})",
            theirs.m_cost(),
            theirs.t_cost(),
            theirs.p_cost(),
            ours.m_cost(),
            ours.t_cost(),
            ours.p_cost()
        ));
    }
    Ok(())
}

/// argon2's working memory, 19 MiB a hash, kept for the next one while hashes keep coming:
/// never more than one per worker slot. Left to the allocator, the blocks freed on each
/// blocking thread stay in that thread's arena (glibc raises its mmap threshold after the
/// first such free), and a sign-in storm leaves 19 MiB behind in every arena it touched.
/// Once no hash has run for [`KEEP_IDLE`], the blocks go back to the system.
#[derive(Default)]
struct Memory {
    free: Mutex<Vec<Box<[Block]>>>,
    /// Hashes started since the start: tells an idle pool from a busy one.
    uses: AtomicU64,
}

/// How long argon2's memory is kept after the last hash.
const KEEP_IDLE: Duration = Duration::from_secs(10);

impl Memory {
    /// Runs `work` with blocks enough for this server's parameters.
    fn with<T>(&self, work: impl FnOnce(&mut [Block]) -> T) -> T {
        self.uses.fetch_add(1, Ordering::Relaxed);
        let taken = self.lock().pop();
        let mut blocks = taken.unwrap_or_else(|| vec![Block::new(); params().block_count()].into());
        let result = work(&mut blocks);
        self.lock().push(blocks);
        result
    }

    /// Gives the kept blocks back to the system unless a hash started since `uses` was read.
    fn release_unless_used_since(&self, uses: u64) {
        let released = {
            let mut free = self.lock();
            if self.uses.load(Ordering::Relaxed) != uses {
                return;
            }
            std::mem::take(&mut *free)
        };
        if released.is_empty() {
            return;
        }
        drop(released);
        // The freed blocks may sit in a blocking thread's arena, below glibc's raised mmap
        // threshold: have it return free pages from every arena.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases memory the allocator holds free.
        unsafe {
            nix::libc::malloc_trim(0);
        }
    }

    /// How many are kept.
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Box<[Block]>>> {
        // A list of buffers holds no invariant a panic could break halfway.
        self.free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A PHC string of argon2id with this server's parameters for `salt` and `digest`.
fn phc(salt: &[u8], digest: &[u8]) -> Result<String, AppError> {
    let failed = |error: &dyn std::fmt::Display| {
        tracing::error!(%error, "hashing a password failed");
        AppError::Internal
    };
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params()).map_err(|e| failed(&e))?,
        salt: Some(Salt::new(salt).map_err(|e| failed(&e))?),
        hash: Some(Output::new(digest).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// A hash no password matches (a random digest), with this server's parameters: verifying
/// against it costs what verifying against a real one does, without hashing at start.
fn dummy_hash() -> Result<String, AppError> {
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    let mut digest = [0u8; Params::DEFAULT_OUTPUT_LEN];
    rand::fill(&mut salt);
    rand::fill(&mut digest);
    phc(&salt, &digest)
}

fn hash_blocking(password: &str, memory: &mut [Block]) -> Result<String, AppError> {
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    rand::fill(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        .map_err(|error| {
            tracing::error!(%error, "hashing a password failed");
            AppError::Internal
        })?;
    phc(&salt, &out)
}

fn verify_blocking(password: &str, hash: &str, memory: &mut [Block]) -> bool {
    if let Err(error) = check_hash(hash) {
        // Fails closed without the work: a stored hash this costly never came from here.
        tracing::error!(%error, "a stored password hash is refused");
        return false;
    }
    let parsed = match PasswordHash::new(hash) {
        Ok(parsed) => parsed,
        Err(error) => {
            tracing::error!(%error, "a stored password hash does not parse");
            return false;
        }
    };
    // The hash's own algorithm, version and parameters (no costlier than ours: checked).
    let hasher = (|| {
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
        let version = match parsed.version {
            Some(version) => Version::try_from(version).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).ok()?;
        Some(Argon2::new(algorithm, version, params))
    })();
    let (Some(hasher), Some(salt), Some(expected)) = (hasher, &parsed.salt, &parsed.hash) else {
        tracing::error!("a stored password hash lacks its algorithm, salt or digest");
        return false;
    };
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    let blocks = &mut memory[..hasher.params().block_count()];
    match hasher.hash_password_into_with_memory(password.as_bytes(), salt, out, blocks) {
        // `Output` compares in constant time.
        Ok(()) => Output::new(out).is_ok_and(|computed| computed == *expected),
        Err(error) => {
            tracing::error!(%error, "a stored password hash cannot be verified");
            false
        }
    }
}

impl PasswordHasher {
    /// A hasher running at most `concurrency` hashes at once (19 MiB each), with the
    /// default queue.
    pub fn new(concurrency: usize) -> Result<Self, AppError> {
        Self::with_queue(concurrency, Queue::default())
    }

    /// A hasher running at most `concurrency` hashes at once, with `queue` in front.
    pub fn with_queue(concurrency: usize, queue: Queue) -> Result<Self, AppError> {
        let memory = Arc::new(Memory::default());
        let dummy_hash = dummy_hash()?;
        let concurrency = concurrency.max(1);
        Ok(Self {
            admission: Arc::new(Semaphore::new(concurrency + queue.max_waiting)),
            workers: Arc::new(Semaphore::new(concurrency)),
            max_wait: queue.max_wait,
            concurrency,
            dummy_hash: dummy_hash.into(),
            verifications: Arc::new(AtomicU64::new(0)),
            memory,
        })
    }

    /// A place in the queue for one check, or `Busy` when the queue is full: taken before
    /// any other work of a sign-in, so that one turned away costs nothing else.
    pub fn admit(&self) -> Result<Admission, AppError> {
        self.admission
            .clone()
            .try_acquire_owned()
            .map(|place| Admission { _place: place })
            .map_err(|_| {
                tracing::warn!("password checks are queued to the limit; answering busy");
                busy()
            })
    }

    /// Runs `work` on a blocking thread once a worker slot is free, or answers `Busy` when
    /// the queue is full or the wait too long.
    ///
    /// Both slots move into the blocking task: if the caller is dropped (a timed-out
    /// request), the hash still runs to its end, and its slot stays taken until then, so
    /// no more than `concurrency` hashes ever run at once.
    async fn run<T: Send + 'static>(
        &self,
        admitted: Option<Admission>,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let admitted = match admitted {
            Some(admitted) => admitted,
            None => self.admit()?,
        };
        let worker = tokio::time::timeout(self.max_wait, self.workers.clone().acquire_owned())
            .await
            .map_err(|_| {
                tracing::warn!("a password check waited too long for a slot; answering busy");
                busy()
            })?
            .map_err(|_| AppError::Internal)?;
        let memory = self.memory.clone();
        let done = tokio::task::spawn_blocking(move || {
            let _slots = (admitted, worker);
            memory.with(work)
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "a password hashing task failed");
            AppError::Internal
        });
        self.release_memory_when_idle();
        done
    }

    /// Gives argon2's memory back once no hash has started for [`KEEP_IDLE`] (checked by
    /// the last hash to finish; a new hash keeps it).
    fn release_memory_when_idle(&self) {
        if self.workers.available_permits() != self.concurrency {
            return;
        }
        let uses = self.memory.uses.load(Ordering::Relaxed);
        let memory = Arc::downgrade(&self.memory);
        tokio::spawn(async move {
            tokio::time::sleep(KEEP_IDLE).await;
            if let Some(memory) = memory.upgrade() {
                memory.release_unless_used_since(uses);
            }
        });
    }

    /// How many passwords have been verified since the start: the work sign-ins cost.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = password.to_owned();
        self.run(None, move |blocks| hash_blocking(&password, blocks))
            .await?
    }

    /// Checks a password against a stored hash, or against the dummy hash when there is
    /// none, which always fails but takes the same time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, AppError> {
        self.verify_admitted(None, password, hash).await
    }

    /// [`verify`](Self::verify) with a place in the queue taken before by [`admit`](Self::admit)
    /// (`None`: taken now).
    pub async fn verify_admitted(
        &self,
        admitted: Option<Admission>,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, AppError> {
        let password = password.to_owned();
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let verifications = self.verifications.clone();
        let matches = self
            .run(admitted, move |blocks| {
                verifications.fetch_add(1, Ordering::Relaxed);
                verify_blocking(&password, &hash, blocks)
            })
            .await?;
        Ok(known && matches)
    }
}

/// The raw verification rate of this server's argon2id (its crate, parameters and kept
/// memory), on `threads` threads for `duration`: what a sign-in storm is measured against.
pub fn verification_rate(threads: usize, duration: Duration) -> Result<f64, AppError> {
    let threads = threads.max(1);
    let mut blocks = vec![Block::new(); params().block_count()];
    let hash: Arc<str> = hash_blocking("correct horse battery staple", &mut blocks)?.into();
    drop(blocks);
    let start = std::time::Instant::now();
    let deadline = start + duration;
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let hash = hash.clone();
                scope.spawn(move || {
                    let mut blocks = vec![Block::new(); params().block_count()];
                    let mut done = 0u64;
                    while std::time::Instant::now() < deadline {
                        let matched =
                            verify_blocking("correct horse battery staple", &hash, &mut blocks);
                        debug_assert!(matched);
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or(0))
            .collect()
    });
    Ok(counts.iter().sum::<u64>() as f64 / start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = PasswordHasher::new(2).unwrap();
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify("correct horse", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("wrong horse", Some(&hash)).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_without_hashing() {
        let queue = Queue {
            max_waiting: 2,
            max_wait: Duration::from_secs(30),
        };
        let hasher = PasswordHasher::with_queue(1, queue).unwrap();
        let checks: Vec<_> = (0..10)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.verify("x", None).await })
            })
            .collect();
        let mut busy = 0;
        for check in checks {
            match check.await.unwrap() {
                Ok(false) => {}
                Err(AppError::Busy { retry_after_secs }) => {
                    assert!(retry_after_secs > 0);
                    busy += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // One runs, two wait: the other seven are turned away at once.
        assert_eq!(busy, 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_check_that_waits_too_long_answers_busy() {
        let queue = Queue {
            max_waiting: 10,
            max_wait: Duration::from_millis(1),
        };
        let hasher = PasswordHasher::with_queue(1, queue).unwrap();
        let first = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.verify("x", None).await })
        };
        // The first check holds the only slot before the others ask (a yield alone did not
        // promise that on a loaded machine: the first then waited too and was turned away).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while hasher.workers.available_permits() > 0
            && !first.is_finished()
            && std::time::Instant::now() < deadline
        {
            tokio::task::yield_now().await;
        }
        let results = verify_all(&hasher, 3).await;
        assert!(first.await.unwrap().is_ok());
        assert!(
            results
                .iter()
                .any(|result| matches!(result, Err(AppError::Busy { .. }))),
            "{results:?}"
        );
    }

    async fn verify_all(hasher: &PasswordHasher, n: usize) -> Vec<Result<bool, AppError>> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.verify("x", None).await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_check_keeps_its_slot_until_its_hash_ends() {
        let hasher = PasswordHasher::with_queue(1, Queue::default()).unwrap();
        let check = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.verify("x", None).await })
        };
        // Wait until the hash runs, then drop its caller, as a timed-out request does.
        while hasher.workers.available_permits() == 1 {
            tokio::task::yield_now().await;
        }
        check.abort();
        assert!(check.await.unwrap_err().is_cancelled());
        assert_eq!(
            hasher.workers.available_permits(),
            0,
            "the running hash still holds its slot"
        );
        assert!(hasher.verify("y", None).await.is_ok());
        assert_eq!(hasher.workers.available_permits(), 1);
    }

    #[tokio::test]
    async fn hashes_of_other_parameters_and_of_the_argon2_crate_verify() {
        let hasher = PasswordHasher::new(1).unwrap();
        // Made by the argon2 crate on its own (as older releases of this server did), with
        // our parameters and with cheaper ones and another version.
        use argon2::PasswordHasher as _;
        for hasher_of_old in [
            argon2(),
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x10,
                Params::new(4096, 1, 1, Some(16)).unwrap(),
            ),
            Argon2::new(
                Algorithm::Argon2i,
                Version::V0x13,
                Params::new(8192, 2, 1, None).unwrap(),
            ),
        ] {
            let old = hasher_of_old
                .hash_password_with_salt(b"correct horse", b"some salt, some salt")
                .unwrap()
                .to_string();
            assert!(
                hasher.verify("correct horse", Some(&old)).await.unwrap(),
                "{old}"
            );
            assert!(
                !hasher.verify("wrong horse", Some(&old)).await.unwrap(),
                "{old}"
            );
        }
        // And ours verify with the crate's own verifier.
        use argon2::PasswordVerifier as _;
        let ours = hasher.hash("correct horse").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon2().verify_password(b"wrong", &parsed).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_working_memory_is_kept_one_per_slot() {
        let hasher = PasswordHasher::new(2).unwrap();
        assert_eq!(hasher.memory.kept(), 0, "nothing hashed at start");
        let results = verify_all(&hasher, 8).await;
        assert!(
            results.iter().all(|r| matches!(r, Ok(false))),
            "{results:?}"
        );
        let kept = hasher.memory.kept();
        assert!((1..=2).contains(&kept), "{kept} kept for 2 slots");
    }

    #[test]
    fn the_working_memory_goes_back_once_idle_and_stays_while_used() {
        let memory = Memory::default();
        memory.with(|_| ());
        let seen = memory.uses.load(Ordering::Relaxed);
        memory.with(|_| ());
        memory.release_unless_used_since(seen);
        assert_eq!(memory.kept(), 1, "a hash ran since: kept");
        memory.release_unless_used_since(memory.uses.load(Ordering::Relaxed));
        assert_eq!(memory.kept(), 0, "idle: given back");
    }

    #[test]
    fn the_dummy_hash_is_ours_in_shape_and_matches_nothing() {
        let dummy = dummy_hash().unwrap();
        assert_eq!(check_hash(&dummy), Ok(()));
        let memory = Memory::default();
        assert!(!memory.with(|blocks| verify_blocking("", &dummy, blocks)));
    }

    #[test]
    fn hashes_costlier_than_ours_are_refused() {
        let memory = Memory::default();
        let ours = memory.with(|blocks| hash_blocking("x", blocks)).unwrap();
        assert_eq!(check_hash(&ours), Ok(()));
        let salt = "c29tZXNhbHRzb21lc2FsdA";
        let digest = "dGhpcnR5dHdvYnl0ZXNvZm91dHB1dHRoaXJ0eXR3bw";
        let costly = format!("$argon2id$v=19$m=4194304,t=50,p=1${salt}${digest}");
        let error = check_hash(&costly).unwrap_err();
        assert!(
            error.contains("m=4194304") && error.contains("m=19456"),
            "{error}"
        );
        let cheaper = format!("$argon2id$v=19$m=8192,t=1,p=1${salt}${digest}");
        assert_eq!(check_hash(&cheaper), Ok(()));
        assert!(check_hash("$2b$12$bcrypt").is_err());
        assert!(
            !memory.with(|blocks| verify_blocking("x", &costly, blocks)),
            "fails closed"
        );
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = PasswordHasher::new(1).unwrap();
        assert!(!hasher.verify("anything", None).await.unwrap());
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_fails_closed() {
        let hasher = PasswordHasher::new(1).unwrap();
        assert!(!hasher.verify("x", Some("not a hash")).await.unwrap());
    }
}

//! Password hashing with argon2id, bounded so that a login storm cannot exhaust memory.

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
};
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Hashes and verifies passwords on blocking threads, a bounded number at once.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against for unknown users so that the answer
    /// takes as long as for a known one.
    dummy_hash: Arc<str>,
    /// Passwords verified since the start (hashes of new passwords not counted).
    verifications: Arc<AtomicU64>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available", &self.permits.available_permits())
            .field("verifications", &self.verifications())
            .finish()
    }
}

/// argon2id with the OWASP parameters: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> Result<String, AppError> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| {
            tracing::error!(%error, "hashing a password failed");
            AppError::Internal
        })
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(error) => {
            tracing::error!(%error, "a stored password hash does not parse");
            false
        }
    }
}

impl PasswordHasher {
    /// A hasher running at most `concurrency` hashes at once (19 MiB each).
    pub fn new(concurrency: usize) -> Result<Self, AppError> {
        let mut random = [0u8; 32];
        rand::fill(&mut random);
        let dummy_hash = hash_blocking(&hex::encode(random))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AppError::Internal)?;
        tokio::task::spawn_blocking(work).await.map_err(|error| {
            tracing::error!(%error, "a password hashing task failed");
            AppError::Internal
        })
    }

    /// How many passwords have been verified since the start: the work sign-ins cost.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let password = password.to_owned();
        self.run(move || hash_blocking(&password)).await?
    }

    /// Checks a password against a stored hash, or against the dummy hash when there is
    /// none, which always fails but takes the same time.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, AppError> {
        let password = password.to_owned();
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let matches = self.run(move || verify_blocking(&password, &hash)).await?;
        Ok(known && matches)
    }
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

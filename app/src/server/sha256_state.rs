//! A SHA-256 whose progress can be stored and picked up by another process: an upload's
//! pieces may arrive at different replicas, and each goes on from the state the last one
//! stored (`uploads.sha256_state`) instead of reading the whole file again.
//!
//! The stored state is the eight working words after the last whole 64-byte block; the
//! bytes after that block (fewer than 64) are read back from the part file.

use sha2::{compress256, digest::generic_array::GenericArray};

/// The SHA-256 initial hash value (FIPS 180-4, 5.3.3).
const INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

const BLOCK: usize = 64;

/// A SHA-256 in progress.
#[derive(Debug, Clone)]
pub struct Sha256State {
    state: [u32; 8],
    /// Bytes compressed into `state` (a multiple of 64).
    compressed: u64,
    /// Bytes after them, fewer than 64.
    tail: Vec<u8>,
}

impl Default for Sha256State {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256State {
    /// The hash of nothing yet.
    pub fn new() -> Self {
        Self {
            state: INITIAL,
            compressed: 0,
            tail: Vec::with_capacity(BLOCK),
        }
    }

    /// Goes on from a stored state (see [`Self::stored`]) that covers the first
    /// [`Self::covered`]`(position)` bytes; the caller then feeds the bytes after them.
    pub fn resume(stored: &str, covered: u64) -> Option<Self> {
        if stored.len() != 64 || !covered.is_multiple_of(BLOCK as u64) {
            return None;
        }
        let mut state = [0u32; 8];
        for (i, word) in state.iter_mut().enumerate() {
            *word = u32::from_str_radix(stored.get(i * 8..i * 8 + 8)?, 16).ok()?;
        }
        Some(Self {
            state,
            compressed: covered,
            tail: Vec::with_capacity(BLOCK),
        })
    }

    /// The bytes a stored state of a hash at `position` covers: all whole blocks.
    pub fn covered(position: u64) -> u64 {
        position - position % BLOCK as u64
    }

    /// Bytes hashed so far.
    pub fn position(&self) -> u64 {
        self.compressed + self.tail.len() as u64
    }

    /// The state to store: it covers [`Self::covered`]`(self.position())` bytes.
    pub fn stored(&self) -> String {
        self.state.iter().map(|w| format!("{w:08x}")).collect()
    }

    fn compress(&mut self, block: &[u8]) {
        compress256(&mut self.state, &[*GenericArray::from_slice(block)]);
        self.compressed += BLOCK as u64;
    }

    /// Hashes `data` after what came before.
    pub fn update(&mut self, mut data: &[u8]) {
        if !self.tail.is_empty() {
            let take = (BLOCK - self.tail.len()).min(data.len());
            self.tail.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.tail.len() < BLOCK {
                return;
            }
            let block = std::mem::take(&mut self.tail);
            self.compress(&block);
            self.tail = block;
            self.tail.clear();
        }
        let mut blocks = data.chunks_exact(BLOCK);
        for block in &mut blocks {
            self.compress(block);
        }
        self.tail.extend_from_slice(blocks.remainder());
    }

    /// The hash of everything fed, as lower-case hex.
    pub fn finish(mut self) -> String {
        let bits = self.position().wrapping_mul(8);
        let mut last = std::mem::take(&mut self.tail);
        last.push(0x80);
        while last.len() % BLOCK != BLOCK - 8 {
            last.push(0);
        }
        last.extend_from_slice(&bits.to_be_bytes());
        for block in last.chunks_exact(BLOCK) {
            compress256(&mut self.state, &[*GenericArray::from_slice(block)]);
        }
        self.stored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 7) as u8).collect()
    }

    #[test]
    fn it_hashes_as_sha2_does_whatever_the_pieces() {
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4096 + 17] {
            let data = bytes(len);
            let expected = hex::encode(Sha256::digest(&data));
            let mut whole = Sha256State::new();
            whole.update(&data);
            assert_eq!(whole.finish(), expected, "len {len}");
            for piece in [1, 3, 63, 64, 65, 200] {
                let mut hash = Sha256State::new();
                for chunk in data.chunks(piece) {
                    hash.update(chunk);
                }
                assert_eq!(hash.finish(), expected, "len {len} piece {piece}");
            }
        }
    }

    #[test]
    fn a_stored_state_goes_on_elsewhere_with_the_bytes_after_it() {
        let data = bytes(10_000);
        let expected = hex::encode(Sha256::digest(&data));
        for cut in [0, 1, 64, 100, 4097, 9_999, 10_000] {
            let mut first = Sha256State::new();
            first.update(&data[..cut]);
            let stored = first.stored();
            let covered = Sha256State::covered(first.position());
            // Another process: the state, then the bytes after what it covers, from disk.
            let mut second = Sha256State::resume(&stored, covered).unwrap();
            second.update(&data[covered as usize..]);
            assert_eq!(second.finish(), expected, "cut {cut}");
        }
        assert!(Sha256State::resume("zz", 0).is_none());
        assert!(Sha256State::resume(&"0".repeat(64), 3).is_none());
        assert!(Sha256State::resume(&"g".repeat(64), 0).is_none());
    }
}

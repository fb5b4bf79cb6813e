//! What the boot flow read from the database, kept while nothing it depends on changed.
//!
//! The database counts changes to everything a boot step reads besides the session
//! (organizations, memberships, groups, menus, images, files: the `boot_generation` row,
//! raised by triggers on every write by any writer, this process or another). A boot step
//! reads that count in the same query as its session; what it finds on a shelf stored under
//! the same count is what the database holds, so a change made anywhere is seen at the next
//! step. Sessions and users are never kept here: each step reads them.

use std::{collections::HashMap, hash::Hash, sync::Arc};

use crate::{
    boot::BootMenu,
    server::entities::{boot_image, file, group},
};

/// How many entries one shelf holds at most before it is emptied (a lab of thousands of
/// members stays well under it; a flood of distinct keys cannot grow it without bound).
const MOST_PER_SHELF: usize = 20_000;

/// Values of one kind, valid for one generation.
pub struct Shelf<K, V> {
    inner: std::sync::Mutex<(i64, HashMap<K, V>)>,
}

impl<K, V> Default for Shelf<K, V> {
    fn default() -> Self {
        Self {
            inner: std::sync::Mutex::new((i64::MIN, HashMap::new())),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Shelf<K, V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, (i64, HashMap<K, V>)> {
        // A map of copies holds no invariant a panic could break halfway.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value kept for `key` in `generation`.
    pub fn get(&self, generation: i64, key: &K) -> Option<V> {
        let shelf = self.lock();
        (shelf.0 == generation)
            .then(|| shelf.1.get(key).cloned())
            .flatten()
    }

    /// Keeps `value`, read in `generation`: a newer generation empties the shelf first; a
    /// value read in an older one than the shelf's is dropped.
    pub fn put(&self, generation: i64, key: K, value: V) {
        let mut shelf = self.lock();
        if generation < shelf.0 {
            return;
        }
        if generation > shelf.0 || shelf.1.len() >= MOST_PER_SHELF {
            shelf.1.clear();
            shelf.0 = generation;
        }
        shelf.1.insert(key, value);
    }

    /// The value for `key`: kept, or loaded by `load` and kept. Without a generation (a
    /// step whose session was not read with one), always loaded.
    pub async fn get_or_load<E>(
        &self,
        generation: Option<i64>,
        key: K,
        load: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        let Some(generation) = generation else {
            return load.await;
        };
        if let Some(value) = self.get(generation, &key) {
            return Ok(value);
        }
        let value = load.await?;
        self.put(generation, key, value.clone());
        Ok(value)
    }
}

/// Where a member stands in a group they may boot from.
#[derive(Debug)]
pub struct Place {
    pub group: group::Model,
    /// The organization's name, for the boot log.
    pub organization_name: String,
    /// How many groups of this organization the member is in.
    pub groups_here: usize,
    pub menu: Option<BootMenu>,
}

/// The boot flow's shelves.
#[derive(Default)]
pub struct BootCache {
    /// By (user, server admin, group): the member's place, `None` when they may not boot
    /// from the group.
    pub places: Shelf<(i32, bool, i32), Option<Arc<Place>>>,
    /// By user: how many organizations they are a member of.
    pub memberships: Shelf<i32, u64>,
    /// By (organization, menu): the titles of the images the menu shows.
    pub titles: Shelf<(i32, i32), Arc<HashMap<i32, String>>>,
    /// By id: an image.
    pub images: Shelf<i32, Option<Arc<boot_image::Model>>>,
    /// By (organization, name): a library file.
    pub files: Shelf<(i32, String), Option<Arc<file::Model>>>,
}

impl std::fmt::Debug for BootCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootCache").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_kept_for_its_generation_only() {
        let shelf = Shelf::<i32, &str>::default();
        shelf.put(5, 1, "five");
        assert_eq!(shelf.get(5, &1), Some("five"));
        assert_eq!(shelf.get(6, &1), None, "another generation");
        shelf.put(4, 2, "four");
        assert_eq!(
            shelf.get(5, &2),
            None,
            "read in an older generation: dropped"
        );
        shelf.put(6, 2, "six");
        assert_eq!(
            shelf.get(6, &1),
            None,
            "a newer generation empties the shelf"
        );
        assert_eq!(shelf.get(6, &2), Some("six"));
    }

    #[test]
    fn a_full_shelf_is_emptied_not_grown() {
        let shelf = Shelf::<usize, usize>::default();
        for key in 0..MOST_PER_SHELF + 1 {
            shelf.put(1, key, key);
        }
        assert_eq!(shelf.lock().1.len(), 1);
        assert_eq!(shelf.get(1, &MOST_PER_SHELF), Some(MOST_PER_SHELF));
    }

    #[tokio::test]
    async fn without_a_generation_every_read_loads() {
        let shelf = Shelf::<i32, i32>::default();
        let mut loads = 0;
        for _ in 0..2 {
            shelf
                .get_or_load::<()>(None, 1, async {
                    loads += 1;
                    Ok(1)
                })
                .await
                .unwrap();
        }
        assert_eq!(loads, 2);
        for _ in 0..2 {
            shelf
                .get_or_load::<()>(Some(3), 1, async {
                    loads += 1;
                    Ok(1)
                })
                .await
                .unwrap();
        }
        assert_eq!(loads, 3);
    }
}

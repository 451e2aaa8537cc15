//! Bounded memories of rows this process read or wrote, so that a hot path need not read them
//! again.
//!
//! A memory is never the authority. What it holds is either immutable (a username, an
//! account's creation time) or checked where it is used: a write made on a remembered row is
//! a compare-and-set on that row's version or revision, and a refusal decided on a remembered
//! row is decided again on the database's. A full memory forgets everything and starts over,
//! which costs reads, never correctness.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

/// At most `max` rows, by key.
#[derive(Debug)]
pub struct Memo<K, V> {
    rows: Mutex<HashMap<K, V>>,
    max: usize,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    /// An empty memory of at most `max` rows.
    pub fn new(max: usize) -> Memo<K, V> {
        assert!(max > 0, "a memory holds something");
        Memo {
            rows: Mutex::new(HashMap::new()),
            max,
        }
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        // A panic while holding the lock cannot leave a half-written map entry behind.
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The row remembered for `key`.
    pub fn get(&self, key: &K) -> Option<V> {
        self.rows().get(key).cloned()
    }

    /// The row remembered for `key`, forgotten: a step that fails must not find it again.
    pub fn take(&self, key: &K) -> Option<V> {
        self.rows().remove(key)
    }

    /// Remembers `value` for `key`; a full memory starts over.
    pub fn put(&self, key: K, value: V) {
        let mut rows = self.rows();
        if rows.len() >= self.max && !rows.contains_key(&key) {
            rows.clear();
        }
        rows.insert(key, value);
    }

    /// Forgets `key`.
    pub fn forget(&self, key: &K) {
        self.rows().remove(key);
    }

    /// Rows remembered now.
    pub fn len(&self) -> usize {
        self.rows().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_memory_starts_over_and_never_exceeds_its_bound() {
        let memo = Memo::new(3);
        for i in 0..10 {
            memo.put(i, i * 10);
            assert!(memo.len() <= 3);
            assert_eq!(memo.get(&i), Some(i * 10));
        }
        // Full again; replacing a remembered key never empties the memory.
        memo.put(10, 100);
        memo.put(11, 110);
        assert_eq!(memo.len(), 3);
        memo.put(9, 1);
        assert_eq!(memo.get(&9), Some(1));
        assert_eq!(memo.len(), 3);
    }

    #[test]
    fn taken_and_forgotten_rows_are_gone() {
        let memo = Memo::new(4);
        memo.put("a", 1);
        memo.put("b", 2);
        assert_eq!(memo.take(&"a"), Some(1));
        assert_eq!(memo.get(&"a"), None);
        memo.forget(&"b");
        assert!(memo.is_empty());
    }
}

//! Removing and restoring object keys without reordering the others.
//!
//! JavaScript objects keep their keys in insertion order, and so does
//! serde_json with its `preserve_order` feature, which peloton's default
//! `preserve_order` feature turns on. Without it serde_json sorts keys and
//! these fall back to plain `remove` and `insert`: documents are equal
//! either way, only the order their keys print in differs.

use serde_json::{Map, Value};

/// Removes `key`, keeping the order of the keys after it.
pub(crate) fn remove(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    #[cfg(feature = "preserve_order")]
    return map.shift_remove(key);
    #[cfg(not(feature = "preserve_order"))]
    return map.remove(key);
}

/// Puts `key` back at `position` (its place before a [`remove`]).
pub(crate) fn insert_at(map: &mut Map<String, Value>, position: usize, key: String, value: Value) {
    #[cfg(feature = "preserve_order")]
    map.shift_insert(position.min(map.len()), key, value);
    #[cfg(not(feature = "preserve_order"))]
    {
        let _ = position;
        map.insert(key, value);
    }
}

//! Finding, removing and restoring object keys without reordering the
//! others.
//!
//! JavaScript objects keep their keys in insertion order, and so does
//! serde_json with its `preserve_order` feature, which peloton's default
//! `preserve_order` feature turns on. Without it serde_json sorts keys and
//! these fall back to plain `remove` and `insert`: documents are equal
//! either way, only the order their keys print in differs.

use serde_json::{Map, Value};

/// Objects up to this size are searched key by key: comparing a few short
/// keys is cheaper than hashing one with serde_json's `SipHash`.
#[cfg(feature = "preserve_order")]
const SCAN_UP_TO: usize = 8;

/// The value at `key`, as `map.get(key)` finds it.
pub(crate) fn get<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    #[cfg(feature = "preserve_order")]
    if map.len() <= SCAN_UP_TO {
        return map
            .iter()
            .find_map(|(k, v)| (k.as_str() == key).then_some(v));
    }
    map.get(key)
}

/// The value at `key`, as `map.get_mut(key)` finds it.
pub(crate) fn get_mut<'m>(map: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Value> {
    #[cfg(feature = "preserve_order")]
    if map.len() <= SCAN_UP_TO {
        return map
            .iter_mut()
            .find_map(|(k, v)| (k.as_str() == key).then_some(v));
    }
    map.get_mut(key)
}

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn small_and_large_objects_find_the_same_keys() {
        for n in [0, 1, 8, 9, 40] {
            let mut map: Map<String, Value> = (0..n).map(|i| (format!("k{i}"), json!(i))).collect();
            for i in 0..n {
                let key = format!("k{i}");
                assert_eq!(get(&map, &key), Some(&json!(i)), "{key} of {n}");
                *get_mut(&mut map, &key).unwrap() = json!(-i);
                assert_eq!(map[&key], json!(-i));
            }
            assert_eq!(get(&map, "missing"), None);
            assert_eq!(get_mut(&mut map, "k"), None);
        }
    }
}

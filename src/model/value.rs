//! Walking JSON values by model path segments.
//!
//! This module owns these pure helpers on values (lookups, implied parents, the
//! padding check, equality, the `id` alias); it never locks the model nor reads
//! a document: callers hand it the values.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{MAX_PADDING, ModelError, path};
use crate::ot::object_keys;

/// The value at `segments` under `value`.
pub(crate) fn lookup<'a, S: AsRef<str>>(value: &'a Value, segments: &[S]) -> Option<&'a Value> {
    segments.iter().try_fold(value, |v, segment| match v {
        Value::Object(map) => object_keys::get(map, segment.as_ref()),
        Value::Array(items) => path::index(segment.as_ref()).and_then(|i| items.get(i)),
        _ => None,
    })
}

/// A value that holds `leaf` at `segments`, with objects (or lists, where
/// the next segment is an index) for the missing parents. List holes are
/// filled with nulls, since JSON has no `undefined`.
pub(crate) fn implied(segments: &[String], leaf: Value) -> Result<Value, ModelError> {
    let mut inner = leaf;
    for (k, segment) in segments.iter().enumerate().rev() {
        inner = match path::index(segment) {
            Some(i) => {
                check_padding(&segments[..k], i, 0)?;
                let mut items = vec![Value::Null; i];
                items.push(inner);
                Value::Array(items)
            }
            None => {
                let mut map = serde_json::Map::new();
                map.insert(segment.clone(), inner);
                Value::Object(map)
            }
        };
    }
    Ok(inner)
}

/// Refuses a write at `index` of the list at `list` (of `len` items) that
/// would pad it with more than [`MAX_PADDING`] nulls.
pub(crate) fn check_padding(list: &[String], index: usize, len: usize) -> Result<(), ModelError> {
    if index.saturating_sub(len) > MAX_PADDING {
        return Err(ModelError::TooFarPastEnd {
            path: path::join(list),
            index,
            len,
        });
    }
    Ok(())
}

/// Deep equality, numbers by value (`1 == 1.0`).
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| deep_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Racer's `id` alias: a remote document that is an object reads with its
/// id under `"id"`, though the stored data does not hold it (`create`
/// strips it). A stored `"id"` is left as it is.
pub(crate) fn add_doc_id(value: &mut Value, id: &str) {
    if let Value::Object(map) = value
        && !map.contains_key("id")
    {
        map.insert("id".to_owned(), Value::String(id.to_owned()));
    }
}

/// A remote document's data as a `T`, with Racer's `id` alias (see
/// [`add_doc_id`]), deserialized in place rather than from a copy that
/// holds the alias.
pub(crate) fn deserialize_doc<T: DeserializeOwned>(
    data: &Value,
    id: &str,
) -> Result<T, serde_json::Error> {
    match data {
        Value::Object(map) if !map.contains_key("id") => {
            let id = Value::String(id.to_owned());
            let entries =
                (map.iter().map(|(k, v)| (k.as_str(), v))).chain(std::iter::once(("id", &id)));
            T::deserialize(serde::de::value::MapDeserializer::new(entries))
        }
        _ => T::deserialize(data),
    }
}

/// A JSON number from an f64, an integer when it is one (as JavaScript
/// prints it).
pub(crate) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_and_implies() {
        let v = json!({"a": [{"b": 1}]});
        assert_eq!(lookup(&v, &path::split("a.0.b")), Some(&json!(1)));
        assert_eq!(lookup(&v, &path::split("a.1")), None);
        assert_eq!(
            implied(&path::split("x.2.y"), json!(5)),
            Ok(json!({"x": [null, null, {"y": 5}]}))
        );
        assert!(matches!(
            implied(&path::split("x.99999999999"), json!(5)),
            Err(ModelError::TooFarPastEnd {
                index: 99_999_999_999,
                len: 0,
                ..
            })
        ));
        assert!(deep_equal(
            &json!({"a": 1, "b": [2]}),
            &json!({"b": [2.0], "a": 1})
        ));
    }
}

//! How MongoDB compares JSON values: equality, and the order across types
//! that `$sort` and the range operators use.
//!
//! This module owns comparing two values only: it knows nothing of paths,
//! operators or documents, which are `filter`'s and the parent's.

use std::cmp::Ordering;

use serde_json::Value;

/// MongoDB's order of type classes, for the JSON types: null < numbers <
/// strings < objects < arrays < booleans.
fn type_rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Number(_) => 1,
        Value::String(_) => 2,
        Value::Object(_) => 3,
        Value::Array(_) => 4,
        Value::Bool(_) => 5,
    }
}

/// Whether two values are of the same type class (what `$gt` and friends
/// require before comparing).
pub(super) fn same_class(a: &Value, b: &Value) -> bool {
    type_rank(a) == type_rank(b)
}

/// MongoDB's total order of values: first by type class, then within it
/// (numbers by value whatever their representation, strings by code point,
/// arrays and objects element by element).
///
/// ```
/// use peloton::query::compare_values;
/// use serde_json::json;
/// use std::cmp::Ordering;
///
/// assert_eq!(compare_values(&json!(2), &json!(10.5)), Ordering::Less);
/// assert_eq!(compare_values(&json!(null), &json!(0)), Ordering::Less);
/// assert_eq!(compare_values(&json!(99), &json!("a")), Ordering::Less);
/// ```
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(a, b)| compare_values(a, b))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .zip(y)
            .map(|((ka, va), (kb, vb))| ka.cmp(kb).then_with(|| compare_values(va, vb)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

/// Equality as MongoDB sees it: numbers by value (`1 == 1.0`).
pub(super) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare_values(a, b) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && values_equal(va, vb))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn orders_across_and_within_types() {
        let sorted = [
            json!(null),
            json!(-3),
            json!(1),
            json!(1.5),
            json!(""),
            json!("a"),
            json!("b"),
            json!({}),
            json!({"a": 1}),
            json!([]),
            json!([1]),
            json!(false),
            json!(true),
        ];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(compare_values(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn numbers_are_equal_by_value() {
        assert!(values_equal(&json!(1), &json!(1.0)));
        assert!(values_equal(
            &json!([1, {"x": 2}]),
            &json!([1.0, {"x": 2.0}])
        ));
        assert!(!values_equal(
            &json!({"a": 1, "b": 2}),
            &json!({"b": 2, "a": 1})
        ));
    }
}

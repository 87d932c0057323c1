//! The filter part of a query, compiled once and matched against documents.
//!
//! Operators the matcher implements are compiled into clauses; any other
//! `$`-operator is kept as *foreign*: the compiled filter cannot decide it,
//! and the query records its name so that a database which understands it
//! (MongoDB) runs it while the others refuse it.
//!
//! This module owns the filter only; top-level parsing, sorting, paging,
//! counting and database options are the parent's (`ParsedQuery`), and how
//! values compare is `compare`'s.

use std::cmp::Ordering;

#[cfg(feature = "ssr")]
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::QueryError;
use super::compare::{compare_values, same_class, values_equal};
use crate::ot::object_keys;

/// Top-level operators of MongoDB's filter language that read the whole
/// document in their own way; the matcher evaluates none of them.
const FOREIGN_TOP_LEVEL: [&str; 4] = ["$where", "$expr", "$text", "$jsonSchema"];

/// A compiled filter: every clause must hold.
#[derive(Clone, Debug)]
pub(super) struct Filter {
    clauses: Vec<Clause>,
}

#[derive(Clone, Debug)]
enum Clause {
    /// A condition on the values at a dotted path.
    Field {
        path: Vec<String>,
        condition: Condition,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Nor(Vec<Filter>),
    /// A top-level operator the matcher cannot evaluate (`$where`, ...);
    /// it may look at any field.
    Foreign,
}

/// What must hold of a field: all of these operators.
#[derive(Clone, Debug)]
struct Condition(Vec<Operator>);

#[derive(Clone, Debug)]
enum Operator {
    Eq(Value),
    Ne(Value),
    Cmp(Ordering, bool, Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
    Size(usize),
    All(Vec<Value>),
    Not(Condition),
    #[cfg(feature = "ssr")]
    Regex(Regex),
    /// Some element of an array value satisfies this.
    ElemMatch(ElemMatch),
    Type(Vec<JsonType>),
    /// `$mod: [divisor, remainder]`, both truncated to integers.
    Mod(i64, i64),
    /// An operator the matcher cannot evaluate.
    Foreign,
}

#[derive(Clone, Debug)]
enum ElemMatch {
    /// `{$elemMatch: {$gt: 1}}`: a condition on each element.
    Value(Condition),
    /// `{$elemMatch: {name: "x"}}`: a filter on each object element.
    Document(Filter),
}

/// The BSON types a JSON value can be, as `$type` names them; the numeric
/// subtypes (`int`, `double`, `long`, `decimal`) and non-JSON types are
/// only visible to the database itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonType {
    Number,
    String,
    Object,
    Array,
    Bool,
    Null,
}

/// What compiling saw: the operators it left to the database.
#[derive(Debug, Default)]
pub(super) struct Compiler {
    /// Names of foreign operators, in order of appearance, without repeats.
    pub foreign: Vec<String>,
}

impl Compiler {
    fn foreign(&mut self, operator: &str) {
        if !self.foreign.iter().any(|f| f == operator) {
            self.foreign.push(operator.to_owned());
        }
    }

    /// Compiles a filter object, e.g. `{"done": false, "n": {"$gt": 2}}`.
    pub fn filter(&mut self, filter: &Map<String, Value>) -> Result<Filter, QueryError> {
        let mut clauses = Vec::with_capacity(filter.len());
        for (key, value) in filter {
            clauses.push(match key.as_str() {
                "$and" => Clause::And(self.sub_filters(key, value)?),
                "$or" => Clause::Or(self.sub_filters(key, value)?),
                "$nor" => Clause::Nor(self.sub_filters(key, value)?),
                op if op.starts_with('$') => {
                    if !FOREIGN_TOP_LEVEL.contains(&op) {
                        return Err(QueryError::UnknownOperator(op.to_owned()));
                    }
                    self.foreign(op);
                    Clause::Foreign
                }
                field => Clause::Field {
                    path: field.split('.').map(str::to_owned).collect(),
                    condition: self.condition(field, value)?,
                },
            });
        }
        Ok(Filter { clauses })
    }

    fn sub_filters(&mut self, key: &str, value: &Value) -> Result<Vec<Filter>, QueryError> {
        let Value::Array(items) = value else {
            return Err(QueryError::InvalidArgument(
                key.to_owned(),
                "an array of filters",
            ));
        };
        if items.is_empty() {
            return Err(QueryError::InvalidArgument(
                key.to_owned(),
                "a non-empty array",
            ));
        }
        items
            .iter()
            .map(|item| match item {
                Value::Object(map) => self.filter(map),
                _ => Err(QueryError::InvalidArgument(
                    key.to_owned(),
                    "an array of filter objects",
                )),
            })
            .collect()
    }

    fn condition(&mut self, field: &str, value: &Value) -> Result<Condition, QueryError> {
        // An object whose keys are all operators is a condition; any other
        // value is an equality.
        let Value::Object(map) = value else {
            return Ok(Condition(vec![Operator::Eq(value.clone())]));
        };
        if map.is_empty() || !map.keys().all(|k| k.starts_with('$')) {
            if map.keys().any(|k| k.starts_with('$')) {
                return Err(QueryError::MixedOperators(field.to_owned()));
            }
            return Ok(Condition(vec![Operator::Eq(value.clone())]));
        }
        let mut operators = Vec::with_capacity(map.len());
        for (op, arg) in map {
            operators.push(match op.as_str() {
                "$eq" => Operator::Eq(arg.clone()),
                "$ne" => Operator::Ne(arg.clone()),
                "$gt" => Operator::Cmp(Ordering::Greater, false, arg.clone()),
                "$gte" => Operator::Cmp(Ordering::Greater, true, arg.clone()),
                "$lt" => Operator::Cmp(Ordering::Less, false, arg.clone()),
                "$lte" => Operator::Cmp(Ordering::Less, true, arg.clone()),
                "$in" => Operator::In(list(op, arg)?),
                "$nin" => Operator::Nin(list(op, arg)?),
                "$all" => {
                    let targets = list(op, arg)?;
                    // `$all: [{$elemMatch: …}]` is a condition list, not values.
                    if targets.iter().any(is_operator_object) {
                        self.foreign(op);
                        Operator::Foreign
                    } else {
                        Operator::All(targets)
                    }
                }
                "$exists" => match arg {
                    Value::Bool(b) => Operator::Exists(*b),
                    Value::Number(n) => Operator::Exists(n.as_f64() != Some(0.0)),
                    _ => return Err(QueryError::InvalidArgument(op.clone(), "a boolean")),
                },
                "$size" => match arg.as_u64() {
                    Some(n) => Operator::Size(usize::try_from(n).unwrap_or(usize::MAX)),
                    None => {
                        return Err(QueryError::InvalidArgument(
                            op.clone(),
                            "a non-negative integer",
                        ));
                    }
                },
                "$not" => match arg {
                    Value::Object(inner) if is_operator_object(arg) && !inner.is_empty() => {
                        Operator::Not(self.condition(field, arg)?)
                    }
                    _ => {
                        return Err(QueryError::InvalidArgument(
                            op.clone(),
                            "an operator object",
                        ));
                    }
                },
                "$regex" => self.regex(arg, map.get("$options"))?,
                "$options" if map.contains_key("$regex") => continue,
                "$options" => {
                    return Err(QueryError::InvalidArgument(
                        op.clone(),
                        "a $regex beside it",
                    ));
                }
                "$elemMatch" => match arg {
                    Value::Object(inner) => {
                        let by_value = !inner.is_empty()
                            && inner.keys().all(|k| {
                                k.starts_with('$') && !["$and", "$or", "$nor"].contains(&k.as_str())
                            });
                        Operator::ElemMatch(if by_value {
                            ElemMatch::Value(self.condition(field, arg)?)
                        } else {
                            ElemMatch::Document(self.filter(inner)?)
                        })
                    }
                    _ => return Err(QueryError::InvalidArgument(op.clone(), "an object")),
                },
                "$type" => match json_types(arg)? {
                    Some(types) => Operator::Type(types),
                    None => {
                        self.foreign(op);
                        Operator::Foreign
                    }
                },
                "$mod" => modulo(arg)?,
                other => {
                    self.foreign(other);
                    Operator::Foreign
                }
            });
        }
        Ok(Condition(operators))
    }

    /// `$regex` (with `$options`) as a compiled pattern; a pattern Rust's
    /// `regex` cannot compile (look-around, back-references) is left to
    /// the database, whose PCRE may accept it. Without the server side
    /// (the browser, offline) every `$regex` is left to the server.
    #[cfg(not(feature = "ssr"))]
    fn regex(&mut self, pattern: &Value, _: Option<&Value>) -> Result<Operator, QueryError> {
        if !pattern.is_string() {
            return Err(QueryError::InvalidArgument("$regex".into(), "a string"));
        }
        self.foreign("$regex");
        Ok(Operator::Foreign)
    }

    /// `$regex` (with `$options`) as a compiled pattern; a pattern Rust's
    /// `regex` cannot compile (look-around, back-references) is left to
    /// the database, whose PCRE may accept it.
    #[cfg(feature = "ssr")]
    fn regex(&mut self, pattern: &Value, options: Option<&Value>) -> Result<Operator, QueryError> {
        let Value::String(pattern) = pattern else {
            return Err(QueryError::InvalidArgument("$regex".into(), "a string"));
        };
        let flags = match options {
            None => "",
            Some(Value::String(flags)) => flags.as_str(),
            Some(_) => return Err(QueryError::InvalidArgument("$options".into(), "a string")),
        };
        let mut builder = RegexBuilder::new(pattern);
        for flag in flags.chars() {
            match flag {
                'i' => builder.case_insensitive(true),
                'm' => builder.multi_line(true),
                's' => builder.dot_matches_new_line(true),
                'x' => builder.ignore_whitespace(true),
                'u' => &mut builder,
                _ => {
                    return Err(QueryError::InvalidArgument(
                        "$options".into(),
                        "flags among i, m, s, x and u",
                    ));
                }
            };
        }
        Ok(match builder.build() {
            Ok(regex) => Operator::Regex(regex),
            Err(_) => {
                self.foreign("$regex");
                Operator::Foreign
            }
        })
    }
}

fn is_operator_object(value: &Value) -> bool {
    matches!(value, Value::Object(map) if map.keys().all(|k| k.starts_with('$')))
}

fn list(op: &str, v: &Value) -> Result<Vec<Value>, QueryError> {
    match v {
        Value::Array(items) => Ok(items.clone()),
        _ => Err(QueryError::InvalidArgument(op.to_owned(), "an array")),
    }
}

/// `$type`'s argument (a name, a BSON type number, or an array of them) as
/// JSON types; `None` if it names a type only the database can see.
fn json_types(arg: &Value) -> Result<Option<Vec<JsonType>>, QueryError> {
    let names = match arg {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut types = Vec::with_capacity(names.len());
    let mut database_only = false;
    for name in names {
        let known = match name {
            Value::String(s) => bson_type_by_name(s),
            Value::Number(n) => n.as_i64().and_then(bson_type_by_number),
            _ => None,
        };
        match known {
            Some(Some(t)) => types.push(t),
            Some(None) => database_only = true,
            None => {
                return Err(QueryError::InvalidArgument(
                    "$type".into(),
                    "BSON type names or numbers, e.g. \"string\" or 2",
                ));
            }
        }
    }
    Ok((!database_only).then_some(types))
}

/// A `$type` alias: `Some(Some(t))` for a JSON type, `Some(None)` for a
/// BSON type JSON cannot tell apart, `None` for no type at all.
fn bson_type_by_name(name: &str) -> Option<Option<JsonType>> {
    Some(match name {
        "number" => Some(JsonType::Number),
        "string" => Some(JsonType::String),
        "object" => Some(JsonType::Object),
        "array" => Some(JsonType::Array),
        "bool" => Some(JsonType::Bool),
        "null" => Some(JsonType::Null),
        "double"
        | "binData"
        | "undefined"
        | "objectId"
        | "date"
        | "regex"
        | "dbPointer"
        | "javascript"
        | "symbol"
        | "javascriptWithScope"
        | "int"
        | "timestamp"
        | "long"
        | "decimal"
        | "minKey"
        | "maxKey" => None,
        _ => return None,
    })
}

fn bson_type_by_number(number: i64) -> Option<Option<JsonType>> {
    Some(match number {
        2 => Some(JsonType::String),
        3 => Some(JsonType::Object),
        4 => Some(JsonType::Array),
        8 => Some(JsonType::Bool),
        10 => Some(JsonType::Null),
        1 | 5..=7 | 9 | 11..=19 | -1 | 127 => None,
        _ => return None,
    })
}

/// `$mod: [divisor, remainder]`, as MongoDB checks it.
fn modulo(arg: &Value) -> Result<Operator, QueryError> {
    let numbers = match arg {
        Value::Array(items) if items.len() == 2 => {
            items.iter().map(Value::as_f64).collect::<Option<Vec<_>>>()
        }
        _ => None,
    };
    match numbers.as_deref() {
        Some([divisor, remainder]) if divisor.is_finite() && remainder.is_finite() => {
            // Saturating casts, as MongoDB clamps to 64-bit integers.
            let (divisor, remainder) = (divisor.trunc() as i64, remainder.trunc() as i64);
            if divisor == 0 {
                return Err(QueryError::InvalidArgument(
                    "$mod".into(),
                    "a divisor other than 0",
                ));
            }
            Ok(Operator::Mod(divisor, remainder))
        }
        _ => Err(QueryError::InvalidArgument(
            "$mod".into(),
            "an array of two numbers, [divisor, remainder]",
        )),
    }
}

impl Filter {
    /// Whether a document matches; `id` is its id, which `_id` refers to
    /// (`None` for an array element under `$elemMatch`). Foreign
    /// operators never hold.
    pub fn matches(&self, id: Option<&str>, data: &Value) -> bool {
        self.clauses.iter().all(|clause| match clause {
            Clause::Field { path, condition } => {
                if let Some(id) = id
                    && path.len() == 1
                    && path[0] == "_id"
                {
                    let id = Value::String(id.to_owned());
                    return condition.holds(&[&id], true);
                }
                let mut values = Vec::new();
                let present = collect(data, path, &mut values);
                condition.holds(&values, present)
            }
            Clause::And(filters) => filters.iter().all(|f| f.matches(id, data)),
            Clause::Or(filters) => filters.iter().any(|f| f.matches(id, data)),
            Clause::Nor(filters) => !filters.iter().any(|f| f.matches(id, data)),
            Clause::Foreign => false,
        })
    }

    /// The top-level fields the filter looks at (first segment of each
    /// path), recursing into `$and`/`$or`/`$nor`. Returns `false` if it
    /// may look at any field (a foreign top-level operator such as
    /// `$where`).
    pub fn fields(&self, out: &mut Vec<String>) -> bool {
        let mut known = true;
        for clause in &self.clauses {
            match clause {
                Clause::Field { path, .. } => out.push(path[0].clone()),
                Clause::And(fs) | Clause::Or(fs) | Clause::Nor(fs) => {
                    for f in fs {
                        known &= f.fields(out);
                    }
                }
                Clause::Foreign => known = false,
            }
        }
        known
    }
}

impl Condition {
    /// Whether the condition holds of a field's values (`present`: the path
    /// exists at all).
    fn holds(&self, values: &[&Value], present: bool) -> bool {
        self.0.iter().all(|op| op.holds(values, present))
    }
}

impl Operator {
    fn holds(&self, values: &[&Value], present: bool) -> bool {
        match self {
            Operator::Eq(target) => eq(values, present, target),
            Operator::Ne(target) => !eq(values, present, target),
            Operator::In(targets) => targets.iter().any(|t| eq(values, present, t)),
            Operator::Nin(targets) => !targets.iter().any(|t| eq(values, present, t)),
            Operator::Exists(wanted) => present == *wanted,
            Operator::Cmp(direction, inclusive, target) => {
                let check = |v: &Value| {
                    same_class(v, target) && {
                        let order = compare_values(v, target);
                        order == *direction || (*inclusive && order == Ordering::Equal)
                    }
                };
                if target.is_null() && *inclusive && !present {
                    return true;
                }
                candidates(values).any(check)
            }
            Operator::Size(n) => values
                .iter()
                .any(|v| matches!(v, Value::Array(a) if a.len() == *n)),
            Operator::All(targets) => {
                !targets.is_empty()
                    && values.iter().any(|v| match v {
                        Value::Array(items) => targets
                            .iter()
                            .all(|t| items.iter().any(|i| values_equal(i, t))),
                        other => targets.iter().all(|t| values_equal(other, t)),
                    })
            }
            Operator::Not(condition) => !condition.holds(values, present),
            #[cfg(feature = "ssr")]
            Operator::Regex(regex) => {
                candidates(values).any(|v| matches!(v, Value::String(s) if regex.is_match(s)))
            }
            Operator::ElemMatch(elem) => values.iter().any(|v| match v {
                Value::Array(items) => items.iter().any(|item| match elem {
                    ElemMatch::Value(condition) => condition.holds(&[item], true),
                    ElemMatch::Document(filter) => item.is_object() && filter.matches(None, item),
                }),
                _ => false,
            }),
            Operator::Type(types) => {
                candidates(values).any(|v| types.iter().any(|t| t.is_type_of(v)))
            }
            Operator::Mod(divisor, remainder) => candidates(values).any(|v| {
                v.as_f64()
                    .filter(|f| f.is_finite())
                    .is_some_and(|f| (f.trunc() as i64).wrapping_rem(*divisor) == *remainder)
            }),
            Operator::Foreign => false,
        }
    }
}

impl JsonType {
    fn is_type_of(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (JsonType::Number, Value::Number(_))
                | (JsonType::String, Value::String(_))
                | (JsonType::Object, Value::Object(_))
                | (JsonType::Array, Value::Array(_))
                | (JsonType::Bool, Value::Bool(_))
                | (JsonType::Null, Value::Null)
        )
    }
}

/// The values a condition is tested against: each value, and the elements
/// of each array value (MongoDB matches arrays element by element).
fn candidates<'a>(values: &'a [&'a Value]) -> impl Iterator<Item = &'a Value> {
    values.iter().flat_map(|v| {
        std::iter::once(*v).chain(match v {
            Value::Array(items) => items.iter(),
            _ => [].iter(),
        })
    })
}

/// Equality against a field: `null` also matches a missing field.
fn eq(values: &[&Value], present: bool, target: &Value) -> bool {
    if target.is_null() && (!present || values.is_empty()) {
        return true;
    }
    candidates(values).any(|v| values_equal(v, target))
}

/// Collects the values at `path` in `data`, traversing arrays of objects as
/// MongoDB does; returns whether the path exists anywhere.
fn collect<'a>(data: &'a Value, path: &[String], out: &mut Vec<&'a Value>) -> bool {
    let Some((head, rest)) = path.split_first() else {
        out.push(data);
        return true;
    };
    match data {
        Value::Object(map) => {
            object_keys::get(map, head).is_some_and(|child| collect(child, rest, out))
        }
        Value::Array(items) => {
            // A numeric segment indexes the array; otherwise look inside
            // each element.
            let by_index = head
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .is_some_and(|child| collect(child, rest, out));
            let mut in_elements = false;
            for item in items {
                if item.is_object() {
                    in_elements |= collect(item, path, out);
                }
            }
            by_index || in_elements
        }
        _ => false,
    }
}

//! The filter part of a query, compiled once and matched against documents.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::QueryError;
use super::compare::{compare_values, same_class, values_equal};

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
}

impl Filter {
    /// Compiles a filter object, e.g. `{"done": false, "n": {"$gt": 2}}`.
    pub fn compile(filter: &Map<String, Value>) -> Result<Self, QueryError> {
        let mut clauses = Vec::with_capacity(filter.len());
        for (key, value) in filter {
            clauses.push(match key.as_str() {
                "$and" => Clause::And(sub_filters(key, value)?),
                "$or" => Clause::Or(sub_filters(key, value)?),
                "$nor" => Clause::Nor(sub_filters(key, value)?),
                op if op.starts_with('$') => {
                    return Err(QueryError::UnknownOperator(op.to_owned()));
                }
                field => Clause::Field {
                    path: field.split('.').map(str::to_owned).collect(),
                    condition: Condition::compile(field, value)?,
                },
            });
        }
        Ok(Self { clauses })
    }

    /// Whether a document matches. `_id` is the document's id.
    pub fn matches(&self, id: &str, data: &Value) -> bool {
        self.clauses.iter().all(|clause| match clause {
            Clause::Field { path, condition } => {
                if path.len() == 1 && path[0] == "_id" {
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
        })
    }

    /// The top-level fields the filter looks at (first segment of each
    /// path), recursing into `$and`/`$or`/`$nor`.
    pub fn fields(&self, out: &mut Vec<String>) {
        for clause in &self.clauses {
            match clause {
                Clause::Field { path, .. } => out.push(path[0].clone()),
                Clause::And(fs) | Clause::Or(fs) | Clause::Nor(fs) => {
                    fs.iter().for_each(|f| f.fields(out));
                }
            }
        }
    }
}

fn sub_filters(key: &str, value: &Value) -> Result<Vec<Filter>, QueryError> {
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
            Value::Object(map) => Filter::compile(map),
            _ => Err(QueryError::InvalidArgument(
                key.to_owned(),
                "an array of filter objects",
            )),
        })
        .collect()
}

impl Condition {
    fn compile(field: &str, value: &Value) -> Result<Self, QueryError> {
        // An object whose keys are all operators is a condition; any other
        // value is an equality.
        let Value::Object(map) = value else {
            return Ok(Self(vec![Operator::Eq(value.clone())]));
        };
        if map.is_empty() || !map.keys().all(|k| k.starts_with('$')) {
            if map.keys().any(|k| k.starts_with('$')) {
                return Err(QueryError::MixedOperators(field.to_owned()));
            }
            return Ok(Self(vec![Operator::Eq(value.clone())]));
        }
        let list = |op: &str, v: &Value| match v {
            Value::Array(items) => Ok(items.clone()),
            _ => Err(QueryError::InvalidArgument(op.to_owned(), "an array")),
        };
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
                "$all" => Operator::All(list(op, arg)?),
                "$exists" => match arg {
                    Value::Bool(b) => Operator::Exists(*b),
                    Value::Number(n) => Operator::Exists(n.as_f64() != Some(0.0)),
                    _ => return Err(QueryError::InvalidArgument(op.clone(), "a boolean")),
                },
                "$size" => match arg.as_u64() {
                    Some(n) => Operator::Size(n as usize),
                    None => {
                        return Err(QueryError::InvalidArgument(
                            op.clone(),
                            "a non-negative integer",
                        ));
                    }
                },
                "$not" => match arg {
                    Value::Object(inner)
                        if inner.keys().all(|k| k.starts_with('$')) && !inner.is_empty() =>
                    {
                        Operator::Not(Condition::compile(field, arg)?)
                    }
                    _ => {
                        return Err(QueryError::InvalidArgument(
                            op.clone(),
                            "an operator object",
                        ));
                    }
                },
                other => return Err(QueryError::UnknownOperator(other.to_owned())),
            });
        }
        Ok(Self(operators))
    }

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
        }
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
        Value::Object(map) => map.get(head).is_some_and(|child| collect(child, rest, out)),
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

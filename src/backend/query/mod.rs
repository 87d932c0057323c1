//! Queries in MongoDB's language, as ShareDB clients send them.
//!
//! A query expression is a JSON object: `$sort`, `$skip`, `$limit` and
//! `$count` are cursor options, every other key is the filter. [`Query`]
//! parses it once; [`MemoryDb`](super::MemoryDb) runs it over documents in
//! memory, `MongoDb` hands it to MongoDB, and live queries use
//! [`Query::matches`] to decide from one changed document whether it joins
//! or leaves the results.
//!
//! Supported: equality (including array elements and nested paths such as
//! `"author.name"` or `"tags.0"`), `$eq`, `$ne`, `$gt`, `$gte`, `$lt`,
//! `$lte`, `$in`, `$nin`, `$exists`, `$size`, `$all`, `$not`, `$and`,
//! `$or`, `$nor`; `$sort` on one or more fields, `$skip`, `$limit`,
//! `$count`. Anything else is a [`QueryError`].
//!
//! ```
//! use peloton::backend::query::Query;
//! use serde_json::json;
//!
//! let query = Query::parse(&json!({"done": false, "n": {"$gte": 2}, "$sort": {"n": -1}}))?;
//! assert!(query.matches("a", &json!({"done": false, "n": 3})));
//! assert!(!query.matches("b", &json!({"done": true, "n": 3})));
//!
//! let docs = [
//!     ("a", json!({"done": false, "n": 2})),
//!     ("b", json!({"done": false, "n": 5})),
//!     ("c", json!({"done": true, "n": 9})),
//! ];
//! let outcome = query.run(docs.iter().map(|(id, data)| (*id, data)));
//! assert_eq!(outcome.ids, ["b", "a"]);
//! # Ok::<(), peloton::backend::query::QueryError>(())
//! ```

mod compare;
mod filter;

use std::cmp::Ordering;

use serde_json::{Map, Value};

pub use compare::compare_values;
use filter::Filter;

use crate::protocol::OpKind;

/// Why a query expression cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The expression is not a JSON object (or null).
    #[error("a query must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    /// An operator peloton does not implement (or will not run, such as
    /// `$where`).
    #[error("unknown or unsupported query operator {0}")]
    UnknownOperator(String),
    /// An operator's argument has the wrong form.
    #[error("{0} needs {1}")]
    InvalidArgument(String, &'static str),
    /// A field's condition mixes operators and plain keys.
    #[error("the condition on {0} mixes $-operators with plain keys")]
    MixedOperators(String),
}

/// A sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortOrder {
    /// Smallest first (`1`).
    Ascending,
    /// Largest first (`-1`).
    Descending,
}

/// What a query found: result ids in order, and its extra value (`$count`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryOutcome {
    /// Matching document ids, in result order (empty for `$count`).
    pub ids: Vec<String>,
    /// The count for `$count` queries.
    pub extra: Option<Value>,
}

/// A parsed query: a filter and cursor options.
#[derive(Clone, Debug)]
pub struct Query {
    raw_filter: Map<String, Value>,
    filter: Filter,
    sort: Vec<(String, SortOrder)>,
    skip: Option<u64>,
    limit: Option<u64>,
    count: bool,
}

impl Query {
    /// Parses a query expression; `null` or `{}` matches every document.
    pub fn parse(expression: &Value) -> Result<Self, QueryError> {
        let empty = Map::new();
        let map = match expression {
            Value::Null => &empty,
            Value::Object(map) => map,
            Value::Bool(_) => return Err(QueryError::NotAnObject("a boolean")),
            Value::Number(_) => return Err(QueryError::NotAnObject("a number")),
            Value::String(_) => return Err(QueryError::NotAnObject("a string")),
            Value::Array(_) => return Err(QueryError::NotAnObject("an array")),
        };
        let mut raw_filter = Map::new();
        let (mut sort, mut skip, mut limit, mut count) = (Vec::new(), None, None, false);
        for (key, value) in map {
            match key.as_str() {
                "$sort" | "$orderby" => sort = parse_sort(value)?,
                "$skip" => skip = Some(non_negative(key, value)?),
                "$limit" => limit = Some(non_negative(key, value)?),
                "$count" => count = value.as_bool().unwrap_or(true),
                _ => {
                    raw_filter.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(Self {
            filter: Filter::compile(&raw_filter)?,
            raw_filter,
            sort,
            skip,
            limit,
            count,
        })
    }

    /// The filter part of the expression, as given (for databases that run
    /// MongoDB's language themselves).
    pub fn filter(&self) -> &Map<String, Value> {
        &self.raw_filter
    }

    /// The sort keys, most significant first.
    pub fn sort(&self) -> &[(String, SortOrder)] {
        &self.sort
    }

    /// How many results to skip.
    pub fn skip(&self) -> Option<u64> {
        self.skip
    }

    /// At most how many results.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// Whether the query counts instead of listing (`$count`).
    pub fn is_count(&self) -> bool {
        self.count
    }

    /// Whether a document matches the filter; `_id` refers to its id.
    pub fn matches(&self, id: &str, data: &Value) -> bool {
        self.filter.matches(id, data)
    }

    /// Whether one document alone decides whether it is a result (no sort,
    /// skip, limit or count makes the whole list matter).
    pub fn can_poll_doc(&self) -> bool {
        self.sort.is_empty() && self.skip.is_none() && self.limit.is_none() && !self.count
    }

    /// Whether an op certainly leaves the results as they are: an edit
    /// that touches no field the filter or the sort looks at. Creates,
    /// deletes, whole-document edits and counts always need a look.
    pub fn skip_poll(&self, op: &OpKind) -> bool {
        let OpKind::Edit(edit) = op else {
            return false;
        };
        if self.count {
            return false;
        }
        let mut fields = Vec::new();
        self.filter.fields(&mut fields);
        fields.extend(
            self.sort
                .iter()
                .map(|(path, _)| first_segment(path).to_owned()),
        );
        !edit.iter().any(|component| match component.p.first() {
            None => true,
            Some(crate::ot::json0::PathSegment::Key(key)) => fields.iter().any(|f| f == key),
            Some(crate::ot::json0::PathSegment::Index(i)) => {
                fields.iter().any(|f| *f == i.to_string())
            }
        })
    }

    /// Runs the query over documents in their natural order: filter, stable
    /// sort, skip, limit; or count.
    pub fn run<'a>(&self, docs: impl IntoIterator<Item = (&'a str, &'a Value)>) -> QueryOutcome {
        let mut matched: Vec<(&str, &Value)> = docs
            .into_iter()
            .filter(|(id, data)| self.matches(id, data))
            .collect();
        if !self.sort.is_empty() {
            matched.sort_by(|a, b| self.compare(a.1, b.1));
        }
        let skip = self
            .skip
            .map_or(0, |s| usize::try_from(s).unwrap_or(usize::MAX));
        let limit = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let page = matched.into_iter().skip(skip).take(limit);
        if self.count {
            return QueryOutcome {
                ids: Vec::new(),
                extra: Some(Value::from(page.count())),
            };
        }
        QueryOutcome {
            ids: page.map(|(id, _)| id.to_owned()).collect(),
            extra: None,
        }
    }

    fn compare(&self, a: &Value, b: &Value) -> Ordering {
        self.sort
            .iter()
            .map(|(path, order)| {
                let (x, y) = (sort_key(a, path, *order), sort_key(b, path, *order));
                let ordering = compare_values(&x, &y);
                match order {
                    SortOrder::Ascending => ordering,
                    SortOrder::Descending => ordering.reverse(),
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

fn first_segment(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}

/// The value a document sorts by: missing is null; an array sorts by its
/// smallest element ascending and its largest descending, as in MongoDB.
fn sort_key(data: &Value, path: &str, order: SortOrder) -> Value {
    let value = path
        .split('.')
        .try_fold(data, |v, seg| match v {
            Value::Object(map) => map.get(seg),
            Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
        .cloned()
        .unwrap_or(Value::Null);
    match value {
        Value::Array(items) if !items.is_empty() => {
            let pick = items.into_iter().reduce(|best, item| {
                let ordering = compare_values(&item, &best);
                let better = match order {
                    SortOrder::Ascending => ordering.is_lt(),
                    SortOrder::Descending => ordering.is_gt(),
                };
                if better { item } else { best }
            });
            pick.unwrap_or(Value::Null)
        }
        other => other,
    }
}

fn parse_sort(value: &Value) -> Result<Vec<(String, SortOrder)>, QueryError> {
    let Value::Object(keys) = value else {
        return Err(QueryError::InvalidArgument(
            "$sort".into(),
            "an object of field: 1 or -1",
        ));
    };
    keys.iter()
        .map(|(field, direction)| match direction.as_f64() {
            Some(1.0) => Ok((field.clone(), SortOrder::Ascending)),
            Some(-1.0) => Ok((field.clone(), SortOrder::Descending)),
            _ => Err(QueryError::InvalidArgument(
                format!("$sort on {field}"),
                "1 or -1",
            )),
        })
        .collect()
}

fn non_negative(key: &str, value: &Value) -> Result<u64, QueryError> {
    value
        .as_u64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        })
        .ok_or_else(|| QueryError::InvalidArgument(key.to_owned(), "a non-negative integer"))
}

#[cfg(test)]
mod tests;

//! Queries in MongoDB's language, as ShareDB clients send them.
//!
//! A query expression is a JSON object: `$sort` (or `$orderby`), `$skip`,
//! `$limit` and `$count` are cursor options every database runs; other
//! top-level `$`-keys (`$comment`, `$hint`, `$distinct`, ...) are options
//! for the database that understands them ([`ParsedQuery::options`]); every other
//! key is the filter. [`ParsedQuery`] parses it once; the server's `MemoryDb`
//! runs it over documents in memory, `MongoDb` hands it to MongoDB, and
//! live queries use [`ParsedQuery::matches`] to decide from one changed document
//! whether it joins or leaves the results. In the browser (feature
//! `hydrate`), the client answers subscribed queries from the documents it
//! holds while it is offline; there `$regex` is left to the server.
//!
//! # Which operators work where
//!
//! The matcher evaluates equality (including array elements and nested or
//! array-index paths such as `"author.name"` or `"tags.0"`, and `null`
//! matching a missing field), `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`,
//! `$in`, `$nin`, `$exists`, `$size`, `$all`, `$not`, `$and`, `$or`, `$nor`,
//! `$regex` (with `$options` `imsxu`; Rust's `regex` syntax), `$elemMatch`,
//! `$mod`, and `$type` with the types JSON shows (`"string"`, `"number"`,
//! `"object"`, `"array"`, `"bool"`, `"null"`). These work on every database
//! and give the same results (`tests/db_conformance.rs` holds them to it),
//! with one caveat: a `$regex` runs in Rust's `regex` in memory and in PCRE
//! in MongoDB, which agree on ordinary patterns but not on every class
//! (`\d` and `\w` are Unicode-aware in Rust, ASCII in PCRE).
//!
//! Any other operator (`$where`, `$expr`, `$text`, `$jsonSchema`, geo and
//! bit operators, `$type: "date"`, a `$regex` only PCRE accepts, ...) and
//! any database option that changes results (`$distinct`, `$explain`,
//! `$max`, ...) is passed to the database: MongoDb runs it, MemoryDb
//! refuses it with [`QueryError::Unsupported`]. Such a query cannot be
//! decided one document at a time, so a live query re-runs it on every
//! change in its collection (sharedb-mongo's `canPollDoc`). Options that
//! only tune how a query runs (`$comment`, `$hint`, `$maxTimeMS`,
//! `$batchSize`, `$noCursorTimeout`, `$readConcern`, `$readPref`) are
//! ignored by MemoryDb.
//!
//! ```
//! use peloton::query::ParsedQuery;
//! use serde_json::json;
//!
//! let query = ParsedQuery::parse(&json!({"done": false, "n": {"$gte": 2}, "$sort": {"n": -1}}))?;
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
//!
//! // MongoDB's own operators are kept for the database.
//! let dated = ParsedQuery::parse(&json!({"due": {"$type": "date"}}))?;
//! assert_eq!(dated.foreign_operators(), ["$type"]);
//! assert!(!dated.can_poll_doc());
//! # Ok::<(), peloton::query::QueryError>(())
//! ```

mod compare;
mod filter;

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};

pub use compare::compare_values;
use filter::{Compiler, Filter};

use crate::ot::object_keys;
use crate::protocol::{ErrorCode, OpKind};

/// Top-level options that change how a database runs a query but not its
/// results; a database that has no use for them ignores them.
const TUNING_OPTIONS: [&str; 7] = [
    "$comment",
    "$hint",
    "$maxTimeMS",
    "$batchSize",
    "$noCursorTimeout",
    "$readConcern",
    "$readPref",
];

/// Why a query expression cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The expression is not a JSON object (or null).
    #[error("a query must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    /// A `$`-key that is no operator where it stands (e.g. `$foo` inside
    /// `$and`).
    #[error("unknown query operator {0}")]
    UnknownOperator(String),
    /// An operator's argument has the wrong form.
    #[error("{0} needs {1}")]
    InvalidArgument(String, &'static str),
    /// A field's condition mixes operators and plain keys.
    #[error("the condition on {0} mixes $-operators with plain keys")]
    MixedOperators(String),
    /// The old `{$query: …, $orderby: …}` wrapper (sharedb-mongo's 4106).
    #[error("$query property deprecated in queries: put the filter and $sort at the top level")]
    QueryWrapper,
    /// The database cannot evaluate an operator or option of the query.
    #[error("{database} cannot evaluate {operator}: {reason}")]
    Unsupported {
        /// The operator or option.
        operator: String,
        /// The database, e.g. `"MemoryDb"`.
        database: &'static str,
        /// Why, and what to do instead.
        reason: &'static str,
    },
    /// The database refuses an operator unless configured to allow it.
    #[error("{operator} queries disabled: {how_to_allow}")]
    Disabled {
        /// The operator, e.g. `$where`.
        operator: String,
        /// The code the client gets (sharedb-mongo's, e.g. 4103).
        code: i64,
        /// What setting allows it.
        how_to_allow: &'static str,
    },
    /// The database refused the query as malformed: database options that
    /// cannot go together (sharedb-mongo's 4107-4110), or what the server
    /// itself rejected (its error code).
    #[error("{message}")]
    Refused {
        /// The code the client gets.
        code: i64,
        /// What is wrong.
        message: String,
    },
}

impl QueryError {
    /// The code a client gets: sharedb-mongo's numbers for what it refuses
    /// too, `ERR_DATABASE_METHOD_NOT_IMPLEMENTED` for what a database
    /// cannot run, `ERR_MESSAGE_BADLY_FORMED` for a malformed expression.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::QueryWrapper => ErrorCode::Numeric(4106),
            Self::Disabled { code, .. } | Self::Refused { code, .. } => ErrorCode::Numeric(*code),
            Self::Unsupported { .. } => ErrorCode::DatabaseMethodNotImplemented,
            Self::NotAnObject(_)
            | Self::UnknownOperator(_)
            | Self::InvalidArgument(..)
            | Self::MixedOperators(_) => ErrorCode::MessageBadlyFormed,
        }
    }
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

/// A parsed query: a filter, cursor options, and database options.
#[derive(Clone, Debug)]
pub struct ParsedQuery {
    raw_filter: Map<String, Value>,
    filter: Filter,
    /// Operators in the filter the matcher leaves to the database.
    foreign: Vec<String>,
    /// Top-level `$`-keys other than the common cursor options.
    options: Map<String, Value>,
    sort: Vec<(String, SortOrder)>,
    skip: Option<u64>,
    limit: Option<u64>,
    count: bool,
}

impl ParsedQuery {
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
        let mut options = Map::new();
        let (mut sort, mut skip, mut limit, mut count) = (Vec::new(), None, None, false);
        for (key, value) in map {
            match key.as_str() {
                "$sort" | "$orderby" => sort = parse_sort(value)?,
                "$skip" => skip = Some(non_negative(key, value)?),
                "$limit" => limit = Some(non_negative(key, value)?),
                "$count" => count = value.as_bool().unwrap_or(true),
                "$query" => return Err(QueryError::QueryWrapper),
                "$and" | "$or" | "$nor" | "$where" | "$expr" | "$text" | "$jsonSchema" => {
                    raw_filter.insert(key.clone(), value.clone());
                }
                option if option.starts_with('$') => {
                    options.insert(key.clone(), value.clone());
                }
                _ => {
                    raw_filter.insert(key.clone(), value.clone());
                }
            }
        }
        let mut compiler = Compiler::default();
        let filter = compiler.filter(&raw_filter)?;
        Ok(Self {
            filter,
            foreign: compiler.foreign,
            raw_filter,
            options,
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

    /// The filter's operators that the in-memory matcher does not evaluate
    /// and leaves to the database (e.g. `$where`, `$geoWithin`), in order
    /// of appearance.
    pub fn foreign_operators(&self) -> &[String] {
        &self.foreign
    }

    /// The top-level `$`-keys besides `$sort`/`$orderby`, `$skip`, `$limit`
    /// and `$count`, as given: options for the database (`$comment`,
    /// `$hint`, `$distinct`, ...).
    pub fn options(&self) -> &Map<String, Value> {
        &self.options
    }

    /// Whether the query is decided by the in-memory matcher alone: no
    /// foreign operator, and no option that changes results.
    pub fn is_portable(&self) -> bool {
        self.foreign.is_empty() && self.result_options().next().is_none()
    }

    /// `Ok` if the in-memory matcher can run the query; otherwise
    /// [`QueryError::Unsupported`] naming the first operator or option it
    /// cannot, on behalf of `database`.
    pub fn require_portable(&self, database: &'static str) -> Result<(), QueryError> {
        match self.foreign.first().or(self.result_options().next()) {
            None => Ok(()),
            Some(operator) => Err(QueryError::Unsupported {
                operator: operator.clone(),
                database,
                reason: "it evaluates only the operators listed in peloton::query; \
                         run such queries on MongoDb",
            }),
        }
    }

    /// The options that change what the query returns.
    fn result_options(&self) -> impl Iterator<Item = &String> {
        self.options
            .keys()
            .filter(|key| !TUNING_OPTIONS.contains(&key.as_str()))
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

    /// Whether the query has options that change what it returns beyond
    /// sorting and paging (`$distinct`, `$aggregate`, `$explain`, ...).
    pub fn has_result_options(&self) -> bool {
        self.result_options().next().is_some()
    }

    /// Whether the query skips, limits or counts.
    pub fn is_paged(&self) -> bool {
        self.skip.is_some() || self.limit.is_some() || self.count
    }

    /// The query without `$skip`, `$limit` and `$count`: what to run when
    /// results are filtered before they are paged.
    pub fn unpaged(&self) -> ParsedQuery {
        ParsedQuery {
            skip: None,
            limit: None,
            count: false,
            ..self.clone()
        }
    }

    /// Pages results already matched and sorted: skip, limit; or count
    /// (then the items are dropped and the count is the extra).
    pub fn page<T>(&self, mut items: Vec<T>) -> (Vec<T>, Option<Value>) {
        let skip = self
            .skip
            .map_or(0, |s| usize::try_from(s).unwrap_or(usize::MAX));
        let limit = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        items.drain(..skip.min(items.len()));
        items.truncate(limit);
        if self.count {
            (Vec::new(), Some(Value::from(items.len())))
        } else {
            (items, None)
        }
    }

    /// Whether a document matches the filter; `_id` refers to its id. A
    /// query that is not [portable](Self::is_portable) matches nothing
    /// here: only its database can decide it.
    pub fn matches(&self, id: &str, data: &Value) -> bool {
        self.is_portable() && self.filter.matches(Some(id), data)
    }

    /// Whether one document alone decides whether it is a result: the
    /// query is portable and no sort, skip, limit or count makes the whole
    /// list matter.
    pub fn can_poll_doc(&self) -> bool {
        self.is_portable()
            && self.sort.is_empty()
            && self.skip.is_none()
            && self.limit.is_none()
            && !self.count
    }

    /// Whether an op certainly leaves the results as they are: an edit
    /// that touches no field the filter or the sort looks at. Creates,
    /// deletes, whole-document edits, counts, filters that may read any
    /// field (`$where`, `$expr`, ...) and result-changing options always
    /// need a look.
    pub fn skip_poll(&self, op: &OpKind) -> bool {
        let OpKind::Edit(edit) = op else {
            return false;
        };
        if self.count || self.result_options().next().is_some() {
            return false;
        }
        let mut fields = Vec::new();
        if !self.filter.fields(&mut fields) {
            return false;
        }
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

    /// A text two queries share only if they select, order and page the
    /// same results: what a cache of results is keyed by. (Equal queries
    /// written with their keys in another order get different texts: a
    /// cache then misses, it never mixes them up.)
    pub fn cache_key(&self) -> String {
        format!(
            "{:?}",
            (
                &self.raw_filter,
                &self.options,
                &self.sort,
                self.skip,
                self.limit,
                self.count
            )
        )
    }

    /// Runs the query over documents in their natural order: filter, stable
    /// sort, skip, limit; or count. Database options are not applied: check
    /// [`require_portable`](Self::require_portable) first.
    pub fn run<'a>(&self, docs: impl IntoIterator<Item = (&'a str, &'a Value)>) -> QueryOutcome {
        let mut matched: Vec<(&str, &Value)> = docs
            .into_iter()
            .filter(|(id, data)| self.matches(id, data))
            .collect();
        if !self.sort.is_empty() {
            matched = self.sorted(matched);
        }
        // Paged before the ids are copied: a count or a page copies none
        // of the documents it leaves out.
        let (page, extra) = self.page(matched);
        QueryOutcome {
            ids: page.into_iter().map(|(id, _)| id.to_owned()).collect(),
            extra,
        }
    }

    /// `docs` in `$sort` order (stable: ties keep their order). Each
    /// document's keys are looked up once, not at every comparison.
    fn sorted<'a>(&self, docs: Vec<(&'a str, &'a Value)>) -> Vec<(&'a str, &'a Value)> {
        let mut keyed: Vec<(SortKeys<'a>, (&'a str, &'a Value))> = docs
            .into_iter()
            .map(|doc| {
                let keys = (self.sort.iter())
                    .map(|(path, order)| sort_key(doc, path, *order))
                    .collect();
                (keys, doc)
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            (self.sort.iter().zip(a.iter().zip(b)))
                .map(|((_, order), (x, y))| {
                    let ordering = compare_values(x, y);
                    match order {
                        SortOrder::Ascending => ordering,
                        SortOrder::Descending => ordering.reverse(),
                    }
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        keyed.into_iter().map(|(_, doc)| doc).collect()
    }
}

/// A document's values for each `$sort` field, in order.
type SortKeys<'a> = Vec<Cow<'a, Value>>;

fn first_segment(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}

/// The value a document sorts by: `_id` is its id, missing is null; an
/// array sorts by its smallest element ascending and its largest
/// descending, as in MongoDB.
fn sort_key<'a>((id, data): (&'a str, &'a Value), path: &str, order: SortOrder) -> Cow<'a, Value> {
    static NULL: Value = Value::Null;
    if path == "_id" {
        return Cow::Owned(Value::String(id.to_owned()));
    }
    let value = path
        .split('.')
        .try_fold(data, |v, seg| match v {
            Value::Object(map) => object_keys::get(map, seg),
            Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
        .unwrap_or(&NULL);
    match value {
        Value::Array(items) if !items.is_empty() => {
            let pick = items.iter().reduce(|best, item| {
                let ordering = compare_values(item, best);
                let better = match order {
                    SortOrder::Ascending => ordering.is_lt(),
                    SortOrder::Descending => ordering.is_gt(),
                };
                if better { item } else { best }
            });
            Cow::Borrowed(pick.unwrap_or(&NULL))
        }
        other => Cow::Borrowed(other),
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

//! How a [`ParsedQuery`] runs in MongoDB, by sharedb-mongo's rules.
//!
//! The filter goes to MongoDB as given (every operator MongoDB knows works,
//! whether or not peloton's matcher does), made safe against deleted
//! documents. Top-level options are sharedb-mongo's:
//!
//! - cursor transforms: `$sort`/`$orderby`, `$skip`, `$limit`, `$comment`,
//!   `$hint`, `$maxTimeMS`, `$batchSize`, `$noCursorTimeout`,
//!   `$readConcern` (a level), `$readPref` (`{mode, tagSet}`), `$max`,
//!   `$min`;
//! - at most one cursor operation, whose value is the query's extra with
//!   no results: `$count`, `$explain` (its verbosity);
//! - or one collection operation, without cursor methods: `$distinct`
//!   (`{field}`), `$aggregate` (a pipeline; the filter is ignored),
//!   `$mapReduce` (`{map, reduce, scope}`, JavaScript source).
//!
//! Refused as sharedb-mongo refuses them, with its codes: `$where` (4103)
//! and `$mapReduce` (4104) unless [`MongoDbOptions::allow_js_queries`],
//! `$aggregate` (4105) unless [`MongoDbOptions::allow_aggregate_queries`],
//! two collection operations (4108), two cursor operations (4109), a
//! collection operation with cursor methods (4110), a malformed option
//! (4107). peloton also refuses `$function`/`$accumulator` inside `$expr`
//! unless JavaScript is allowed (they run it too), and the options that
//! cannot give ShareDB results (`$map`, `$returnKey`, `$showRecordId`) or
//! that MongoDB removed (`$maxScan`, `$snapshot`, `$showDiskLoc`).
//!
//! This module owns the translation only, with no I/O: running the plan is
//! `MongoDb`'s, and turning JSON into BSON is the document layout's (`layout`).

use std::time::Duration;

use mongodb::bson::{self, Bson, Document, doc};
use mongodb::options::{
    CountOptions, FindOptions, Hint, ReadConcern, ReadPreference, SelectionCriteria,
};
use serde_json::Value;

use super::MongoDbOptions;
use super::layout::to_bson;
use crate::backend::query::{ParsedQuery, QueryError, SortOrder};

/// What a query does in MongoDB.
#[derive(Debug)]
pub(super) enum Action {
    /// `find`: the results are documents.
    Find,
    /// `$count`: the number of matches (after skip and limit).
    Count,
    /// `$explain`: the query plan, at this verbosity.
    Explain(String),
    /// `$distinct`: the distinct values of a field.
    Distinct(String),
    /// `$aggregate`: the pipeline's output.
    Aggregate(Vec<Document>),
    /// `$mapReduce`: the inline results.
    MapReduce {
        map: String,
        reduce: String,
        scope: Document,
    },
}

/// A query ready for MongoDB.
#[derive(Debug)]
pub(super) struct Plan {
    pub filter: Document,
    pub action: Action,
    pub find: FindOptions,
}

impl Plan {
    /// The options of a `$count`: the find options that apply to one.
    pub fn count_options(&self) -> CountOptions {
        let find = &self.find;
        let mut count = CountOptions::default();
        count.skip = find.skip;
        count.limit = find.limit.and_then(|l| u64::try_from(l).ok());
        count.hint = find.hint.clone();
        count.max_time = find.max_time;
        count.comment = find.comment.clone();
        count.read_concern = find.read_concern.clone();
        count.selection_criteria = find.selection_criteria.clone();
        count
    }

    /// The `explain` command of the query's `find`.
    pub fn explain_command(&self, collection: &str, verbosity: &str) -> Document {
        let find = &self.find;
        let mut command = doc! {"find": collection, "filter": self.filter.clone()};
        if let Some(sort) = &find.sort {
            command.insert("sort", sort.clone());
        }
        if let Some(skip) = find.skip {
            command.insert("skip", i64::try_from(skip).unwrap_or(i64::MAX));
        }
        if let Some(limit) = find.limit {
            command.insert("limit", limit);
        }
        match &find.hint {
            Some(Hint::Keys(keys)) => {
                command.insert("hint", keys.clone());
            }
            Some(Hint::Name(name)) => {
                command.insert("hint", name.as_str());
            }
            _ => {}
        }
        for (key, value) in [("max", &find.max), ("min", &find.min)] {
            if let Some(value) = value {
                command.insert(key, value.clone());
            }
        }
        if let Some(comment) = &find.comment {
            command.insert("comment", comment.clone());
        }
        doc! {"explain": command, "verbosity": verbosity}
    }
}

fn malformed(option: &str) -> QueryError {
    QueryError::Refused {
        code: 4107,
        message: format!("Malformed query operator: {option}"),
    }
}

fn unsupported(option: &str, reason: &'static str) -> QueryError {
    QueryError::Unsupported {
        operator: option.to_owned(),
        database: "MongoDb",
        reason,
    }
}

/// Checks a query against sharedb-mongo's rules and the settings, and
/// translates it.
pub(super) fn plan(query: &ParsedQuery, settings: &MongoDbOptions) -> Result<Plan, QueryError> {
    let mut find = FindOptions::default();
    let mut cursor_methods = !query.sort().is_empty()
        || query.skip().is_some()
        || query.limit().is_some()
        || query.is_count();
    let mut cursor_operation: Option<(&str, Action)> =
        query.is_count().then(|| ("$count", Action::Count));
    let mut collection_operation: Option<(&str, Action)> = None;
    for (key, value) in query.options() {
        let key = key.as_str();
        let operation = match key {
            "$explain" => Some((false, Action::Explain(verbosity(value)))),
            "$distinct" => {
                let field = value
                    .get("field")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed(key))?;
                Some((true, Action::Distinct(field.to_owned())))
            }
            "$aggregate" => Some((
                true,
                Action::Aggregate(pipeline(value).ok_or_else(|| malformed(key))?),
            )),
            "$mapReduce" => {
                let source =
                    |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
                let (Some(map), Some(reduce)) = (source("map"), source("reduce")) else {
                    return Err(malformed(key));
                };
                let scope = match value.get("scope").map(to_bson) {
                    None | Some(Bson::Null) => Document::new(),
                    Some(Bson::Document(scope)) => scope,
                    Some(_) => return Err(malformed(key)),
                };
                Some((true, Action::MapReduce { map, reduce, scope }))
            }
            "$map" => {
                return Err(unsupported(
                    key,
                    "it takes a JavaScript function, which only Node can pass",
                ));
            }
            "$returnKey" | "$showRecordId" => {
                return Err(unsupported(
                    key,
                    "it returns index keys or record ids, not ShareDB documents",
                ));
            }
            "$maxScan" | "$snapshot" | "$showDiskLoc" => {
                return Err(unsupported(key, "MongoDB removed it (4.0-4.2)"));
            }
            _ => {
                tune(&mut find, key, value)?;
                cursor_methods = true;
                None
            }
        };
        match operation {
            Some((true, action)) => {
                if let Some((first, _)) = collection_operation {
                    return Err(QueryError::Refused {
                        code: 4108,
                        message: format!(
                            "Only one collection operation allowed. Found {first} and {key}"
                        ),
                    });
                }
                collection_operation = Some((key, action));
            }
            Some((false, action)) => {
                if let Some((first, _)) = cursor_operation {
                    return Err(QueryError::Refused {
                        code: 4109,
                        message: format!(
                            "Only one cursor operation allowed. Found {first} and {key}"
                        ),
                    });
                }
                cursor_operation = Some((key, action));
                cursor_methods = true;
            }
            None => {}
        }
    }
    if let Some((operation, _)) = &collection_operation
        && cursor_methods
    {
        return Err(QueryError::Refused {
            code: 4110,
            message: format!("Cursor methods can't run after collection method {operation}"),
        });
    }
    let javascript =
        "set MongoDbOptions::allow_js_queries (they run JavaScript on the database server)";
    if !settings.allow_js_queries {
        if query.foreign_operators().iter().any(|op| op == "$where") {
            return Err(disabled("$where", 4103, javascript));
        }
        if matches!(collection_operation, Some((_, Action::MapReduce { .. }))) {
            return Err(disabled("$mapReduce", 4104, javascript));
        }
        if let Some(expr) = query.filter().get("$expr")
            && let Some(function) = runs_javascript(expr)
        {
            return Err(disabled(function, 4103, javascript));
        }
    }
    if !settings.allow_aggregate_queries
        && matches!(collection_operation, Some((_, Action::Aggregate(_))))
    {
        return Err(disabled(
            "$aggregate",
            4105,
            "set MongoDbOptions::allow_aggregate_queries (a pipeline reads any document)",
        ));
    }
    if !query.sort().is_empty() {
        find.sort = Some(sort(query));
    }
    find.skip = query.skip();
    find.limit = query.limit().map(|l| i64::try_from(l).unwrap_or(i64::MAX));
    Ok(Plan {
        filter: safe_filter(query),
        action: collection_operation
            .or(cursor_operation)
            .map_or(Action::Find, |(_, action)| action),
        find,
    })
}

fn disabled(operator: &str, code: i64, how_to_allow: &'static str) -> QueryError {
    QueryError::Disabled {
        operator: operator.to_owned(),
        code,
        how_to_allow,
    }
}

/// Applies a cursor transform other than sort, skip and limit.
fn tune(find: &mut FindOptions, key: &str, value: &Value) -> Result<(), QueryError> {
    let document = || match to_bson(value) {
        Bson::Document(doc) => Ok(doc),
        _ => Err(malformed(key)),
    };
    match key {
        "$comment" => find.comment = Some(to_bson(value)),
        "$hint" => {
            find.hint = Some(match value {
                Value::String(name) => Hint::Name(name.clone()),
                Value::Object(_) => Hint::Keys(document()?),
                _ => return Err(malformed(key)),
            });
        }
        "$maxTimeMS" => {
            let ms = value.as_u64().ok_or_else(|| malformed(key))?;
            find.max_time = Some(Duration::from_millis(ms));
        }
        "$batchSize" => {
            let size = value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| malformed(key))?;
            find.batch_size = Some(size);
        }
        "$noCursorTimeout" => find.no_cursor_timeout = Some(value.as_bool().unwrap_or(true)),
        "$readConcern" => {
            let level = value.as_str().ok_or_else(|| malformed(key))?;
            find.read_concern = Some(ReadConcern::custom(level));
        }
        "$readPref" => {
            // sharedb-mongo's form: {mode, tagSet}.
            let mode = value
                .get("mode")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed(key))?;
            let mut preference = doc! {"mode": mode};
            if let Some(tags) = value.get("tagSet") {
                preference.insert("tagSets", to_bson(tags));
            }
            let preference: ReadPreference =
                bson::from_document(preference).map_err(|_| malformed(key))?;
            find.selection_criteria = Some(SelectionCriteria::ReadPreference(preference));
        }
        "$max" => find.max = Some(document()?),
        "$min" => find.min = Some(document()?),
        _ => return Err(QueryError::UnknownOperator(key.to_owned())),
    }
    Ok(())
}

/// `$explain`'s verbosity, as the Node driver reads its argument.
fn verbosity(value: &Value) -> String {
    match value {
        Value::String(level) => level.clone(),
        Value::Bool(false) => "queryPlanner".into(),
        _ => "allPlansExecution".into(),
    }
}

fn pipeline(value: &Value) -> Option<Vec<Document>> {
    match to_bson(value) {
        Bson::Array(stages) => stages
            .into_iter()
            .map(|stage| match stage {
                Bson::Document(stage) => Some(stage),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// The first operator inside an `$expr` that runs JavaScript.
fn runs_javascript(expr: &Value) -> Option<&'static str> {
    match expr {
        Value::Object(map) => {
            for (key, value) in map {
                match key.as_str() {
                    "$function" => return Some("$function"),
                    "$accumulator" => return Some("$accumulator"),
                    _ => {}
                }
                if let Some(found) = runs_javascript(value) {
                    return Some(found);
                }
            }
            None
        }
        Value::Array(items) => items.iter().find_map(runs_javascript),
        _ => None,
    }
}

/// The query's filter as BSON, made safe against deleted documents (which
/// stay with `_type: null`) as sharedb-mongo does.
fn safe_filter(query: &ParsedQuery) -> Document {
    let mut filter = match to_bson(&Value::Object(query.filter().clone())) {
        Bson::Document(doc) => doc,
        _ => Document::new(),
    };
    if !filter.contains_key("_type") {
        filter.insert("_type", doc! {"$type": 2});
    }
    filter
}

fn sort(query: &ParsedQuery) -> Document {
    query
        .sort()
        .iter()
        .map(|(field, order)| {
            let direction = if *order == SortOrder::Ascending {
                1
            } else {
                -1
            };
            (field.clone(), Bson::Int32(direction))
        })
        .collect()
}

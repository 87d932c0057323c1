//! Queries in a Mongo-style language: placeholder while the real module is
//! built on its own branch (matches everything, no cursor options).
#![allow(missing_docs, dead_code)]

use serde_json::{Map, Value};

use crate::protocol::OpKind;

#[derive(Clone, Debug)]
pub struct Query {
    filter: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryOutcome {
    pub ids: Vec<String>,
    pub extra: Option<Value>,
}

impl Query {
    pub fn parse(expr: &Value) -> Result<Query, QueryError> {
        match expr {
            Value::Null => Ok(Query { filter: Map::new() }),
            Value::Object(map) => Ok(Query {
                filter: map.clone(),
            }),
            _ => Err(QueryError("a query must be an object".into())),
        }
    }
    pub fn filter(&self) -> &Map<String, Value> {
        &self.filter
    }
    pub fn sort(&self) -> &[(String, SortOrder)] {
        &[]
    }
    pub fn skip(&self) -> Option<u64> {
        None
    }
    pub fn limit(&self) -> Option<u64> {
        None
    }
    pub fn is_count(&self) -> bool {
        false
    }
    pub fn matches(&self, _id: &str, data: &Value) -> bool {
        self.filter
            .iter()
            .all(|(k, v)| data.get(k).unwrap_or(&Value::Null) == v)
    }
    pub fn can_poll_doc(&self) -> bool {
        true
    }
    pub fn skip_poll(&self, _op: &OpKind) -> bool {
        false
    }
    pub fn run<'a>(&self, docs: impl IntoIterator<Item = (&'a str, &'a Value)>) -> QueryOutcome {
        QueryOutcome {
            ids: docs
                .into_iter()
                .filter(|(id, data)| self.matches(id, data))
                .map(|(id, _)| id.to_owned())
                .collect(),
            extra: None,
        }
    }
}

//! json0 (`http://sharejs.org/types/JSONv0`): placeholder while the real
//! implementation lands on its own branch.
#![allow(missing_docs)]

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const URI: &str = "http://sharejs.org/types/JSONv0";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Op(pub Vec<Value>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

#[derive(Debug, thiserror::Error)]
#[error("json0 placeholder: {0}")]
pub struct Error(String);

pub fn create(data: Option<Value>) -> Value {
    data.unwrap_or(Value::Null)
}
pub fn apply(_doc: &mut Value, _op: &Op) -> Result<(), Error> {
    Err(Error("apply".into()))
}
pub fn transform(_op: &Op, _other: &Op, _side: Side) -> Result<Op, Error> {
    Err(Error("transform".into()))
}
pub fn compose(_a: &Op, _b: &Op) -> Result<Op, Error> {
    Err(Error("compose".into()))
}
pub fn invert(_op: &Op) -> Result<Op, Error> {
    Err(Error("invert".into()))
}

//! `Rejected`: the reply to a frame that is not a valid request, with as
//! much of the request echoed back as could be read.
//!
//! This module owns reading a bad frame for its error reply; it must not
//! accept anything: what a valid request is stays in `client_message`.

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::protocol::error::{ErrorCode, ErrorObject};

/// Why a frame was rejected: the error, and the request echoed back as far
/// as it could be read (ShareDB replies with the request plus `error`).
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The request's fields, or an empty map if it was not a JSON object.
    pub echo: Map<String, Value>,
    /// What is wrong.
    pub error: ErrorObject,
}

/// The fields of a request that tell which request it is, for the error
/// reply to a frame too large to handle. Everything else in the frame is
/// skipped without being built.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    a: Scalar,
    #[serde(default)]
    c: Scalar,
    #[serde(default)]
    d: Scalar,
    #[serde(default)]
    id: Scalar,
    #[serde(default)]
    v: Scalar,
    #[serde(default)]
    src: Scalar,
    #[serde(default)]
    seq: Scalar,
    #[serde(default)]
    ch: Scalar,
}

/// A string, number, boolean or null, kept; a list or an object, skipped.
#[derive(Default)]
struct Scalar(Option<Value>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(Value::Bool(v))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(Value::from(v))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(Value::from(v))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(Value::from(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(Value::from(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(Some(Value::Null)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl Rejected {
    /// The rejection of a frame of `size` bytes, over the `limit` a server
    /// handles. It echoes the request's header (`a`, `c`, `d`, `id`, `v`,
    /// `src`, `seq`, `ch`, where they are strings or numbers), so the
    /// client can match the error to its request (the npm client rolls
    /// back the op it has in flight); the rest of the frame is read past,
    /// never built.
    ///
    /// ```
    /// use peloton::protocol::Rejected;
    ///
    /// let frame = r#"{"a":"op","c":"notes","d":"n1","v":4,"seq":9,"op":[{"p":["t",0],"si":"long text"}]}"#;
    /// let rejected = Rejected::oversized(frame, 64);
    /// assert_eq!(rejected.echo["seq"], 9);
    /// assert!(rejected.echo.get("op").is_none());
    /// assert_eq!(rejected.error.code.as_str(), "ERR_MESSAGE_BADLY_FORMED");
    /// ```
    pub fn oversized(text: &str, limit: usize) -> Self {
        let mut echo = Map::new();
        // Only an object is a request (serde would read a list as a struct).
        let object = text.trim_start().starts_with('{');
        if object && let Ok(header) = serde_json::from_str::<Header>(text) {
            let fields = [
                ("a", header.a),
                ("c", header.c),
                ("d", header.d),
                ("id", header.id),
                ("v", header.v),
                ("src", header.src),
                ("seq", header.seq),
                ("ch", header.ch),
            ];
            for (key, Scalar(value)) in fields {
                if let Some(value) = value {
                    echo.insert(key.to_owned(), value);
                }
            }
        }
        Self {
            echo,
            error: ErrorObject::badly_formed(format!(
                "Message of {} bytes is over the limit of {limit} bytes: split the change \
                 into smaller ops, or raise the server's max_message_bytes",
                text.len()
            )),
        }
    }
}

/// Works out why a frame did not parse, for the error reply.
pub(super) fn diagnose(text: &str, err: &serde_json::Error) -> Rejected {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            return Rejected {
                echo: Map::new(),
                error: ErrorObject::badly_formed(format!("Message is not valid JSON: {e}")),
            };
        }
    };
    let Value::Object(echo) = value else {
        return Rejected {
            echo: Map::new(),
            error: ErrorObject::badly_formed("Received non-object message"),
        };
    };
    // An op body that is not json0 is the op's fault, not the message's.
    if echo.get("a").and_then(Value::as_str) == Some("op")
        && let Some(op) = echo.get("op")
        && let Err(e) = serde_json::from_value::<crate::ot::json0::Op>(op.clone())
    {
        let error = ErrorObject::new(ErrorCode::OtOpBadlyFormed, e.to_string());
        return Rejected { echo, error };
    }
    let error = ErrorObject::badly_formed(format!("Invalid message: {err}"));
    Rejected { echo, error }
}

//! json0's JSON form, both ways.
//!
//! A component is an object with `p` and the keys of one action: `na`, `li`,
//! `ld`, `li`+`ld`, `lm`, `oi`, `od`, `oi`+`od`, `si`, `sd` or `t`+`o`.
//! Anything else (unknown keys, two actions, a `p` that is not an array of
//! strings and non-negative integers, an unknown subtype) is refused with a
//! message saying what is wrong.
//!
//! This module owns the JSON form only: it checks an op's shape, not whether it
//! fits a document (that is `apply`'s), and the text0 op in `o` is read by
//! text0 itself.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::js;
use super::op::{Action, Component, Op, PathSegment};
use crate::ot::serde_util::{self, Offset};
use crate::ot::text0;

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OpVisitor;
        impl<'de> Visitor<'de> for OpVisitor {
            type Value = Op;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a json0 op (an array of components)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Op, A::Error> {
                serde_util::components(seq).map(Op)
            }
        }
        deserializer.deserialize_seq(OpVisitor)
    }
}

impl Serialize for PathSegment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PathSegment::Index(i) => serializer.serialize_u64(*i as u64),
            PathSegment::Key(k) => serializer.serialize_str(k),
        }
    }
}

impl<'de> Deserialize<'de> for PathSegment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SegmentVisitor;
        impl Visitor<'_> for SegmentVisitor {
            type Value = PathSegment;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a path segment (an object key or a non-negative list index)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PathSegment, E> {
                Ok(PathSegment::Key(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<PathSegment, E> {
                Ok(PathSegment::Key(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PathSegment, E> {
                Offset::deserialize(de::value::U64Deserializer::new(v))
                    .map(|o| PathSegment::Index(o.0))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PathSegment, E> {
                Offset::deserialize(de::value::I64Deserializer::new(v))
                    .map(|o| PathSegment::Index(o.0))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<PathSegment, E> {
                Offset::deserialize(de::value::F64Deserializer::new(v))
                    .map(|o| PathSegment::Index(o.0))
            }
        }
        deserializer.deserialize_any(SegmentVisitor)
    }
}

impl Serialize for Component {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("p", &self.p)?;
        match &self.action {
            // JSON numbers as JavaScript writes them: `2`, not `2.0`.
            Action::NumberAdd(n) => map.serialize_entry("na", &js::number(*n))?,
            Action::ListInsert(v) => map.serialize_entry("li", v)?,
            Action::ListDelete(v) => map.serialize_entry("ld", v)?,
            Action::ListReplace { ld, li } => {
                map.serialize_entry("ld", ld)?;
                map.serialize_entry("li", li)?;
            }
            Action::ListMove(to) => map.serialize_entry("lm", to)?,
            Action::ObjectInsert(v) => map.serialize_entry("oi", v)?,
            Action::ObjectDelete(v) => map.serialize_entry("od", v)?,
            Action::ObjectReplace { od, oi } => {
                map.serialize_entry("od", od)?;
                map.serialize_entry("oi", oi)?;
            }
            Action::StringInsert(t) => map.serialize_entry("si", t)?,
            Action::StringDelete(t) => map.serialize_entry("sd", t)?,
            Action::Text0(op) => {
                map.serialize_entry("t", "text0")?;
                map.serialize_entry("o", op)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Component {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ComponentVisitor)
    }
}

/// The keys a component may have, as they are read.
#[derive(Default)]
struct Fields {
    p: Option<Vec<PathSegment>>,
    na: Option<f64>,
    li: Option<Value>,
    ld: Option<Value>,
    lm: Option<usize>,
    oi: Option<Value>,
    od: Option<Value>,
    si: Option<String>,
    sd: Option<String>,
    t: Option<String>,
    o: Option<text0::Op>,
}

struct ComponentVisitor;

impl<'de> Visitor<'de> for ComponentVisitor {
    type Value = Component;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"a json0 component, an object like {"p": [...], "li": ...}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Component, A::Error> {
        let mut f = Fields::default();
        while let Some(key) = map.next_key::<String>()? {
            let fresh = match key.as_str() {
                "p" => f.p.replace(map.next_value()?).is_none(),
                "na" => f.na.replace(map.next_value::<Number>()?.0).is_none(),
                "li" => f.li.replace(map.next_value()?).is_none(),
                "ld" => f.ld.replace(map.next_value()?).is_none(),
                "lm" => f.lm.replace(map.next_value::<Offset>()?.0).is_none(),
                "oi" => f.oi.replace(map.next_value()?).is_none(),
                "od" => f.od.replace(map.next_value()?).is_none(),
                "si" => f.si.replace(map.next_value()?).is_none(),
                "sd" => f.sd.replace(map.next_value()?).is_none(),
                "t" => f.t.replace(map.next_value()?).is_none(),
                "o" => f.o.replace(map.next_value()?).is_none(),
                _ => {
                    return Err(de::Error::custom(format_args!(
                        "unknown key `{key}` in json0 component (expected `p` and one of \
                         na, li, ld, lm, oi, od, si, sd, t+o)"
                    )));
                }
            };
            if !fresh {
                return Err(de::Error::custom(format_args!(
                    "json0 component has `{key}` twice"
                )));
            }
        }
        f.into_component().map_err(de::Error::custom)
    }
}

impl Fields {
    fn into_component(mut self) -> Result<Component, String> {
        let p = self
            .p
            .take()
            .ok_or("json0 component is missing its path `p`")?;
        let present: Vec<&str> = [
            ("na", self.na.is_some()),
            ("li", self.li.is_some()),
            ("ld", self.ld.is_some()),
            ("lm", self.lm.is_some()),
            ("oi", self.oi.is_some()),
            ("od", self.od.is_some()),
            ("si", self.si.is_some()),
            ("sd", self.sd.is_some()),
            ("t", self.t.is_some()),
            ("o", self.o.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, has)| has.then_some(k))
        .collect();
        let action = match (present.as_slice(), self) {
            (["na"], Fields { na: Some(n), .. }) => Action::NumberAdd(n),
            (["li"], Fields { li: Some(v), .. }) => Action::ListInsert(v),
            (["ld"], Fields { ld: Some(v), .. }) => Action::ListDelete(v),
            (
                ["li", "ld"],
                Fields {
                    li: Some(li),
                    ld: Some(ld),
                    ..
                },
            ) => Action::ListReplace { ld, li },
            (["lm"], Fields { lm: Some(to), .. }) => Action::ListMove(to),
            (["oi"], Fields { oi: Some(v), .. }) => Action::ObjectInsert(v),
            (["od"], Fields { od: Some(v), .. }) => Action::ObjectDelete(v),
            (
                ["oi", "od"],
                Fields {
                    oi: Some(oi),
                    od: Some(od),
                    ..
                },
            ) => Action::ObjectReplace { od, oi },
            (["si"], Fields { si: Some(t), .. }) => Action::StringInsert(t),
            (["sd"], Fields { sd: Some(t), .. }) => Action::StringDelete(t),
            (
                ["t", "o"],
                Fields {
                    t: Some(t),
                    o: Some(o),
                    ..
                },
            ) => {
                if t != "text0" {
                    return Err(format!(
                        "unknown subtype `t: {t:?}` (only \"text0\" is supported)"
                    ));
                }
                Action::Text0(o)
            }
            ([], _) => {
                return Err("json0 component has no action (expected one of \
                            na, li, ld, lm, oi, od, si, sd, t+o)"
                    .to_owned());
            }
            (["t"], _) => return Err("json0 component has `t` but no subtype op `o`".to_owned()),
            (["o"], _) => return Err("json0 component has `o` but no subtype name `t`".to_owned()),
            (keys, _) => {
                return Err(format!(
                    "json0 component mixes actions {} (only li+ld, oi+od and t+o go together)",
                    keys.join(", ")
                ));
            }
        };
        let index_last = matches!(
            action,
            Action::ListInsert(_)
                | Action::ListDelete(_)
                | Action::ListReplace { .. }
                | Action::ListMove(_)
                | Action::StringInsert(_)
                | Action::StringDelete(_)
        );
        if index_last && !matches!(p.last(), Some(PathSegment::Index(_))) {
            return Err(format!(
                "json0 list and string components need a path ending in a number \
                 (the index or offset), got p: {}",
                super::op::display_path(&p)
            ));
        }
        Ok(Component { p, action })
    }
}

/// A finite JSON number for `na`.
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(deserializer)?;
        n.as_f64()
            .filter(|n| n.is_finite())
            .map(Number)
            .ok_or_else(|| de::Error::custom("`na` must be a finite number"))
    }
}

//! sharedb-mongo's document layout: snapshots and ops as BSON documents and
//! back, and BSON values other tools wrote read as a Node ShareDB client
//! sees them (see the parent module's docs for the rules).
//!
//! This module owns the conversions only, with no I/O: reading and writing
//! the database is `MongoDb`'s.

use mongodb::bson::{Bson, Document, doc, oid::ObjectId};
use serde_json::{Map, Value};

use crate::backend::StoredSnapshot;
use crate::backend::db::DbError;
use crate::ot::json0::PathSegment;
use crate::protocol::{CreateData, DocData, DocOp, OpKind, OpMeta, Snapshot};

/// The snapshot document of `snapshot`, produced by op `op_id`.
pub(super) fn snapshot_document(id: &str, snapshot: &StoredSnapshot, op_id: ObjectId) -> Document {
    let mut doc = match (&snapshot.doc_type, snapshot.value()) {
        (Some(_), Some(Value::Object(map))) => match to_bson(&Value::Object(map.clone())) {
            Bson::Document(doc) => doc,
            _ => Document::new(),
        },
        (Some(_), Some(data)) => doc! {"_data": to_bson(data)},
        _ => Document::new(),
    };
    doc.insert("_id", id);
    doc.insert(
        "_type",
        snapshot.doc_type.clone().map_or(Bson::Null, Bson::String),
    );
    doc.insert("_v", int(snapshot.v));
    doc.insert("_m", to_bson(&Value::Object(snapshot.m.clone())));
    doc.insert("_o", op_id);
    doc
}

/// The update that turns the stored document into `snapshot` when `op` is
/// an edit of an object document: `$set` of each top-level field the op
/// touched (as it is now) and of `_type`, `_v`, `_m` and `_o`, `$unset` of
/// each touched field that is gone. `None` when the whole document must be
/// replaced: a create or delete, an op on the root, non-object data, or a
/// touched field MongoDB cannot address by name (empty, with a `.`,
/// starting with `$`, or one of the internal names).
pub(super) fn field_update(
    op: &DocOp,
    snapshot: &StoredSnapshot,
    op_id: ObjectId,
) -> Option<Document> {
    let OpKind::Edit(edit) = &op.kind else {
        return None;
    };
    let (Some(doc_type), Some(Value::Object(data))) = (&snapshot.doc_type, snapshot.value()) else {
        return None;
    };
    let mut set = Document::new();
    let mut unset = Document::new();
    for component in edit.iter() {
        let Some(PathSegment::Key(field)) = component.p.first() else {
            return None;
        };
        if !addressable(field) {
            return None;
        }
        match data.get(field) {
            Some(value) => {
                set.insert(field.clone(), to_bson(value));
            }
            None => {
                unset.insert(field.clone(), "");
            }
        }
    }
    set.insert("_type", doc_type.as_str());
    set.insert("_v", int(snapshot.v));
    set.insert("_m", to_bson(&Value::Object(snapshot.m.clone())));
    set.insert("_o", op_id);
    let mut update = doc! {"$set": set};
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    Some(update)
}

/// Whether a top-level field can be named in `$set`/`$unset` without
/// meaning something else: not empty, no `.` (a path), no leading `$`
/// (an operator), and none of the fields the layout keeps for itself.
fn addressable(field: &str) -> bool {
    !field.is_empty()
        && !field.contains('.')
        && !field.starts_with('$')
        && !["_id", "_type", "_v", "_m", "_o", "_data"].contains(&field)
}

/// A snapshot document back as a snapshot: internal fields stripped.
pub(super) fn to_snapshot(id: &str, mut doc: Document) -> StoredSnapshot {
    let v = read_u64(doc.get("_v"));
    let doc_type = doc.get_str("_type").ok().map(str::to_owned);
    let m = match doc.remove("_m").map(|m| from_bson(&m)) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let op_link = doc.get_object_id("_o").ok().map(|o| o.to_hex());
    let data = doc_type.as_ref().map(|_| match doc.remove("_data") {
        Some(data) => from_bson(&data),
        None => {
            for key in ["_id", "_type", "_v", "_o"] {
                doc.remove(key);
            }
            from_bson(&Bson::Document(doc))
        }
    });
    StoredSnapshot {
        id: id.to_owned(),
        wire: Snapshot {
            v,
            doc_type,
            data: data.map(DocData::new),
        },
        m,
        op_link,
    }
}

/// The op document of `op`: its fields, `d`, and the link to the previous op.
pub(super) fn op_document(
    op: &DocOp,
    id: &str,
    op_id: ObjectId,
    previous: Option<ObjectId>,
) -> Document {
    let mut doc = doc! {"_id": op_id};
    if let (Some(src), Some(seq)) = (&op.src, op.seq) {
        doc.insert("src", src.as_str());
        doc.insert("seq", int(seq));
    }
    doc.insert("v", int(op.v));
    match &op.kind {
        OpKind::Edit(edit) => {
            doc.insert(
                "op",
                to_bson(&serde_json::to_value(edit).unwrap_or(Value::Null)),
            );
        }
        OpKind::Create(create) => {
            let mut c = doc! {"type": create.doc_type.as_str()};
            if let Some(data) = &create.data {
                c.insert("data", to_bson(data));
            }
            doc.insert("create", c);
        }
        OpKind::Delete => {
            doc.insert("del", true);
        }
    }
    let mut m = Document::new();
    if let Some(ts) = op.m.ts {
        m.insert("ts", ts);
    }
    if let Some(data) = &op.m.data {
        m.insert("data", to_bson(data));
    }
    doc.insert("m", m);
    doc.insert("d", id);
    if let Some(previous) = previous {
        doc.insert("o", previous);
    }
    doc
}

/// An op document back as an op.
pub(super) fn to_op(collection: &str, id: &str, doc: Document) -> Result<DocOp, DbError> {
    let corrupt = |what: &str| DbError::Corrupt(format!("op of {collection}.{id}: {what}"));
    let kind = if let Some(op) = doc.get("op") {
        OpKind::Edit(
            serde_json::from_value(from_bson(op)).map_err(|e| corrupt(&format!("bad op: {e}")))?,
        )
    } else if let Ok(create) = doc.get_document("create") {
        OpKind::Create(CreateData {
            doc_type: create
                .get_str("type")
                .map_err(|_| corrupt("create without a type"))?
                .to_owned(),
            data: create.get("data").map(from_bson),
        })
    } else if doc.get_bool("del").unwrap_or(false) {
        OpKind::Delete
    } else {
        return Err(corrupt("none of op, create or del"));
    };
    let m = doc.get_document("m").ok();
    let mut op = DocOp::new(collection, id, read_u64(doc.get("v")), kind);
    op.src = doc.get_str("src").ok().map(str::to_owned);
    // Node stores an op without a source (a server-side submit) with
    // `src: null, seq: null`: no seq, not seq 0.
    op.seq = doc
        .get("seq")
        .filter(|seq| !matches!(seq, Bson::Null | Bson::Undefined))
        .map(|seq| read_u64(Some(seq)));
    Ok(op.with_meta(OpMeta {
        ts: m
            .and_then(|m| m.get("ts"))
            .and_then(Bson::as_f64)
            .or_else(|| {
                m.and_then(|m| m.get("ts"))
                    .and_then(|t| t.as_i64().map(|i| i as f64))
            }),
        data: m.and_then(|m| m.get("data")).map(from_bson),
    }))
}

/// A version or seq as MongoDB stores it: int32 where it fits, as Node does.
pub(super) fn int(n: u64) -> Bson {
    match i32::try_from(n) {
        Ok(i) => Bson::Int32(i),
        Err(_) => Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX)),
    }
}

pub(super) fn read_u64(value: Option<&Bson>) -> u64 {
    match value {
        Some(Bson::Int32(i)) => u64::try_from(*i).unwrap_or(0),
        Some(Bson::Int64(i)) => u64::try_from(*i).unwrap_or(0),
        Some(Bson::Double(d)) if *d >= 0.0 => *d as u64,
        _ => 0,
    }
}

/// JSON to BSON as the Node driver writes JavaScript values: integers that
/// fit in 32 bits as int32, other numbers as doubles.
pub(crate) fn to_bson(value: &Value) -> Bson {
    match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => Bson::Int32(i),
            None => Bson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect()),
        Value::Object(map) => {
            Bson::Document(map.iter().map(|(k, v)| (k.clone(), to_bson(v))).collect())
        }
    }
}

/// BSON to JSON as a ShareDB client receives it from Node (the driver's
/// values through `JSON.stringify`): every number is a number (integral
/// ones printed without a fraction), a Date is its ISO-8601 string
/// (`Date.toJSON()`), an ObjectId its hex string, binary data base64, a
/// Decimal128 `{"$numberDecimal": "…"}`, a Timestamp `{"$timestamp": "…"}`;
/// other types are MongoDB's relaxed Extended JSON.
pub(crate) fn from_bson(value: &Bson) -> Value {
    match value {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9_007_199_254_740_992.0 => {
            Value::from(*d as i64)
        }
        Bson::Double(d) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
        Bson::String(s) | Bson::Symbol(s) => Value::String(s.clone()),
        Bson::Array(items) => Value::Array(items.iter().map(from_bson).collect()),
        Bson::Document(doc) => {
            Value::Object(doc.iter().map(|(k, v)| (k.clone(), from_bson(v))).collect())
        }
        Bson::ObjectId(o) => Value::String(o.to_hex()),
        Bson::DateTime(t) => js_date_json(t.timestamp_millis()),
        Bson::Binary(binary) => Value::String(base64(&binary.bytes)),
        Bson::Decimal128(d) => serde_json::json!({"$numberDecimal": d.to_string()}),
        Bson::Timestamp(t) => {
            let packed = (u64::from(t.time) << 32) | u64::from(t.increment);
            serde_json::json!({"$timestamp": packed.to_string()})
        }
        other => other.clone().into_relaxed_extjson(),
    }
}

/// What JavaScript's `Date.prototype.toJSON` gives for a time in ms since
/// the epoch: `YYYY-MM-DDTHH:mm:ss.sssZ` (years outside 0..=9999 as a
/// signed six-digit year), or `null` beyond the ±8.64e15 ms a JS Date holds.
fn js_date_json(ms: i64) -> Value {
    const LIMIT: i64 = 8_640_000_000_000_000;
    if !(-LIMIT..=LIMIT).contains(&ms) {
        return Value::Null;
    }
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant's
    // `civil_from_days`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    Value::String(format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    ))
}

/// Standard base64 with padding, as Node's `Buffer.toString('base64')`.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_javascript_prints_them() {
        for (ms, json) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (-62_198_755_200_000, "-000001-01-01T00:00:00.000Z"),
            (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
        ] {
            assert_eq!(js_date_json(ms), Value::from(json), "{ms}");
        }
        assert_eq!(js_date_json(8_640_000_000_000_001), Value::Null);
    }

    #[test]
    fn binary_reads_as_base64() {
        for (bytes, text) in [
            (&b""[..], ""),
            (b"h", "aA=="),
            (b"hi", "aGk="),
            (b"hi!", "aGkh"),
            (b"\xff\xfe\xfd\xfc", "//79/A=="),
        ] {
            assert_eq!(base64(bytes), text);
        }
    }

    #[test]
    fn other_bson_reads_as_node_prints_it() {
        let oid = ObjectId::parse_str("65a1b2c3d4e5f60718293a4b").unwrap();
        assert_eq!(
            from_bson(&Bson::ObjectId(oid)),
            Value::from("65a1b2c3d4e5f60718293a4b")
        );
        assert_eq!(from_bson(&Bson::Int64(1 << 40)), Value::from(1i64 << 40));
        let decimal: mongodb::bson::Decimal128 = "1.50".parse().unwrap();
        assert_eq!(
            from_bson(&Bson::Decimal128(decimal)),
            serde_json::json!({"$numberDecimal": "1.50"})
        );
    }
}

//! Parsing and serializing client messages, round trip and rejections.

use super::*;
use crate::protocol::ErrorCode;
use serde_json::json;

fn round_trip(msg: &ClientMessage) {
    let text = serde_json::to_string(msg).unwrap();
    assert_eq!(&ClientMessage::parse(&text).unwrap(), msg, "{text}");
}

#[test]
fn parses_what_the_npm_client_sends() {
    let hs = ClientMessage::parse(r#"{"a":"hs","id":null,"protocol":1,"protocolMinor":2}"#);
    assert_eq!(hs.unwrap(), ClientMessage::handshake(None));
    let op = ClientMessage::parse(
        r#"{"a":"op","c":"c","d":"d1","v":null,"src":"s","seq":1,"x":{},
            "create":{"type":"http://sharejs.org/types/JSONv0","data":{"n":1}}}"#,
    )
    .unwrap();
    let ClientMessage::Op(op) = op else {
        panic!("not an op")
    };
    assert_eq!(op.v, None);
    assert_eq!(op.seq, Some(1));
    assert!(matches!(op.kind, OpKind::Create(ref c) if c.data == Some(json!({"n": 1}))));
    let bulk = ClientMessage::parse(r#"{"a":"bs","c":"c","b":{"d1":1,"d2":4}}"#).unwrap();
    assert_eq!(
        bulk,
        ClientMessage::BulkSubscribe(BulkRequest {
            c: "c".into(),
            b: Bulk::Versions(vec![("d1".into(), 1), ("d2".into(), 4)])
        })
    );
    let qs = ClientMessage::parse(
        r#"{"a":"qs","id":7,"c":"c","q":{"k":"x"},"r":[["d1",3],["d2",null]]}"#,
    )
    .unwrap();
    let ClientMessage::QuerySubscribe(q) = qs else {
        panic!("not a query")
    };
    assert_eq!(
        q.results,
        Some(vec![("d1".into(), Some(3)), ("d2".into(), None)])
    );
}

#[test]
fn round_trips() {
    round_trip(&ClientMessage::handshake(Some("abc".into())));
    round_trip(&ClientMessage::Fetch(DocRequest {
        c: "c".into(),
        d: "d".into(),
        v: Some(3),
    }));
    round_trip(&ClientMessage::BulkFetch(BulkRequest {
        c: "c".into(),
        b: Bulk::Ids(vec!["a".into(), "b".into()]),
    }));
    round_trip(&ClientMessage::Op(OpRequest {
        c: "c".into(),
        d: "d".into(),
        v: Some(2),
        src: Some("s".into()),
        seq: Some(9),
        kind: OpKind::Delete,
        x: None,
    }));
    round_trip(&ClientMessage::Presence(PresenceUpdate {
        ch: "c.d".into(),
        id: "p1".into(),
        p: json!({"index": 3}),
        pv: 2,
        c: Some("c".into()),
        d: Some("d".into()),
        v: Some(4),
        t: None,
        src: None,
    }));
    round_trip(&ClientMessage::Ping);
}

#[test]
fn rejects_bad_frames_with_sharedb_errors() {
    let cases = [
        ("not json", ErrorCode::MessageBadlyFormed, false),
        ("[1,2]", ErrorCode::MessageBadlyFormed, false),
        (r#"{"foo":1}"#, ErrorCode::MessageBadlyFormed, true),
        (
            r#"{"a":"zz","c":"c","d":"d1"}"#,
            ErrorCode::MessageBadlyFormed,
            true,
        ),
        (
            r#"{"a":"s","c":5,"d":"d1"}"#,
            ErrorCode::MessageBadlyFormed,
            true,
        ),
        (r#"{"a":"s","d":"d1"}"#, ErrorCode::MessageBadlyFormed, true),
        (
            r#"{"a":"s","c":"__proto__","d":"d1"}"#,
            ErrorCode::MessageBadlyFormed,
            true,
        ),
        (
            r#"{"a":"qs","id":"x","c":"c","q":{}}"#,
            ErrorCode::MessageBadlyFormed,
            true,
        ),
        (
            r#"{"a":"op","c":"c","d":"d","v":1,"seq":1}"#,
            ErrorCode::MessageBadlyFormed,
            true,
        ),
    ];
    for (text, code, echoed) in cases {
        let rejected = ClientMessage::parse(text).unwrap_err();
        assert_eq!(rejected.error.code, code, "{text}");
        assert_eq!(!rejected.echo.is_empty(), echoed, "{text}");
    }
    let no_action = ClientMessage::parse(r#"{"foo":1}"#).unwrap_err();
    assert_eq!(no_action.echo.get("foo"), Some(&json!(1)));
}

#[test]
fn a_null_op_is_a_badly_formed_op() {
    let rejected =
        ClientMessage::parse(r#"{"a":"op","c":"c","d":"d","v":1,"src":"s","seq":4,"op":null}"#)
            .unwrap_err();
    assert_eq!(rejected.error.code, ErrorCode::OtOpBadlyFormed);
    assert_eq!(rejected.echo.get("seq"), Some(&json!(4)));
    // An absent op is a different mistake.
    let rejected = ClientMessage::parse(r#"{"a":"op","c":"c","d":"d","v":1}"#).unwrap_err();
    assert_eq!(rejected.error.code, ErrorCode::MessageBadlyFormed);
}

#[test]
fn handshake_versions_may_be_strings() {
    let version = |v: &str| {
        let text = format!(r#"{{"a":"hs","id":null,"protocol":{v},"protocolMinor":{v}}}"#);
        match ClientMessage::parse(&text) {
            Ok(ClientMessage::Handshake {
                protocol,
                protocol_minor,
                ..
            }) => {
                assert_eq!(protocol, protocol_minor);
                Ok(protocol)
            }
            Ok(other) => panic!("not a handshake: {other:?}"),
            Err(rejected) => Err(rejected.error.code),
        }
    };
    assert_eq!(version("1"), Ok(Some(1)));
    assert_eq!(version(r#""1""#), Ok(Some(1)));
    assert_eq!(version("2.0"), Ok(Some(2)));
    assert_eq!(version(r#""beta""#), Ok(None));
    assert_eq!(version("null"), Ok(None));
    assert_eq!(version("true"), Err(ErrorCode::MessageBadlyFormed));
    assert_eq!(version("[1]"), Err(ErrorCode::MessageBadlyFormed));
}

#[test]
fn an_oversized_frame_echoes_its_header_only() {
    let frame = json!({"a": "op", "c": "c", "d": "d", "v": 3, "src": "s", "seq": 9,
        "x": {"big": "y".repeat(100)}, "op": [{"p": ["t", 0], "si": "x".repeat(100)}]})
    .to_string();
    let rejected = Rejected::oversized(&frame, 64);
    assert_eq!(
        Value::Object(rejected.echo),
        json!({"a": "op", "c": "c", "d": "d", "v": 3, "src": "s", "seq": 9})
    );
    assert!(
        rejected
            .error
            .message
            .contains(&format!("Message of {} bytes", frame.len()))
    );
    // Lists and objects where a header field should be are skipped.
    let odd = Rejected::oversized(r#"{"a":"f","c":{"x":[1,2]},"d":[3],"v":null}"#, 8);
    assert_eq!(Value::Object(odd.echo), json!({"a": "f", "v": null}));
    for junk in ["not json", "[1,2]", r#"{"a":"f","a":"s"}"#] {
        assert!(Rejected::oversized(junk, 1).echo.is_empty(), "{junk}");
    }
}

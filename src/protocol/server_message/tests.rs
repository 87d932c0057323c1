//! Server messages: serialize, parse back, and ShareDB's exact shapes.

use super::*;
use crate::protocol::{ErrorCode, OpKind};
use serde_json::json;

fn json(msg: &ServerMessage) -> Value {
    serde_json::from_str(&msg.to_json()).unwrap()
}

fn round_trip(msg: ServerMessage) {
    assert_eq!(ServerMessage::parse(&msg.to_json()).unwrap(), msg);
}

// The wire forms of the reference transcript (shared/reference).
#[test]
fn matches_the_reference_transcript() {
    assert_eq!(
        json(&ServerMessage::Handshake(Hello::new("client-b"))),
        json!({"a":"hs","id":"client-b","protocol":1,"protocolMinor":2,"type":"http://sharejs.org/types/JSONv0"})
    );
    assert_eq!(
        json(&ServerMessage::Fetch {
            c: "c".into(),
            d: "missing".into(),
            data: Some(Snapshot::nonexistent(0))
        }),
        json!({"a":"f","c":"c","d":"missing","data":{"type":null,"v":0}})
    );
    assert_eq!(
        json(&ServerMessage::OpAck {
            c: "c".into(),
            d: "d1".into(),
            src: Some("A".into()),
            seq: Some(1),
            v: 0
        }),
        json!({"a":"op","c":"c","d":"d1","seq":1,"src":"A","v":0})
    );
    assert_eq!(
        json(&ServerMessage::QueryUpdate {
            id: 7,
            diff: Some(vec![QueryDiff::Move {
                from: 1,
                to: 0,
                how_many: 1
            }]),
            extra: None
        }),
        json!({"a":"q","diff":[{"from":1,"howMany":1,"to":0,"type":"move"}],"id":7})
    );
    assert_eq!(
        json(&ServerMessage::SnapshotFetch(SnapshotReply {
            by_timestamp: false,
            id: 3,
            snapshot: Snapshot::json0(1, json!({"k":"fruit","n":1}))
        })),
        json!({"a":"nf","data":{"k":"fruit","n":1},"id":3,"m":null,"type":"http://sharejs.org/types/JSONv0","v":1})
    );
    assert_eq!(
        json(&ServerMessage::BulkUnsubscribe(BulkReply {
            c: "c".into(),
            data: None,
            b: Some(Bulk::Ids(vec!["d1".into(), "nope".into()]))
        })),
        json!({"a":"bu","b":["d1","nope"],"c":"c"})
    );
    let mut echo = Map::new();
    echo.insert("a".into(), json!("zz"));
    echo.insert("c".into(), json!("c"));
    assert_eq!(
        json(&ServerMessage::error(
            echo,
            ErrorObject::badly_formed("Invalid or unknown message")
        )),
        json!({"a":"zz","c":"c","error":{"code":"ERR_MESSAGE_BADLY_FORMED","message":"Invalid or unknown message"}})
    );
}

#[test]
fn round_trips() {
    round_trip(ServerMessage::Init(Hello::new("x")));
    round_trip(ServerMessage::Subscribe {
        c: "c".into(),
        d: "d".into(),
        data: Some(Snapshot::json0(2, json!([1, 2]))),
    });
    round_trip(ServerMessage::BulkFetch(BulkReply {
        c: "c".into(),
        data: Some(vec![
            ("a".into(), Ok(Snapshot::json0(1, json!({})))),
            (
                "b".into(),
                Err(ErrorObject::new(ErrorCode::SnapshotReadsRejected, "no")),
            ),
        ]),
        b: None,
    }));
    round_trip(ServerMessage::QuerySubscribe(QueryReply {
        id: 4,
        data: QueryData::Results(vec![QueryResult {
            id: "a".into(),
            snapshot: Snapshot::json0(3, json!({"x": 1})),
        }]),
        extra: Some(json!(12)),
    }));
    round_trip(ServerMessage::QueryUpdate {
        id: 4,
        diff: Some(vec![
            QueryDiff::Insert {
                index: 0,
                values: vec![QueryResult {
                    id: "b".into(),
                    snapshot: Snapshot::json0(1, json!({})),
                }],
            },
            QueryDiff::Remove {
                index: 2,
                how_many: 1,
            },
        ]),
        extra: None,
    });
    round_trip(ServerMessage::Op(Arc::new(
        DocOp::new("c", "d", 4, OpKind::Delete).with_source("s", 2),
    )));
    round_trip(ServerMessage::Pong);
}

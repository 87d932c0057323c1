//! The read policy against side channels: a connection that may not read
//! a document must receive exactly the same thing whether that document is
//! absent, new, or being edited (with its owner's presence moving in it),
//! for every kind of request of the protocol. The only sound test of a
//! side channel: the same script, three worlds, identical transcripts.

use serde_json::{Value, json};

use crate::access_control::example;
use crate::util::{RawSocket, serve};

const SECRET: &str = "ann's diary";

/// What exists of ann's private document in a world.
#[derive(Clone, Copy, Debug)]
enum World {
    Absent,
    New,
    Edited,
}

async fn as_user(addr: std::net::SocketAddr, user: &str) -> RawSocket {
    let mut socket = RawSocket::connect_with(addr, &[("x-user", user)]).await;
    socket.handshake(None).await;
    socket
}

/// Every request kind a reader can send about ann's document, or a
/// collection it is in.
fn probes() -> Vec<Value> {
    let queries = [
        json!({}),
        json!({"text": {"$regex": "^ann"}}),
        json!({"$or": [{"text": "b"}, {"_id": "ann"}]}),
        json!({"_id": {"$in": ["ann", "bob"]}}),
        json!({"_id": {"$gt": "a"}}),
        json!({"$sort": {"_id": 1}, "$limit": 1}),
        json!({"$sort": {"_id": 1}, "$skip": 1}),
        json!({"$sort": {"text": -1}}),
        json!({"$count": true}),
        json!({"_id": {"$lt": "b"}, "$count": true}),
        json!({"$distinct": {"field": "text"}}),
    ];
    let mut probes = vec![
        json!({"a": "f", "c": "private", "d": "ann"}),
        json!({"a": "f", "c": "private", "d": "ann", "v": 0}),
        json!({"a": "f", "c": "private", "d": "ann", "v": 1}),
        json!({"a": "f", "c": "private", "d": "ann", "v": 9}),
        json!({"a": "s", "c": "private", "d": "ann", "v": 1}),
        json!({"a": "s", "c": "private", "d": "ann"}),
        json!({"a": "u", "c": "private", "d": "ann"}),
        json!({"a": "bf", "c": "private", "b": ["ann", "bob"]}),
        json!({"a": "bs", "c": "private", "b": ["bob", "ann"]}),
        json!({"a": "bf", "c": "private", "b": {"ann": 1, "bob": 0}}),
        json!({"a": "bs", "c": "private", "b": {"ann": 3}}),
        json!({"a": "bu", "c": "private", "b": ["ann", "bob"]}),
        json!({"a": "nf", "id": 1, "c": "private", "d": "ann", "v": 1}),
        json!({"a": "nf", "id": 2, "c": "private", "d": "ann", "v": 99}),
        json!({"a": "nf", "id": 3, "c": "private", "d": "ann", "v": null}),
        json!({"a": "nt", "id": 4, "c": "private", "d": "ann", "ts": 0}),
        json!({"a": "nt", "id": 5, "c": "private", "d": "ann", "ts": null}),
        json!({"a": "hv", "id": 6, "c": "private", "d": "ann", "v": 1}),
        json!({"a": "op", "c": "private", "d": "ann", "v": null, "seq": 1,
            "create": {"type": "json0", "data": {"text": "mine"}}}),
        json!({"a": "op", "c": "private", "d": "ann", "v": 1, "seq": 2,
            "op": [{"p": ["text", 0], "si": "x"}]}),
        json!({"a": "op", "c": "private", "d": "ann", "v": 9, "seq": 3, "del": true}),
        json!({"a": "p", "ch": "private.ann", "id": "c", "pv": 1, "p": {"x": 1}}),
        json!({"a": "p", "ch": "private.ann", "id": "d", "pv": 1, "c": "private", "d": "ann",
            "v": 1, "t": "http://sharejs.org/types/JSONv0", "p": {"p": ["text"], "s": 0, "e": 0}}),
        json!({"a": "pr", "ch": "private.ann"}),
        json!({"a": "pu", "ch": "private.ann", "seq": 1}),
    ];
    for (i, q) in queries.iter().enumerate() {
        probes.push(json!({"a": "qf", "id": 10 + i, "c": "private", "q": q}));
        probes.push(json!({"a": "qs", "id": 30 + i, "c": "private", "q": q}));
        probes.push(json!({"a": "qu", "id": 30 + i}));
    }
    for (i, r) in [
        json!([["ann", 1]]),
        json!([["ann", null]]),
        json!([["bob", 1], ["ann", 3]]),
    ]
    .iter()
    .enumerate()
    {
        probes.push(json!({"a": "qs", "id": 60 + i, "c": "private", "q": {}, "r": r}));
        probes.push(json!({"a": "qu", "id": 60 + i}));
    }
    probes
}

/// Ann's side of a world: her document as the world has it, and her
/// presence moving in it. Called before bob's probes and again while he
/// is subscribed (`later`).
async fn ann_acts(ann: &mut RawSocket, world: World, later: bool, seq: &mut u64) {
    let op = |ann_seq: &mut u64, body: Value| {
        *ann_seq += 1;
        let mut op = json!({"a": "op", "c": "private", "d": "ann", "seq": *ann_seq});
        op.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        (op, *ann_seq)
    };
    let steps: Vec<Value> = match (world, later) {
        (World::Absent, _) => vec![],
        (World::New, false) | (World::Edited, false) => {
            vec![json!({"v": null, "create": {"type": "json0", "data": {"text": SECRET}}})]
        }
        (World::New, true) => vec![],
        (World::Edited, true) => vec![
            json!({"v": null, "op": [{"p": ["text", 0], "si": "b"}]}),
            json!({"v": null, "op": [{"p": ["more"], "oi": SECRET}]}),
            json!({"v": null, "op": [{"p": ["text"], "od": null, "oi": "a"}]}),
            json!({"v": null, "del": true}),
            json!({"v": null, "create": {"type": "json0", "data": {"text": "again"}}}),
        ],
    };
    for step in steps {
        let (message, n) = op(seq, step);
        ann.send(message).await;
        let reply = ann.next(move |m| m["a"] == "op" && m["seq"] == n).await;
        assert!(reply.get("error").is_none(), "{reply}");
    }
    if !matches!(world, World::Absent) {
        for (i, s) in [0, 3, 1].into_iter().enumerate() {
            ann.send(
                json!({"a": "p", "ch": "private.ann", "id": "cursor", "pv": *seq * 10 + i as u64,
                "p": {"p": ["text"], "s": s, "e": s, "name": "ann"}}),
            )
            .await;
            ann.next(|m| m["a"] == "p" && m.get("error").is_none())
                .await;
        }
    }
}

/// Bob's transcript in a world, with the connection ids written out. Also
/// checks that ann's document and presence came through bob's probes as
/// she made them.
async fn transcript(world: World) -> Vec<String> {
    let backend = example::backend();
    let addr = serve(backend.clone()).await;
    let mut ann = as_user(addr, "ann").await;
    // Ann's other tab watches her presence.
    let mut ann_tab = as_user(addr, "ann").await;
    ann_tab
        .send(json!({"a": "ps", "ch": "private.ann", "seq": 1}))
        .await;
    ann_tab.next(|m| m["a"] == "ps").await;
    let mut ann_seq = 0;
    ann_acts(&mut ann, world, false, &mut ann_seq).await;
    let mut bob = as_user(addr, "bob").await;
    bob.send(
        json!({"a": "op", "c": "private", "d": "bob", "v": null, "seq": 100,
        "create": {"type": "json0", "data": {"text": "b"}}}),
    )
    .await;
    bob.next(|m| m["a"] == "op" && m["seq"] == 100).await;
    for probe in probes() {
        bob.send(probe).await;
        bob.sync().await;
    }
    // Subscribed while ann acts: live queries, presence, her document.
    for (id, q) in [
        (90, json!({})),
        (91, json!({"$sort": {"_id": 1}, "$limit": 2})),
        (92, json!({"$count": true})),
        (93, json!({"text": {"$gt": ""}})),
    ] {
        bob.send(json!({"a": "qs", "id": id, "c": "private", "q": q}))
            .await;
    }
    bob.send(json!({"a": "ps", "ch": "private.ann", "seq": 2}))
        .await;
    bob.send(json!({"a": "s", "c": "private", "d": "ann"}))
        .await;
    bob.sync().await;
    ann_acts(&mut ann, world, true, &mut ann_seq).await;
    // Bob edits his own document meanwhile: that he does see.
    bob.send(
        json!({"a": "op", "c": "private", "d": "bob", "v": 1, "seq": 101,
        "op": [{"p": ["text", 1], "si": "!"}]}),
    )
    .await;
    bob.next(|m| m["a"] == "op" && m["seq"] == 101).await;
    bob.flush(&backend).await;
    ann_tab.flush(&backend).await;

    // Ann's document is as she left it, and all the presence her other tab
    // saw is hers.
    let stored = backend.db().get_snapshot("private", "ann").await.unwrap();
    let expected = match world {
        World::Absent => None,
        World::New => Some(json!({"text": SECRET})),
        World::Edited => Some(json!({"text": "again"})),
    };
    assert_eq!(
        stored.value().cloned(),
        expected,
        "{world:?}: ann's document"
    );
    let ann_id = bob_id(&ann);
    for frame in ann_tab.transcript() {
        let message: Value = serde_json::from_str(frame).unwrap();
        if message["a"] == "p" {
            assert_eq!(
                message["src"],
                json!(ann_id),
                "{world:?}: not ann's presence: {frame}"
            );
        }
    }
    let id = bob_id(&bob);
    bob.transcript()
        .iter()
        .map(|frame| frame.replace(&id, "<bob>"))
        .collect()
}

/// The connection id a socket's handshake gave.
fn bob_id(bob: &RawSocket) -> String {
    bob.transcript()
        .iter()
        .filter_map(|f| serde_json::from_str::<Value>(f).ok())
        .find(|m| m["a"] == "hs")
        .and_then(|m| m["id"].as_str().map(str::to_owned))
        .expect("a handshake")
}

#[tokio::test]
async fn a_refused_reader_sees_the_same_whatever_the_document_holds() {
    let absent = transcript(World::Absent).await;
    for world in [World::New, World::Edited] {
        let seen = transcript(world).await;
        for (i, (a, b)) in absent.iter().zip(&seen).enumerate() {
            assert_eq!(a, b, "frame {i} differs between Absent and {world:?}");
        }
        assert_eq!(
            absent.len(),
            seen.len(),
            "{world:?}: a different number of frames"
        );
    }
    // And it is not empty: the probes were answered, and bob's own edit
    // reached his live queries.
    assert!(absent.len() > 100, "{} frames", absent.len());
    assert!(
        absent.iter().any(|f| f.contains(r#""a":"q""#)),
        "no query update for bob's edit"
    );
    assert!(!absent.iter().any(|f| f.contains(SECRET)));
}

#[tokio::test]
async fn nobody_can_replace_anothers_presence() {
    let addr = serve(example::backend()).await;
    let mut ann = as_user(addr, "ann").await;
    let mut ann_other_tab = as_user(addr, "ann").await;
    let mut bob = as_user(addr, "bob").await;
    for socket in [&mut ann, &mut ann_other_tab, &mut bob] {
        socket
            .send(json!({"a": "ps", "ch": "everyone", "seq": 1}))
            .await;
        socket.next(|m| m["a"] == "ps").await;
    }
    ann.send(json!({"a": "p", "ch": "everyone", "id": "cursor", "pv": 1, "p": {"who": "ann"}}))
        .await;
    let first = ann_other_tab.next(|m| m["a"] == "p").await;
    // Bob publishes under the same id, with a higher version.
    bob.send(json!({"a": "p", "ch": "everyone", "id": "cursor", "pv": 99, "p": {"who": "bob"}}))
        .await;
    let second = ann_other_tab.next(|m| m["a"] == "p").await;
    assert_ne!(first["id"], second["id"], "{first} / {second}");
    assert_eq!(first["p"]["who"], "ann");
    assert_eq!(second["p"]["who"], "bob");
    // Bob's own reply keeps his id.
    let mine = bob.next(|m| m["a"] == "p" && m["p"]["who"] == "bob").await;
    assert_eq!(mine["id"], "cursor");
}

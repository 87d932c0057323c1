//! Document presence: json0 carets stay on their text and items through
//! every op (property tests on proptest), and peloton clients and the server move
//! presence made before edits they have seen, or after edits not yet sent.

mod util;

use std::time::Duration;

use peloton::backend::Backend;
use peloton::client::{Connection, DocPresence};
use peloton::ot::json0::{self, Component, Op};
use peloton::ot::text0;
use rand::Rng;
use serde_json::{Value, json};
use util::props::{self, Choices};

const CASES: u32 = 2_000;

/// Characters that are each unique in a case, so a caret's neighbours can
/// be told apart: one UTF-16 unit each.
fn unique_char(n: &mut u32) -> char {
    *n += 1;
    char::from_u32(0x4E00 + *n).unwrap()
}

/// A random text0 op on `text`, made of several components (each on the
/// string the ones before it left), with fresh unique characters.
fn random_text_op(rng: &mut Choices, text: &str, fresh: &mut u32) -> text0::Op {
    let mut now = text.to_owned();
    let mut components = Vec::new();
    for _ in 0..rng.random_range(1..4) {
        let len = now.chars().count();
        let c = if len == 0 || rng.random_bool(0.5) {
            let inserted: String = (0..rng.random_range(1..4))
                .map(|_| unique_char(fresh))
                .collect();
            text0::Component::insert(rng.random_range(0..=len), inserted)
        } else {
            let at = rng.random_range(0..len);
            let n = rng.random_range(1..=(len - at).min(4));
            let deleted: String = now.chars().skip(at).take(n).collect();
            text0::Component::delete(at, deleted)
        };
        let op = text0::Op::new(vec![c.clone()]);
        text0::apply(&mut now, &op).unwrap();
        components.push(c);
    }
    text0::Op::new(components)
}

#[test]
fn carets_stay_between_the_same_characters() {
    props::check(
        "carets_stay_between_the_same_characters",
        CASES,
        |mut rng| {
            let mut fresh = 0;
            let text: String = (0..rng.random_range(0..12))
                .map(|_| unique_char(&mut fresh))
                .collect();
            let len = text.chars().count();
            let (s, e) = (rng.random_range(0..=len), rng.random_range(0..=len));
            let own = rng.random_bool(0.5);
            let edit = random_text_op(&mut rng, &text, &mut fresh);
            // The same edit as text0 and as legacy si/sd components.
            let ops = [
                Op::from(Component::text0(["t"], edit.clone())),
                edit.0
                    .iter()
                    .map(|c| match &c.action {
                        text0::Action::Insert(t) => Component::string_insert(["t"], c.p, t.clone()),
                        text0::Action::Delete(t) => Component::string_delete(["t"], c.p, t.clone()),
                    })
                    .collect(),
            ];
            let mut after = text.clone();
            text0::apply(&mut after, &edit).unwrap();
            let new_index = |ch: char| after.chars().position(|x| x == ch);
            for op in ops {
                let presence = json!({"p": ["t"], "s": s, "e": e, "name": "Ann"});
                let moved = json0::transform_presence(&presence, &op, own);
                let context = format!("{text:?} -> {after:?}, ({s}, {e}), own {own}, {moved}");
                assert_eq!(moved["name"], "Ann", "{context}");
                for (key, was) in [("s", s), ("e", e)] {
                    let now = moved[key].as_u64().unwrap() as usize;
                    assert!(now <= after.chars().count(), "{context}");
                    for (i, ch) in text.chars().enumerate() {
                        if let Some(j) = new_index(ch) {
                            // What was before the caret still is, and what was
                            // after it still is.
                            assert_eq!(i < was, j < now, "{key}: {ch} in {context}");
                        }
                    }
                }
            }
            Ok(())
        },
    );
}

#[test]
fn a_presence_follows_its_list_item() {
    props::check("a_presence_follows_its_list_item", CASES, |mut rng| {
        let mut ids: Vec<u64> = (0..rng.random_range(1..8)).collect();
        let mut next = 100;
        let mut at = rng.random_range(0..ids.len());
        let ours = ids[at];
        let mut presence = json!({"p": ["l", at, "text"], "s": 1, "e": 1});
        for _ in 0..6 {
            let len = ids.len();
            let c = match rng.random_range(0..4) {
                0 => {
                    next += 1;
                    Component::list_insert(["l"], rng.random_range(0..=len), json!(next))
                }
                1 if len > 0 => Component::list_delete(["l"], rng.random_range(0..len), json!(0)),
                2 if len > 0 => {
                    Component::list_move(["l"], rng.random_range(0..len), rng.random_range(0..len))
                }
                _ if len > 0 => {
                    next += 1;
                    Component::list_replace(["l"], rng.random_range(0..len), json!(0), json!(next))
                }
                _ => continue,
            };
            let mut doc = json!({"l": ids.iter().map(|i| json!(i)).collect::<Vec<_>>()});
            let op = Op::from(c);
            json0::apply(&mut doc, &op).unwrap();
            ids = doc["l"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            presence = json0::transform_presence(&presence, &op, false);
            match ids.iter().position(|&i| i == ours) {
                Some(now) => {
                    at = now;
                    assert_eq!(
                        presence,
                        json!({"p": ["l", at, "text"], "s": 1, "e": 1}),
                        "{ids:?}"
                    );
                }
                None => {
                    assert_eq!(presence, json!({}), "the item is gone");
                    break;
                }
            }
        }
        Ok(())
    });
}

/// Waits until `presence` shows `id` with `expected` (or, `None`, without it).
async fn until_seen(presence: &DocPresence, id: &str, expected: Option<Value>) {
    let what = format!("{id} to be {expected:?}");
    util::until_within(&what, Duration::from_secs(5), || {
        util::by_local_id(&presence.others(), id) == expected
    })
    .await;
}

/// Two connections on one backend, with the note `notes.n` = "abc"
/// subscribed by both, and each one's presence in it.
async fn two_on_a_note() -> (Connection, Connection, DocPresence, DocPresence) {
    let backend = Backend::new();
    let (ann, bob) = (Connection::new(backend.clone()), Connection::new(backend));
    ann.get("notes", "n")
        .create(json!({"text": "abc"}))
        .unwrap()
        .await
        .unwrap();
    ann.get("notes", "n").subscribe().await.unwrap();
    bob.get("notes", "n").subscribe().await.unwrap();
    let (pa, pb) = (
        ann.doc_presence("notes", "n"),
        bob.doc_presence("notes", "n"),
    );
    pa.subscribe().await.unwrap();
    pb.subscribe().await.unwrap();
    (ann, bob, pa, pb)
}

/// A raw `p` message: presence `id` in `notes.n` at version `v`.
fn presence_message(id: &str, pv: u64, v: u64, value: Value) -> Value {
    json!({
        "a": "p", "ch": "notes.n", "id": id, "pv": pv, "c": "notes", "d": "n", "v": v,
        "t": json0::URI, "p": value
    })
}

fn caret(s: u64) -> Value {
    json!({"p": ["text"], "s": s, "e": s})
}

fn type_at(connection: &Connection, at: usize, text: &str) -> peloton::client::Ack {
    let op = Op::from(Component::text0(
        ["text"],
        text0::Op::new(vec![text0::Component::insert(at, text)]),
    ));
    connection.get("notes", "n").submit_op(op).unwrap()
}

#[tokio::test]
async fn carets_follow_typing_in_every_client() {
    let (ann, bob, pa, pb) = two_on_a_note().await;
    pa.submit("ann", caret(3));
    until_seen(&pb, "ann", Some(caret(3))).await;

    // Ann types at her caret: her caret moves on, everywhere.
    type_at(&ann, 3, "d").await.unwrap();
    assert_eq!(pa.local("ann"), Some(caret(4)));
    until_seen(&pb, "ann", Some(caret(4))).await;

    // Bob types at Ann's caret: his text lands after it, hers stays.
    type_at(&bob, 4, "!").await.unwrap();
    until_seen(&pb, "ann", Some(caret(4))).await;
    // And before it: it moves with the text it is at.
    type_at(&bob, 0, ">").await.unwrap();
    util::until("Ann's own caret to move", || {
        pa.local("ann") == Some(caret(5))
    })
    .await;
    until_seen(&pb, "ann", Some(caret(5))).await;

    pa.leave("ann");
    until_seen(&pb, "ann", None).await;
}

#[tokio::test]
async fn a_caret_is_moved_past_edits_the_server_has_not_acknowledged() {
    let (_ann, bob, pa, pb) = two_on_a_note().await;
    // Bob goes offline and types: his edit is his alone for now.
    bob.disconnect();
    let typed = type_at(&bob, 0, "XY");
    // Ann's caret after "a", made where Bob's edit is not.
    pa.submit("ann", caret(1));
    bob.reconnect();
    typed.await.unwrap();
    // Bob sees it after his own text, whichever of his edit and her caret
    // reaches the other first.
    until_seen(&pb, "ann", Some(caret(3))).await;
    assert_eq!(bob.get("notes", "n").data(), Some(json!({"text": "XYabc"})));
}

#[tokio::test]
async fn presence_waits_for_the_local_edits_it_was_made_after() {
    let (_ann, bob, pa, pb) = two_on_a_note().await;
    // Bob types offline and puts his caret after his new text: the caret
    // refers to a version the server does not have yet.
    bob.disconnect();
    let typed = type_at(&bob, 3, "def");
    pb.submit("bob", caret(6));
    bob.reconnect();
    typed.await.unwrap();
    until_seen(&pa, "bob", Some(caret(6))).await;
}

#[tokio::test]
async fn the_server_moves_a_presence_made_at_an_older_version() {
    let backend = Backend::new();
    let addr = util::serve(backend.clone()).await;
    let ann = Connection::new(backend);
    ann.get("notes", "n")
        .create(json!({"text": "abc"}))
        .unwrap()
        .await
        .unwrap();
    ann.get("notes", "n").subscribe().await.unwrap();
    let seen = ann.doc_presence("notes", "n");
    seen.subscribe().await.unwrap();
    type_at(&ann, 0, ">> ").await.unwrap(); // v1 -> v2

    let mut raw = util::RawSocket::connect(addr).await;
    raw.handshake(None).await;
    let value = json!({"p": ["text"], "s": 1, "e": 2});
    raw.send(presence_message("late", 1, 1, value)).await;
    let reply = raw.next(|m| m["a"] == "p" && m["id"] == "late").await;
    assert_eq!(reply["v"], 2);
    assert_eq!(reply["p"], json!({"p": ["text"], "s": 4, "e": 5}));
    until_seen(&seen, "late", Some(json!({"p": ["text"], "s": 4, "e": 5}))).await;

    // A presence that is not a caret travels as it is.
    let value = json!({"name": "just here"});
    raw.send(presence_message("late", 2, 1, value)).await;
    until_seen(&seen, "late", Some(json!({"name": "just here"}))).await;
}

#[tokio::test]
async fn a_caret_arriving_while_an_edit_is_in_flight_is_moved_past_it() {
    let backend = Backend::new();
    let addr = util::serve(backend.clone()).await;
    let uplink = util::HeldUplink::new(backend.clone());
    let bob = Connection::new(uplink.clone());
    bob.get("notes", "n")
        .create(json!({"text": "abc"}))
        .unwrap()
        .await
        .unwrap();
    bob.get("notes", "n").subscribe().await.unwrap();
    let seen = bob.doc_presence("notes", "n");
    seen.subscribe().await.unwrap();

    // Bob's edit is in flight (on its way to the server) when Ann's caret,
    // made at the version without it, reaches him.
    uplink.hold();
    let typed = type_at(&bob, 0, "XY");
    let mut ann = util::RawSocket::connect(addr).await;
    ann.handshake(None).await;
    ann.send(presence_message("ann", 1, 1, caret(1))).await;
    let relayed = ann.next(|m| m["a"] == "p" && m["id"] == "ann").await;
    assert_eq!(relayed["v"], 1, "relayed before the edit was committed");
    until_seen(&seen, "ann", Some(caret(3))).await;
    assert_eq!(
        backend.fetch("notes", "n").await.unwrap().v,
        1,
        "the edit is still in flight"
    );
    uplink.open();
    typed.await.unwrap();
    until_seen(&seen, "ann", Some(caret(3))).await;
}

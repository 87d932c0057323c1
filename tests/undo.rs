//! Undo and redo over concurrent sessions (property tests on proptest, see
//! `util/props.rs`): two models
//! edit one document through a backend at once, one of them undoes, and
//! undo only ever takes back the undoing user's own contributions; undo
//! then redo gives back the same document.
//!
//! Every inserted character, item and value is unique and says who made
//! it, so what survives can be checked. The interleaving of the two
//! clients follows the case's choices (`now_and_then`) on a single-threaded
//! runtime, so each case is also a small, reproducible race.

mod util;

use std::collections::BTreeSet;
use std::time::Duration;

use peloton::backend::Backend;
use peloton::client::Connection;
use peloton::model::Model;
use peloton::ot::text0;
use rand::Rng;
use serde_json::{Value, json};
use util::props::{self, Choices};

const CASES: u32 = 150;
const DOC: &str = "notes.n";

/// Ann's characters are CJK, Bob's Hangul: one UTF-16 unit each.
fn fresh_char(user: usize, n: &mut u32) -> char {
    *n += 1;
    char::from_u32([0x4E00, 0xAC00][user] + *n).unwrap()
}

fn owner(c: char) -> Option<usize> {
    match c as u32 {
        0x4E00..0x9FFF => Some(0),
        0xAC00..0xD7A3 => Some(1),
        _ => None,
    }
}

async fn pair(doc: Value) -> [Model; 2] {
    let backend = Backend::new();
    let ann = Model::new(Connection::new(backend.clone()));
    let bob = Model::new(Connection::new(backend));
    ann.create(DOC, doc).unwrap().acked().await.unwrap();
    ann.subscribe([DOC]).await.unwrap();
    bob.subscribe([DOC]).await.unwrap();
    [ann, bob]
}

/// Waits until both models have everything and agree.
async fn settle(models: &[Model; 2]) -> Value {
    let mut last = (None, None);
    for _ in 0..2000 {
        for m in models {
            m.when_nothing_pending().await;
        }
        let docs = (models[0].get_value(DOC), models[1].get_value(DOC));
        let versions: Vec<_> = models
            .iter()
            .map(|m| m.connection().unwrap().get("notes", "n").version())
            .collect();
        if docs.0 == docs.1 && versions[0] == versions[1] {
            return docs.0.unwrap();
        }
        last = docs;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("the two models never agreed: {last:?}");
}

/// Lets the connections' tasks run a little (so ops cross in flight).
async fn now_and_then(rng: &mut Choices) {
    if rng.random_bool(0.3) {
        tokio::task::yield_now().await;
    }
}

fn text_of(doc: &Value) -> String {
    doc["text"].as_str().unwrap_or_default().to_owned()
}

/// One random string edit by `user` (as text0 ops, or legacy `si`/`sd`).
fn edit_text(model: &Model, user: usize, rng: &mut Choices, fresh: &mut u32, legacy: bool) {
    let text = model
        .get::<String>(&format!("{DOC}.text"))
        .unwrap_or_default();
    let len = text.chars().count();
    let path = format!("{DOC}.text");
    if len == 0 || rng.random_bool(0.6) {
        let typed: String = (0..rng.random_range(1..4))
            .map(|_| fresh_char(user, fresh))
            .collect();
        let at = rng.random_range(0..=len);
        if legacy {
            model.string_insert(&path, at, &typed).unwrap();
        } else {
            let op = text0::Op::new(vec![text0::Component::insert(at, typed)]);
            model.text_op(&path, op).unwrap();
        }
    } else {
        let at = rng.random_range(0..len);
        let n = rng.random_range(1..=(len - at).min(3));
        if legacy {
            model.string_remove(&path, at, n).unwrap();
        } else {
            let removed: String = text.chars().skip(at).take(n).collect();
            let op = text0::Op::new(vec![text0::Component::delete(at, removed)]);
            model.text_op(&path, op).unwrap();
        }
    }
}

/// Undoes everything `model` can, while `other` keeps typing (only adding,
/// so what disappears is the undo's doing).
async fn undo_all_while_other_types(
    models: &[Model; 2],
    rng: &mut Choices,
    fresh: &mut u32,
    legacy: bool,
) {
    let mut guard = 0;
    while models[0].can_undo() {
        assert!(models[0].undo().unwrap());
        if rng.random_bool(0.5) {
            let text = models[1]
                .get::<String>(&format!("{DOC}.text"))
                .unwrap_or_default();
            let at = rng.random_range(0..=text.chars().count());
            let typed = fresh_char(1, fresh).to_string();
            if legacy {
                models[1]
                    .string_insert(&format!("{DOC}.text"), at, &typed)
                    .unwrap();
            } else {
                let op = text0::Op::new(vec![text0::Component::insert(at, typed)]);
                models[1].text_op(&format!("{DOC}.text"), op).unwrap();
            }
        }
        now_and_then(rng).await;
        guard += 1;
        assert!(guard < 10_000, "undo never ends");
    }
}

#[test]
fn undoing_text_takes_back_only_ones_own_typing() {
    props::check(
        "undoing_text_takes_back_only_ones_own_typing",
        CASES,
        |mut rng| {
            props::block_on(async move {
                let legacy = rng.random_bool(0.5);
                let models = pair(json!({"text": ""})).await;
                let mut fresh = 0;
                for _ in 0..rng.random_range(5..30) {
                    let user = rng.random_range(0..2);
                    edit_text(&models[user], user, &mut rng, &mut fresh, legacy);
                    if rng.random_bool(0.3) {
                        models[0].cut_undo_step();
                    }
                    if rng.random_bool(0.1) && models[0].can_undo() {
                        models[0].undo().unwrap();
                    }
                    now_and_then(&mut rng).await;
                }
                let before = text_of(&settle(&models).await);
                let bobs_before: BTreeSet<char> =
                    before.chars().filter(|&c| owner(c) == Some(1)).collect();

                undo_all_while_other_types(&models, &mut rng, &mut fresh, legacy).await;
                let after = text_of(&settle(&models).await);
                let context = format!("(legacy: {legacy}): {before:?} -> {after:?}");
                for c in &bobs_before {
                    assert!(after.contains(*c), "Bob's {c} was undone by Ann: {context}");
                }
                assert!(
                    !after.chars().any(|c| owner(c) == Some(0)),
                    "some of Ann's typing is left after she undid everything: {context}"
                );
                Ok(())
            })
        },
    );
}

#[test]
fn undo_then_redo_gives_back_the_same_document() {
    props::check(
        "undo_then_redo_gives_back_the_same_document",
        CASES,
        |mut rng| {
            props::block_on(async move {
                let models = pair(json!({"text": "", "items": [], "keys": {}, "n": 0})).await;
                let mut fresh = 0;
                for _ in 0..rng.random_range(5..25) {
                    let user = rng.random_range(0..2);
                    if rng.random_bool(0.5) {
                        edit_text(&models[user], user, &mut rng, &mut fresh, false);
                    } else {
                        edit_json(&models[user], user, &mut rng, &mut fresh);
                    }
                    models[0].cut_undo_step();
                    now_and_then(&mut rng).await;
                }
                let before = settle(&models).await;
                let steps = rng.random_range(1..4);
                let mut undone = 0;
                for _ in 0..steps {
                    if models[0].undo().unwrap() {
                        undone += 1;
                    }
                }
                for _ in 0..undone {
                    assert!(models[0].redo().unwrap(), "nothing to redo");
                }
                assert_eq!(models[0].get_value(DOC), Some(before.clone()), "locally");
                assert_eq!(settle(&models).await, before, "everywhere");
                Ok(())
            })
        },
    );
}

/// One random structural edit by `user`: items in a list (inserted, removed,
/// moved, and edited inside), keys set and deleted, a number incremented.
fn edit_json(model: &Model, user: usize, rng: &mut Choices, fresh: &mut u32) {
    let items = model
        .get::<Vec<Value>>(&format!("{DOC}.items"))
        .unwrap_or_default();
    let mut tag = || {
        *fresh += 1;
        json!({"by": user, "v": *fresh})
    };
    let key = format!("{DOC}.keys.k{}", rng.random_range(0..4));
    let result = match rng.random_range(0..7) {
        0 | 1 => model
            .insert(
                &format!("{DOC}.items"),
                rng.random_range(0..=items.len()),
                vec![tag()],
            )
            .map(drop),
        2 if !items.is_empty() => model
            .remove(&format!("{DOC}.items"), rng.random_range(0..items.len()), 1)
            .map(drop),
        3 if items.len() > 1 => model
            .move_items(
                &format!("{DOC}.items"),
                rng.random_range(0..items.len()),
                rng.random_range(0..items.len()),
                1,
            )
            .map(drop),
        4 if !items.is_empty() => {
            let i = rng.random_range(0..items.len());
            model.set(&format!("{DOC}.items.{i}.note"), tag()).map(drop)
        }
        5 => model.set(&key, tag()).map(drop),
        6 if rng.random_bool(0.3) => model.del(&key).map(drop),
        _ => model
            .increment(
                &format!("{DOC}.n"),
                f64::from(rng.random_range(1..10)) * [1.0, 100.0][user],
            )
            .map(drop),
    };
    result.unwrap();
}

/// Everything Bob made that a document holds: his items (by value), his
/// notes in items, his key values, as strings.
fn bobs(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let by_bob = |v: &Value| v.get("by") == Some(&json!(1));
    for item in doc["items"].as_array().into_iter().flatten() {
        if by_bob(item) {
            out.insert(format!("item {}", item["v"]));
        }
        if let Some(note) = item.get("note").filter(|n| by_bob(n)) {
            out.insert(format!("note {} in item {}", note["v"], item["v"]));
        }
    }
    for (key, value) in doc["keys"].as_object().into_iter().flatten() {
        if by_bob(value) {
            out.insert(format!("{key} = {}", value["v"]));
        }
    }
    out
}

#[test]
fn undoing_structure_never_takes_back_others_work() {
    props::check(
        "undoing_structure_never_takes_back_others_work",
        CASES,
        |mut rng| {
            props::block_on(async move {
                let models = pair(json!({"items": [], "keys": {}, "n": 0})).await;
                let mut fresh = 0;
                let mut bobs_increments = 0.0;
                for _ in 0..rng.random_range(5..30) {
                    let user = rng.random_range(0..2);
                    let n_before = models[user].get::<f64>(&format!("{DOC}.n")).unwrap_or(0.0);
                    edit_json(&models[user], user, &mut rng, &mut fresh);
                    if user == 1 {
                        bobs_increments +=
                            models[1].get::<f64>(&format!("{DOC}.n")).unwrap_or(0.0) - n_before;
                    }
                    if rng.random_bool(0.4) {
                        models[0].cut_undo_step();
                    }
                    now_and_then(&mut rng).await;
                }
                let before = settle(&models).await;
                while models[0].can_undo() {
                    models[0].undo().unwrap();
                    now_and_then(&mut rng).await;
                }
                let after = settle(&models).await;
                let context = format!("\n before {before}\n after  {after}");
                let (had, has) = (bobs(&before), bobs(&after));
                assert!(
                    had.is_subset(&has),
                    "Ann's undo took back Bob's {:?}: {context}",
                    had.difference(&has)
                );
                // Ann's increments are all undone; Bob's all stay.
                assert_eq!(after["n"].as_f64(), Some(bobs_increments), "{context}");
                // Nothing Ann set is left, except inside items Bob has edited.
                for item in after["items"].as_array().into_iter().flatten() {
                    if item["by"] == 0 && item.get("note").is_none_or(|n| n["by"] != 1) {
                        panic!("Ann's item {item} survived her undo: {context}");
                    }
                }
                for (key, value) in after["keys"].as_object().into_iter().flatten() {
                    assert_ne!(value["by"], 0, "Ann's {key} survived her undo: {context}");
                }
                Ok(())
            })
        },
    );
}

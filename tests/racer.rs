//! Racer's behaviours, as Racer 2.3 shows them, through peloton's model:
//! writes through ref lists and their events, the order of events through
//! refs, documents leaving live queries, composed writes, reactive
//! functions, filters and sorts, event contexts and the query API.
//!
//! Each test states the observable behaviour it checks; where peloton
//! deliberately differs from Racer, the model's rustdoc says so.

mod util;

use std::sync::{Arc, Mutex};

use peloton::backend::Backend;
use peloton::client::Connection;
use peloton::model::{EventKind, EventType, Model, ModelEvent};
use serde_json::{Value, json};
use util::until;

/// Every event a model emits, in the order its listeners hear them.
fn record_all(model: &Model) -> Arc<Mutex<Vec<ModelEvent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    model.on(EventType::All, "**", move |event, _| {
        sink.lock().unwrap().push(event.clone());
    });
    seen
}

fn at(seen: &Mutex<Vec<ModelEvent>>, path: &str) -> Vec<EventKind> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|e| e.path == path)
        .map(|e| e.kind.clone())
        .collect()
}

fn paths(seen: &Mutex<Vec<ModelEvent>>) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|e| e.path.clone())
        .collect()
}

fn colors() -> Model {
    let model = Model::local();
    model
        .set(
            "_page.colors",
            json!({"red": {"id": "red", "hex": "#f00"}, "green": {"id": "green", "hex": "#0f0"}}),
        )
        .unwrap();
    model.set("_page.ids", json!(["red", "green"])).unwrap();
    model.ref_list("_page.list", "_page.colors", "_page.ids");
    model
}

#[test]
fn list_mutators_write_through_a_ref_list() {
    let model = colors();
    let seen = record_all(&model);

    // A new document goes into the collection, its id into the ids.
    let len = model
        .push("_page.list", json!({"id": "blue", "hex": "#00f"}))
        .unwrap()
        .value;
    assert_eq!(len, 3);
    assert_eq!(
        model.get_value("_page.colors.blue"),
        Some(json!({"id": "blue", "hex": "#00f"}))
    );
    assert_eq!(
        model.get_value("_page.ids"),
        Some(json!(["red", "green", "blue"]))
    );
    assert_eq!(
        at(&seen, "_page.list"),
        [EventKind::Insert {
            index: 2,
            values: vec![json!({"id": "blue", "hex": "#00f"})]
        }]
    );

    // A document without an id gets one, written onto it.
    model
        .insert("_page.list", 0, vec![json!({"hex": "#fff"})])
        .unwrap();
    let ids: Vec<String> = model.get("_page.ids").unwrap();
    assert_eq!(ids.len(), 4);
    assert_eq!(
        model.get_value(&format!("_page.colors.{}.hex", ids[0])),
        Some(json!("#fff"))
    );
    assert_eq!(model.get_value("_page.list.0.id"), Some(json!(ids[0])));

    // Remove and move change the ids; the documents stay.
    let removed = model.remove("_page.list", 0, 1).unwrap().value;
    assert_eq!(removed[0]["hex"], "#fff");
    assert_eq!(
        model.get_value("_page.ids"),
        Some(json!(["red", "green", "blue"]))
    );
    model.move_items("_page.list", 2, 0, 1).unwrap();
    assert_eq!(
        model.get_value("_page.ids"),
        Some(json!(["blue", "red", "green"]))
    );
    assert_eq!(model.get_value("_page.list.0.hex"), Some(json!("#00f")));
    assert_eq!(
        model.pop("_page.list").unwrap().value.unwrap()["id"],
        "green"
    );
    assert!(model.get_value("_page.colors.green").is_some());

    // Setting the whole list writes its documents and replaces the ids.
    model
        .set(
            "_page.list",
            json!([{"id": "red"}, {"id": "cyan", "hex": "#0ff"}]),
        )
        .unwrap();
    assert_eq!(model.get_value("_page.ids"), Some(json!(["red", "cyan"])));
    assert_eq!(
        model.get_value("_page.colors.red"),
        Some(json!({"id": "red"}))
    );
    model.del("_page.list").unwrap();
    assert_eq!(model.get_value("_page.ids"), Some(json!([])));

    // Values that are no document are refused, naming the list.
    let err = model.push("_page.list", json!(3)).unwrap_err();
    assert!(err.to_string().contains("_page.list"), "{err}");
}

#[tokio::test]
async fn pushing_to_a_ref_list_of_a_shared_collection_creates_the_document() {
    let backend = Backend::new();
    let model = Model::new(Connection::new(backend.clone()));
    model.set("_page.ids", json!([])).unwrap();
    model.ref_list("_page.todos", "todos", "_page.ids");
    model
        .push("_page.todos", json!({"text": "milk"}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    let id: String = model.get("_page.ids.0").unwrap();

    let other = Model::new(Connection::new(backend));
    other.fetch([format!("todos.{id}").as_str()]).await.unwrap();
    assert_eq!(
        other.get_value(&format!("todos.{id}.text")),
        Some(json!("milk"))
    );
}

#[test]
fn replacing_the_ids_emits_inserts_removes_and_moves_on_the_list() {
    let model = Model::local();
    model
        .set(
            "_page.colors",
            json!({"red": {"n": 1}, "green": {"n": 2}, "blue": {"n": 3}}),
        )
        .unwrap();
    model.ref_list("_page.list", "_page.colors", "_page.ids");
    let seen = record_all(&model);

    // Ids set on an empty list: an insert, not a whole-list change.
    model
        .set("_page.ids", json!(["red", "green", "red"]))
        .unwrap();
    assert_eq!(
        at(&seen, "_page.list"),
        [EventKind::Insert {
            index: 0,
            values: vec![json!({"n": 1}), json!({"n": 2}), json!({"n": 1})]
        }]
    );

    // Replaced: the list's events, applied to the old list, give the new.
    seen.lock().unwrap().clear();
    model
        .set("_page.ids", json!(["green", "red", "blue"]))
        .unwrap();
    let mut list = vec![json!({"n": 1}), json!({"n": 2}), json!({"n": 1})];
    let events = at(&seen, "_page.list");
    assert!(!events.is_empty());
    for event in events {
        match event {
            EventKind::Insert { index, values } => {
                list.splice(index..index, values);
            }
            EventKind::Remove { index, values } => {
                let gone: Vec<Value> = list.drain(index..index + values.len()).collect();
                assert_eq!(gone, values);
            }
            EventKind::Move { from, to, how_many } => {
                let moved: Vec<Value> = list.drain(from..from + how_many).collect();
                list.splice(to..to, moved);
            }
            other => panic!("a whole-list event: {other:?}"),
        }
    }
    assert_eq!(list, [json!({"n": 2}), json!({"n": 1}), json!({"n": 3})]);
    assert_eq!(model.get_value("_page.list"), Some(json!(list)));

    // One id replaced: a change of the item at its index.
    seen.lock().unwrap().clear();
    model.set("_page.ids.2", "green").unwrap();
    assert_eq!(
        at(&seen, "_page.list.2"),
        [EventKind::Change {
            value: Some(json!({"n": 2})),
            previous: Some(json!({"n": 3}))
        }]
    );
}

#[test]
fn through_a_ref_the_ref_path_hears_first() {
    let model = Model::local();
    model
        .set("_page.colors.green", json!({"hex": "#0f0"}))
        .unwrap();
    model.ref_to("_page.color", "_page.colors.green");
    model.ref_to("_page.chosen", "_page.color");
    let seen = record_all(&model);

    model.set("_page.colors.green.hex", "#1f1").unwrap();
    assert_eq!(
        paths(&seen),
        [
            "_page.chosen.hex",
            "_page.color.hex",
            "_page.colors.green.hex"
        ]
    );
    seen.lock().unwrap().clear();
    model.set("_page.color.hex", "#2f2").unwrap();
    assert_eq!(
        paths(&seen),
        [
            "_page.chosen.hex",
            "_page.color.hex",
            "_page.colors.green.hex"
        ]
    );

    // Through a ref list, the list's item hears before the document.
    let model = colors();
    let seen = record_all(&model);
    model.set("_page.colors.green.hex", "#1f1").unwrap();
    assert_eq!(paths(&seen), ["_page.list.1.hex", "_page.colors.green.hex"]);
}

#[tokio::test]
async fn a_document_that_leaves_a_live_query_is_unloaded_unless_held() {
    let backend = Backend::new();
    let writer = Model::new(Connection::new(backend.clone()));
    for id in ["a", "b"] {
        writer
            .create(&format!("todos.{id}"), json!({"done": false}))
            .unwrap()
            .acked()
            .await
            .unwrap();
    }
    let reader = Model::new(Connection::new(backend.clone()));
    let open = reader.query("todos", json!({"done": false}));
    open.subscribe().await.unwrap();
    reader.subscribe(["todos.b"]).await.unwrap();
    let seen = record_all(&reader);

    writer
        .set("todos.a.done", true)
        .unwrap()
        .acked()
        .await
        .unwrap();
    writer
        .set("todos.b.done", true)
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("both left the results", || open.ids().is_empty()).await;
    until("a unloaded", || reader.get_value("todos.a").is_none()).await;
    assert!(
        at(&seen, "todos.a")
            .iter()
            .any(|k| matches!(k, EventKind::Unload { .. })),
        "an unload event for a"
    );

    // b is subscribed on its own: it stays, and stays live.
    writer
        .set("todos.b.title", "kept")
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("b still live", || {
        reader.get_value("todos.b.title") == Some(json!("kept"))
    })
    .await;
}

#[tokio::test]
async fn a_remote_increment_reports_an_integer_previous_value() {
    let backend = Backend::new();
    let a = Model::new(Connection::new(backend.clone()));
    a.create("counters.c", json!({"n": 5}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    let b = Model::new(Connection::new(backend));
    b.subscribe(["counters.c"]).await.unwrap();
    let seen = record_all(&b);
    a.increment("counters.c.n", 1.0)
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the increment arrives", || {
        !at(&seen, "counters.c.n").is_empty()
    })
    .await;
    let EventKind::Change { value, previous } = &at(&seen, "counters.c.n")[0] else {
        panic!("not a change");
    };
    // As serialized: `5`, not `5.0`, as the local path reports it.
    assert_eq!(serde_json::to_string(previous).unwrap(), "5");
    assert_eq!(serde_json::to_string(value).unwrap(), "6");
}

#[tokio::test(flavor = "current_thread")]
async fn synchronous_writes_to_one_document_travel_as_one_op() {
    let backend = Backend::new();
    let model = Model::new(Connection::new(backend.clone()));
    model
        .create("counters.c", json!({"n": 0}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    let doc = model.connection().unwrap().get("counters", "c");
    let before = doc.version().unwrap();
    let first = model.increment("counters.c.n", 1.0).unwrap();
    model.increment("counters.c.n", 1.0).unwrap();
    model.set("counters.c.z", "zed").unwrap();
    let last = model.increment("counters.c.n", 1.0).unwrap();
    first.acked().await.unwrap();
    last.acked().await.unwrap();
    assert_eq!(doc.version(), Some(before + 1), "one op, one version");
    let other = Model::new(Connection::new(backend));
    other.fetch(["counters.c"]).await.unwrap();
    assert_eq!(other.get_value("counters.c.n"), Some(json!(3)));
    assert_eq!(other.get_value("counters.c.z"), Some(json!("zed")));
}

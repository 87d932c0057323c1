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

#[test]
fn a_reactive_function_keeps_its_output_and_runs_after_its_input() {
    let model = Model::local();
    model.set("_page.cart.items", json!([2, 3])).unwrap();
    model.set("_page.cart.other", 1).unwrap();
    let sum = |inputs: &[Option<Value>]| {
        let items = inputs[0].as_ref()?.as_array()?;
        Some(json!(items.iter().filter_map(Value::as_i64).sum::<i64>()))
    };
    let first = model
        .start("_page.total", &["_page.cart.items"], sum)
        .unwrap();
    assert_eq!(first, Some(json!(5)));
    let seen = record_all(&model);

    // The input, a descendant of it, its parent: each runs the function,
    // after the input's own event.
    model.push("_page.cart.items", 5).unwrap();
    assert_eq!(model.get_value("_page.total"), Some(json!(10)));
    assert_eq!(paths(&seen), ["_page.cart.items", "_page.total"]);
    model.set("_page.cart.items.0", 10).unwrap();
    assert_eq!(model.get_value("_page.total"), Some(json!(18)));
    model
        .set("_page.cart", json!({"items": [1], "other": 1}))
        .unwrap();
    assert_eq!(model.get_value("_page.total"), Some(json!(1)));

    // A sibling does not run it; an unchanged result emits nothing.
    seen.lock().unwrap().clear();
    model.set("_page.cart.other", 2).unwrap();
    model.set("_page.cart.items", json!([1])).unwrap();
    assert!(at(&seen, "_page.total").is_empty());

    // Stopped: the output keeps its last value.
    model.stop("_page.total");
    model.push("_page.cart.items", 1).unwrap();
    assert_eq!(model.get_value("_page.total"), Some(json!(1)));

    // Named functions and evaluate.
    model.define_fn("sum", sum);
    assert_eq!(
        model.evaluate_named(&["_page.cart.items"], "sum").unwrap(),
        Some(json!(2))
    );
    model
        .start_named("_page.total", &["_page.cart.items"], "sum")
        .unwrap();
    assert_eq!(model.get_value("_page.total"), Some(json!(2)));
    model.stop_all();
    assert!(model.start_named("_page.x", &[], "nope").is_err());
}

#[test]
fn a_two_way_function_writes_its_inputs_back() {
    use peloton::model::ReactiveFn;
    let model = Model::local();
    model.set("_page.first", "Ada").unwrap();
    model.set("_page.last", "Lovelace").unwrap();
    model
        .start(
            "_page.full",
            &["_page.first", "_page.last"],
            ReactiveFn::two_way(
                |inputs| {
                    let part = |i: usize| inputs[i].as_ref()?.as_str().map(str::to_owned);
                    Some(json!(format!("{} {}", part(0)?, part(1)?)))
                },
                |full, _| {
                    let full = full.as_str().unwrap_or_default();
                    let (first, last) = full.split_once(' ').unwrap_or((full, ""));
                    vec![Some(json!(first)), Some(json!(last))]
                },
            ),
        )
        .unwrap();
    assert_eq!(model.get_value("_page.full"), Some(json!("Ada Lovelace")));
    model.set("_page.full", "Grace Hopper").unwrap();
    assert_eq!(model.get_value("_page.first"), Some(json!("Grace")));
    assert_eq!(model.get_value("_page.last"), Some(json!("Hopper")));
    model.set("_page.first", "Anita").unwrap();
    assert_eq!(model.get_value("_page.full"), Some(json!("Anita Hopper")));
}

#[tokio::test]
async fn functions_and_filters_follow_remote_changes() {
    let backend = Backend::new();
    let writer = Model::new(Connection::new(backend.clone()));
    for (id, rank, done) in [("a", 2, false), ("b", 1, true), ("c", 3, false)] {
        writer
            .create(&format!("todos.{id}"), json!({"rank": rank, "done": done}))
            .unwrap()
            .acked()
            .await
            .unwrap();
    }
    let reader = Model::new(Connection::new(backend));
    reader
        .subscribe(["todos.a", "todos.b", "todos.c"])
        .await
        .unwrap();
    let open = reader
        .filter("todos", |todo, _| todo["done"] == false)
        .sort(|a, b| a["rank"].as_i64().cmp(&b["rank"].as_i64()));
    assert_eq!(open.ids(), ["a", "c"]);
    open.ref_to("_page.open");
    reader
        .start(
            "_page.top",
            &["todos.a.rank"],
            |inputs: &[Option<Value>]| inputs[0].clone(),
        )
        .unwrap();
    let seen = record_all(&reader);

    writer
        .set("todos.b.done", false)
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("b joins the view", || {
        reader.get::<Vec<String>>("$filters._page|open")
            == Some(vec!["b".into(), "a".into(), "c".into()])
    })
    .await;
    assert_eq!(reader.get_value("_page.open.0.rank"), Some(json!(1)));
    assert!(
        at(&seen, "_page.open")
            .iter()
            .any(|k| matches!(k, EventKind::Insert { index: 0, .. })),
        "an insert on the view, not a whole change: {:?}",
        at(&seen, "_page.open")
    );
    writer
        .set("todos.a.rank", 9)
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the function follows", || {
        reader.get_value("_page.top") == Some(json!(9))
    })
    .await;
    until("the view re-sorts", || open.ids() == ["b", "c", "a"]).await;
    assert_eq!(reader.get_value("_page.open.2.rank"), Some(json!(9)));

    reader.remove_filter("_page.open");
    assert_eq!(reader.get_value("_page.open"), None);
}

#[test]
fn filters_skip_limit_inputs_and_lists() {
    let model = Model::local();
    model.set("_page.nums", json!([5, 1, 4, 2, 3])).unwrap();
    model.set("_page.min", 2).unwrap();
    let big = model
        .filter_with("_page.nums", &["_page.min"], |n, _, inputs| {
            n.as_i64() >= inputs[0].as_ref().and_then(Value::as_i64)
        })
        .sort(|a, b| a.as_i64().cmp(&b.as_i64()))
        .skip(1)
        .limit(2);
    // List items are known by their indexes.
    assert_eq!(big.ids(), ["4", "2"]);
    assert_eq!(big.get(), [json!(3), json!(4)]);
    big.ref_to("_page.big");
    model.set("_page.min", 4).unwrap();
    assert_eq!(model.get_value("_page.big"), Some(json!([5])));
    let by_value = model.sort("_page.nums", |a, b| b.as_i64().cmp(&a.as_i64()));
    assert_eq!(
        by_value.get(),
        [json!(5), json!(4), json!(3), json!(2), json!(1)]
    );
}

#[test]
fn an_event_context_removes_what_it_added_and_only_that() {
    let model = Model::local();
    let page = model.event_context("page");
    let heard = Arc::new(Mutex::new(Vec::new()));
    for (m, name) in [(&page, "page"), (&model, "root")] {
        let heard = heard.clone();
        m.on(EventType::Change, "_page.**", move |_, _| {
            heard.lock().unwrap().push(name)
        });
    }
    let scoped = page.at("_page.list");
    let h = heard.clone();
    scoped.on_value_change("", move |_| h.lock().unwrap().push("scoped"));
    model.set("_page.list", json!([1])).unwrap();
    assert_eq!(*heard.lock().unwrap(), ["page", "root", "scoped"]);

    assert_eq!(page.remove_context_listeners(), 2);
    heard.lock().unwrap().clear();
    model.set("_page.list", json!([2])).unwrap();
    assert_eq!(*heard.lock().unwrap(), ["root"]);
    assert_eq!(model.remove_context_listeners(), 0, "no context");
}

#[tokio::test]
async fn query_results_are_a_first_class_api() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Todo {
        text: String,
    }
    let backend = Backend::new();
    let writer = Model::new(Connection::new(backend.clone()));
    writer
        .create("todos.a", json!({"text": "milk"}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    let reader = Model::new(Connection::new(backend));
    let all = reader.query("todos", json!({"$sort": {"text": 1}}));
    let count = reader.query("todos", json!({"$count": true}));
    all.subscribe().await.unwrap();
    count.subscribe().await.unwrap();
    assert_eq!(all.ids(), ["a"]);
    assert_eq!(
        all.docs::<Todo>(),
        [Todo {
            text: "milk".into()
        }]
    );
    assert_eq!(count.extra_as::<u64>(), Some(1));

    let changes = Arc::new(Mutex::new(0));
    let c = changes.clone();
    all.on_change(move || *c.lock().unwrap() += 1);
    writer
        .create("todos.b", json!({"text": "eggs"}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("b in the results", || all.ids() == ["b", "a"]).await;
    until("the count", || count.extra_as::<u64>() == Some(2)).await;
    writer
        .set("todos.b.text", "brown eggs")
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the edit", || all.docs::<Todo>()[0].text == "brown eggs").await;
    assert!(*changes.lock().unwrap() >= 2);
}

/// `ModelQuery::docs`, and `get` of a whole document, read each document
/// in place, as `read` at its path does: with Racer's `id` alias (`create` strips a given `id`), and
/// those that are not the type asked left out.
#[tokio::test]
async fn query_docs_read_as_their_paths_do() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Todo {
        id: String,
        text: String,
    }
    let model = Model::new(Connection::new(Backend::new()));
    for (id, data) in [
        ("a", json!({"text": "milk", "n": 1})),
        ("b", json!({"text": "eggs", "id": "b"})),
        ("c", json!({"text": 3})),
    ] {
        model
            .create(&format!("todos.{id}"), data)
            .unwrap()
            .acked()
            .await
            .unwrap();
    }
    let all = model.query("todos", json!({"$sort": {"_id": 1}}));
    all.fetch().await.unwrap();
    assert_eq!(
        all.docs::<Todo>(),
        [
            Todo {
                id: "a".into(),
                text: "milk".into()
            },
            Todo {
                id: "b".into(),
                text: "eggs".into()
            },
        ]
    );
    let values = all.docs::<Value>();
    assert_eq!(values[0], json!({"id": "a", "text": "milk", "n": 1}));
    for (id, value) in all.ids().iter().zip(&values) {
        assert_eq!(
            Some(value),
            model.get_value(&format!("todos.{id}")).as_ref()
        );
        // `get` of a whole document reads in place too.
        assert_eq!(
            Some(value),
            model.get::<Value>(&format!("todos.{id}")).as_ref()
        );
    }
    let milk = Todo {
        id: "a".into(),
        text: "milk".into(),
    };
    assert_eq!(model.get::<Todo>("todos.a"), Some(milk));
    assert_eq!(
        model.at("todos").get::<Todo>("b").map(|t| t.id),
        Some("b".into())
    );
    assert_eq!(model.get::<Todo>("todos.c"), None, "not a Todo");
    assert_eq!(model.get::<Todo>("todos.z"), None, "no such document");
}

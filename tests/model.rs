//! Racer's behaviour, through peloton's model, on a real in-memory backend.

mod util;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use peloton::backend::Backend;
use peloton::client::Connection;
use peloton::client::transport::WebSocketConnector;
use peloton::model::{EventKind, EventType, Model, ModelEvent, ModelOptions};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use util::until;

/// Events as recorded: the event and the listener's captures.
type Seen = Arc<Mutex<Vec<(ModelEvent, Vec<String>)>>>;

/// Records the events a model emits under a pattern.
fn record(model: &Model, event_type: EventType, pattern: &str) -> Seen {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    model.on(event_type, pattern, move |event, captures| {
        sink.lock()
            .unwrap()
            .push((event.clone(), captures.to_vec()));
    });
    seen
}

fn kinds(seen: &Mutex<Vec<(ModelEvent, Vec<String>)>>) -> Vec<(String, EventKind)> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(e, _)| (e.path.clone(), e.kind.clone()))
        .collect()
}

fn pair() -> (Backend, Model, Model) {
    let backend = Backend::new();
    let a = Model::new(Connection::new(backend.clone()));
    let b = Model::new(Connection::new(backend.clone()));
    (backend, a, b)
}

/// A model on `backend` that unloads after `delay_ms`.
fn with_unload_delay(backend: &Backend, delay_ms: u64) -> Model {
    Model::with_options(Connection::new(backend.clone()), {
        let mut options = ModelOptions::default();
        options.unload_delay = Duration::from_millis(delay_ms);
        options
    })
}

#[tokio::test]
async fn every_mutator_emits_racers_events() {
    let (_backend, model, _) = pair();
    let seen = record(&model, EventType::All, "todos.**");
    model
        .create("todos.t", json!({"items": ["a"], "n": 1, "s": "hé"}))
        .unwrap();
    model.set("todos.t.title", "milk").unwrap();
    model.push("todos.t.items", "b").unwrap();
    model
        .insert("todos.t.items", 0, vec![json!("x"), json!("y")])
        .unwrap();
    model.move_items("todos.t.items", 0, 2, 2).unwrap();
    model.remove("todos.t.items", 1, 2).unwrap();
    model.increment("todos.t.n", 2.0).unwrap();
    model.string_insert("todos.t.s", 2, "llo").unwrap();
    model.string_remove("todos.t.s", 0, 1).unwrap();
    model.del("todos.t.title").unwrap();
    assert_eq!(model.pop("todos.t.items").unwrap().value, Some(json!("y")));
    assert_eq!(
        model.shift("todos.t.items").unwrap().value,
        Some(json!("a"))
    );
    let change =
        |value: Option<Value>, previous: Option<Value>| EventKind::Change { value, previous };
    assert_eq!(
        kinds(&seen),
        vec![
            (
                "todos.t".into(),
                change(
                    Some(json!({"items": ["a"], "n": 1, "s": "hé", "id": "t"})),
                    None
                )
            ),
            ("todos.t.title".into(), change(Some(json!("milk")), None)),
            (
                "todos.t.items".into(),
                EventKind::Insert {
                    index: 1,
                    values: vec![json!("b")]
                }
            ),
            (
                "todos.t.items".into(),
                EventKind::Insert {
                    index: 0,
                    values: vec![json!("x"), json!("y")]
                }
            ),
            (
                "todos.t.items".into(),
                EventKind::Move {
                    from: 0,
                    to: 2,
                    how_many: 2
                }
            ),
            (
                "todos.t.items".into(),
                EventKind::Remove {
                    index: 1,
                    values: vec![json!("b"), json!("x")]
                }
            ),
            ("todos.t.n".into(), change(Some(json!(3)), Some(json!(1)))),
            (
                "todos.t.s".into(),
                change(Some(json!("héllo")), Some(json!("hé")))
            ),
            (
                "todos.t.s".into(),
                change(Some(json!("éllo")), Some(json!("héllo")))
            ),
            ("todos.t.title".into(), change(None, Some(json!("milk")))),
            (
                "todos.t.items".into(),
                EventKind::Remove {
                    index: 1,
                    values: vec![json!("y")]
                }
            ),
            (
                "todos.t.items".into(),
                EventKind::Remove {
                    index: 0,
                    values: vec![json!("a")]
                }
            ),
        ]
    );
    let passed: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(e, _)| Value::Object(e.passed.clone()))
        .collect();
    assert_eq!(
        passed[7],
        json!({"$stringInsert": {"index": 2, "text": "llo"}})
    );
    assert_eq!(
        passed[8],
        json!({"$stringRemove": {"index": 0, "howMany": 1}})
    );
    model.when_nothing_pending().await;
    assert_eq!(
        model.get_value("todos.t"),
        Some(json!({"items": [], "n": 3, "s": "éllo", "id": "t"}))
    );
}

#[tokio::test]
async fn remote_changes_arrive_one_event_per_component() {
    let (_backend, writer, reader) = pair();
    writer
        .create("lists.l", json!({"items": []}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    reader.subscribe(["lists.l"]).await.unwrap();
    let seen = record(&reader, EventType::All, "lists.l.**");
    writer
        .insert("lists.l.items", 0, vec![json!("a"), json!("b")])
        .unwrap()
        .acked()
        .await
        .unwrap();
    writer
        .move_items("lists.l.items", 0, 1, 1)
        .unwrap()
        .acked()
        .await
        .unwrap();
    writer
        .string_insert("lists.l.title", 0, "x")
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("remote events", || seen.lock().unwrap().len() == 4).await;
    assert_eq!(
        kinds(&seen),
        vec![
            (
                "lists.l.items".into(),
                EventKind::Insert {
                    index: 0,
                    values: vec![json!("a")]
                }
            ),
            (
                "lists.l.items".into(),
                EventKind::Insert {
                    index: 1,
                    values: vec![json!("b")]
                }
            ),
            (
                "lists.l.items".into(),
                EventKind::Move {
                    from: 0,
                    to: 1,
                    how_many: 1
                }
            ),
            (
                "lists.l.title".into(),
                EventKind::Change {
                    value: Some(json!("x")),
                    previous: None
                }
            ),
        ]
    );
    assert!(seen.lock().unwrap().iter().all(|(e, _)| e.is_remote()));
}

#[tokio::test]
async fn wildcards_pass_silent_and_queued_order() {
    let model = Model::local();
    let seen = record(&model, EventType::Change, "_page.*.name");
    model
        .pass(json!({"who": "test"}))
        .set("_page.ann.name", "Ann")
        .unwrap();
    model.silent().set("_page.bob.name", "Bob").unwrap();
    model.set("_page.ann.age", 3).unwrap();
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, vec!["ann".to_string()]);
    assert_eq!(got[0].0.passed.get("who"), Some(&json!("test")));

    // A mutation made inside a listener is delivered after the current event.
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2) = (order.clone(), order.clone());
    let inner = model.clone();
    model.on(EventType::Change, "_page.a", move |_, _| {
        o1.lock().unwrap().push("a: first listener");
        inner.set("_page.b", 1).unwrap();
        o1.lock().unwrap().push("a: first listener done");
    });
    model.on(EventType::Change, "_page.a", move |_, _| {
        o2.lock().unwrap().push("a: second listener")
    });
    let o3 = order.clone();
    model.on(EventType::Change, "_page.b", move |_, _| {
        o3.lock().unwrap().push("b")
    });
    model.set("_page.a", 1).unwrap();
    assert_eq!(
        *order.lock().unwrap(),
        vec![
            "a: first listener",
            "a: first listener done",
            "a: second listener",
            "b"
        ]
    );
}

#[tokio::test]
async fn refs_follow_their_targets_including_moved_list_items() {
    let (_backend, model, other) = pair();
    model.create("lists.l", json!({"ids": ["x", "y"]})).unwrap();
    model.create("items.x", json!({"text": "X"})).unwrap();
    model.create("items.y", json!({"text": "Y"})).unwrap();
    model
        .subscribe(["lists.l", "items.x", "items.y"])
        .await
        .unwrap();
    let list = model.ref_list("_page.items", "items", "lists.l.ids");
    assert_eq!(
        list.get_value(""),
        Some(json!([{"text": "X", "id": "x"}, {"text": "Y", "id": "y"}]))
    );
    let seen = record(&model, EventType::All, "_page.items.**");
    // A remote move of the ids moves the ref list's items.
    other.subscribe(["lists.l", "items.y"]).await.unwrap();
    other
        .move_items("lists.l.ids", 0, 1, 1)
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the move", || {
        model.get_value("_page.items.0.text") == Some(json!("Y"))
    })
    .await;
    other
        .set("items.y.text", "why")
        .unwrap()
        .acked()
        .await
        .unwrap();
    model.subscribe(["items.y", "lists.l"]).await.unwrap();
    until("the edit", || {
        model.get_value("_page.items.0.text") == Some(json!("why"))
    })
    .await;
    let got = kinds(&seen);
    assert!(
        got.contains(&(
            "_page.items".into(),
            EventKind::Move {
                from: 0,
                to: 1,
                how_many: 1
            }
        )),
        "{got:?}"
    );
    assert!(
        got.contains(&(
            "_page.items.0.text".into(),
            EventKind::Change {
                value: Some(json!("why")),
                previous: Some(json!("Y"))
            }
        )),
        "{got:?}"
    );
    // Writes through the ref list land on the document.
    model.set("_page.items.1.text", "ex").unwrap();
    assert_eq!(model.get_value("items.x.text"), Some(json!("ex")));
    // A plain ref.
    let current = model.ref_to("_page.current", "items.x");
    let seen = record(&model, EventType::Change, "_page.current.text");
    model.set("items.x.text", "EX").unwrap();
    assert_eq!(current.get_value("text"), Some(json!("EX")));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

// On tokio's paused clock: the delays are exact, whatever the machine's load.
#[tokio::test(start_paused = true)]
async fn loads_are_counted_and_unloaded_after_the_delay() {
    let backend = Backend::new();
    let writer = Model::new(Connection::new(backend.clone()));
    writer
        .create("notes.n", json!({"v": 1}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    let model = with_unload_delay(&backend, 100);
    model.subscribe(["notes.n"]).await.unwrap();
    model.subscribe(["notes.n"]).await.unwrap();
    model.unsubscribe(["notes.n"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        model.get_value("notes.n").is_some(),
        "still subscribed once"
    );

    model.unload().await.unwrap(); // undoes the remaining subscribe (and the others)
    // Resubscribed within the delay: nothing is lost, nothing refetched.
    tokio::time::sleep(Duration::from_millis(20)).await;
    model.subscribe(["notes.n"]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(model.get_value("notes.n"), Some(json!({"v": 1, "id": "n"})));
    writer.set("notes.n.v", 2).unwrap().acked().await.unwrap();
    until("still live", || {
        model.get_value("notes.n.v") == Some(json!(2))
    })
    .await;

    let unloads = record(&model, EventType::Unload, "notes.*");
    model.unsubscribe(["notes.n"]).await.unwrap();
    until("unloaded", || model.get_value("notes.n").is_none()).await;
    assert_eq!(unloads.lock().unwrap().len(), 1);
}

// On tokio's paused clock: the delays are exact, whatever the machine's load.
#[tokio::test(start_paused = true)]
async fn unloading_a_query_releases_the_results_nothing_else_holds() {
    let backend = Backend::new();
    let writer = Model::new(Connection::new(backend.clone()));
    for (id, big) in [("a", true), ("b", true), ("c", false)] {
        let path = format!("notes.{id}");
        writer
            .create(&path, json!({"big": big}))
            .unwrap()
            .acked()
            .await
            .unwrap();
    }
    let model = with_unload_delay(&backend, 50);
    let big = model.query("notes", json!({"big": true}));
    let all = model.query("notes", json!({}));
    big.subscribe().await.unwrap();
    model.subscribe(["notes.a"]).await.unwrap();
    assert_eq!(big.ids(), ["a", "b"]);

    big.unsubscribe().await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        model.get_value("notes.a.big"),
        Some(json!(true)),
        "held on its own"
    );
    assert_eq!(model.get_value("notes.b"), None, "held by nothing");
    assert!(big.ids().is_empty());

    // A doc that another query still returns stays.
    all.fetch().await.unwrap();
    big.fetch().await.unwrap();
    big.unfetch().await.unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        model.get_value("notes.b.big"),
        Some(json!(true)),
        "held by the other query"
    );
    all.unfetch().await.unwrap();
    until("released", || {
        model.get_value("notes.b").is_none() && model.get_value("notes.c").is_none()
    })
    .await;
    assert!(model.get_value("notes.a").is_some());
}

#[tokio::test]
async fn fetch_only_models_fetch_and_bundle_what_they_subscribed() {
    let backend = Backend::new();
    let writer = Model::new(Connection::new(backend.clone()));
    for (id, done) in [("a", false), ("b", true), ("c", false)] {
        writer
            .create(&format!("todos.{id}"), json!({"text": id, "done": done}))
            .unwrap();
    }
    writer.create("lists.l", json!({"title": "L"})).unwrap();
    writer.when_nothing_pending().await;

    let server = Model::with_options(Connection::new(backend.clone()), {
        let mut options = ModelOptions::default();
        options.fetch_only = true;
        options
    });
    let open = server.query("todos", json!({"done": false}));
    server.subscribe([&open]).await.unwrap();
    server.subscribe(["lists.l"]).await.unwrap();
    server.set("_page.filter", "open").unwrap();
    open.ref_to("_page.open");
    server.ref_to("_page.list", "lists.l");
    assert_eq!(open.ids(), ["a", "c"]);
    // Fetch-only: nothing live.
    writer
        .set("lists.l.title", "changed")
        .unwrap()
        .acked()
        .await
        .unwrap();
    util::flush_ops(&backend, server.connection().unwrap()).await;
    assert_eq!(server.get_value("lists.l.title"), Some(json!("L")));
    let bundle = server.bundle().await;
    server.close();

    // The browser's model: the same data, then live from the bundled versions.
    let json = serde_json::to_string(&bundle).unwrap();
    let browser = Model::from_bundle(
        Some(Connection::new(backend)),
        serde_json::from_str(&json).unwrap(),
        ModelOptions::default(),
    );
    assert_eq!(browser.get_value("_page.filter"), Some(json!("open")));
    assert_eq!(
        browser.get_value("_page.open"),
        Some(json!([
            {"text": "a", "done": false, "id": "a"},
            {"text": "c", "done": false, "id": "c"}
        ]))
    );
    assert_eq!(browser.get_value("_page.list.title"), Some(json!("L")));
    assert_eq!(browser.bundle_now(), bundle, "an identical model");
    until("the missed op", || {
        browser.get_value("lists.l.title") == Some(json!("changed"))
    })
    .await;
    writer
        .set("todos.b.done", false)
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the query follows", || {
        browser
            .get_value("_page.open")
            .and_then(|v| v.as_array().map(Vec::len))
            == Some(3)
    })
    .await;
}

#[tokio::test]
async fn two_models_editing_at_random_converge() {
    let (backend, a, b) = pair();
    a.create("docs.d", json!({"list": [], "n": 0, "text": "", "map": {}}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    b.subscribe(["docs.d"]).await.unwrap();
    a.subscribe(["docs.d"]).await.unwrap();
    let edit = |model: Model, seed: u64| async move {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut increments = 0.0;
        for i in 0..150 {
            let len = model.read("docs.d.list", |v| {
                v.and_then(Value::as_array).map_or(0, Vec::len)
            });
            let text_len = model
                .get::<String>("docs.d.text")
                .map_or(0, |t| t.encode_utf16().count());
            let _ = match rng.random_range(0..7) {
                0 => model
                    .insert(
                        "docs.d.list",
                        rng.random_range(0..=len),
                        vec![json!(format!("{seed}-{i}"))],
                    )
                    .map(drop),
                1 if len > 0 => model
                    .remove("docs.d.list", rng.random_range(0..len), 1)
                    .map(drop),
                2 if len > 1 => model
                    .move_items(
                        "docs.d.list",
                        rng.random_range(0..len),
                        rng.random_range(0..len),
                        1,
                    )
                    .map(drop),
                3 => {
                    increments += 1.0;
                    model.increment("docs.d.n", 1.0).map(drop)
                }
                4 => model
                    .string_insert("docs.d.text", rng.random_range(0..=text_len), "ab")
                    .map(drop),
                5 if text_len > 0 => model
                    .string_remove("docs.d.text", rng.random_range(0..text_len), 1)
                    .map(drop),
                _ => model
                    .set(&format!("docs.d.map.k{}", rng.random_range(0..5)), i)
                    .map(drop),
            };
            if i % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        model.when_nothing_pending().await;
        increments
    };
    let (x, y) = tokio::join!(edit(a.clone(), 1), edit(b.clone(), 2));
    until("convergence", || {
        a.get_value("docs.d") == b.get_value("docs.d")
    })
    .await;
    let stored = backend
        .fetch("docs", "d")
        .await
        .unwrap()
        .wire
        .value()
        .cloned();
    assert_eq!(util::stored_form(a.get_value("docs.d")), stored);
    assert_eq!(
        a.get::<f64>("docs.d.n"),
        Some(x + y),
        "every increment counted once"
    );
}

#[tokio::test]
async fn a_websocket_model_converges_with_an_in_process_one_and_offline_edits_arrive_once() {
    let backend = Backend::new();
    let addr = util::serve(backend.clone()).await;
    let local = Model::new(Connection::new(backend.clone()));
    let remote_conn = Connection::new(WebSocketConnector::new(util::channel_url(addr)));
    let remote = Model::new(remote_conn.clone());
    local
        .create("notes.n", json!({"log": [], "n": 0}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    local.subscribe(["notes.n"]).await.unwrap();
    remote.subscribe(["notes.n"]).await.unwrap();

    remote_conn.disconnect();
    until("offline", || {
        remote_conn.state() == peloton::client::ConnectionState::Disconnected
    })
    .await;
    for i in 0..5 {
        remote.push("notes.n.log", format!("offline {i}")).unwrap();
        remote.increment("notes.n.n", 1.0).unwrap();
        local.push("notes.n.log", format!("online {i}")).unwrap();
    }
    local.when_nothing_pending().await;
    remote_conn.reconnect();
    remote.when_nothing_pending().await;
    until("converged", || {
        local.get_value("notes.n") == remote.get_value("notes.n")
    })
    .await;
    let log: Vec<String> = local.get("notes.n.log").unwrap();
    assert_eq!(log.len(), 10, "{log:?}");
    assert_eq!(local.get::<f64>("notes.n.n"), Some(5.0));
}

#[tokio::test]
async fn set_family_and_add_emit_what_they_change() {
    let (backend, model, _) = pair();
    let seen = record(&model, EventType::All, "people.**");
    let id = model
        .add("people", json!({"name": "Ann", "tags": ["a"]}))
        .unwrap()
        .value;
    assert_eq!(id.len(), 22, "a new id");
    assert_eq!(
        model.get_value(&format!("people.{id}")),
        Some(json!({"name": "Ann", "tags": ["a"], "id": id}))
    );
    let given = model
        .add("people", json!({"id": "bob", "name": "Bob"}))
        .unwrap()
        .value;
    assert_eq!(given, "bob");
    assert_eq!(
        model.get_value("people.bob"),
        Some(json!({"name": "Bob", "id": "bob"}))
    );
    assert_eq!(model.get::<String>("people.bob.id").as_deref(), Some("bob"));
    model.when_nothing_pending().await;
    assert_eq!(
        backend
            .fetch("people", "bob")
            .await
            .unwrap()
            .value()
            .cloned(),
        Some(json!({"name": "Bob"})),
        "Racer's id alias is read, not stored"
    );
    seen.lock().unwrap().clear();

    // set_null only sets what is missing; set_diff only what differs.
    assert_eq!(
        model.set_null("people.bob.name", "X").unwrap().value,
        json!("Bob")
    );
    assert_eq!(
        model.set_null("people.bob.age", 30).unwrap().value,
        json!(30)
    );
    model.set_diff("people.bob.age", 30).unwrap();
    model.set_diff("people.bob.age", 31).unwrap();
    assert_eq!(
        kinds(&seen),
        vec![
            (
                "people.bob.age".into(),
                EventKind::Change {
                    value: Some(json!(30)),
                    previous: None
                }
            ),
            (
                "people.bob.age".into(),
                EventKind::Change {
                    value: Some(json!(31)),
                    previous: Some(json!(30))
                }
            ),
        ]
    );
    seen.lock().unwrap().clear();

    // set_diff_deep: missing keys deleted first, lists by fine-grained steps.
    model
        .set("people.bob.tags", json!(["x", "y", "z"]))
        .unwrap();
    seen.lock().unwrap().clear();
    model
        .set_diff_deep(
            "people.bob",
            json!({"name": "Bob", "tags": ["z", "x", "w"]}),
        )
        .unwrap();
    assert_eq!(
        model.get_value("people.bob"),
        Some(json!({"name": "Bob", "tags": ["z", "x", "w"], "id": "bob"})),
        "the id alias is not data: set_diff_deep leaves it"
    );
    let got = kinds(&seen);
    assert_eq!(
        got[0],
        (
            "people.bob.age".into(),
            EventKind::Change {
                value: None,
                previous: Some(json!(31))
            }
        )
    );
    assert!(
        got.contains(&(
            "people.bob.tags".into(),
            EventKind::Remove {
                index: 1,
                values: vec![json!("y")]
            }
        )),
        "{got:?}"
    );
    assert!(
        got.iter().all(|(path, _)| path != "people.bob.name"),
        "unchanged keys emit nothing: {got:?}"
    );
    seen.lock().unwrap().clear();

    model
        .set_each("people.bob", json!({"name": "Robert", "age": 32}))
        .unwrap();
    assert_eq!(kinds(&seen).len(), 2);
    assert_eq!(
        model.get::<String>("people.bob.name").as_deref(),
        Some("Robert")
    );
    // create_null leaves an existing document alone; create refuses it.
    model
        .create_null("people.bob", json!({"name": "other"}))
        .unwrap();
    assert_eq!(
        model.get::<String>("people.bob.name").as_deref(),
        Some("Robert")
    );
    assert!(model.create("people.bob", json!({})).is_err());
    // A remote document that does not exist cannot be mutated.
    assert!(matches!(
        model.set("people.nobody.name", "x"),
        Err(peloton::model::ModelError::DocDoesNotExist(_))
    ));
    model.when_nothing_pending().await;
}

#[tokio::test]
async fn refs_to_list_items_follow_inserts_removes_and_moves() {
    let (_backend, model, other) = pair();
    model
        .create("lists.l", json!({"items": ["a", "b", "c"]}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    model.subscribe(["lists.l"]).await.unwrap();
    let b = model.ref_to("_page.b", "lists.l.items.1");
    let fixed = model.ref_to_with(
        "_page.second",
        "lists.l.items.1",
        peloton::model::RefOptions {
            follow_list_items: false,
        },
    );
    model.insert("lists.l.items", 0, vec![json!("z")]).unwrap();
    assert_eq!(
        b.get::<String>(""),
        Some("b".into()),
        "after a local insert"
    );
    assert_eq!(
        fixed.get::<String>(""),
        Some("a".into()),
        "Racer's fixed index"
    );
    model.move_items("lists.l.items", 2, 0, 1).unwrap(); // b to the front
    assert_eq!(b.get::<String>(""), Some("b".into()), "after its own move");
    model.remove("lists.l.items", 1, 2).unwrap(); // z and a
    assert_eq!(
        b.get::<String>(""),
        Some("b".into()),
        "after removes around it"
    );

    // Remote edits too, one component at a time.
    other.subscribe(["lists.l"]).await.unwrap();
    other
        .insert("lists.l.items", 0, vec![json!("x"), json!("y")])
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the remote insert", || {
        model.get_value("lists.l.items") == Some(json!(["x", "y", "b", "c"]))
    })
    .await;
    assert_eq!(
        b.get::<String>(""),
        Some("b".into()),
        "after a remote insert"
    );
    b.set("", "B").unwrap(); // writes through, at its current index
    assert_eq!(model.get_value("lists.l.items.2"), Some(json!("B")));

    // Removing the item removes the ref, and says so.
    let seen = record(&model, EventType::Change, "_page.b");
    model.remove("lists.l.items", 2, 1).unwrap();
    assert_eq!(b.get_value(""), None);
    assert_eq!(
        kinds(&seen),
        [(
            "_page.b".to_string(),
            EventKind::Change {
                value: None,
                previous: Some(json!("B"))
            }
        )]
    );
    model.remove_ref("_page.second");
    assert_eq!(fixed.get_value(""), None, "removed");
}

#[tokio::test]
async fn bundles_of_equal_models_are_equal_whatever_the_load_order() {
    let backend = Backend::new();
    let writer = Model::new(Connection::new(backend.clone()));
    for id in ["a", "b", "c"] {
        writer
            .create(&format!("notes.{id}"), json!({"k": id}))
            .unwrap()
            .acked()
            .await
            .unwrap();
    }
    let load = |order: [&'static str; 3]| {
        let backend = backend.clone();
        async move {
            let model = Model::new(Connection::new(backend));
            for id in order {
                model.fetch([format!("notes.{id}")]).await.unwrap();
                model
                    .fetch([&model.query("notes", json!({"k": id}))])
                    .await
                    .unwrap();
            }
            model.bundle().await
        }
    };
    let forward = load(["a", "b", "c"]).await;
    let backward = load(["c", "b", "a"]).await;
    assert_eq!(forward, backward);
    assert_eq!(forward.queries.len(), 3);
    assert!(forward.queries.iter().all(|q| q.ids.len() == 1));
    let again = Model::from_bundle(Some(Connection::new(backend)), forward.clone(), {
        let mut options = ModelOptions::default();
        options.fetch_only = true;
        options
    });
    assert_eq!(again.bundle_now(), forward);
    // The JSON a page carries, written without copying the documents, is
    // the bundle's.
    again.set("_page.note", "<b>&</b>").unwrap();
    let json: serde_json::Value = serde_json::from_str(&again.bundle_json().await).unwrap();
    assert_eq!(json, serde_json::to_value(again.bundle_now()).unwrap());
    assert_eq!(json["docs"]["notes"]["a"]["data"], json!({"k": "a"}));
}

#[tokio::test]
async fn bad_indexes_are_errors_not_panics() {
    let model = Model::local();
    model.set("_page.l", json!([1, 2, 3])).unwrap();
    let err = model.set("_page.l.99999999999", 1).unwrap_err();
    assert!(
        matches!(
            err,
            peloton::model::ModelError::TooFarPastEnd { len: 3, .. }
        ),
        "{err}"
    );
    assert!(model.set("_page.fresh.12345678901.x", 1).is_err());
    assert_eq!(model.get_value("_page.fresh"), None, "nothing written");
    model.set("_page.l.5", 6).unwrap(); // a short gap is padded
    assert_eq!(
        model.get_value("_page.l"),
        Some(json!([1, 2, 3, null, null, 6]))
    );
    assert!(
        model
            .remove("_page.l", usize::MAX, usize::MAX)
            .unwrap()
            .value
            .is_empty()
    );
    assert!(
        model
            .move_items("_page.l", usize::MAX, 0, usize::MAX)
            .is_err()
    );
    model.set("_page.s", "abc").unwrap();
    model.string_remove("_page.s", 1, usize::MAX).unwrap(); // to the end
    assert_eq!(model.get_value("_page.s"), Some(json!("a")));
    // A ref list whose ids go through itself reads as empty, without
    // overflowing the stack.
    let looped = model.ref_list("_page.loop", "_page.docs", "_page.loop.0.ids");
    assert_eq!(looped.get_value(""), Some(json!([])));
}

#[tokio::test]
async fn a_panicking_listener_does_not_silence_the_model() {
    let model = Model::local();
    model.on(EventType::Change, "_page.x", |_, _| {
        panic!("a listener bug")
    });
    let seen = record(&model, EventType::Change, "_page.*");
    model.set("_page.x", 1).unwrap();
    model.set("_page.y", 2).unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2, "both events delivered");
}

#[tokio::test]
async fn listeners_by_type_once_and_removed() {
    let (_backend, model, other) = pair();
    let inserts = record(&model, EventType::Insert, "_page.l");
    let removes = record(&model, EventType::Remove, "_page.l");
    let moves = record(&model, EventType::Move, "_page.l");
    let once = Arc::new(Mutex::new(0));
    let count = once.clone();
    model.once(EventType::All, "_page.l", move |_, _| {
        *count.lock().unwrap() += 1
    });
    let gone = model.on(EventType::All, "_page.l", |_, _| panic!("removed"));
    assert!(model.remove_listener(gone));
    assert!(!model.remove_listener(gone));

    model.unshift("_page.l", "b").unwrap();
    model.unshift("_page.l", "a").unwrap();
    model.move_items("_page.l", 0, 1, 1).unwrap();
    model.shift("_page.l").unwrap();
    assert_eq!(model.get_value("_page.l"), Some(json!(["a"])));
    assert_eq!(
        kinds(&inserts),
        [
            (
                "_page.l".into(),
                EventKind::Insert {
                    index: 0,
                    values: vec![json!("b")]
                }
            ),
            (
                "_page.l".into(),
                EventKind::Insert {
                    index: 0,
                    values: vec![json!("a")]
                }
            )
        ]
    );
    assert_eq!(moves.lock().unwrap().len(), 1);
    assert_eq!(
        kinds(&removes),
        [(
            "_page.l".into(),
            EventKind::Remove {
                index: 0,
                values: vec![json!("b")]
            }
        )]
    );
    assert_eq!(*once.lock().unwrap(), 1);

    // Load: a document arriving in the model.
    other
        .create("notes.n", json!({"text": "hi"}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    let loads = record(&model, EventType::Load, "notes.*");
    model.fetch(["notes.n"]).await.unwrap();
    assert_eq!(
        kinds(&loads),
        [(
            "notes.n".into(),
            EventKind::Load {
                value: json!({"text": "hi", "id": "n"})
            }
        )]
    );
    // A text0 op through the model edits the string and says what it did.
    let changes = record(&model, EventType::Change, "notes.n.text");
    model
        .text_op(
            "notes.n.text",
            peloton::ot::text0::Op::new(vec![peloton::ot::text0::Component::insert(2, "!")]),
        )
        .unwrap();
    assert_eq!(model.get_value("notes.n.text"), Some(json!("hi!")));
    assert_eq!(
        changes.lock().unwrap()[0].0.passed["$stringInsert"],
        json!({"index": 2, "text": "!"})
    );
}

/// Counts the queries the backend runs.
struct CountQueries(Arc<std::sync::atomic::AtomicUsize>);

#[async_trait::async_trait]
impl peloton::backend::Middleware for CountQueries {
    async fn query(
        &self,
        _: &mut peloton::backend::QueryContext<'_>,
    ) -> Result<(), peloton::protocol::ErrorObject> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

// On tokio's paused clock: the delays are exact, whatever the machine's load.
#[tokio::test(start_paused = true)]
async fn a_query_resubscribed_within_the_unload_delay_costs_nothing() {
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let backend = Backend::builder()
        .middleware(CountQueries(runs.clone()))
        .build();
    let writer = Model::new(Connection::new(backend.clone()));
    writer
        .create("notes.a", json!({"n": 1}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    let model = with_unload_delay(&backend, 150);
    let query = model.query("notes", json!({}));
    query.subscribe().await.unwrap();
    query.unsubscribe().await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    query.subscribe().await.unwrap();
    assert_eq!(query.ids(), ["a"]);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "ran once"
    );
    // Still live after the delay: it was loaded again within it.
    writer
        .create("notes.b", json!({"n": 2}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the new result", || query.ids() == ["a", "b"]).await;
    query.unsubscribe().await.unwrap();
    until("released after the delay", || {
        model.get_value("notes.a").is_none() && query.ids().is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_document_unloaded_with_edits_pending_goes_once_they_are_acked() {
    let (backend, model, writer) = pair();
    writer
        .create("notes.n", json!({"n": 0}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    model.fetch(["notes.n"]).await.unwrap();
    let connection = model.connection().unwrap().clone();
    connection.disconnect();
    until("offline", || {
        connection.state() == peloton::client::ConnectionState::Disconnected
    })
    .await;
    let write = model.increment("notes.n.n", 1.0).unwrap();
    model.unfetch(["notes.n"]).await.unwrap();
    assert_eq!(
        model.get_value("notes.n.n"),
        Some(json!(1)),
        "kept: not sent yet"
    );
    connection.reconnect();
    write.acked().await.unwrap();
    until("unloaded after the ack", || {
        model.get_value("notes.n").is_none()
    })
    .await;
    let stored = backend.fetch("notes", "n").await.unwrap();
    assert_eq!(stored.value().cloned(), Some(json!({"n": 1})));

    // What a model created is held until the next unload().
    model
        .create("notes.mine", json!({"n": 0}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    model.unload().await.unwrap();
    until("created, then unloaded", || {
        model.get_value("notes.mine").is_none()
    })
    .await;
}

#[tokio::test]
async fn a_write_spread_over_documents_by_refs_is_acked_when_all_are() {
    let (backend, model, _) = pair();
    for id in ["x", "y"] {
        model
            .create(&format!("notes.{id}"), json!({"title": ""}))
            .unwrap()
            .acked()
            .await
            .unwrap();
    }
    model.ref_to("_page.sel.x", "notes.x.title");
    model.ref_to("_page.sel.y", "notes.y.title");
    model
        .set_each("_page.sel", json!({"x": "X", "y": "Y"}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    for (id, title) in [("x", "X"), ("y", "Y")] {
        let stored = backend.fetch("notes", id).await.unwrap();
        assert_eq!(
            stored.value().cloned(),
            Some(json!({"title": title})),
            "{id} committed"
        );
    }
}

//! Signals of model paths: they change when, and only when, a model event
//! touches their path, on the root model and on scoped ones.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};

use leptos::prelude::*;
use peloton::backend::Backend;
use peloton::client::Connection;
use peloton::leptos::ModelSignals;
use peloton::model::Model;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use util::until;

/// How often a `Title` was read from the model: each time a signal's
/// listener ran.
static READS: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Debug, PartialEq)]
struct Title(String);

impl<'de> Deserialize<'de> for Title {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        READS.fetch_add(1, Ordering::SeqCst);
        String::deserialize(d).map(Title)
    }
}

fn reads() -> usize {
    READS.load(Ordering::SeqCst)
}

fn title(s: &str) -> Option<Title> {
    Some(Title(s.into()))
}

#[test]
fn a_scoped_signal_hears_its_path_its_children_and_its_parents_only() {
    let owner = Owner::new();
    owner.set();
    let model = Model::local();
    model
        .set("_page.doc", json!({"list": {"title": "a", "items": []}}))
        .unwrap();
    let list = model.at("_page.doc.list");
    let signal = list.signal::<Title>("title");
    assert_eq!(signal.get_untracked(), title("a"));

    let before = reads();
    list.push("items", 1).unwrap();
    model.set("_page.other", 1).unwrap();
    assert_eq!(reads(), before, "siblings and other paths are not heard");

    list.set("title", "b").unwrap();
    assert_eq!(signal.get_untracked(), title("b"));
    // Parents above the scope: the whole document replaced, then deleted.
    model
        .set("_page.doc", json!({"list": {"title": "c"}}))
        .unwrap();
    assert_eq!(signal.get_untracked(), title("c"));
    model.del("_page.doc").unwrap();
    assert_eq!(signal.get_untracked(), None);

    owner.cleanup();
    let before = reads();
    model
        .set("_page.doc", json!({"list": {"title": "d"}}))
        .unwrap();
    assert_eq!(reads(), before, "a cleaned-up signal stops listening");
}

#[tokio::test]
async fn a_signal_follows_remote_changes_to_its_document() {
    let owner = Owner::new();
    owner.set();
    let backend = Backend::new();
    let mine = Model::new(Connection::new(backend.clone()));
    let theirs = Model::new(Connection::new(backend));
    theirs
        .create("lists.x", json!({"title": "groceries"}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    mine.subscribe(["lists.x"]).await.unwrap();
    theirs.subscribe(["lists.x"]).await.unwrap();
    let signal = mine.at("lists.x").signal::<String>("title");
    assert_eq!(signal.get_untracked(), Some("groceries".to_owned()));

    theirs.set("lists.x.title", "food").unwrap();
    until("the remote edit", || {
        signal.get_untracked() == Some("food".to_owned())
    })
    .await;
    theirs.del("lists.x").unwrap().acked().await.unwrap();
    until("the remote delete", || signal.get_untracked().is_none()).await;
    theirs
        .create("lists.x", json!({"title": "again"}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the re-create", || {
        signal.get_untracked() == Some("again".to_owned())
    })
    .await;
}

#[tokio::test]
async fn query_and_filter_signals_follow_remote_changes() {
    use peloton::leptos::{FilterSignals, QuerySignals};
    let owner = Owner::new();
    owner.set();
    let backend = Backend::new();
    let writer = Model::new(Connection::new(backend.clone()));
    writer
        .create("todos.a", json!({"text": "milk", "done": false}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    let reader = Model::new(Connection::new(backend));
    let all = reader.query("todos", json!({}));
    let count = reader.query("todos", json!({"$count": true}));
    all.subscribe().await.unwrap();
    count.subscribe().await.unwrap();
    let ids = all.ids_signal();
    let docs = all.docs_signal::<serde_json::Value>();
    let total = count.extra_signal::<u64>();
    let open = reader
        .filter("todos", |todo, _| todo["done"] == false)
        .ids_signal();
    assert_eq!(ids.get_untracked(), ["a"]);
    assert_eq!(total.get_untracked(), Some(1));
    assert_eq!(open.get_untracked(), ["a"]);

    writer
        .create("todos.b", json!({"text": "eggs", "done": false}))
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the new id", || ids.get_untracked().len() == 2).await;
    until("the count", || total.get_untracked() == Some(2)).await;
    until("the filter", || open.get_untracked().len() == 2).await;
    writer
        .set("todos.a.done", true)
        .unwrap()
        .acked()
        .await
        .unwrap();
    until("the filter drops a", || open.get_untracked() == ["b"]).await;
    until("the docs", || {
        docs.get_untracked()
            .iter()
            .any(|d| d["done"] == json!(true))
    })
    .await;
}

//! A document's history: milestones bound what a past snapshot replays,
//! and clients list versions and read or restore any of them.

use std::sync::Arc;

use peloton::backend::milestones::{MemoryMilestoneDb, MilestoneDb};
use peloton::backend::{Backend, BackendOptions, Limits};
use peloton::client::transport::WebSocketConnector;
use peloton::client::{ClientError, Connection};
use peloton::model::Model;
use peloton::ot::json0::{Component, Op};
use peloton::ot::text0;
use peloton::protocol::{ErrorCode, VersionKind};
use serde_json::json;

use super::util::{self, serve, until};

/// A backend that replays at most `max_replay` ops for a past snapshot,
/// and its milestones (every `every` versions; `None`: none).
fn backend(every: Option<u64>, max_replay: usize) -> (Backend, Arc<MemoryMilestoneDb>) {
    let mut limits = Limits::default();
    limits.max_replay_ops = max_replay;
    let mut options = BackendOptions::default();
    options.limits = limits;
    let milestones = Arc::new(MemoryMilestoneDb::new().with_interval(every.unwrap_or(0)));
    let backend = Backend::builder()
        .options(options)
        .milestones(milestones.clone())
        .build();
    (backend, milestones)
}

/// Creates `c.counter` at `{n: 0}` and adds 1 `ops` times (versions 1 to
/// `ops + 1`).
async fn count_up(connection: &Connection, ops: usize) {
    let doc = connection.get("c", "counter");
    doc.create(json!({"n": 0})).unwrap().await.unwrap();
    for _ in 0..ops {
        let add = Op::from(Component::number_add(["n"], 1.0));
        doc.submit_op(add).unwrap().await.unwrap();
    }
}

/// Waits until the milestone at `v` of `c.counter` is saved (the submit
/// pipeline saves them without waiting).
async fn saved(milestones: &MemoryMilestoneDb, v: u64) {
    for _ in 0..1000 {
        let found = milestones
            .at_or_before_version("c", "counter", v)
            .await
            .unwrap();
        if found.is_some_and(|m| m.v == v) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("the milestone at v{v} was never saved");
}

fn server_code(result: Result<impl std::fmt::Debug, ClientError>) -> ErrorCode {
    match result {
        Err(ClientError::Server(e)) => e.code,
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_past_snapshot_replays_only_the_ops_since_the_nearest_milestone() {
    let (backend_with, milestones) = backend(Some(5), 5);
    let with = Connection::new(backend_with);
    count_up(&with, 40).await;
    for v in (5..=40).step_by(5) {
        saved(&milestones, v).await;
    }
    for v in [1, 4, 7, 10, 13, 25, 39, 40, 41] {
        let snapshot = with.fetch_snapshot("c", "counter", Some(v)).await.unwrap();
        assert_eq!(snapshot.v, v);
        assert_eq!(
            snapshot.value().cloned(),
            Some(json!({"n": v - 1})),
            "at v{v}"
        );
    }
    assert_eq!(
        with.fetch_snapshot("c", "counter", Some(0))
            .await
            .unwrap()
            .data,
        None,
        "before its creation"
    );
    assert_eq!(
        server_code(with.fetch_snapshot("c", "counter", Some(42)).await),
        ErrorCode::OpVersionNewerThanCurrentSnapshot
    );

    // The same history without milestones: v25 is 25 ops from the start.
    let without = Connection::new(backend(None, 5).0);
    count_up(&without, 40).await;
    assert_eq!(
        server_code(without.fetch_snapshot("c", "counter", Some(25)).await),
        ErrorCode::HistoryTooLong
    );
}

#[tokio::test]
async fn a_snapshot_at_a_time_starts_from_the_milestone_before_it() {
    let (with, milestones) = backend(Some(5), 5);
    let connection = Connection::new(with);
    let doc = connection.get("c", "counter");
    doc.create(json!({"n": 0})).unwrap().await.unwrap();
    let mut times = Vec::new();
    for _ in 0..20 {
        let add = Op::from(Component::number_add(["n"], 1.0));
        doc.submit_op(add).unwrap().await.unwrap();
        // Commit times are whole milliseconds: keep them apart.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let latest = doc.version().unwrap();
        let made = connection
            .versions("c", "counter", latest, None)
            .await
            .unwrap();
        times.push(made[0].ts.unwrap());
    }
    for v in [5, 10, 15, 20] {
        saved(&milestones, v).await;
    }
    // After op k (version k + 2), n = k + 1.
    for k in [3, 11, 17] {
        let at = connection
            .fetch_snapshot_by_timestamp("c", "counter", Some(times[k]))
            .await
            .unwrap();
        assert_eq!(
            at.value().cloned(),
            Some(json!({"n": k + 1})),
            "at the time of op {k}"
        );
    }
    let now = connection
        .fetch_snapshot_by_timestamp("c", "counter", None)
        .await
        .unwrap();
    assert_eq!(now.value().cloned(), Some(json!({"n": 20})));
}

#[tokio::test]
async fn versions_list_who_made_each_and_how() {
    let addr = serve(backend(Some(10), 5).0).await;
    let connection = Connection::new(WebSocketConnector::new(util::channel_url(addr)));
    count_up(&connection, 4).await;
    let doc = connection.get("c", "counter");
    doc.del().unwrap().await.unwrap();

    let versions = connection.versions("c", "counter", 1, None).await.unwrap();
    let numbers: Vec<u64> = versions.iter().map(|v| v.v).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6]);
    assert_eq!(versions[0].kind, VersionKind::Create);
    assert_eq!(versions[1].kind, VersionKind::Edit);
    assert_eq!(versions[5].kind, VersionKind::Delete);
    let me = connection.id().unwrap();
    assert!(
        versions
            .iter()
            .all(|v| v.src.as_deref() == Some(me.as_str()))
    );
    assert!(versions.windows(2).all(|w| w[0].ts <= w[1].ts));

    let some = connection
        .versions("c", "counter", 3, Some(5))
        .await
        .unwrap();
    assert_eq!(some.iter().map(|v| v.v).collect::<Vec<_>>(), [3, 4]);
    assert!(
        connection
            .versions("c", "never", 1, None)
            .await
            .unwrap()
            .is_empty()
    );
    // The past of a deleted document is still there.
    let at_3 = connection
        .fetch_snapshot("c", "counter", Some(3))
        .await
        .unwrap();
    assert_eq!(at_3.value().cloned(), Some(json!({"n": 2})));
}

#[tokio::test]
async fn restoring_a_version_is_an_edit_that_keeps_what_others_type_meanwhile() {
    let backend = Backend::new();
    let alice = Model::new(Connection::new(backend.clone()));
    let bob = Model::new(Connection::new(backend));
    alice
        .create("notes.n", json!({"text": "the first draft", "tags": ["a"]}))
        .unwrap();
    alice.when_nothing_pending().await;
    alice.set("notes.n.text", "a second draft").unwrap();
    alice.push("notes.n.tags", "b").unwrap();
    alice.when_nothing_pending().await;
    bob.subscribe(["notes.n"]).await.unwrap();

    // Bob types at the start (as a bound field does, with text0) while
    // Alice restores version 1.
    let typed = text0::diff("a second draft", ">> a second draft", Some(3));
    let bob_types = bob.text_op("notes.n.text", typed).unwrap();
    alice.restore("notes.n", 1).await.unwrap();
    bob_types.acked().await.unwrap();
    alice.when_nothing_pending().await;
    until("both see the same note", || {
        alice.get_value("notes.n") == bob.get_value("notes.n")
    })
    .await;
    // Both edits land where they were made (which of two inserts at one
    // place comes first is OT's tie-break).
    let text = alice.get::<String>("notes.n.text").unwrap();
    assert!(text.contains(">> "), "Bob's typing is kept: {text:?}");
    assert_eq!(
        text.replacen(">> ", "", 1).replace("  ", " "),
        "the first draft"
    );
    assert_eq!(alice.get_value("notes.n.tags"), Some(json!(["a"])));

    // The restore is one undo step of Alice's.
    assert!(alice.undo().unwrap());
    alice.when_nothing_pending().await;
    assert_eq!(
        alice.get::<String>("notes.n.text").as_deref(),
        Some(">> a second draft"),
        "undone, Bob's typing still there"
    );
    assert_eq!(alice.get_value("notes.n.tags"), Some(json!(["a", "b"])));

    // History needs a remote document.
    assert!(alice.versions("_page.x", 1, None).await.is_err());
    assert!(alice.restore("notes", 1).await.is_err());
}

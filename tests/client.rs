//! The client against a real backend: what happens around disconnects,
//! reconnects, refused requests and forgotten connections.

mod util;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use peloton::backend::{Backend, Middleware, QueryContext};
use peloton::client::transport::WebSocketConnector;
use peloton::client::{Connection, ConnectionOptions, ConnectionState};
use peloton::ot::json0::{Component, Op};
use peloton::protocol::{ErrorCode, ErrorObject};
use serde_json::json;
use tokio::net::TcpListener;
use util::{serve, until};

/// The ack of an op is lost with the connection, the server committed it,
/// and more edits are made offline: after the reconnect the op is resent
/// alone (same src and seq, so not applied twice) and the offline edits
/// follow it, none lost.
#[tokio::test]
async fn an_op_whose_ack_was_lost_is_resent_alone_and_offline_edits_follow() {
    let hold = util::HoldCommit::first_edit();
    let backend = Backend::builder().middleware(hold.clone()).build();
    let addr = serve(backend.clone()).await;
    let client = Connection::new(WebSocketConnector::new(util::channel_url(addr)));
    let doc = client.get("counters", "c");
    doc.create(json!({"n": 0})).unwrap().await.unwrap();

    let first = doc
        .submit_op(Op::from(Component::number_add(["n"], 1.0)))
        .unwrap();
    // The server has the op and sits on its commit.
    hold.reached().await;
    client.disconnect();
    until("offline", || {
        client.state() == ConnectionState::Disconnected
    })
    .await;
    let second = doc
        .submit_op(Op::from(Component::number_add(["n"], 10.0)))
        .unwrap();
    // The server commits the first op meanwhile; its ack goes nowhere.
    hold.release();
    tokio::time::timeout(Duration::from_secs(5), async {
        while backend.fetch("counters", "c").await.map(|s| s.v) != Ok(2) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the server commits the first op");
    client.reconnect();
    first.await.unwrap();
    second.await.unwrap();

    let stored = backend.fetch("counters", "c").await.unwrap();
    assert_eq!(
        stored.value().cloned(),
        Some(json!({"n": 11})),
        "both edits, once each"
    );
    assert_eq!(stored.v, 3);
    assert_eq!(doc.version(), Some(3));
    assert_eq!(doc.data(), Some(json!({"n": 11})));
}

/// Subscribing again while an unsubscribe is on the wire ends subscribed,
/// on the server too: later ops arrive.
#[tokio::test]
async fn a_subscribe_right_after_an_unsubscribe_stays_live() {
    let backend = Backend::new();
    let writer = Connection::new(backend.clone());
    let reader = Connection::new(backend);
    let theirs = writer.get("notes", "n");
    theirs.create(json!({"n": 0})).unwrap().await.unwrap();
    let mine = reader.get("notes", "n");
    mine.subscribe().await.unwrap();

    let (off, on) = futures::join!(mine.unsubscribe(), mine.subscribe());
    off.unwrap();
    on.unwrap();
    assert!(mine.subscribed());
    theirs
        .submit_op(Op::from(Component::number_add(["n"], 1.0)))
        .unwrap()
        .await
        .unwrap();
    until("the op arrives", || mine.data() == Some(json!({"n": 1}))).await;
}

/// Refuses every query.
struct NoQueries;

#[async_trait]
impl Middleware for NoQueries {
    async fn query(&self, _: &mut QueryContext<'_>) -> Result<(), ErrorObject> {
        Err(ErrorObject::new(ErrorCode::Unknown, "no queries here"))
    }
}

/// A refused query fails its waiters and is not pending any more, so
/// `when_nothing_pending` (and a page's bundle, which waits for it) returns.
#[tokio::test]
async fn a_refused_query_is_not_left_pending() {
    let backend = Backend::builder().middleware(NoQueries).build();
    let client = Connection::new(backend);
    let query = client.subscribe_query("notes", json!({}));
    let error = query.ready().await.unwrap_err();
    assert!(error.to_string().contains("no queries here"), "{error}");
    assert!(!client.has_pending());
    tokio::time::timeout(Duration::from_secs(1), client.when_nothing_pending())
        .await
        .expect("nothing is pending");
    // Asked again, it says the same at once.
    assert!(query.ready().await.is_err());
}

/// A connection nobody holds any more closes: the server sees it go (here:
/// its presence leaves the others).
#[tokio::test]
async fn a_connection_closes_when_its_last_handle_is_dropped() {
    let addr = serve(Backend::new()).await;
    let url = util::channel_url(addr);
    presence_goes_with_its_connection(
        Connection::new(WebSocketConnector::new(url.clone())),
        Connection::new(WebSocketConnector::new(url)),
    )
    .await;
}

/// `leaver` shows a presence that `watcher` sees; once every handle of
/// `leaver` is dropped, `watcher` sees it gone.
async fn presence_goes_with_its_connection(watcher: Connection, leaver: Connection) {
    let room = watcher.presence("room");
    room.subscribe().await.unwrap();
    let presence = leaver.presence("room");
    presence.subscribe().await.unwrap();
    presence.submit("p1", json!({"name": "Ann"}));
    until("Ann is there", || {
        util::by_local_id(&room.others(), "p1").is_some()
    })
    .await;

    drop(presence);
    drop(leaver);
    until("Ann is gone", || {
        util::by_local_id(&room.others(), "p1").is_none()
    })
    .await;
}

/// A client `Connection` on a backend runs the server's side of its
/// connection in its own task (`Backend::connect_driven`): the backend
/// counts it while it is open, and when its last handle goes, the server's
/// side still runs its clean-up: it is no longer counted, and its presence
/// is announced as gone.
#[tokio::test]
async fn an_in_process_connection_runs_its_server_side_to_the_end() {
    let backend = Backend::new();
    let watcher = Connection::new(backend.clone());
    presence_goes_with_its_connection(watcher.clone(), Connection::new(backend.clone())).await;
    until("only the watcher is served", || {
        backend.connection_count() == 1
    })
    .await;
}

/// A TCP proxy whose connections the test can cut, as a restarting server
/// or a flaky network would.
struct Proxy {
    addr: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    async fn start(to: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cuts) = tokio::sync::watch::channel(0);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self { addr, cut }
    }

    /// Drops every connection open now.
    fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

/// When the connection drops without the client asking, it notices,
/// reconnects by itself with backoff, resubscribes from the version it has,
/// and sends what was edited meanwhile.
#[tokio::test]
async fn a_dropped_connection_reconnects_by_itself_and_catches_up() {
    let backend = Backend::new();
    let addr = serve(backend.clone()).await;
    let proxy = Proxy::start(addr).await;
    let options = {
        let mut options = ConnectionOptions::default();
        options.reconnect_min = Duration::from_millis(20);
        options.reconnect_max = Duration::from_millis(200);
        options
    };
    let client = Connection::with_options(
        WebSocketConnector::new(format!("ws://{}/channel", proxy.addr)),
        options,
    );
    let states = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = states.clone();
    client
        .on_event(move |event| {
            if let peloton::client::ClientEvent::State(state) = event {
                seen.lock().unwrap().push(*state);
            }
        })
        .forget();
    let other = Connection::new(backend.clone());
    let theirs = other.get("notes", "n");
    theirs.create(json!({"log": []})).unwrap().await.unwrap();
    theirs.subscribe().await.unwrap();
    let mine = client.get("notes", "n");
    mine.subscribe().await.unwrap();

    proxy.cut();
    until("the drop is noticed", || {
        states
            .lock()
            .unwrap()
            .contains(&ConnectionState::Disconnected)
    })
    .await;
    let offline = mine
        .submit_op(Op::from(Component::list_insert(["log"], 0, json!("mine"))))
        .unwrap();
    theirs
        .submit_op(Op::from(Component::list_insert(
            ["log"],
            0,
            json!("theirs"),
        )))
        .unwrap()
        .await
        .unwrap();

    offline.await.unwrap();
    until("converged", || {
        mine.data() == theirs.data() && mine.version() == theirs.version()
    })
    .await;
    assert_eq!(client.state(), ConnectionState::Connected);
    assert_eq!(mine.data().unwrap()["log"].as_array().unwrap().len(), 2);
    let states = states.lock().unwrap().clone();
    let back = states
        .iter()
        .rposition(|s| *s == ConnectionState::Connected)
        .unwrap();
    let dropped = states
        .iter()
        .position(|s| *s == ConnectionState::Disconnected)
        .unwrap();
    assert!(dropped < back, "reconnected after the drop: {states:?}");
}

/// A page closes with an op sent (its commit held on the server) and more
/// made offline; what it kept is replayed by a new connection: the sent op
/// is acknowledged, not applied again, the rest is applied once, and a
/// concurrent edit by someone else is kept too.
#[tokio::test]
async fn kept_pending_work_is_replayed_exactly_once_by_another_connection() {
    use peloton::client::offline::PendingRecord;
    // Holds the first edit: the page's increment.
    let hold = util::HoldCommit::first_edit();
    let backend = Backend::builder().middleware(hold.clone()).build();
    let addr = serve(backend.clone()).await;
    let url = util::channel_url(addr);
    let page = Connection::new(WebSocketConnector::new(url.clone()));
    let kept = Arc::new(std::sync::Mutex::new(PendingRecord::default()));
    page.keep_pending({
        let kept = kept.clone();
        move |record| *kept.lock().unwrap() = record
    });
    let doc = page.get("counters", "c");
    doc.create(json!({"n": 0, "log": []}))
        .unwrap()
        .await
        .unwrap();
    assert!(
        kept.lock().unwrap().is_empty(),
        "nothing pending once acknowledged"
    );

    // Sent, and held on the server: the record has it with its src/seq.
    let _sent = doc
        .submit_op(Op::from(Component::number_add(["n"], 1.0)))
        .unwrap();
    hold.reached().await;
    page.disconnect();
    until("offline", || page.state() == ConnectionState::Disconnected).await;
    let _offline = doc
        .submit_op(Op::from(Component::list_insert(
            ["log"],
            0,
            json!("offline"),
        )))
        .unwrap();
    let record = kept.lock().unwrap().clone();
    assert_eq!(record.docs.len(), 1);
    assert_eq!(record.docs[0].ops.len(), 2);
    assert!(
        record.docs[0].ops[0].contains("\"seq\""),
        "the sent op keeps its seq"
    );
    assert!(record.id.is_some());
    drop(doc);
    drop(page);

    // The held op commits after its page is gone; someone else edits too.
    hold.release();
    let other = Connection::new(backend.clone());
    let theirs = other.get("counters", "c");
    theirs.subscribe().await.unwrap();
    until("the held op is stored", || theirs.version() == Some(2)).await;
    theirs
        .submit_op(Op::from(Component::number_add(["n"], 100.0)))
        .unwrap()
        .await
        .unwrap();

    // The kept record, replayed by a connection that resumes the page's id.
    let replay = Connection::replay(
        WebSocketConnector::new(url),
        peloton::client::ConnectionOptions::default(),
        record,
    )
    .unwrap();
    tokio::time::timeout(Duration::from_secs(5), replay.when_nothing_pending())
        .await
        .expect("the replay finishes");
    let stored = backend.fetch("counters", "c").await.unwrap();
    assert_eq!(
        stored.value().cloned(),
        Some(json!({"n": 101, "log": ["offline"]})),
        "each edit once"
    );
    assert_eq!(stored.v, 4);
}

/// Offline, a live query answers from the documents the client holds: a
/// document created offline joins its results (and its count), one edited
/// out of it leaves, and the server agrees once the client is back.
#[tokio::test]
async fn offline_a_live_query_answers_from_the_documents_held() {
    let backend = Backend::new();
    let client = Connection::new(backend.clone());
    let first = client.get("tasks", "a");
    first
        .create(json!({"done": false, "at": 1}))
        .unwrap()
        .await
        .unwrap();
    let open = client.subscribe_query("tasks", json!({"done": false, "$sort": {"at": 1}}));
    let count = client.subscribe_query("tasks", json!({"done": false, "$count": true}));
    open.ready().await.unwrap();
    count.ready().await.unwrap();
    assert_eq!(open.ids(), ["a"]);

    client.disconnect();
    until("offline", || {
        client.state() == ConnectionState::Disconnected
    })
    .await;
    let second = client.get("tasks", "b");
    let _created = second.create(json!({"done": false, "at": 0})).unwrap();
    assert_eq!(open.ids(), ["b", "a"], "created offline, sorted in");
    assert_eq!(count.extra(), Some(json!(2)));
    let _done = first
        .submit_op(Op::from(Component::object_replace(
            ["done"],
            json!(false),
            json!(true),
        )))
        .unwrap();
    assert_eq!(open.ids(), ["b"], "edited out of the query");
    assert_eq!(count.extra(), Some(json!(1)));

    client.reconnect();
    client.when_nothing_pending().await;
    until("the server's answer", || {
        open.ids() == ["b"] && count.extra() == Some(json!(1))
    })
    .await;
    let stored = backend.fetch("tasks", "b").await.unwrap();
    assert_eq!(
        stored.value().cloned(),
        Some(json!({"done": false, "at": 0}))
    );
}

/// A page opened offline takes over the results a closed page kept for a
/// query it cannot answer itself (one that pages), until the server
/// answers.
#[tokio::test]
async fn kept_query_results_are_taken_over_until_the_server_answers() {
    use peloton::client::offline::PendingRecord;
    let backend = Backend::new();
    let closed = Connection::new(backend.clone());
    for (id, n) in [("a", 3), ("b", 1), ("c", 2)] {
        closed
            .get("tasks", id)
            .create(json!({"n": n}))
            .unwrap()
            .await
            .unwrap();
    }
    let first_two = json!({"$sort": {"n": 1}, "$limit": 2});
    let kept = Arc::new(std::sync::Mutex::new(PendingRecord::default()));
    closed.keep_pending({
        let kept = kept.clone();
        move |record| *kept.lock().unwrap() = record
    });
    let query = closed.subscribe_query("tasks", first_two.clone());
    query.ready().await.unwrap();
    let record = kept.lock().unwrap().clone();
    assert_eq!(record.queries.len(), 1);
    assert_eq!(record.queries[0].ids, ["b", "c"]);
    drop(query);
    drop(closed);

    let page = Connection::new(backend);
    page.disconnect();
    let same = page.subscribe_query("tasks", first_two);
    assert!(same.ids().is_empty(), "nothing known yet");
    assert!(page.adopt(record).unwrap());
    assert_eq!(same.ids(), ["b", "c"], "the kept results, offline");
    page.reconnect();
    same.ready().await.unwrap();
    assert_eq!(same.ids(), ["b", "c"]);
}

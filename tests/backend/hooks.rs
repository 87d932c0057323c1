//! Each middleware hook, changing what it is given and rejecting, as a
//! client sees it over the real protocol.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use peloton::backend::{
    Backend, Middleware, OpContext, PresenceContext, QueryContext, ReadSnapshotsContext,
    ReceiveContext, ReplyContext, SubmitRequest,
};
use peloton::ot::json0::{Component, PathSegment};
use peloton::protocol::{ClientMessage, CreateData, ErrorCode, ErrorObject, OpKind, ServerMessage};
use serde_json::{Value, json};

use crate::util::{RawSocket, serve};

fn create(data: Value) -> OpKind {
    OpKind::Create(CreateData {
        doc_type: "json0".into(),
        data: Some(data),
    })
}

fn refused(code: &str) -> ErrorObject {
    ErrorObject::new(ErrorCode::Other(code.into()), format!("refused by {code}"))
}

/// A backend with `middleware` and the document `c`/`d` = `data` (v1),
/// served on a real socket, and a client connected to it.
async fn serving(middleware: impl Middleware, data: Value) -> (Backend, RawSocket) {
    let (backend, addr) = serving_at(middleware, data).await;
    (backend, connected(addr).await)
}

async fn serving_at(middleware: impl Middleware, data: Value) -> (Backend, SocketAddr) {
    let backend = Backend::builder().middleware(middleware).build();
    backend.submit("c", "d", create(data)).await.unwrap();
    let addr = serve(backend.clone()).await;
    (backend, addr)
}

async fn connected(addr: SocketAddr) -> RawSocket {
    let mut ws = RawSocket::connect(addr).await;
    ws.handshake(None).await;
    ws
}

/// `receive`: fetches of collection `alias` are rewritten to `c`; `nf`
/// requests are refused.
struct Alias;

#[async_trait]
impl Middleware for Alias {
    async fn receive(&self, ctx: &mut ReceiveContext<'_>) -> Result<(), ErrorObject> {
        match ctx.message {
            ClientMessage::Fetch(r) if r.c == "alias" => r.c = "c".into(),
            ClientMessage::SnapshotFetch { .. } => return Err(refused("ERR_NO_HISTORY")),
            _ => {}
        }
        Ok(())
    }
}

#[tokio::test]
async fn receive_rewrites_and_rejects_messages() {
    let (_backend, mut ws) = serving(Alias, json!({"n": 1})).await;
    ws.send(json!({"a": "f", "c": "alias", "d": "d"})).await;
    assert_eq!(
        ws.next(|m| m["a"] == "f").await,
        json!({"a": "f", "c": "c", "d": "d", "data": {"v": 1, "data": {"n": 1}}})
    );
    ws.send(json!({"a": "nf", "id": 1, "c": "c", "d": "d", "v": 0}))
        .await;
    let reply = ws.next(|m| m["a"] == "nf").await;
    assert_eq!(reply["error"]["code"], "ERR_NO_HISTORY", "{reply}");
    assert_eq!(reply["id"], 1);
}

/// `reply`: fetch replies lose the document's `secret`; replies to `u` are
/// refused.
struct HideInReplies;

#[async_trait]
impl Middleware for HideInReplies {
    async fn reply(&self, ctx: &mut ReplyContext<'_>) -> Result<(), ErrorObject> {
        match ctx.reply {
            ServerMessage::Fetch {
                data: Some(snapshot),
                ..
            } => {
                if let Some(Value::Object(data)) = snapshot.value_mut() {
                    data.shift_remove("secret");
                }
            }
            ServerMessage::Unsubscribe { .. } => return Err(refused("ERR_STAY")),
            _ => {}
        }
        Ok(())
    }
}

#[tokio::test]
async fn reply_changes_and_rejects_replies() {
    let (_backend, mut ws) = serving(HideInReplies, json!({"n": 1, "secret": "s"})).await;
    ws.send(json!({"a": "f", "c": "c", "d": "d"})).await;
    assert_eq!(
        ws.next(|m| m["a"] == "f").await["data"],
        json!({"v": 1, "data": {"n": 1}})
    );
    ws.send(json!({"a": "u", "c": "c", "d": "d"})).await;
    assert_eq!(
        ws.next(|m| m["a"] == "u").await["error"]["code"],
        "ERR_STAY"
    );
}

/// `query`: every query is limited to the documents of owner `ann`; the
/// options the client sent are noted.
#[derive(Clone, Default)]
struct OwnDocsOnly(Arc<Mutex<Vec<Option<Value>>>>);

#[async_trait]
impl Middleware for OwnDocsOnly {
    async fn query(&self, ctx: &mut QueryContext<'_>) -> Result<(), ErrorObject> {
        self.0.lock().unwrap().push(ctx.options.cloned());
        if ctx.collection != "c" {
            return Err(refused("ERR_NO_SUCH_COLLECTION"));
        }
        let Value::Object(query) = ctx.query else {
            return Err(ErrorObject::badly_formed("A query is an object"));
        };
        query.insert("owner".into(), json!("ann"));
        Ok(())
    }
}

#[tokio::test]
async fn query_rewrites_and_rejects_queries() {
    let seen = OwnDocsOnly::default();
    let (backend, mut ws) = serving(seen.clone(), json!({"owner": "ann", "n": 1})).await;
    backend
        .submit("c", "e", create(json!({"owner": "bob", "n": 2})))
        .await
        .unwrap();
    ws.send(json!({"a": "qf", "id": 1, "c": "c", "q": {}, "o": {"hint": 1}}))
        .await;
    let reply = ws.next(|m| m["a"] == "qf").await;
    assert_eq!(
        reply["data"],
        json!([{"d": "d", "v": 1, "data": {"owner": "ann", "n": 1}}])
    );
    ws.send(json!({"a": "qs", "id": 2, "c": "other", "q": {}}))
        .await;
    let reply = ws.next(|m| m["a"] == "qs").await;
    assert_eq!(reply["error"]["code"], "ERR_NO_SUCH_COLLECTION", "{reply}");
    assert_eq!(
        *seen.0.lock().unwrap(),
        vec![Some(json!({"hint": 1})), None]
    );
}

/// `apply`: sees the snapshot the op applies to (after transforming a late
/// op), counts edits in the op itself, and refuses edits of a frozen doc.
#[derive(Clone, Default)]
struct CountEdits(Arc<Mutex<Vec<(u64, u64)>>>);

#[async_trait]
impl Middleware for CountEdits {
    async fn apply(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        self.0.lock().unwrap().push((req.op.v, req.snapshot.v));
        let frozen = req
            .snapshot
            .data
            .as_ref()
            .is_some_and(|d| d["frozen"] == true);
        if let OpKind::Edit(op) = &mut req.op.kind {
            if frozen {
                return Err(refused("ERR_FROZEN"));
            }
            op.push(Component::number_add(["edits"], 1.0));
        }
        Ok(())
    }
}

#[tokio::test]
async fn apply_changes_the_op_and_rejects() {
    let seen = CountEdits::default();
    let (backend, mut ws) = serving(seen.clone(), json!({"n": 0, "edits": 0})).await;
    ws.send(json!({"a": "op", "c": "c", "d": "d", "v": 1, "seq": 1,
        "op": [{"p": ["n"], "na": 1}]}))
        .await;
    assert_eq!(ws.next(|m| m["a"] == "op").await["v"], 1);
    // Made at v1, it applies at v2.
    ws.send(json!({"a": "op", "c": "c", "d": "d", "v": 1, "seq": 2,
        "op": [{"p": ["frozen"], "oi": true}]}))
        .await;
    assert_eq!(ws.next(|m| m["a"] == "op" && m["seq"] == 2).await["v"], 2);
    ws.send(json!({"a": "op", "c": "c", "d": "d", "v": 3, "seq": 3,
        "op": [{"p": ["n"], "na": 1}]}))
        .await;
    let reply = ws.next(|m| m["a"] == "op" && m["seq"] == 3).await;
    assert_eq!(reply["error"]["code"], "ERR_FROZEN", "{reply}");

    let snapshot = backend.fetch("c", "d").await.unwrap();
    assert_eq!(snapshot.v, 3);
    assert_eq!(
        snapshot.value().cloned(),
        Some(json!({"n": 1, "edits": 2, "frozen": true}))
    );
    // (op.v, snapshot.v) as each apply saw them: the create was at v0.
    assert_eq!(
        *seen.0.lock().unwrap(),
        vec![(0, 0), (1, 1), (2, 2), (3, 3)]
    );
}

/// `commit`: stamps the snapshot's metadata with the committing client;
/// refuses to commit a document whose `n` went negative.
struct Stamp;

#[async_trait]
impl Middleware for Stamp {
    async fn commit(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        let n = req.snapshot.data.as_ref().and_then(|d| d["n"].as_f64());
        if n.is_some_and(|n| n < 0.0) {
            return Err(refused("ERR_NEGATIVE"));
        }
        req.snapshot
            .m
            .insert("editedBy".into(), json!(req.agent.client_id));
        Ok(())
    }
}

#[tokio::test]
async fn commit_changes_the_snapshot_metadata_and_rejects() {
    let (backend, mut ws) = serving(Stamp, json!({"n": 0})).await;
    ws.send(json!({"a": "hs", "id": "writer", "protocol": 1, "protocolMinor": 2}))
        .await;
    ws.next(|m| m["a"] == "hs").await;
    ws.send(json!({"a": "op", "c": "c", "d": "d", "v": 1, "seq": 1,
        "op": [{"p": ["n"], "na": 1}]}))
        .await;
    assert!(ws.next(|m| m["a"] == "op").await.get("error").is_none());
    let stored = backend.db().get_snapshot("c", "d").await.unwrap();
    assert_eq!(stored.m["editedBy"], "writer");
    assert!(stored.m.contains_key("mtime"), "ShareDB's metadata is kept");

    ws.send(json!({"a": "op", "c": "c", "d": "d", "v": 2, "seq": 2,
        "op": [{"p": ["n"], "na": -5}]}))
        .await;
    assert_eq!(
        ws.next(|m| m["a"] == "op").await["error"]["code"],
        "ERR_NEGATIVE"
    );
    assert_eq!(backend.fetch("c", "d").await.unwrap().v, 2);
}

/// `after_write`: sees the committed snapshot; its error reaches the
/// client, the op stays committed.
#[derive(Clone, Default)]
struct Audit(Arc<Mutex<Vec<Audited>>>);

/// A snapshot as `after_write` saw it: version and data.
type Audited = (u64, Option<Value>);

#[async_trait]
impl Middleware for Audit {
    async fn after_write(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        self.0
            .lock()
            .unwrap()
            .push((req.snapshot.v, req.snapshot.value().cloned()));
        if req.extra.as_ref().is_some_and(|x| x["audit"] == "fail") {
            return Err(refused("ERR_AUDIT_LOG_DOWN"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn after_write_sees_the_commit_and_its_error_reaches_the_client() {
    let audit = Audit::default();
    let (backend, mut ws) = serving(audit.clone(), json!({"n": 0})).await;
    ws.send(
        json!({"a": "op", "c": "c", "d": "d", "v": 1, "seq": 1, "x": {"audit": "fail"},
        "op": [{"p": ["n"], "na": 1}]}),
    )
    .await;
    let reply = ws.next(|m| m["a"] == "op").await;
    assert_eq!(reply["error"]["code"], "ERR_AUDIT_LOG_DOWN", "{reply}");
    assert_eq!(
        backend.fetch("c", "d").await.unwrap().value().cloned(),
        Some(json!({"n": 1}))
    );
    assert_eq!(
        *audit.0.lock().unwrap(),
        vec![(1, Some(json!({"n": 0}))), (2, Some(json!({"n": 1})))]
    );
}

/// `read_snapshots` and `op` together, as a projection: `secret` is never
/// sent, in snapshots or in ops; ops on `sealed` documents are refused.
struct HideSecret;

fn touches_secret(c: &Component) -> bool {
    c.p.first() == Some(&PathSegment::Key("secret".into()))
}

#[async_trait]
impl Middleware for HideSecret {
    async fn read_snapshots(&self, ctx: &mut ReadSnapshotsContext<'_>) -> Result<(), ErrorObject> {
        for snapshot in ctx.snapshots.iter_mut() {
            if let Some(Value::Object(data)) = snapshot.value_mut() {
                data.shift_remove("secret");
            }
        }
        Ok(())
    }

    async fn op(&self, ctx: &mut OpContext<'_>) -> Result<(), ErrorObject> {
        if ctx.id == "sealed" {
            return Err(refused("ERR_SEALED"));
        }
        let leaks = matches!(&ctx.op().kind, OpKind::Edit(op) if op.iter().any(touches_secret));
        if leaks && let OpKind::Edit(op) = &mut ctx.op_mut().kind {
            op.0.retain(|c| !touches_secret(c));
        }
        Ok(())
    }
}

#[tokio::test]
async fn op_changes_and_rejects_the_ops_a_client_receives() {
    let (backend, addr) = serving_at(HideSecret, json!({"n": 0, "secret": "s"})).await;
    let mut ws = connected(addr).await;
    backend
        .submit("c", "sealed", create(json!({})))
        .await
        .unwrap();
    ws.send(json!({"a": "s", "c": "c", "d": "d"})).await;
    assert_eq!(
        ws.next(|m| m["a"] == "s").await["data"],
        json!({"v": 1, "data": {"n": 0}})
    );
    ws.send(json!({"a": "s", "c": "c", "d": "sealed"})).await;
    ws.next(|m| m["a"] == "s").await;
    let mut other = connected(addr).await;
    other
        .send(json!({"a": "op", "c": "c", "d": "d", "v": 1, "seq": 1,
        "op": [{"p": ["secret"], "od": "s", "oi": "t"}, {"p": ["n"], "na": 1}]}))
        .await;
    other.next(|m| m["a"] == "op").await;
    backend
        .submit(
            "c",
            "sealed",
            OpKind::Edit(serde_json::from_value(json!([{"p": ["k"], "oi": 1}])).unwrap()),
        )
        .await
        .unwrap();

    let op = ws.next(|m| m["a"] == "op").await;
    assert_eq!(op["op"], json!([{"p": ["n"], "na": 1}]), "{op}");
    // The committed op is unchanged, for the journal and everyone else.
    let stored = backend.fetch("c", "d").await.unwrap();
    assert_eq!(
        stored.value().cloned(),
        Some(json!({"n": 1, "secret": "t"}))
    );
    ws.flush(&backend).await;
    let rest = ws.take_all();
    assert!(rest.iter().all(|m| m["d"] != "sealed"), "{rest:?}");
    // Catching up from a version fails as a whole.
    ws.send(json!({"a": "f", "c": "c", "d": "sealed", "v": 0}))
        .await;
    assert_eq!(
        ws.next(|m| m["a"] == "f").await["error"]["code"],
        "ERR_SEALED"
    );
}

/// Blurs cursors for every receiver, and refuses the `hidden` one.
struct PresenceHook;

#[async_trait]
impl Middleware for PresenceHook {
    async fn send_presence(&self, ctx: &mut PresenceContext<'_>) -> Result<(), ErrorObject> {
        // Relayed presence ids are scoped to their connection.
        if ctx.presence.id.ends_with(":hidden") {
            return Err(refused("send_presence"));
        }
        ctx.presence.p = json!({"blurred": true});
        Ok(())
    }
}

#[tokio::test]
async fn send_presence_changes_and_rejects_presence() {
    let (_backend, addr) = serving_at(PresenceHook, json!({})).await;
    let (mut sender, mut receiver) = (connected(addr).await, connected(addr).await);
    receiver
        .send(json!({"a": "ps", "ch": "room", "seq": 1}))
        .await;
    receiver.next(|m| m["a"] == "ps").await;
    for id in ["shown", "hidden"] {
        sender
            .send(json!({"a": "p", "ch": "room", "id": id, "pv": 1, "p": {"at": 3}}))
            .await;
    }
    let shown = receiver.next(|m| m["a"] == "p").await;
    assert!(shown["id"].as_str().unwrap().ends_with(":shown"), "{shown}");
    assert_eq!(shown["p"], json!({"blurred": true}));
    let hidden = receiver.next(|m| m["a"] == "p").await;
    assert!(
        hidden["id"].as_str().unwrap().ends_with(":hidden"),
        "{hidden}"
    );
    assert_eq!(
        (&hidden["error"]["code"], hidden.get("p")),
        (&json!("send_presence"), None),
        "{hidden}"
    );
}

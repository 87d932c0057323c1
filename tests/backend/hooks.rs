//! Each middleware hook, changing what it is given and rejecting, as a
//! client sees it over the real protocol.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use peloton::backend::{Backend, Middleware, QueryContext};
use peloton::protocol::{CreateData, ErrorCode, ErrorObject, OpKind};
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

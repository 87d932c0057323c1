// Private documents: `private.<user>` is readable and writable by its user
// only (tests/backend/access_control.rs tries every read as the wrong user).

use async_trait::async_trait;
use peloton::backend::{AgentInfo, Backend, CollectionAccess, ConnectContext, Middleware, SubmitRequest};
use peloton::protocol::{ErrorCode, ErrorObject};

/// The signed-in user. The login layer in front of the server (a reverse
/// proxy, an auth middleware) must set the `x-user` header itself and drop
/// any `x-user` a client sent: whoever can set it is that user.
#[derive(Clone)]
pub struct User(pub String);

/// Private docs: `private.<user>` is readable and writable by its user
/// only; other collections are open to everyone.
pub struct PrivateDocs;

/// Whether the connection's user may read and write `collection.id`.
pub fn allowed(agent: &AgentInfo, collection: &str, id: &str) -> bool {
    collection != "private" || agent.custom.get::<User>().is_some_and(|u| u.0 == id)
}

/// What a client is told when it reads another user's document.
pub fn forbidden() -> ErrorObject {
    ErrorObject::new(
        ErrorCode::Other("ERR_FORBIDDEN".into()),
        "This document is private to its owner: sign in as them to read it",
    )
}

#[async_trait]
impl Middleware for PrivateDocs {
    async fn connect(&self, ctx: &mut ConnectContext<'_>) -> Result<(), ErrorObject> {
        let user = ctx
            .request
            .and_then(|r| r.headers.get("x-user"))
            .and_then(|v| v.to_str().ok());
        if let Some(user) = user {
            ctx.agent.custom.insert(User(user.to_owned()));
        }
        Ok(())
    }

    // Reads, of every kind (snapshots, ops, versions, queries, presence):
    // decided from who is asking and the names, before anything stored
    // is looked at.
    async fn authorize_collection(&self, _: &AgentInfo, collection: &str) -> CollectionAccess {
        if collection == "private" {
            CollectionAccess::PerDocument
        } else {
            CollectionAccess::All
        }
    }

    async fn authorize_doc(
        &self,
        agent: &AgentInfo,
        collection: &str,
        id: &str,
    ) -> Result<(), ErrorObject> {
        if allowed(agent, collection, id) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    // Writes.
    async fn submit(&self, req: &mut SubmitRequest<'_>) -> Result<(), ErrorObject> {
        if allowed(req.agent, &req.collection, &req.id) {
            Ok(())
        } else {
            Err(ErrorObject::new(
                ErrorCode::OpSubmitRejected,
                "This document is private to its owner: sign in as them to edit it",
            ))
        }
    }
}

/// A backend that keeps private documents private.
pub fn backend() -> Backend {
    Backend::builder().middleware(PrivateDocs).build()
}

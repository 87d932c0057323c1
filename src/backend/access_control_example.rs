use async_trait::async_trait;
use peloton::backend::{
    AgentInfo, Backend, ConnectContext, Middleware, OpContext, PresenceContext,
    ReadSnapshotsContext, SubmitRequest,
};
use peloton::protocol::{ErrorCode, ErrorObject};

/// The signed-in user, as the login layer put it in a header.
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

    // Reads of snapshots.
    async fn read_snapshots(&self, ctx: &mut ReadSnapshotsContext<'_>) -> Result<(), ErrorObject> {
        for i in 0..ctx.snapshots.len() {
            if !allowed(ctx.agent, ctx.collection, &ctx.snapshots[i].id) {
                ctx.reject(i, forbidden());
            }
        }
        Ok(())
    }

    // Reads of ops: catching up from a version, and live ones.
    async fn op(&self, ctx: &mut OpContext<'_>) -> Result<(), ErrorObject> {
        if allowed(ctx.agent, ctx.collection, ctx.id) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    // Presence (cursors) on a private document's channel, `private.<user>`.
    async fn send_presence(&self, ctx: &mut PresenceContext<'_>) -> Result<(), ErrorObject> {
        match ctx.presence.ch.strip_prefix("private.") {
            Some(id) if !allowed(ctx.agent, "private", id) => Err(forbidden()),
            _ => Ok(()),
        }
    }
}

/// A backend that keeps private documents private.
pub fn backend() -> Backend {
    Backend::builder().middleware(PrivateDocs).build()
}

//! The agent: one task per connection, answering its requests and
//! forwarding what it subscribed to (ShareDB's `Agent`).
//!
//! The task owns all of the connection's state (subscriptions, live
//! queries, presence) and handles one thing at a time: a request from the
//! client, or a delivery from pub/sub. Replies to one connection therefore
//! go out in request order, and ops reach it in commit order.
//!
//! This module owns the loop (writes, timeouts, pings, closes) over a
//! [`ServerTransport`], the connection's state and the dispatch of
//! requests; each concern is a submodule of `impl Agent` blocks:
//! [`channels`] (pub/sub listening), [`docs`], [`bulk`], [`queries`],
//! [`ops`] (submits), [`history`] (snapshots of the past), [`presence`]
//! and [`delivery`] (what pub/sub brings). Every read goes through the
//! read policy (`access`) first; nothing here stores data (that is the
//! submit pipeline's) or knows HTTP (that is `peloton::axum`'s).

mod bulk;
mod channels;
mod delivery;
mod docs;
mod history;
mod ops;
mod presence;
mod queries;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::watch;
use tracing::Instrument;

use super::Shared;
use super::limits::Bucket;
use super::live_query::LiveQuery;
use super::middleware::{AgentInfo, ConnectContext, ReceiveContext, ReplyContext};
use super::pubsub::{self, Inbox, Mailbox, Message};
use crate::protocol::transport::close_code;
use crate::protocol::{
    BulkReply, ClientMessage, DocOp, ErrorObject, Hello, Incoming, PresenceUpdate, ServerMessage,
    ServerTransport, SnapshotReply,
};

use channels::Channels;
use history::Point;

/// A connection's state, owned by its task.
pub(crate) struct Agent {
    shared: Arc<Shared>,
    info: AgentInfo,
    /// Messages to the client, written after each event.
    outbox: Mutex<Vec<ServerMessage>>,
    mailbox: Mailbox,
    /// The pub/sub channels listened to, for documents, queries and presence.
    channels: Channels,
    /// Subscribed documents, by collection and id: the version the client
    /// has next (older ops are not sent again).
    docs: HashMap<String, HashMap<String, u64>>,
    queries: HashMap<u64, LiveQuery>,
    /// Presence channels subscribed to (without the `$presence.` prefix).
    presence_channels: HashSet<String>,
    /// Presence channels the client asked for but may not follow: answered
    /// as empty ones.
    unread_channels: HashSet<String>,
    /// This client's latest presence per (channel, presence id), to announce
    /// its departure when the connection ends.
    own_presence: HashMap<(String, String), PresenceUpdate>,
    /// How fast this connection may send messages, and ops.
    requests: Bucket,
    ops: Bucket,
    /// Whether the client id came from the client (a connection come back),
    /// so its first op on each document may be one sent before.
    resumed: bool,
    /// Documents whose first op since the id was resumed was looked up.
    looked_up: HashSet<(String, String)>,
    /// The highest `seq` this connection committed under its own id.
    last_seq: Option<u64>,
    /// The connection's span (its client id changes on a resume).
    span: tracing::Span,
}

/// The client ids of this server's live connections: a handshake may not
/// take one (it would then submit in that client's name).
#[derive(Default)]
pub(crate) struct LiveIds(Mutex<HashSet<String>>);

impl LiveIds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(&self, id: &str) {
        self.lock().insert(id.to_owned());
    }

    /// Moves a connection from `old` to `new`, unless `new` is in use.
    fn claim(&self, new: &str, old: &str) -> bool {
        let mut ids = self.lock();
        if ids.contains(new) {
            return false;
        }
        ids.remove(old);
        ids.insert(new.to_owned());
        true
    }

    fn release(&self, id: &str) {
        self.lock().remove(id);
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// How many ready events (requests, deliveries) an agent handles before it
/// writes, so messages that are ready together leave in one write.
const BATCH: usize = 256;

/// The close reason of connections a closing backend ends.
const SHUTTING_DOWN: &str = "The server is shutting down";

/// How many times an agent drains ready events before it writes, yielding
/// to the runtime between drains; it stops early when a drain finds none.
const COALESCE_PASSES: usize = 4;

/// Runs a connection until the client goes away, is too slow or too quiet,
/// or the backend shuts down.
///
/// The connection is an `info` span with its client id (updated when a
/// handshake resumes another) and remote address, so every event of its
/// requests and submits names it.
///
/// Not an `async fn`: the connection's future is [`serve`]'s alone, with
/// no layer around it holding second copies of its arguments (it lives as
/// long as the connection: every byte of it counts per client).
pub(crate) fn run(
    shared: Arc<Shared>,
    io: impl ServerTransport,
    request: Option<http::request::Parts>,
    in_process: bool,
    shutdown: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send {
    let info = AgentInfo::new(crate::random::new_id(), in_process);
    let remote = request.as_ref().and_then(remote_addr);
    // A root span, as when the agent was spawned: the caller's span (an
    // HTTP request's, say) must not stay open for the connection's life.
    let span = tracing::info_span!(
        parent: None,
        "connection",
        client = %info.client_id,
        remote = remote.map(tracing::field::display),
        in_process,
    );
    serve(shared, io, request, info, shutdown).instrument(span)
}

/// The client's address, if the server was started with axum's
/// `into_make_service_with_connect_info::<SocketAddr>()`.
fn remote_addr(request: &http::request::Parts) -> Option<std::net::SocketAddr> {
    request
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0)
}

/// [`run`], inside the connection's span.
async fn serve(
    shared: Arc<Shared>,
    mut io: impl ServerTransport,
    request: Option<http::request::Parts>,
    mut info: AgentInfo,
    mut shutdown: watch::Receiver<bool>,
) {
    // A closed backend ends new connections at once, saying why.
    if *shutdown.borrow() {
        io.close(close_code::AWAY, SHUTTING_DOWN.to_owned()).await;
        return;
    }
    let in_process = info.in_process;
    let refused = connect(&shared, &mut info, request).await;
    if let Err(error) = refused {
        tracing::info!("connection refused by middleware: {error}");
        let reason = format!("Connection refused: {}", error.message);
        io.send(vec![ServerMessage::error(Default::default(), error)])
            .await;
        io.close(close_code::POLICY, reason).await;
        return;
    }
    let limits = shared.options.limits.clone();
    let (mailbox, mut inbox) = Mailbox::new(limits.max_outbound_messages);
    let mut agent = Agent {
        shared,
        info,
        outbox: Mutex::new(Vec::new()),
        mailbox,
        channels: Channels::default(),
        docs: HashMap::new(),
        queries: HashMap::new(),
        presence_channels: HashSet::new(),
        unread_channels: HashSet::new(),
        own_presence: HashMap::new(),
        requests: Bucket::new(limits.requests),
        ops: Bucket::new(limits.ops),
        resumed: false,
        looked_up: HashSet::new(),
        last_seq: None,
        span: tracing::Span::current(),
    };
    agent.shared.live_ids.register(&agent.info.client_id);
    (agent.shared.telemetry)
        .connections(agent.info.in_process)
        .increment(1);
    tracing::debug!("connection opened");
    agent.send(ServerMessage::Init(Hello::new(
        agent.info.client_id.clone(),
    )));
    let mut ticker = tokio::time::interval(limits.ping_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.reset();
    let ending = 'serve: loop {
        let outbox = agent.take_outbox();
        if !outbox.is_empty() {
            let waiting = outbox.len() + inbox.len();
            agent.shared.telemetry.queue_depth.record(waiting as f64);
        }
        match tokio::time::timeout(limits.write_timeout, io.send(outbox)).await {
            Ok(true) => {}
            Ok(false) => break None,
            Err(_) => {
                break Some(too_slow(&format!(
                    "a write took longer than {:?}",
                    limits.write_timeout
                )));
            }
        }
        if agent.mailbox.overflowed() {
            break Some(too_slow(&format!(
                "over {} messages waited for it",
                limits.max_outbound_messages
            )));
        }
        tokio::select! {
            incoming = io.recv() => match incoming {
                Incoming::Message(message) => agent.handle(message).await,
                Incoming::Reply(reply) => agent.send(reply),
                Incoming::Gone(close) => break close,
            },
            Some(delivery) = inbox.recv() => agent.deliver(delivery).await,
            // An in-process client cannot vanish unseen: no pings.
            _ = ticker.tick(), if !in_process => {
                let idle = io.idle_for();
                if idle >= limits.idle_timeout {
                    break Some((
                        close_code::AWAY,
                        format!("Nothing received for {idle:.0?}: closing an idle connection"),
                    ));
                }
                if idle >= limits.ping_interval {
                    match tokio::time::timeout(limits.write_timeout, io.ping()).await {
                        Ok(true) => {}
                        Ok(false) => break None,
                        Err(_) => break Some(too_slow("a ping could not be written")),
                    }
                }
            }
            _ = shutdown.changed() => {
                break Some((close_code::AWAY, SHUTTING_DOWN.to_owned()));
            }
        }
        // Whatever else is ready goes out in the same write. Between drains
        // the agent yields, so tasks already runnable (often other agents
        // publishing ops to this connection) add theirs first: under load
        // that saves system calls on both ends (−35% `sendto` in the load
        // bench); on an idle runtime the yield returns at once.
        for pass in 0..COALESCE_PASSES {
            if pass > 0 {
                tokio::task::yield_now().await;
            }
            match drain(&mut agent, &mut io, &mut inbox).await {
                Drained::Gone(close) => break 'serve close,
                Drained::Nothing if pass > 0 => break,
                Drained::Nothing | Drained::Some => {}
            }
        }
    };
    if let Some((code, reason)) = ending {
        tracing::info!("closing a connection ({code}): {reason}");
        // What was queued for a client that is told to go is dropped with it.
        drop(agent.take_outbox());
        io.close(code, reason).await;
    }
    agent.leave().await;
}

/// The close of a client that does not keep up with what it is sent.
fn too_slow(why: &str) -> (u16, String) {
    (
        close_code::AGAIN,
        format!("Client too slow: {why}; reconnect to catch up"),
    )
}

/// What [`drain`] found.
enum Drained {
    Nothing,
    Some,
    /// The client is gone (see [`Incoming::Gone`]).
    Gone(Option<(u16, String)>),
}

/// Handles up to [`BATCH`] events that are ready now, without waiting.
async fn drain(agent: &mut Agent, io: &mut impl ServerTransport, inbox: &mut Inbox) -> Drained {
    let mut found = Drained::Nothing;
    for _ in 1..BATCH {
        if let Some(delivery) = inbox.try_recv() {
            agent.deliver(delivery).await;
        } else {
            match io.recv().now_or_never() {
                Some(Incoming::Message(message)) => agent.handle(message).await,
                Some(Incoming::Reply(reply)) => agent.send(reply),
                Some(Incoming::Gone(close)) => return Drained::Gone(close),
                None => return found,
            }
        }
        found = Drained::Some;
    }
    found
}

/// Runs the `connect` middleware; the request is not kept after it.
async fn connect(
    shared: &Shared,
    info: &mut AgentInfo,
    request: Option<http::request::Parts>,
) -> Result<(), ErrorObject> {
    for m in &shared.middleware {
        let mut ctx = ConnectContext {
            agent: info,
            request: request.as_ref(),
        };
        m.connect(&mut ctx).await?;
    }
    Ok(())
}

impl Agent {
    /// Queues a message; the loop writes the queue after each event.
    fn send(&self, message: ServerMessage) {
        self.outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }

    fn take_outbox(&self) -> Vec<ServerMessage> {
        std::mem::take(&mut *self.outbox.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn send_ops(&self, ops: Vec<Arc<DocOp>>) {
        if ops.is_empty() {
            return;
        }
        let mut outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
        outbox.extend(ops.into_iter().map(ServerMessage::Op));
    }

    /// Handles a request in a `debug` span naming its action and document
    /// (or query); a refusal is a `debug` event with its code.
    ///
    /// Boxed: answering (a submit, a query) takes a future of a few KiB,
    /// which every waiting connection would otherwise carry all its life.
    fn handle(&mut self, message: ClientMessage) -> BoxFuture<'_, ()> {
        let (c, d) = message.target();
        let span = tracing::debug_span!("request", a = message.action(), c, d);
        Box::pin(self.answer(message).instrument(span))
    }

    async fn answer(&mut self, mut message: ClientMessage) {
        if let Err(error) = self.within_rate(&message) {
            return self.refuse(&message, error);
        }
        let shared = self.shared.clone();
        for m in &shared.middleware {
            let mut ctx = ReceiveContext {
                agent: &self.info,
                message: &mut message,
            };
            if let Err(error) = m.receive(&mut ctx).await {
                return self.refuse(&message, error);
            }
        }
        match self.respond(&message).await {
            Ok(Some(mut reply)) => {
                for m in &shared.middleware {
                    let mut ctx = ReplyContext {
                        agent: &self.info,
                        request: &message,
                        reply: &mut reply,
                    };
                    if let Err(error) = m.reply(&mut ctx).await {
                        return self.refuse(&message, error);
                    }
                }
                self.send(reply);
            }
            Ok(None) => {}
            Err(error) => self.refuse(&message, error),
        }
    }

    /// Answers a request with an error.
    fn refuse(&self, message: &ClientMessage, error: ErrorObject) {
        tracing::debug!(code = %error.code, "refused: {}", error.message);
        self.send(ServerMessage::error(message.to_echo(), error));
    }

    /// Takes this message's share of the connection's rates.
    fn within_rate(&mut self, message: &ClientMessage) -> Result<(), ErrorObject> {
        if !self.requests.take() {
            return Err(self.requests.refusal("messages"));
        }
        if matches!(message, ClientMessage::Op(_)) && !self.ops.take() {
            return Err(self.ops.refusal("ops"));
        }
        Ok(())
    }

    /// Handles a request; the reply, if there is one.
    async fn respond(
        &mut self,
        message: &ClientMessage,
    ) -> Result<Option<ServerMessage>, ErrorObject> {
        Ok(Some(match message {
            ClientMessage::Handshake { id, .. } => {
                // A client coming back keeps its id (the `src` of its ops),
                // unless a live connection has it: then it gets a new one.
                if let Some(id) = id.as_ref().filter(|id| **id != self.info.client_id) {
                    if self.shared.live_ids.claim(id, &self.info.client_id) {
                        self.span.record("client", id.as_str());
                        tracing::debug!("resumed client id {id}");
                        self.info.client_id = id.clone();
                        self.resumed = true;
                    } else {
                        tracing::info!(
                            "a handshake claimed the id of a live connection: it keeps its own"
                        );
                    }
                }
                ServerMessage::Handshake(Hello::new(self.info.client_id.clone()))
            }
            ClientMessage::Fetch(r) => {
                let data = self.fetch(r).await?;
                ServerMessage::Fetch {
                    c: r.c.clone(),
                    d: r.d.clone(),
                    data,
                }
            }
            ClientMessage::Subscribe(r) => {
                let data = self.subscribe(r).await?;
                ServerMessage::Subscribe {
                    c: r.c.clone(),
                    d: r.d.clone(),
                    data,
                }
            }
            ClientMessage::Unsubscribe(r) => {
                self.unsubscribe_doc(&r.c, &r.d);
                ServerMessage::Unsubscribe {
                    c: r.c.clone(),
                    d: r.d.clone(),
                }
            }
            ClientMessage::BulkFetch(r) => ServerMessage::BulkFetch(self.bulk(r, false).await?),
            ClientMessage::BulkSubscribe(r) => {
                ServerMessage::BulkSubscribe(self.bulk(r, true).await?)
            }
            ClientMessage::BulkUnsubscribe(r) => {
                for id in r.b.ids() {
                    self.unsubscribe_doc(&r.c, id);
                }
                ServerMessage::BulkUnsubscribe(BulkReply {
                    c: r.c.clone(),
                    data: None,
                    b: Some(r.b.clone()),
                })
            }
            ClientMessage::QueryFetch(r) => ServerMessage::QueryFetch(self.query_fetch(r).await?),
            ClientMessage::QuerySubscribe(r) => {
                ServerMessage::QuerySubscribe(self.query_subscribe(r).await?)
            }
            ClientMessage::QueryUnsubscribe { id } => {
                if let Some(query) = self.queries.remove(id) {
                    self.shared.telemetry.live_queries.decrement(1);
                    self.channels
                        .release(&pubsub::collection_channel(&query.collection));
                }
                ServerMessage::QueryUnsubscribe { id: *id }
            }
            ClientMessage::Op(request) => return self.submit(request).await.map(Some),
            ClientMessage::SnapshotFetch { id, c, d, v } => {
                let snapshot = self.snapshot_at(c, d, Point::Version(*v)).await?;
                ServerMessage::SnapshotFetch(SnapshotReply {
                    by_timestamp: false,
                    id: *id,
                    snapshot,
                })
            }
            ClientMessage::SnapshotFetchByTimestamp { id, c, d, ts } => {
                let snapshot = self.snapshot_at(c, d, Point::Time(*ts)).await?;
                ServerMessage::SnapshotFetch(SnapshotReply {
                    by_timestamp: true,
                    id: *id,
                    snapshot,
                })
            }
            ClientMessage::History { id, c, d, from, to } => ServerMessage::History {
                id: *id,
                versions: self.versions(c, d, *from, *to).await?,
            },
            ClientMessage::Ping => ServerMessage::Pong,
            ClientMessage::Presence(presence) => return self.publish_presence(presence).await,
            ClientMessage::PresenceSubscribe { ch, seq } => {
                return self.follow_presence(ch, *seq).await;
            }
            ClientMessage::PresenceUnsubscribe { ch, seq } => self.unfollow_presence(ch, *seq),
            ClientMessage::PresenceRequest { ch } => self.ask_for_presence(ch).await?,
        }))
    }

    /// Listens to a pub/sub channel (see [`Channels`]).
    async fn retain(&mut self, channel: &str) -> Result<(), ErrorObject> {
        self.channels
            .retain(self.shared.pubsub.as_ref(), &self.mailbox, channel)
            .await
    }

    /// The connection ends: tell presence subscribers this client is gone.
    async fn leave(&mut self) {
        self.shared.live_ids.release(&self.info.client_id);
        let telemetry = &self.shared.telemetry;
        telemetry.connections(self.info.in_process).decrement(1);
        let subscribed: usize = self.docs.values().map(HashMap::len).sum();
        telemetry.subscriptions.decrement(subscribed as f64);
        telemetry.live_queries.decrement(self.queries.len() as f64);
        tracing::debug!("connection closed");
        let presences: Vec<PresenceUpdate> = self.own_presence.drain().map(|(_, p)| p).collect();
        for mut presence in presences {
            presence.p = Value::Null;
            // A client chose `pv`: it may be the largest there is.
            presence.pv = presence.pv.saturating_add(1);
            let channel = pubsub::presence_channel(&presence.ch);
            if let Err(e) = self
                .shared
                .pubsub
                .publish(&[channel], Message::Presence(Arc::new(presence)))
                .await
            {
                tracing::warn!("announcing a departed presence failed: {e}");
            }
        }
    }
}

//! The agent: one task per connection, answering its requests and
//! forwarding what it subscribed to (ShareDB's `Agent`).
//!
//! The task owns all of the connection's state (subscriptions, live
//! queries, presence) and handles one thing at a time: a request from the
//! client, or a delivery from pub/sub. Replies to one connection therefore
//! go out in request order, and ops reach it in commit order.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::access::{self, Reading};
use super::limits::Bucket;
use super::live_query::{LiveQuery, Update};
use super::middleware::{
    AgentInfo, ConnectContext, OpContext, PresenceContext, QueryContext, ReadSnapshotsContext,
    ReceiveContext, ReplyContext, SnapshotKind,
};
use super::pubsub::{self, Delivery, Mailbox, Message, PubSub, Subscription};
use super::query::Query;
use super::submit::{self, SubmitRequest, internal};
use super::{Inner, Snapshot};
use crate::ot::diff::ArrayDiff;
use crate::protocol::{
    Bulk, BulkReply, BulkRequest, ClientMessage, DocOp, DocRequest, ErrorCode, ErrorObject, Hello,
    Presence, QueryData, QueryDiff, QueryReply, QueryRequest, QueryResult, ServerEnd,
    ServerMessage, SnapshotReply, is_json0,
};

/// A connection's state, owned by its task.
pub(crate) struct Agent {
    inner: Arc<Inner>,
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
    own_presence: HashMap<(String, String), Presence>,
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

/// The pub/sub channels a connection listens to, each subscribed once
/// however many of its documents, queries and presence channels use it.
///
/// Channel names collide: `a.b` is the channel of collection `a.b` and of
/// document `b` in collection `a`. Two subscriptions to one name would
/// deliver each message on it twice, so there is one, and a delivery is
/// told apart by what it carries (see [`Agent::deliver_op`]).
#[derive(Default)]
struct Channels(HashMap<String, (Subscription, usize)>);

impl Channels {
    /// Listens to `name`, or counts one more use of it.
    async fn retain(
        &mut self,
        pubsub: &dyn PubSub,
        mailbox: &Mailbox,
        name: &str,
    ) -> Result<(), ErrorObject> {
        if let Some((_, uses)) = self.0.get_mut(name) {
            *uses += 1;
            return Ok(());
        }
        let subscription = pubsub
            .subscribe(name, mailbox)
            .await
            .map_err(|e| internal("subscribe", &e))?;
        self.0.insert(name.to_owned(), (subscription, 1));
        Ok(())
    }

    /// One use of `name` fewer; the last one stops listening.
    fn release(&mut self, name: &str) {
        if let Some((_, uses)) = self.0.get_mut(name) {
            *uses = uses.saturating_sub(1);
            if *uses == 0 {
                self.0.remove(name);
            }
        }
    }
}

/// Whether `channel` is the document channel of `collection.id`
/// ([`pubsub::doc_channel`]), without building that name.
fn is_doc_channel(channel: &str, collection: &str, id: &str) -> bool {
    channel.len() == collection.len() + 1 + id.len()
        && channel.starts_with(collection)
        && channel[collection.len()..].starts_with('.')
        && channel.ends_with(id)
}

/// Whether `channel` is the channel of `collection`
/// ([`pubsub::collection_channel`]: the collection's name).
fn is_collection_channel(channel: &str, collection: &str) -> bool {
    channel == collection
}

/// What reading one document sends: its snapshot, or the ops since the
/// client's version, all passed by middleware.
struct DocRead {
    data: Option<crate::protocol::Snapshot>,
    ops: Vec<Arc<DocOp>>,
    /// The version the client has next once it has these.
    next_v: u64,
}

/// What reading several documents sends.
struct BulkRead {
    reply: BulkReply,
    ops: Vec<Arc<DocOp>>,
    /// The documents read (not rejected), with the version the client has
    /// next.
    read: Vec<(String, u64)>,
}

/// What a query subscription starts with: its reply, and the messages to
/// send before it.
struct QueryStart {
    live: LiveQuery,
    before: Vec<ServerMessage>,
    reply: QueryReply,
}

/// What came from a client.
pub(crate) enum Incoming {
    /// A request.
    Message(ClientMessage),
    /// A frame that was no request: the reply that says why.
    Reply(ServerMessage),
    /// The client is gone or must go: with the close code and reason to
    /// send it, if it can still be told.
    Gone(Option<(u16, String)>),
}

/// How an agent talks to its client: requests in, replies and ops out.
///
/// In-process connections use a pair of channels ([`ServerEnd`]); the
/// `/channel` route lets the agent own its WebSocket, so a message goes
/// from the agent to the socket without another task in between.
pub(crate) trait AgentIo: Send + 'static {
    /// What the client sent next. Cancel-safe: it never writes (an agent
    /// waits for requests and deliveries at once).
    fn recv(&mut self) -> impl Future<Output = Incoming> + Send;

    /// Sends messages, in order; `false` once the client is gone.
    fn send(&mut self, messages: Vec<ServerMessage>) -> impl Future<Output = bool> + Send;

    /// How long since the client last sent anything (a pong counts).
    fn idle_for(&self) -> Duration;

    /// Asks the client for a sign of life; `false` once it is gone.
    fn ping(&mut self) -> impl Future<Output = bool> + Send;

    /// Closes the connection, telling the client why if the transport can.
    fn close(&mut self, code: u16, reason: String) -> impl Future<Output = ()> + Send;
}

impl AgentIo for ServerEnd {
    async fn recv(&mut self) -> Incoming {
        match self.rx.next().await {
            Some(message) => Incoming::Message(message),
            None => Incoming::Gone(None),
        }
    }

    async fn send(&mut self, messages: Vec<ServerMessage>) -> bool {
        messages
            .into_iter()
            .all(|m| self.tx.unbounded_send(m).is_ok())
    }

    /// An in-process client cannot vanish without its end being dropped.
    fn idle_for(&self) -> Duration {
        Duration::ZERO
    }

    async fn ping(&mut self) -> bool {
        true
    }

    async fn close(&mut self, _code: u16, _reason: String) {}
}

/// WebSocket close codes the agent closes with.
pub(crate) mod close_code {
    /// The server is going away, or the client went quiet for too long.
    pub const AWAY: u16 = 1001;
    /// The connection was refused by `connect` middleware.
    pub const POLICY: u16 = 1008;
    /// The client does not read what it is sent fast enough: try again
    /// later.
    pub const AGAIN: u16 = 1013;
}

/// How many ready events (requests, deliveries) an agent handles before it
/// writes, so messages that are ready together leave in one write.
const BATCH: usize = 256;

/// How many times an agent drains ready events before it writes, yielding
/// to the runtime between drains; it stops early when a drain finds none.
const COALESCE_PASSES: usize = 4;

/// Runs a connection until the client goes away, is too slow or too quiet,
/// or the backend shuts down.
pub(crate) async fn run(
    inner: Arc<Inner>,
    mut io: impl AgentIo,
    request: Option<http::request::Parts>,
    in_process: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut info = AgentInfo::new(crate::random::new_id(), in_process);
    let refused = connect(&inner, &mut info, request).await;
    if let Err(error) = refused {
        tracing::info!("connection refused by middleware: {error}");
        let reason = format!("Connection refused: {}", error.message);
        io.send(vec![ServerMessage::error(Default::default(), error)])
            .await;
        io.close(close_code::POLICY, reason).await;
        return;
    }
    let limits = inner.options.limits.clone();
    let (mailbox, mut inbox) = Mailbox::new(limits.max_outbound_messages);
    let mut agent = Agent {
        inner,
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
    };
    agent.inner.live_ids.register(&agent.info.client_id);
    agent.send(ServerMessage::Init(Hello::new(
        agent.info.client_id.clone(),
    )));
    let mut ticker = tokio::time::interval(limits.ping_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.reset();
    let ending = 'serve: loop {
        match tokio::time::timeout(limits.write_timeout, io.send(agent.take_outbox())).await {
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
                break Some((close_code::AWAY, "The server is shutting down".to_owned()));
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
        tracing::info!(client = %agent.info.client_id, "closing a connection ({code}): {reason}");
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
async fn drain(
    agent: &mut Agent,
    io: &mut impl AgentIo,
    inbox: &mut mpsc::Receiver<Delivery>,
) -> Drained {
    let mut found = Drained::Nothing;
    for _ in 1..BATCH {
        if let Ok(delivery) = inbox.try_recv() {
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
    inner: &Inner,
    info: &mut AgentInfo,
    request: Option<http::request::Parts>,
) -> Result<(), ErrorObject> {
    for m in &inner.middleware {
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

    async fn handle(&mut self, mut message: ClientMessage) {
        if let Err(error) = self.within_rate(&message) {
            return self.send(ServerMessage::error(message.to_echo(), error));
        }
        let inner = self.inner.clone();
        for m in &inner.middleware {
            let mut ctx = ReceiveContext {
                agent: &self.info,
                message: &mut message,
            };
            if let Err(error) = m.receive(&mut ctx).await {
                return self.send(ServerMessage::error(message.to_echo(), error));
            }
        }
        match self.respond(&message).await {
            Ok(Some(mut reply)) => {
                for m in &inner.middleware {
                    let mut ctx = ReplyContext {
                        agent: &self.info,
                        request: &message,
                        reply: &mut reply,
                    };
                    if let Err(error) = m.reply(&mut ctx).await {
                        return self.send(ServerMessage::error(message.to_echo(), error));
                    }
                }
                self.send(reply);
            }
            Ok(None) => {}
            Err(error) => self.send(ServerMessage::error(message.to_echo(), error)),
        }
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

    /// Refuses subscribing to `more` documents more than allowed.
    fn check_subscriptions(&self, more: usize) -> Result<(), ErrorObject> {
        let max = self.inner.options.limits.max_subscriptions;
        let now: usize = self.docs.values().map(HashMap::len).sum();
        if more > 0 && now + more > max {
            return Err(ErrorObject::new(
                ErrorCode::TooManySubscriptions,
                format!(
                    "A connection may subscribe to {max} documents at most; unsubscribe some first"
                ),
            ));
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
                    if self.inner.live_ids.claim(id, &self.info.client_id) {
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
            ClientMessage::Ping => ServerMessage::Pong,
            ClientMessage::Presence(presence) => {
                if !self.inner.options.presence {
                    return Ok(None);
                }
                access::presence(&self.inner, &self.info, &presence.ch, true).await?;
                if let (Some(c), Some(d)) = (&presence.c, &presence.d) {
                    self.may_read(c, d).await?;
                }
                let mut presence = presence.clone();
                presence.src = Some(self.info.client_id.clone());
                for m in &self.inner.middleware {
                    let mut ctx = PresenceContext {
                        agent: &self.info,
                        presence: &mut presence,
                    };
                    m.receive_presence(&mut ctx).await?;
                }
                self.catch_up_presence(&mut presence).await?;
                self.broadcast_presence(&presence).await?;
                ServerMessage::Presence(presence)
            }
            ClientMessage::PresenceSubscribe { ch, seq } => {
                if !self.inner.options.presence {
                    return Ok(None);
                }
                let followed =
                    self.presence_channels.contains(ch) || self.unread_channels.contains(ch);
                if !followed {
                    let max = self.inner.options.limits.max_presence_channels;
                    if self.presence_channels.len() + self.unread_channels.len() >= max {
                        return Err(ErrorObject::new(
                            ErrorCode::TooManyPresenceChannels,
                            format!(
                                "A connection may follow {max} presence channels at most; unsubscribe some first"
                            ),
                        ));
                    }
                    // A channel it may not follow is answered as an empty
                    // one: acknowledged, and silent.
                    if access::presence(&self.inner, &self.info, ch, false)
                        .await
                        .is_ok()
                    {
                        self.retain(&pubsub::presence_channel(ch)).await?;
                        self.presence_channels.insert(ch.clone());
                        self.request_presence(ch).await?;
                    } else {
                        self.unread_channels.insert(ch.clone());
                    }
                }
                ServerMessage::PresenceSubscribe {
                    ch: ch.clone(),
                    seq: *seq,
                }
            }
            ClientMessage::PresenceUnsubscribe { ch, seq } => {
                self.unread_channels.remove(ch);
                if self.presence_channels.remove(ch) {
                    self.channels.release(&pubsub::presence_channel(ch));
                }
                ServerMessage::PresenceUnsubscribe {
                    ch: ch.clone(),
                    seq: *seq,
                }
            }
            ClientMessage::PresenceRequest { ch } => {
                if access::presence(&self.inner, &self.info, ch, false)
                    .await
                    .is_ok()
                {
                    self.request_presence(ch).await?;
                }
                ServerMessage::PresenceRequest { ch: ch.clone() }
            }
        }))
    }

    /// Listens to a pub/sub channel (see [`Channels`]).
    async fn retain(&mut self, channel: &str) -> Result<(), ErrorObject> {
        self.channels
            .retain(self.inner.pubsub.as_ref(), &self.mailbox, channel)
            .await
    }

    fn is_subscribed(&self, c: &str, d: &str) -> bool {
        self.docs.get(c).is_some_and(|docs| docs.contains_key(d))
    }

    /// Listens to a document's channel unless the client is subscribed to
    /// the document already; whether it started listening.
    async fn listen_doc(&mut self, c: &str, d: &str) -> Result<bool, ErrorObject> {
        if self.is_subscribed(c, d) {
            return Ok(false);
        }
        self.retain(&pubsub::doc_channel(c, d)).await?;
        Ok(true)
    }

    /// Undoes a [`listen_doc`](Self::listen_doc) that started listening,
    /// for a subscribe that failed.
    fn unlisten_doc(&mut self, c: &str, d: &str) {
        self.channels.release(&pubsub::doc_channel(c, d));
    }

    /// Records a subscription whose channel is listened to.
    fn subscribed(&mut self, c: &str, d: &str, next_v: u64) {
        self.docs
            .entry(c.to_owned())
            .or_default()
            .insert(d.to_owned(), next_v);
    }

    fn unsubscribe_doc(&mut self, c: &str, d: &str) {
        let Some(docs) = self.docs.get_mut(c) else {
            return;
        };
        if docs.remove(d).is_some() {
            if docs.is_empty() {
                self.docs.remove(c);
            }
            self.unlisten_doc(c, d);
        }
    }

    /// Passes an op about to be sent to the client through the `op`
    /// middleware: the op to send, or why it may not be sent.
    async fn sanitize_op(
        &self,
        c: &str,
        d: &str,
        mut op: Arc<DocOp>,
    ) -> Result<Arc<DocOp>, ErrorObject> {
        for m in &self.inner.middleware {
            let mut ctx = OpContext {
                agent: &self.info,
                collection: c,
                id: d,
                op: &mut op,
            };
            m.op(&mut ctx).await?;
        }
        Ok(op)
    }

    /// [`sanitize_op`](Self::sanitize_op) for ops a request sends; one
    /// rejection fails the request.
    async fn sanitize_ops(
        &self,
        c: &str,
        d: &str,
        ops: Vec<Arc<DocOp>>,
    ) -> Result<Vec<Arc<DocOp>>, ErrorObject> {
        if self.inner.middleware.is_empty() {
            return Ok(ops);
        }
        let mut passed = Vec::with_capacity(ops.len());
        for op in ops {
            passed.push(self.sanitize_op(c, d, op).await?);
        }
        Ok(passed)
    }

    /// Sends an op from a subscription, unless middleware rejects it.
    async fn forward_op(&self, op: Arc<DocOp>) {
        if self.inner.middleware.is_empty() {
            return self.send(ServerMessage::Op(op));
        }
        let committed = op.clone();
        match self.sanitize_op(&committed.c, &committed.d, op).await {
            Ok(op) => self.send(ServerMessage::Op(op)),
            Err(error) => tracing::debug!(
                collection = %committed.c,
                id = %committed.d,
                "op not sent: {error}"
            ),
        }
    }

    /// Passes snapshots through the `read_snapshots` middleware; the
    /// rejections by index.
    async fn read_snapshots(
        &self,
        collection: &str,
        snapshots: &mut [Snapshot],
        kind: SnapshotKind,
    ) -> Result<Vec<(usize, ErrorObject)>, ErrorObject> {
        let mut rejected = Vec::new();
        for m in &self.inner.middleware {
            let mut ctx = ReadSnapshotsContext {
                agent: &self.info,
                collection,
                snapshots,
                kind,
                rejected: Vec::new(),
            };
            m.read_snapshots(&mut ctx).await?;
            rejected.append(&mut ctx.rejected);
        }
        Ok(rejected)
    }

    /// One snapshot through `read_snapshots`; a rejection is the error.
    async fn read_snapshot(
        &self,
        collection: &str,
        mut snapshot: Snapshot,
        kind: SnapshotKind,
    ) -> Result<Snapshot, ErrorObject> {
        let rejected = self
            .read_snapshots(collection, std::slice::from_mut(&mut snapshot), kind)
            .await?;
        match rejected.into_iter().next() {
            Some((_, error)) => Err(error),
            None => Ok(snapshot),
        }
    }

    /// Whether this connection may read `c.d` (the read policy, asked
    /// before anything stored is looked at).
    async fn may_read(&self, c: &str, d: &str) -> Result<(), ErrorObject> {
        access::doc(&self.inner, &self.info, c, d).await
    }

    /// A fetch: the snapshot, or with a version the ops since.
    async fn fetch(
        &self,
        r: &DocRequest,
    ) -> Result<Option<crate::protocol::Snapshot>, ErrorObject> {
        self.may_read(&r.c, &r.d).await?;
        let read = self.read_doc(&r.c, &r.d, r.v).await?;
        self.send_ops(read.ops);
        Ok(read.data)
    }

    /// Reads a document for a fetch or subscribe; nothing is sent yet.
    async fn read_doc(&self, c: &str, d: &str, v: Option<u64>) -> Result<DocRead, ErrorObject> {
        match v {
            None => {
                let snapshot = self.load(c, d).await?;
                let snapshot = self
                    .read_snapshot(c, snapshot, SnapshotKind::Current)
                    .await?;
                Ok(DocRead {
                    next_v: snapshot.v,
                    data: Some(snapshot.into_wire()),
                    ops: Vec::new(),
                })
            }
            Some(v) => {
                let ops = self.ops_since(c, d, v).await?;
                let next_v = ops.last().map_or(v, |op| op.v.saturating_add(1));
                Ok(DocRead {
                    data: None,
                    ops: self.sanitize_ops(c, d, ops).await?,
                    next_v,
                })
            }
        }
    }

    async fn load(&self, c: &str, d: &str) -> Result<Snapshot, ErrorObject> {
        self.inner
            .db
            .get_snapshot(c, d)
            .await
            .map_err(|e| e.to_client("fetch"))
    }

    async fn ops_since(&self, c: &str, d: &str, v: u64) -> Result<Vec<Arc<DocOp>>, ErrorObject> {
        self.inner
            .db
            .get_ops(c, d, v, None)
            .await
            .map_err(|e| e.to_client("fetch ops"))
    }

    /// A subscribe: listen first, then read, so no op is missed. A read
    /// that fails leaves the subscriptions as they were.
    async fn subscribe(
        &mut self,
        r: &DocRequest,
    ) -> Result<Option<crate::protocol::Snapshot>, ErrorObject> {
        self.may_read(&r.c, &r.d).await?;
        self.check_subscriptions(usize::from(!self.is_subscribed(&r.c, &r.d)))?;
        let started = self.listen_doc(&r.c, &r.d).await?;
        match self.read_doc(&r.c, &r.d, r.v).await {
            Ok(read) => {
                self.subscribed(&r.c, &r.d, read.next_v);
                self.send_ops(read.ops);
                Ok(read.data)
            }
            Err(error) => {
                if started {
                    self.unlisten_doc(&r.c, &r.d);
                }
                Err(error)
            }
        }
    }

    /// A bulk fetch or subscribe. A subscribe listens first, then reads;
    /// documents whose read is rejected are not subscribed to, and a
    /// request that fails as a whole subscribes to none.
    async fn bulk(&mut self, r: &BulkRequest, subscribe: bool) -> Result<BulkReply, ErrorObject> {
        let mut seen = HashSet::new();
        let ids: Vec<&str> =
            r.b.ids()
                .into_iter()
                .filter(|id| seen.insert(*id))
                .collect();
        // The read policy first: by id, a refused document gets its error
        // in the reply; by version (catching up), the request is refused.
        let mut refused = HashMap::new();
        for id in &ids {
            if let Err(error) = self.may_read(&r.c, id).await {
                if matches!(r.b, Bulk::Versions(_)) {
                    return Err(error);
                }
                refused.insert(*id, error);
            }
        }
        let ids: Vec<&str> = ids
            .into_iter()
            .filter(|id| !refused.contains_key(id))
            .collect();
        let mut started = Vec::new();
        let mut result = Ok(());
        if subscribe {
            let new = ids
                .iter()
                .filter(|id| !self.is_subscribed(&r.c, id))
                .count();
            self.check_subscriptions(new)?;
            for id in &ids {
                match self.listen_doc(&r.c, id).await {
                    Ok(true) => started.push(*id),
                    Ok(false) => {}
                    Err(error) => {
                        result = Err(error);
                        break;
                    }
                }
            }
        }
        let read = match result {
            Ok(()) => self.read_bulk(&r.c, &r.b, &ids, refused).await,
            Err(error) => Err(error),
        };
        let read = match read {
            Ok(read) => read,
            Err(error) => {
                for id in started {
                    self.unlisten_doc(&r.c, id);
                }
                return Err(error);
            }
        };
        if subscribe {
            let readable: HashSet<&str> = read.read.iter().map(|(id, _)| id.as_str()).collect();
            for id in started {
                if !readable.contains(id) {
                    self.unlisten_doc(&r.c, id);
                }
            }
            for (id, next_v) in &read.read {
                self.subscribed(&r.c, id, *next_v);
            }
        }
        self.send_ops(read.ops);
        Ok(read.reply)
    }

    /// Reads documents for a bulk request; nothing is sent yet.
    async fn read_bulk(
        &self,
        c: &str,
        b: &Bulk,
        ids: &[&str],
        mut refused: HashMap<&str, ErrorObject>,
    ) -> Result<BulkRead, ErrorObject> {
        match b {
            Bulk::Ids(requested) => {
                let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
                let mut map = self
                    .inner
                    .db
                    .get_snapshot_bulk(c, &ids)
                    .await
                    .map_err(|e| e.to_client("bulk fetch"))?;
                let mut snapshots: Vec<Snapshot> = ids
                    .iter()
                    .map(|id| {
                        map.remove(id)
                            .unwrap_or_else(|| Snapshot::missing(id.as_str()))
                    })
                    .collect();
                let rejected = self
                    .read_snapshots(c, &mut snapshots, SnapshotKind::Current)
                    .await?;
                let mut items: Vec<(String, Result<crate::protocol::Snapshot, ErrorObject>)> =
                    snapshots
                        .into_iter()
                        .map(|s| (s.id.clone(), Ok(s.into_wire())))
                        .collect();
                for (index, error) in rejected {
                    if let Some(item) = items.get_mut(index) {
                        item.1 = Err(error);
                    }
                }
                // Refused documents in the order asked, never read.
                if !refused.is_empty() {
                    let mut read: HashMap<String, _> = items.into_iter().collect();
                    items = Vec::with_capacity(requested.len());
                    for id in requested {
                        if let Some(error) = refused.remove(id.as_str()) {
                            items.push((id.clone(), Err(error)));
                        } else if let Some(item) = read.remove(id) {
                            items.push((id.clone(), item));
                        }
                    }
                }
                let read = items
                    .iter()
                    .filter_map(|(id, item)| item.as_ref().ok().map(|s| (id.clone(), s.v)))
                    .collect();
                Ok(BulkRead {
                    reply: BulkReply {
                        c: c.to_owned(),
                        data: Some(items),
                        b: None,
                    },
                    ops: Vec::new(),
                    read,
                })
            }
            Bulk::Versions(versions) => {
                // As in a JSON object, the last of repeated ids counts.
                let versions: HashMap<&str, u64> =
                    versions.iter().map(|(id, v)| (id.as_str(), *v)).collect();
                let mut ops = Vec::new();
                let mut read = Vec::with_capacity(ids.len());
                for id in ids {
                    let Some(v) = versions.get(id) else {
                        continue;
                    };
                    let doc = self.read_doc(c, id, Some(*v)).await?;
                    ops.extend(doc.ops);
                    read.push(((*id).to_owned(), doc.next_v));
                }
                Ok(BulkRead {
                    reply: BulkReply {
                        c: c.to_owned(),
                        data: None,
                        b: Some(b.clone()),
                    },
                    ops,
                    read,
                })
            }
        }
    }

    /// Runs the `query` middleware and parses the (possibly rewritten) query.
    async fn prepare_query(&self, r: &QueryRequest) -> Result<Query, ErrorObject> {
        let mut expression = r.q.clone();
        for m in &self.inner.middleware {
            let mut ctx = QueryContext {
                agent: &self.info,
                collection: &r.c,
                query: &mut expression,
                options: r.options.as_ref(),
            };
            m.query(&mut ctx).await?;
        }
        Query::parse(&expression)
            .map_err(|e| ErrorObject::new(e.code(), format!("Invalid query: {e}")))
    }

    /// Query results as sent to the client, through `read_snapshots`.
    async fn results(
        &self,
        collection: &str,
        mut snapshots: Vec<Snapshot>,
    ) -> Result<Vec<QueryResult>, ErrorObject> {
        let rejected = self
            .read_snapshots(collection, &mut snapshots, SnapshotKind::Current)
            .await?;
        if let Some((_, error)) = rejected.into_iter().next() {
            return Err(ErrorObject::new(
                ErrorCode::SnapshotReadsRejected,
                format!("Reading some results was rejected: {}", error.message),
            ));
        }
        Ok(snapshots
            .into_iter()
            .map(|s| QueryResult {
                id: s.id.clone(),
                snapshot: s.into_wire(),
            })
            .collect())
    }

    async fn query_fetch(&self, r: &QueryRequest) -> Result<QueryReply, ErrorObject> {
        let query = self.prepare_query(r).await?;
        let reading = self.query_reading(&r.c, &query).await?;
        let (_, data, extra) = self.run_query(&r.c, &query, reading).await?;
        Ok(QueryReply {
            id: r.id,
            data: QueryData::Results(data),
            extra,
        })
    }

    /// Runs a query on the database: the result ids, the results as this
    /// client may see them, and the extra result.
    async fn run_query(
        &self,
        collection: &str,
        query: &Query,
        reading: Reading,
    ) -> Result<(Vec<String>, Vec<QueryResult>, Option<Value>), ErrorObject> {
        let (snapshots, extra) = match reading {
            Reading::All => {
                let results = self
                    .inner
                    .db
                    .query(collection, query)
                    .await
                    .map_err(|e| e.to_client("query"))?;
                (results.snapshots, results.extra)
            }
            // Only what the connection may read, then paged: the others
            // take no place and count for nothing.
            Reading::PerDocument => {
                let results = self
                    .inner
                    .db
                    .query(collection, &query.unpaged())
                    .await
                    .map_err(|e| e.to_client("query"))?;
                let mut readable = Vec::with_capacity(results.snapshots.len());
                for snapshot in results.snapshots {
                    if access::doc_in(&self.inner, &self.info, collection, &snapshot.id).await {
                        readable.push(snapshot);
                    }
                }
                query.page(readable)
            }
        };
        let ids = snapshots.iter().map(|s| s.id.clone()).collect();
        let data = self.results(collection, snapshots).await?;
        Ok((ids, data, extra))
    }

    /// How this connection reads a queried collection; an error if the
    /// query cannot run as it may read it.
    async fn query_reading(&self, collection: &str, query: &Query) -> Result<Reading, ErrorObject> {
        let reading = access::collection(&self.inner, &self.info, collection).await?;
        if reading == Reading::PerDocument && query.has_result_options() {
            return Err(ErrorObject::new(
                ErrorCode::SnapshotReadsRejected,
                format!(
                    "This connection reads {collection} document by document: a query of it may \
                     filter, sort, skip, limit and $count, but not use other options"
                ),
            ));
        }
        Ok(reading)
    }

    /// A query subscribe: listen to the collection first, then read, so no
    /// op is missed. A read that fails subscribes to nothing.
    async fn query_subscribe(&mut self, r: &QueryRequest) -> Result<QueryReply, ErrorObject> {
        let max = self.inner.options.limits.max_queries;
        if !self.queries.contains_key(&r.id) && self.queries.len() >= max {
            return Err(ErrorObject::new(
                ErrorCode::TooManyQueries,
                format!("A connection may have {max} live queries at most; unsubscribe some first"),
            ));
        }
        let query = self.prepare_query(r).await?;
        let reading = self.query_reading(&r.c, &query).await?;
        if let Some(previous) = self.queries.remove(&r.id) {
            self.channels
                .release(&pubsub::collection_channel(&previous.collection));
        }
        let channel = pubsub::collection_channel(&r.c);
        self.retain(&channel).await?;
        let start = match &r.results {
            None => self.first_results(r, query, reading).await,
            Some(known) => self.resume_query(r, query, reading, known).await,
        };
        match start {
            Ok(start) => {
                self.queries.insert(r.id, start.live);
                self.outbox
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(start.before);
                Ok(start.reply)
            }
            Err(error) => {
                self.channels.release(&channel);
                Err(error)
            }
        }
    }

    /// A new query subscription's results.
    async fn first_results(
        &self,
        r: &QueryRequest,
        query: Query,
        reading: Reading,
    ) -> Result<QueryStart, ErrorObject> {
        let (ids, data, extra) = self.run_query(&r.c, &query, reading).await?;
        Ok(QueryStart {
            live: LiveQuery {
                collection: r.c.clone(),
                query,
                reading,
                ids,
                extra: extra.clone(),
            },
            before: Vec::new(),
            reply: QueryReply {
                id: r.id,
                data: QueryData::Results(data),
                extra,
            },
        })
    }

    /// A query subscribe from a client that has results already (after a
    /// reconnect, or from a server-rendered page): catch its documents up,
    /// then send only the changes.
    async fn resume_query(
        &self,
        r: &QueryRequest,
        query: Query,
        reading: Reading,
        known: &[(String, Option<u64>)],
    ) -> Result<QueryStart, ErrorObject> {
        let mut before = Vec::new();
        let mut to_fetch = Vec::new();
        for (id, v) in known {
            // A result the client claims but may not read is not caught
            // up: the poll below takes it out, whatever it holds.
            if reading == Reading::PerDocument
                && !access::doc_in(&self.inner, &self.info, &r.c, id).await
            {
                continue;
            }
            match v {
                Some(v) => {
                    let doc = self.read_doc(&r.c, id, Some(*v)).await?;
                    before.extend(doc.ops.into_iter().map(ServerMessage::Op));
                }
                None => to_fetch.push(id.clone()),
            }
        }
        let data = if to_fetch.is_empty() {
            QueryData::None
        } else {
            let mut map = self
                .inner
                .db
                .get_snapshot_bulk(&r.c, &to_fetch)
                .await
                .map_err(|e| e.to_client("query"))?;
            let snapshots = to_fetch
                .iter()
                .map(|id| {
                    map.remove(id)
                        .unwrap_or_else(|| Snapshot::missing(id.as_str()))
                })
                .collect();
            QueryData::Snapshots(
                self.results(&r.c, snapshots)
                    .await?
                    .into_iter()
                    .map(|r| (r.id, r.snapshot))
                    .collect(),
            )
        };
        let mut live = LiveQuery {
            collection: r.c.clone(),
            query,
            reading,
            ids: known.iter().map(|(id, _)| id.clone()).collect(),
            extra: None,
        };
        let update = live.poll(&self.inner, &self.info).await?;
        before.extend(self.update_messages(r.id, &r.c, update).await?);
        Ok(QueryStart {
            live,
            before,
            reply: QueryReply {
                id: r.id,
                data,
                extra: None,
            },
        })
    }

    /// The messages that tell the client of a live query's changes.
    async fn update_messages(
        &self,
        id: u64,
        collection: &str,
        update: Update,
    ) -> Result<Vec<ServerMessage>, ErrorObject> {
        let mut messages = Vec::new();
        if !update.diff.is_empty() {
            let mut diff = Vec::with_capacity(update.diff.len());
            for step in update.diff {
                diff.push(match step {
                    ArrayDiff::Insert { index, values } => QueryDiff::Insert {
                        index,
                        values: self.results(collection, values).await?,
                    },
                    ArrayDiff::Remove { index, how_many } => QueryDiff::Remove { index, how_many },
                    ArrayDiff::Move { from, to, how_many } => {
                        QueryDiff::Move { from, to, how_many }
                    }
                });
            }
            messages.push(ServerMessage::QueryUpdate {
                id,
                diff: Some(diff),
                extra: None,
            });
        }
        if let Some(extra) = update.extra {
            messages.push(ServerMessage::QueryUpdate {
                id,
                diff: None,
                extra: Some(extra.unwrap_or(Value::Null)),
            });
        }
        Ok(messages)
    }

    async fn submit(
        &mut self,
        request: &crate::protocol::OpRequest,
    ) -> Result<ServerMessage, ErrorObject> {
        // Writing needs reading: the reply tells versions.
        self.may_read(&request.c, &request.d).await?;
        let inner = self.inner.clone();
        let (looked_up, last_seq) = (self.looked_up_first(request), self.last_seq);
        let mut req = SubmitRequest::new(
            &self.info,
            request.clone(),
            inner.options.max_submit_retries,
        );
        // The client's op is acknowledged in the name it was sent in.
        let src = req.op.src.clone();
        let result = match at_most_once(&inner, &mut req, &self.info, looked_up, last_seq).await {
            Ok(Some(v)) => {
                req.op.v = v;
                Ok(())
            }
            Ok(None) => submit::submit(&inner, &mut req).await,
            Err(error) => Err(error),
        };
        if result.is_ok() && req.op.src.as_deref() == Some(self.info.client_id.as_str()) {
            self.last_seq = self.last_seq.max(req.op.seq);
        }
        let ack = ServerMessage::OpAck {
            c: req.collection.clone(),
            d: req.id.clone(),
            src,
            seq: req.op.seq,
            v: req.op.v,
        };
        match result {
            Ok(()) => {
                // The ops the client's op was transformed past, before its
                // ack; an op the subscription sent already is not sent again.
                let transformed = std::mem::take(&mut req.transformed_against);
                let (c, d) = (req.collection.clone(), req.id.clone());
                let committed_v = req.op.v;
                drop(req);
                let mut missed = Vec::with_capacity(transformed.len());
                let mut next_v = self.docs.get_mut(&c).and_then(|docs| docs.get_mut(&d));
                for op in transformed {
                    if let Some(next_v) = next_v.as_deref_mut() {
                        if op.v < *next_v {
                            continue;
                        }
                        *next_v = op.v.saturating_add(1);
                    }
                    missed.push(op);
                }
                if let Some(next_v) = next_v {
                    *next_v = (*next_v).max(committed_v.saturating_add(1));
                }
                // The op is committed whatever happens now; a rejected read
                // is reported as ShareDB reports it, as the submit's error.
                self.send_ops(self.sanitize_ops(&c, &d, missed).await?);
                Ok(ack)
            }
            Err(error) if error.code == ErrorCode::OpAlreadySubmitted => Ok(ack),
            Err(error) => Err(error),
        }
    }

    /// Whether this op is the first on its document since the client id
    /// was resumed (it may be one sent before the client came back).
    fn looked_up_first(&mut self, request: &crate::protocol::OpRequest) -> bool {
        self.resumed
            && self
                .looked_up
                .insert((request.c.clone(), request.d.clone()))
    }

    /// Refuses rebuilding a snapshot from more ops than allowed.
    fn check_replay(&self, ops: u64) -> Result<(), ErrorObject> {
        let max = self.inner.options.limits.max_replay_ops;
        if ops > max as u64 {
            return Err(ErrorObject::new(
                ErrorCode::HistoryTooLong,
                format!(
                    "Rebuilding this snapshot would replay {ops} ops; this server replays {max} at most"
                ),
            ));
        }
        Ok(())
    }

    /// A document as it was at a version or a time, rebuilt from its ops.
    async fn snapshot_at(
        &self,
        c: &str,
        d: &str,
        point: Point,
    ) -> Result<crate::protocol::Snapshot, ErrorObject> {
        self.may_read(c, d).await?;
        let current = self.load(c, d).await?;
        let (snapshot, kind) = match point {
            Point::Version(None) | Point::Time(None) => (current, SnapshotKind::Current),
            Point::Version(Some(v)) if v >= current.v => {
                if v > current.v {
                    return Err(ErrorObject::new(
                        ErrorCode::OpVersionNewerThanCurrentSnapshot,
                        "Requested version exceeds latest snapshot version",
                    ));
                }
                (current, SnapshotKind::ByVersion)
            }
            Point::Version(Some(v)) => {
                self.check_replay(v)?;
                let ops = self
                    .inner
                    .db
                    .get_ops(c, d, 0, Some(v))
                    .await
                    .map_err(|e| e.to_client("snapshot fetch"))?;
                (replay(d, &ops)?, SnapshotKind::ByVersion)
            }
            Point::Time(Some(ts)) => {
                let mtime = current.m.get("mtime").and_then(Value::as_f64);
                if mtime.is_some_and(|mtime| mtime <= ts) {
                    (current, SnapshotKind::ByTimestamp)
                } else {
                    self.check_replay(current.v)?;
                    let ops = self.ops_since(c, d, 0).await?;
                    let until = ops
                        .iter()
                        .position(|op| op.m.ts.is_some_and(|t| t > ts))
                        .unwrap_or(ops.len());
                    (replay(d, &ops[..until])?, SnapshotKind::ByTimestamp)
                }
            }
        };
        let mut snapshot = self.read_snapshot(c, snapshot, kind).await?;
        snapshot.m.clear();
        Ok(snapshot.into_wire())
    }

    /// Moves a document presence made at an older version past the ops
    /// since, so every subscriber gets it at the latest version (ShareDB's
    /// `transformPresenceToLatestVersion`). A subscribed client's latest
    /// version is known without reading the journal.
    async fn catch_up_presence(&self, presence: &mut Presence) -> Result<(), ErrorObject> {
        let (Some(c), Some(d), Some(v)) = (&presence.c, &presence.d, presence.v) else {
            return Ok(());
        };
        if let Some(t) = presence.t.as_deref().filter(|t| !is_json0(t)) {
            return Err(ErrorObject::new(
                ErrorCode::TypeDoesNotSupportPresence,
                format!("Type does not support presence: {t}"),
            ));
        }
        let known = self.docs.get(c).and_then(|docs| docs.get(d));
        if presence.p.is_null() || known.is_some_and(|next| v >= *next) {
            return Ok(());
        }
        let (c, d) = (c.clone(), d.clone());
        for op in self.ops_since(&c, &d, v).await? {
            let own = op.src.is_some() && op.src == presence.src;
            presence.transform(&op.kind, own);
        }
        Ok(())
    }

    /// Relays this client's presence to the channel, under an id scoped to
    /// the connection (see [`scoped_presence_id`]).
    async fn broadcast_presence(&mut self, presence: &Presence) -> Result<(), ErrorObject> {
        let key = (presence.ch.clone(), presence.id.clone());
        let mut relayed = presence.clone();
        relayed.id = scoped_presence_id(&self.info.client_id, &presence.id);
        if presence.p.is_null() {
            self.own_presence.remove(&key);
        } else {
            self.own_presence.insert(key, relayed.clone());
        }
        self.inner
            .pubsub
            .publish(
                &[pubsub::presence_channel(&presence.ch)],
                Message::Presence(Arc::new(relayed)),
            )
            .await
            .map_err(|e| internal("presence", &e))
    }

    async fn request_presence(&self, ch: &str) -> Result<(), ErrorObject> {
        self.inner
            .pubsub
            .publish(
                &[pubsub::presence_channel(ch)],
                Message::PresenceRequest {
                    ch: ch.to_owned(),
                    src: self.info.client_id.clone(),
                },
            )
            .await
            .map_err(|e| internal("presence", &e))
    }

    /// Handles a message from pub/sub.
    async fn deliver(&mut self, delivery: Delivery) {
        match delivery.message {
            Message::Op(op) => self.deliver_op(&delivery.channel, op).await,
            Message::Presence(presence) => {
                if presence.src.as_deref() != Some(&self.info.client_id)
                    && self.presence_channels.contains(&presence.ch)
                {
                    let message = self.pass_presence((*presence).clone()).await;
                    self.send(message);
                }
            }
            Message::PresenceRequest { ch, src } => {
                if src != self.info.client_id && self.presence_channels.contains(&ch) {
                    self.send(ServerMessage::PresenceRequest { ch });
                }
            }
        }
    }

    /// Another client's presence through `send_presence` middleware: what
    /// this connection is sent, the presence or the error.
    async fn pass_presence(&self, mut presence: Presence) -> ServerMessage {
        let mut ctx = PresenceContext {
            agent: &self.info,
            presence: &mut presence,
        };
        for m in &self.inner.middleware {
            if let Err(error) = m.send_presence(&mut ctx).await {
                let echo = serde_json::Map::from_iter([
                    ("a".to_owned(), Value::from("p")),
                    ("ch".to_owned(), Value::from(ctx.presence.ch.clone())),
                    ("id".to_owned(), Value::from(ctx.presence.id.clone())),
                ]);
                return ServerMessage::error(echo, error);
            }
        }
        ServerMessage::Presence(presence)
    }

    fn is_own(&self, op: &DocOp) -> bool {
        op.src.as_deref() == Some(self.info.client_id.as_str())
    }

    /// Handles an op from pub/sub. The channel it came on says whether it
    /// is for a document subscription or for live queries, but names
    /// collide (see [`Channels`]), so the op must be the channel's own: as
    /// ShareDB does, an op whose collection and id do not make the channel
    /// is not this channel's.
    async fn deliver_op(&mut self, channel: &str, op: Arc<DocOp>) {
        if is_doc_channel(channel, &op.c, &op.d) {
            self.deliver_doc_op(op).await;
        } else if is_collection_channel(channel, &op.c) {
            self.deliver_collection_op(op).await;
        }
    }

    /// An op of a subscribed document: forwarded unless the client has it.
    async fn deliver_doc_op(&mut self, op: Arc<DocOp>) {
        let Some(next_v) = self
            .docs
            .get_mut(&op.c)
            .and_then(|docs| docs.get_mut(&op.d))
        else {
            return;
        };
        if op.v < *next_v {
            return;
        }
        *next_v = op.v.saturating_add(1);
        if !self.is_own(&op) {
            self.forward_op(op).await;
        }
    }

    /// An op in a collection: updates the collection's live queries, and is
    /// forwarded if its document is in their results.
    async fn deliver_collection_op(&mut self, op: Arc<DocOp>) {
        let mut forward = false;
        let inner = self.inner.clone();
        let ids: Vec<u64> = self
            .queries
            .iter()
            .filter(|(_, q)| q.collection == op.c)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(query) = self.queries.get_mut(&id) else {
                continue;
            };
            let was_result = query.ids.contains(&op.d);
            match query.update(&inner, &self.info, &op).await {
                Ok(update) => {
                    forward |= was_result;
                    match self.update_messages(id, &op.c, update).await {
                        Ok(messages) => {
                            for message in messages {
                                self.send(message);
                            }
                        }
                        Err(error) => self.send(ServerMessage::error(query_echo(id), error)),
                    }
                }
                Err(error) => tracing::error!("live query update failed: {error}"),
            }
        }
        if forward && !self.is_subscribed(&op.c, &op.d) && !self.is_own(&op) {
            self.forward_op(op).await;
        }
    }

    /// The connection ends: tell presence subscribers this client is gone.
    async fn leave(&mut self) {
        self.inner.live_ids.release(&self.info.client_id);
        let presences: Vec<Presence> = self.own_presence.drain().map(|(_, p)| p).collect();
        for mut presence in presences {
            presence.p = Value::Null;
            // A client chose `pv`: it may be the largest there is.
            presence.pv = presence.pv.saturating_add(1);
            let channel = pubsub::presence_channel(&presence.ch);
            if let Err(e) = self
                .inner
                .pubsub
                .publish(&[channel], Message::Presence(Arc::new(presence)))
                .await
            {
                tracing::warn!("announcing a departed presence failed: {e}");
            }
        }
    }
}

/// Applies each op at most once, whatever its sender claims: an op that may
/// have been committed already (one in another client's name, which is
/// only ever a resend; the first on a document since a resumed id; a
/// `seq` this connection used before) is looked up in the journal by its
/// `src` and `seq`. Returns the version it was committed at, if it was.
/// Otherwise an op in another name is applied in this connection's own,
/// and a `seq` that went back is refused.
async fn at_most_once(
    inner: &Inner,
    req: &mut SubmitRequest<'_>,
    agent: &AgentInfo,
    first_since_resumed: bool,
    last_seq: Option<u64>,
) -> Result<Option<u64>, ErrorObject> {
    let (Some(src), Some(seq)) = (req.op.src.clone(), req.op.seq) else {
        return Ok(None);
    };
    let own = src == agent.client_id;
    let went_back = own && last_seq.is_some_and(|last| seq <= last);
    if own && !went_back && !first_since_resumed {
        return Ok(None);
    }
    let committed = inner
        .db
        .committed_op_version(&req.collection, &req.id, &src, seq)
        .await
        .map_err(|e| e.to_client("looking up a resent op"))?;
    if committed.is_some() {
        return Ok(committed);
    }
    if went_back {
        return Err(ErrorObject::new(
            ErrorCode::OtOpBadlyFormed,
            format!(
                "Op seq {seq} is not after {}: a connection's seq only moves forward",
                last_seq.unwrap_or(0)
            ),
        ));
    }
    if !own {
        req.op.src = Some(agent.client_id.clone());
    }
    Ok(None)
}

/// The id a presence is relayed under: the client's own, prefixed with
/// the connection's id (and its length, so no two connections can make
/// the same one), so no connection can replace another's presence.
pub(crate) fn scoped_presence_id(client_id: &str, id: &str) -> String {
    format!("{}:{client_id}:{id}", client_id.len())
}

/// The echo of a query update error: `{a: "q", id}`.
fn query_echo(id: u64) -> serde_json::Map<String, Value> {
    let mut echo = serde_json::Map::new();
    echo.insert("a".into(), Value::from("q"));
    echo.insert("id".into(), Value::from(id));
    echo
}

/// Where in a document's history to take a snapshot.
enum Point {
    Version(Option<u64>),
    Time(Option<f64>),
}

/// Rebuilds a document by applying its ops from the start.
fn replay(id: &str, ops: &[Arc<DocOp>]) -> Result<Snapshot, ErrorObject> {
    let mut snapshot = Snapshot::missing(id);
    for op in ops {
        snapshot.v = op.v;
        submit::apply_op(&mut snapshot, op).map_err(|e| {
            internal(
                "rebuilding a snapshot",
                &format!("op v{} of {id}: {e}", op.v),
            )
        })?;
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_tests_agree_with_channel_names() {
        let cases = [
            ("a", "b"),
            ("a.b", "c"),
            ("a", "b.c"),
            ("", "x"),
            ("é", "ü."),
        ];
        for (c, d) in cases {
            for (other_c, other_d) in cases {
                let channel = pubsub::doc_channel(other_c, other_d);
                let same = (c, d) == (other_c, other_d);
                // Different documents may share a channel; never a document
                // and a channel that is not its own.
                if is_doc_channel(&channel, c, d) {
                    assert_eq!(pubsub::doc_channel(c, d), channel);
                } else {
                    assert!(!same, "{c}/{d}");
                }
            }
            assert!(is_collection_channel(&pubsub::collection_channel(c), c));
            assert!(!is_collection_channel(&pubsub::doc_channel(c, d), c));
        }
    }
}

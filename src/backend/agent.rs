//! The agent: one task per connection, answering its requests and
//! forwarding what it subscribed to (ShareDB's `Agent`).
//!
//! The task owns all of the connection's state (subscriptions, live
//! queries, presence) and handles one thing at a time: a request from the
//! client, or a delivery from pub/sub. Replies to one connection therefore
//! go out in request order, and ops reach it in commit order.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::{FutureExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::live_query::{LiveQuery, Update};
use super::middleware::{
    AgentInfo, ConnectContext, QueryContext, ReadSnapshotsContext, ReceiveContext, ReplyContext,
    SnapshotKind,
};
use super::pubsub::{self, Delivery, Message, Subscription};
use super::query::Query;
use super::submit::{self, SubmitRequest, internal};
use super::{Inner, Snapshot};
use crate::ot::diff::ArrayDiff;
use crate::protocol::{
    Bulk, BulkReply, BulkRequest, ClientMessage, DocOp, DocRequest, ErrorCode, ErrorObject, Hello,
    Presence, QueryData, QueryDiff, QueryReply, QueryRequest, QueryResult, ServerEnd,
    ServerMessage, SnapshotReply,
};

/// A connection's state, owned by its task.
pub(crate) struct Agent {
    inner: Arc<Inner>,
    info: AgentInfo,
    /// Messages to the client, written after each event.
    outbox: Mutex<Vec<ServerMessage>>,
    mailbox: pubsub::Mailbox,
    /// Subscribed documents by channel (`collection.id`).
    docs: HashMap<String, DocSubscription>,
    /// Collection channels, shared by the live queries on a collection.
    collections: HashMap<String, (Subscription, usize)>,
    queries: HashMap<u64, LiveQuery>,
    presence_channels: HashMap<String, Subscription>,
    /// This client's latest presence per (channel, presence id), to announce
    /// its departure when the connection ends.
    own_presence: HashMap<(String, String), Presence>,
}

struct DocSubscription {
    _subscription: Subscription,
    /// The version the client has next; older ops are not sent again.
    next_v: u64,
}

/// How an agent talks to its client: requests in, replies and ops out.
///
/// In-process connections use a pair of channels ([`ServerEnd`]); the
/// `/channel` route lets the agent own its WebSocket, so a message goes
/// from the agent to the socket without another task in between.
pub(crate) trait AgentIo: Send + 'static {
    /// The next request, or a reply for a frame that was not one (a parse
    /// error); `None` once the client is gone.
    fn recv(&mut self)
    -> impl Future<Output = Option<Result<ClientMessage, ServerMessage>>> + Send;

    /// Sends messages, in order; `false` once the client is gone.
    fn send(&mut self, messages: Vec<ServerMessage>) -> impl Future<Output = bool> + Send;
}

impl AgentIo for ServerEnd {
    async fn recv(&mut self) -> Option<Result<ClientMessage, ServerMessage>> {
        self.rx.next().await.map(Ok)
    }

    async fn send(&mut self, messages: Vec<ServerMessage>) -> bool {
        messages
            .into_iter()
            .all(|m| self.tx.unbounded_send(m).is_ok())
    }
}

/// How many ready events (requests, deliveries) an agent handles before it
/// writes, so messages that are ready together leave in one write.
const BATCH: usize = 256;

/// How many times an agent drains ready events before it writes, yielding
/// to the runtime between drains; it stops early when a drain finds none.
const COALESCE_PASSES: usize = 4;

/// Runs a connection until the client goes away or the backend shuts down.
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
        io.send(vec![ServerMessage::error(Default::default(), error)])
            .await;
        return;
    }
    let (mailbox, mut inbox) = mpsc::unbounded_channel();
    let mut agent = Agent {
        inner,
        info,
        outbox: Mutex::new(Vec::new()),
        mailbox,
        docs: HashMap::new(),
        collections: HashMap::new(),
        queries: HashMap::new(),
        presence_channels: HashMap::new(),
        own_presence: HashMap::new(),
    };
    agent.send(ServerMessage::Init(Hello::new(
        agent.info.client_id.clone(),
    )));
    'serve: loop {
        if !io.send(agent.take_outbox()).await {
            break;
        }
        tokio::select! {
            message = io.recv() => match message {
                Some(Ok(message)) => agent.handle(message).await,
                Some(Err(reply)) => agent.send(reply),
                None => break,
            },
            Some(delivery) = inbox.recv() => agent.deliver(delivery).await,
            _ = shutdown.changed() => break,
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
                Drained::Closed => break 'serve,
                Drained::Nothing if pass > 0 => break,
                Drained::Nothing | Drained::Some => {}
            }
        }
    }
    agent.leave().await;
}

/// What [`drain`] found.
enum Drained {
    Nothing,
    Some,
    /// The client is gone.
    Closed,
}

/// Handles up to [`BATCH`] events that are ready now, without waiting.
async fn drain(
    agent: &mut Agent,
    io: &mut impl AgentIo,
    inbox: &mut mpsc::UnboundedReceiver<Delivery>,
) -> Drained {
    let mut found = Drained::Nothing;
    for _ in 1..BATCH {
        if let Ok(delivery) = inbox.try_recv() {
            agent.deliver(delivery).await;
        } else {
            match io.recv().now_or_never() {
                Some(Some(Ok(message))) => agent.handle(message).await,
                Some(Some(Err(reply))) => agent.send(reply),
                Some(None) => return Drained::Closed,
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

    fn send_op(&self, op: Arc<DocOp>) {
        self.send(ServerMessage::Op(op));
    }

    async fn handle(&mut self, mut message: ClientMessage) {
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

    /// Handles a request; the reply, if there is one.
    async fn respond(
        &mut self,
        message: &ClientMessage,
    ) -> Result<Option<ServerMessage>, ErrorObject> {
        Ok(Some(match message {
            ClientMessage::Handshake { id, .. } => {
                if let Some(id) = id {
                    self.info.client_id = id.clone();
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
                self.docs.remove(&pubsub::doc_channel(&r.c, &r.d));
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
                    self.docs.remove(&pubsub::doc_channel(&r.c, id));
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
                    self.release_collection(&query.collection);
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
                let mut presence = presence.clone();
                presence.src = Some(self.info.client_id.clone());
                self.broadcast_presence(&presence).await?;
                ServerMessage::Presence(presence)
            }
            ClientMessage::PresenceSubscribe { ch, seq } => {
                if !self.inner.options.presence {
                    return Ok(None);
                }
                if !self.presence_channels.contains_key(ch) {
                    let sub = self.pubsub_subscribe(&pubsub::presence_channel(ch)).await?;
                    self.presence_channels.insert(ch.clone(), sub);
                    self.request_presence(ch).await?;
                }
                ServerMessage::PresenceSubscribe {
                    ch: ch.clone(),
                    seq: *seq,
                }
            }
            ClientMessage::PresenceUnsubscribe { ch, seq } => {
                self.presence_channels.remove(ch);
                ServerMessage::PresenceUnsubscribe {
                    ch: ch.clone(),
                    seq: *seq,
                }
            }
            ClientMessage::PresenceRequest { ch } => {
                self.request_presence(ch).await?;
                ServerMessage::PresenceRequest { ch: ch.clone() }
            }
        }))
    }

    async fn pubsub_subscribe(&self, channel: &str) -> Result<Subscription, ErrorObject> {
        self.inner
            .pubsub
            .subscribe(channel, &self.mailbox)
            .await
            .map_err(|e| internal("subscribe", &e))
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

    /// A fetch: the snapshot, or with a version the ops since (sent here).
    async fn fetch(
        &self,
        r: &DocRequest,
    ) -> Result<Option<crate::protocol::Snapshot>, ErrorObject> {
        match r.v {
            None => {
                let snapshot = self.load(&r.c, &r.d).await?;
                let snapshot = self
                    .read_snapshot(&r.c, snapshot, SnapshotKind::Current)
                    .await?;
                Ok(Some(snapshot.into_wire()))
            }
            Some(v) => {
                for op in self.ops_since(&r.c, &r.d, v).await? {
                    self.send_op(op);
                }
                Ok(None)
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

    /// A subscribe: listen first, then fetch, so no op is missed.
    async fn subscribe(
        &mut self,
        r: &DocRequest,
    ) -> Result<Option<crate::protocol::Snapshot>, ErrorObject> {
        let channel = pubsub::doc_channel(&r.c, &r.d);
        let subscription = self.pubsub_subscribe(&channel).await?;
        let (data, next_v) = match r.v {
            None => {
                let snapshot = self.load(&r.c, &r.d).await?;
                let snapshot = self
                    .read_snapshot(&r.c, snapshot, SnapshotKind::Current)
                    .await?;
                let v = snapshot.v;
                (Some(snapshot.into_wire()), v)
            }
            Some(v) => {
                let ops = self.ops_since(&r.c, &r.d, v).await?;
                let next = ops.last().map_or(v, |op| op.v + 1);
                for op in ops {
                    self.send_op(op);
                }
                (None, next)
            }
        };
        self.docs.insert(
            channel,
            DocSubscription {
                _subscription: subscription,
                next_v,
            },
        );
        Ok(data)
    }

    async fn bulk(&mut self, r: &BulkRequest, subscribe: bool) -> Result<BulkReply, ErrorObject> {
        let mut subscriptions = Vec::new();
        if subscribe {
            for id in r.b.ids() {
                let channel = pubsub::doc_channel(&r.c, id);
                subscriptions.push((channel.clone(), self.pubsub_subscribe(&channel).await?));
            }
        }
        let mut next_versions: HashMap<String, u64> = HashMap::new();
        let reply = match &r.b {
            Bulk::Ids(ids) => {
                let mut map = self
                    .inner
                    .db
                    .get_snapshot_bulk(&r.c, ids)
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
                    .read_snapshots(&r.c, &mut snapshots, SnapshotKind::Current)
                    .await?;
                let mut items: Vec<(String, Result<crate::protocol::Snapshot, ErrorObject>)> =
                    snapshots
                        .into_iter()
                        .map(|s| {
                            next_versions.insert(s.id.clone(), s.v);
                            (s.id.clone(), Ok(s.into_wire()))
                        })
                        .collect();
                for (index, error) in rejected {
                    if let Some(item) = items.get_mut(index) {
                        item.1 = Err(error);
                    }
                }
                BulkReply {
                    c: r.c.clone(),
                    data: Some(items),
                    b: None,
                }
            }
            Bulk::Versions(versions) => {
                for (id, v) in versions {
                    let ops = self.ops_since(&r.c, id, *v).await?;
                    next_versions.insert(id.clone(), ops.last().map_or(*v, |op| op.v + 1));
                    for op in ops {
                        self.send_op(op);
                    }
                }
                BulkReply {
                    c: r.c.clone(),
                    data: None,
                    b: Some(r.b.clone()),
                }
            }
        };
        for (channel, subscription) in subscriptions {
            let next_v = channel
                .strip_prefix(&format!("{}.", r.c))
                .and_then(|id| next_versions.get(id))
                .copied()
                .unwrap_or(0);
            self.docs.insert(
                channel,
                DocSubscription {
                    _subscription: subscription,
                    next_v,
                },
            );
        }
        Ok(reply)
    }

    /// Runs the `query` middleware and parses the (possibly rewritten) query.
    async fn prepare_query(&self, r: &QueryRequest) -> Result<Query, ErrorObject> {
        let mut expression = r.q.clone();
        let mut options = r.options.clone();
        for m in &self.inner.middleware {
            let mut ctx = QueryContext {
                agent: &self.info,
                collection: &r.c,
                query: &mut expression,
                options: &mut options,
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
        let results = self
            .inner
            .db
            .query(&r.c, &query)
            .await
            .map_err(|e| e.to_client("query"))?;
        Ok(QueryReply {
            id: r.id,
            data: QueryData::Results(self.results(&r.c, results.snapshots).await?),
            extra: results.extra,
        })
    }

    async fn query_subscribe(&mut self, r: &QueryRequest) -> Result<QueryReply, ErrorObject> {
        let query = self.prepare_query(r).await?;
        if let Some(previous) = self.queries.remove(&r.id) {
            self.release_collection(&previous.collection);
        }
        self.retain_collection(&r.c).await?;
        let reply = match &r.results {
            None => {
                let results = match self.inner.db.query(&r.c, &query).await {
                    Ok(results) => results,
                    Err(e) => {
                        self.release_collection(&r.c);
                        return Err(e.to_client("query"));
                    }
                };
                let ids = results.snapshots.iter().map(|s| s.id.clone()).collect();
                let data = match self.results(&r.c, results.snapshots).await {
                    Ok(data) => data,
                    Err(e) => {
                        self.release_collection(&r.c);
                        return Err(e);
                    }
                };
                self.queries.insert(
                    r.id,
                    LiveQuery {
                        collection: r.c.clone(),
                        query,
                        ids,
                        extra: results.extra.clone(),
                    },
                );
                QueryReply {
                    id: r.id,
                    data: QueryData::Results(data),
                    extra: results.extra,
                }
            }
            Some(known) => self.resume_query(r, query, known).await?,
        };
        Ok(reply)
    }

    /// A query subscribe from a client that has results already (after a
    /// reconnect, or from a server-rendered page): catch its documents up,
    /// then send only the changes.
    async fn resume_query(
        &mut self,
        r: &QueryRequest,
        query: Query,
        known: &[(String, Option<u64>)],
    ) -> Result<QueryReply, ErrorObject> {
        let mut to_fetch = Vec::new();
        for (id, v) in known {
            match v {
                Some(v) => {
                    for op in self.ops_since(&r.c, id, *v).await? {
                        self.send_op(op);
                    }
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
            ids: known.iter().map(|(id, _)| id.clone()).collect(),
            extra: None,
        };
        let update = live.poll(&self.inner).await?;
        self.queries.insert(r.id, live);
        self.send_update(r.id, &r.c, update).await?;
        Ok(QueryReply {
            id: r.id,
            data,
            extra: None,
        })
    }

    async fn retain_collection(&mut self, collection: &str) -> Result<(), ErrorObject> {
        if let Some((_, count)) = self.collections.get_mut(collection) {
            *count += 1;
            return Ok(());
        }
        let subscription = self
            .pubsub_subscribe(&pubsub::collection_channel(collection))
            .await?;
        self.collections
            .insert(collection.to_owned(), (subscription, 1));
        Ok(())
    }

    fn release_collection(&mut self, collection: &str) {
        if let Some((_, count)) = self.collections.get_mut(collection) {
            *count -= 1;
            if *count == 0 {
                self.collections.remove(collection);
            }
        }
    }

    /// Sends a live query's changes.
    async fn send_update(
        &self,
        id: u64,
        collection: &str,
        update: Update,
    ) -> Result<(), ErrorObject> {
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
            self.send(ServerMessage::QueryUpdate {
                id,
                diff: Some(diff),
                extra: None,
            });
        }
        if let Some(extra) = update.extra {
            self.send(ServerMessage::QueryUpdate {
                id,
                diff: None,
                extra: Some(extra.unwrap_or(Value::Null)),
            });
        }
        Ok(())
    }

    async fn submit(
        &mut self,
        request: &crate::protocol::OpRequest,
    ) -> Result<ServerMessage, ErrorObject> {
        let inner = self.inner.clone();
        let mut req = SubmitRequest::new(
            &self.info,
            request.clone(),
            inner.options.max_submit_retries,
        );
        let result = submit::submit(&inner, &mut req).await;
        let ack = ServerMessage::OpAck {
            c: req.collection.clone(),
            d: req.id.clone(),
            src: req.op.src.clone(),
            seq: req.op.seq,
            v: req.op.v,
        };
        match result {
            Ok(()) => {
                // The ops the client's op was transformed past, before its ack.
                let transformed = std::mem::take(&mut req.transformed_against);
                let channel = pubsub::doc_channel(&req.collection, &req.id);
                let committed_v = req.op.v;
                drop(req);
                // Ops the subscription already sent are not sent again.
                for op in transformed {
                    if let Some(doc) = self.docs.get_mut(&channel) {
                        if op.v < doc.next_v {
                            continue;
                        }
                        doc.next_v = op.v + 1;
                    }
                    self.send_op(op);
                }
                if let Some(doc) = self.docs.get_mut(&channel) {
                    doc.next_v = doc.next_v.max(committed_v + 1);
                }
                Ok(ack)
            }
            Err(error) if error.code == ErrorCode::OpAlreadySubmitted => Ok(ack),
            Err(error) => Err(error),
        }
    }

    /// A document as it was at a version or a time, rebuilt from its ops.
    async fn snapshot_at(
        &self,
        c: &str,
        d: &str,
        point: Point,
    ) -> Result<crate::protocol::Snapshot, ErrorObject> {
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

    async fn broadcast_presence(&mut self, presence: &Presence) -> Result<(), ErrorObject> {
        let key = (presence.ch.clone(), presence.id.clone());
        if presence.p.is_null() {
            self.own_presence.remove(&key);
        } else {
            self.own_presence.insert(key, presence.clone());
        }
        self.inner
            .pubsub
            .publish(
                &[pubsub::presence_channel(&presence.ch)],
                Message::Presence(Arc::new(presence.clone())),
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
                    && self.presence_channels.contains_key(&presence.ch)
                {
                    self.send(ServerMessage::Presence((*presence).clone()));
                }
            }
            Message::PresenceRequest { ch, src } => {
                if src != self.info.client_id && self.presence_channels.contains_key(&ch) {
                    self.send(ServerMessage::PresenceRequest { ch });
                }
            }
        }
    }

    fn is_own(&self, op: &DocOp) -> bool {
        op.src.as_deref() == Some(self.info.client_id.as_str())
    }

    async fn deliver_op(&mut self, channel: &str, op: Arc<DocOp>) {
        if let Some(doc) = self.docs.get_mut(channel) {
            // The document channel: forward unless the client has it.
            if op.v >= doc.next_v {
                doc.next_v = op.v + 1;
                if op.src.as_deref() != Some(self.info.client_id.as_str()) {
                    self.send_op(op);
                }
            }
            return;
        }
        if channel != op.c {
            return;
        }
        // The collection channel: update this collection's live queries.
        let doc_subscribed = self.docs.contains_key(&pubsub::doc_channel(&op.c, &op.d));
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
            match query.update(&inner, &op).await {
                Ok(update) => {
                    forward |= was_result;
                    if let Err(error) = self.send_update(id, &op.c, update).await {
                        self.send(ServerMessage::error(query_echo(id), error));
                    }
                }
                Err(error) => tracing::error!("live query update failed: {error}"),
            }
        }
        if forward && !doc_subscribed && !self.is_own(&op) {
            self.send_op(op);
        }
    }

    /// The connection ends: tell presence subscribers this client is gone.
    async fn leave(&mut self) {
        let presences: Vec<Presence> = self.own_presence.drain().map(|(_, p)| p).collect();
        for mut presence in presences {
            presence.p = Value::Null;
            presence.pv += 1;
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

//! `RedisPubSub`: pub/sub across servers through Redis, with
//! sharedb-redis-pubsub's channels and messages.
//!
//! Node ShareDB servers and peloton servers can share one Redis: channels
//! are ShareDB's (`collection`, `collection.id`, `$presence.<channel>`,
//! optionally prefixed `"<prefix> <channel>"`), and messages are the JSON
//! ShareDB publishes. A publish on several channels is one Lua script, so
//! it is atomic. One subscriber connection serves the whole process: a
//! channel is subscribed when its first local subscriber arrives and
//! unsubscribed when its last one leaves; after a lost connection it
//! reconnects and subscribes again. [`PubSub::close`] (which
//! [`Backend::close`](crate::backend::Backend::close) calls) or dropping it
//! ends the subscriber task and both connections.
//!
//! ```no_run
//! use peloton::backend::{Backend, pubsub::RedisPubSub};
//!
//! # async fn run() -> Result<(), peloton::backend::PubSubError> {
//! let pubsub = RedisPubSub::connect("redis://127.0.0.1:6379").await?;
//! let backend = Backend::builder().pubsub(pubsub).build();
//! # Ok(()) }
//! ```
//!
//! This module owns the Redis connections and the JSON of messages only; local
//! fan-out is the `Registry`'s, and the channel names come from the parent
//! module.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use redis::aio::{ConnectionManager, PubSubSink};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::{Mailbox, Message, PubSub, PubSubError, Registry, Subscription};
use crate::protocol::{ClientMessage, DocOp, ServerMessage};

/// Publishes `ARGV[1]` on every channel in `ARGV[2..]`, as
/// sharedb-redis-pubsub does.
const PUBLISH: &str = r#"for i = 2, #ARGV do redis.call("publish", ARGV[i], ARGV[1]) end"#;

/// A [`PubSub`] through Redis (see the module docs).
pub struct RedisPubSub {
    /// The publishing connection; `None` once closed.
    publisher: Mutex<Option<ConnectionManager>>,
    script: redis::Script,
    registry: Arc<Registry>,
    commands: mpsc::UnboundedSender<Command>,
    prefix: Option<String>,
    /// Set to `true` to end the subscriber task; dropped (with the
    /// `RedisPubSub`), it ends the task too.
    closing: watch::Sender<bool>,
    /// The subscriber task, until `close` has waited for it.
    subscriber: Mutex<Option<JoinHandle<()>>>,
}

enum Command {
    Subscribe(String, oneshot::Sender<Result<(), PubSubError>>),
    Unsubscribe(String),
}

impl std::fmt::Debug for RedisPubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPubSub")
            .field("prefix", &self.prefix)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

fn closed() -> PubSubError {
    PubSubError::new("the Redis pub/sub is closed")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each holds an `Option` that is only taken or cloned: consistent
    // after a panic elsewhere.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn redis_error(during: &str) -> impl Fn(redis::RedisError) -> PubSubError + '_ {
    move |e| PubSubError::with_source(format!("Redis {during}: {e}"), e)
}

impl RedisPubSub {
    /// Connects to Redis at `url` (`redis://host:port/db`).
    pub async fn connect(url: &str) -> Result<Self, PubSubError> {
        Self::connect_with_prefix(url, None).await
    }

    /// Connects with a channel prefix: channels become `"<prefix> <channel>"`
    /// (sharedb-redis-pubsub's `prefix` option), so several apps can share
    /// one Redis.
    pub async fn connect_with_prefix(
        url: &str,
        prefix: Option<String>,
    ) -> Result<Self, PubSubError> {
        let client = redis::Client::open(url).map_err(|e| {
            let url = crate::backend::redact_password(url);
            PubSubError::with_source(format!("Redis URL {url:?}: {e}"), e)
        })?;
        let publisher = ConnectionManager::new(client.clone())
            .await
            .map_err(redis_error("connect"))?;
        let (commands, receiver) = mpsc::unbounded_channel();
        // The registry's hook holds the commands weakly: the subscriber
        // task owns the registry, and a strong sender in it would keep the
        // task's command channel, and so the task, alive forever.
        let hook_commands = commands.downgrade();
        let registry = Registry::new(Some(Box::new(move |channel: &str| {
            if let Some(commands) = hook_commands.upgrade() {
                let _ = commands.send(Command::Unsubscribe(channel.to_owned()));
            }
        })));
        // Connect the subscriber once before returning, so a wrong URL fails here.
        let pubsub = client
            .get_async_pubsub()
            .await
            .map_err(redis_error("connect"))?;
        let (closing, closed) = watch::channel(false);
        let task = tokio::spawn(subscriber(
            client,
            pubsub,
            receiver,
            closed,
            registry.clone(),
            prefix.clone(),
        ));
        Ok(Self {
            publisher: Mutex::new(Some(publisher)),
            script: redis::Script::new(PUBLISH),
            registry,
            commands,
            prefix,
            closing,
            subscriber: Mutex::new(Some(task)),
        })
    }

    fn full_name(&self, channel: &str) -> String {
        prefixed(self.prefix.as_deref(), channel)
    }
}

fn prefixed(prefix: Option<&str>, channel: &str) -> String {
    match prefix {
        Some(prefix) => format!("{prefix} {channel}"),
        None => channel.to_owned(),
    }
}

#[async_trait]
impl PubSub for RedisPubSub {
    async fn subscribe(
        &self,
        channel: &str,
        mailbox: &Mailbox,
    ) -> Result<Subscription, PubSubError> {
        let (subscription, first) = self.registry.add(channel, mailbox);
        if first {
            let (ack, done) = oneshot::channel();
            self.commands
                .send(Command::Subscribe(channel.to_owned(), ack))
                .map_err(|_| closed())?;
            done.await.map_err(|_| closed())??;
        }
        Ok(subscription)
    }

    async fn publish(&self, channels: &[String], message: Message) -> Result<(), PubSubError> {
        let payload = encode(&message);
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(payload);
        for channel in channels {
            invocation.arg(self.full_name(channel));
        }
        let Some(mut connection) = lock(&self.publisher).clone() else {
            return Err(closed());
        };
        invocation
            .invoke_async::<()>(&mut connection)
            .await
            .map_err(redis_error("publish"))
    }

    /// Unsubscribes from everything and closes both connections; later
    /// calls fail. Returns once the subscriber connection is gone.
    async fn close(&self) {
        let _ = self.closing.send(true);
        lock(&self.publisher).take();
        let task = lock(&self.subscriber).take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::warn!("the Redis subscriber task failed: {e}");
        }
    }
}

/// The JSON ShareDB publishes: an op without its metadata, a presence with
/// `a: "p"`, or a presence request `{ch, r: true, src}`.
fn encode(message: &Message) -> String {
    match message {
        Message::Op(op) => serde_json::to_string(op.as_ref()),
        Message::Presence(presence) => {
            serde_json::to_string(&ClientMessage::Presence((**presence).clone()))
        }
        Message::PresenceRequest { ch, src } => {
            serde_json::to_string(&serde_json::json!({"ch": ch, "r": true, "src": src}))
        }
    }
    .unwrap_or_else(|_| "null".into())
}

/// A message published by peloton or by Node ShareDB.
fn decode(payload: &str) -> Result<Message, String> {
    let value: Value = serde_json::from_str(payload).map_err(|e| e.to_string())?;
    if value.get("r") == Some(&Value::Bool(true)) {
        let field = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        return Ok(Message::PresenceRequest {
            ch: field("ch"),
            src: field("src"),
        });
    }
    if value.get("a").and_then(Value::as_str) == Some("p") {
        return match ServerMessage::parse(payload).map_err(|e| e.to_string())? {
            ServerMessage::Presence(presence) => Ok(Message::Presence(Arc::new(presence))),
            _ => Err("not a presence".into()),
        };
    }
    let op: DocOp = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(Message::Op(Arc::new(op)))
}

/// The subscriber connection: applies (un)subscribe commands, delivers
/// messages, and reconnects (subscribing again) when the connection drops,
/// until `closed` turns `true`; the connection closes when it returns.
async fn subscriber(
    client: redis::Client,
    first: redis::aio::PubSub,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut closed: watch::Receiver<bool>,
    registry: Arc<Registry>,
    prefix: Option<String>,
) {
    let mut pubsub = Some(first);
    let mut delay = Duration::from_millis(100);
    loop {
        let connection = match pubsub.take() {
            Some(pubsub) => Ok(pubsub),
            None => tokio::select! {
                connection = client.get_async_pubsub() => connection,
                () = until_closed(&mut closed) => return,
            },
        };
        let (mut sink, mut stream) = match connection {
            Ok(pubsub) => pubsub.split(),
            Err(e) => {
                tracing::warn!("Redis subscriber: {e}; retrying in {delay:?}");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = until_closed(&mut closed) => return,
                }
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        delay = Duration::from_millis(100);
        // After a reconnect: every channel that still has subscribers.
        for channel in registry.channels() {
            if let Err(e) = sink.subscribe(prefixed(prefix.as_deref(), &channel)).await {
                tracing::warn!("Redis resubscribe to {channel}: {e}");
            }
        }
        loop {
            tokio::select! {
                // Dropping the sink and the stream closes the connection,
                // and with it every subscription.
                () = until_closed(&mut closed) => return,
                command = commands.recv() => match command {
                    None => return,
                    Some(command) => apply(&mut sink, command, prefix.as_deref()).await,
                },
                message = stream.next() => match message {
                    None => {
                        tracing::warn!("Redis subscriber connection lost; reconnecting");
                        break;
                    }
                    Some(message) => deliver(&registry, prefix.as_deref(), &message),
                },
            }
        }
    }
}

/// Resolves once `close` was called or the `RedisPubSub` dropped.
async fn until_closed(closed: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: closed just the same.
    let _ = closed.wait_for(|closed| *closed).await;
}

async fn apply(sink: &mut PubSubSink, command: Command, prefix: Option<&str>) {
    match command {
        Command::Subscribe(channel, ack) => {
            let result = sink
                .subscribe(prefixed(prefix, &channel))
                .await
                .map_err(redis_error("subscribe"));
            let _ = ack.send(result);
        }
        Command::Unsubscribe(channel) => {
            if let Err(e) = sink.unsubscribe(prefixed(prefix, &channel)).await {
                tracing::warn!("Redis unsubscribe from {channel}: {e}");
            }
        }
    }
}

fn deliver(registry: &Registry, prefix: Option<&str>, message: &redis::Msg) {
    let channel = message.get_channel_name();
    let channel = match prefix {
        Some(prefix) => match channel
            .strip_prefix(prefix)
            .and_then(|c| c.strip_prefix(' '))
        {
            Some(channel) => channel,
            None => return,
        },
        None => channel,
    };
    let payload: String = match message.get_payload() {
        Ok(payload) => payload,
        Err(e) => {
            tracing::warn!("unreadable message on {channel}: {e}");
            return;
        }
    };
    match decode(&payload) {
        Ok(decoded) => registry.deliver(channel, &decoded),
        Err(e) => tracing::warn!("dropping a message on {channel} that is not ShareDB's: {e}"),
    }
}

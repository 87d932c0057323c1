//! The offline store in the browser: each page's unacknowledged work in
//! IndexedDB, replayed by the next page if this one is closed first.
//!
//! Database `peloton-offline`, object store `pending`: one record per page
//! (key: a random page id; value: its [`PendingRecord`] as JSON), rewritten
//! whenever the page's pending work changes and deleted once there is none.
//! While a page lives it holds the Web Lock `peloton-page-<id>`; a record
//! whose lock nobody holds belongs to a page that is gone. A new page
//! takes such a lock (if no other page took it first), replays the record
//! through [`Connection::replay`] (which keeps writing its progress to the
//! same record), and deletes it when the server has acknowledged every op.
//! So several tabs of one origin never send each other's ops, and a page
//! closed mid-replay leaves the replay to the next one.
//!
//! This module owns the browser's storage and locks; what a record holds,
//! and replaying it, are the parent module's.

use futures::StreamExt;
use futures::channel::mpsc;
use std::rc::Rc;

use idb::{Database, DatabaseEvent, Factory, ObjectStoreParams, TransactionMode};
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::PendingRecord;
use crate::client::transport::WebSocketConnector;
use crate::client::{Connection, ConnectionOptions};

const DATABASE: &str = "peloton-offline";
const STORE: &str = "pending";

/// Keeps `connection`'s pending work in IndexedDB for this page, takes
/// over what the last closed page left (so the page shows those edits even
/// offline, and sends them once), and replays, over a WebSocket to `url`,
/// what other closed pages left. `service_worker`: the path of the service
/// worker to register (`peloton::axum::service_worker_route`), so that
/// pages visited before open offline.
///
/// The connection is held offline until the store has been read (a few
/// milliseconds), and reconnected then if the browser is online. Failures
/// (no IndexedDB in a private window, say) are logged and only turn the
/// store off.
pub fn start(connection: Connection, url: String, service_worker: Option<String>) {
    if let Some(path) = service_worker {
        register_service_worker(&path);
    }
    connection.disconnect();
    wasm_bindgen_futures::spawn_local(async move {
        let page_url = url.clone();
        let mut prepare = std::pin::pin!(prepare(&connection, &page_url));
        // A store that does not open in time (another tab upgrading it,
        // say) must not keep the page offline: it connects, and what a
        // closed page left is replayed instead of taken over.
        let waited = futures::future::select(
            prepare.as_mut(),
            gloo_timers::future::TimeoutFuture::new(PREPARE_TIMEOUT_MS),
        )
        .await;
        let prepared = match waited {
            futures::future::Either::Left((prepared, _)) => {
                reconnect_if_online(&connection);
                prepared
            }
            futures::future::Either::Right(((), _)) => {
                tracing::warn!("peloton: the offline store is slow to open; connecting meanwhile");
                reconnect_if_online(&connection);
                prepare.await
            }
        };
        match prepared {
            Ok(prepared) => prepared.replay_the_rest(url),
            Err(e) => tracing::warn!("peloton: offline store off: {e}"),
        }
    });
}

/// How long the page stays offline waiting for its store, at most.
const PREPARE_TIMEOUT_MS: u32 = 3_000;

fn reconnect_if_online(connection: &Connection) {
    if is_online() {
        connection.reconnect();
    }
}

/// The store, opened and read, with the records left to replay.
struct Prepared {
    db: Rc<Database>,
    locks: Option<Locks>,
    others: Vec<(String, PendingRecord)>,
}

async fn prepare(connection: &Connection, url: &str) -> Result<Prepared, String> {
    let db = Rc::new(open().await?);
    let page = crate::random::new_id();
    let Some(locks) = Locks::get() else {
        tracing::warn!("peloton: no Web Locks here: work left by closed pages is not replayed");
        keep(connection, &db, page, None);
        return Ok(Prepared {
            db,
            locks: None,
            others: Vec::new(),
        });
    };
    locks.hold(&lock_name(&page))?;
    let live = locks.held().await?;
    let mut others: Vec<(String, PendingRecord)> = all(&db)
        .await?
        .into_iter()
        .filter(|(key, _)| *key != page && !live.iter().any(|name| *name == lock_name(key)))
        .collect();
    // The latest closed page's work is taken over, if no other page is
    // taking it: its edits show here at once, even offline.
    others.sort_by(|a, b| a.1.saved_at.total_cmp(&b.1.saved_at));
    let mut adopted = None;
    if let Some((key, record)) = others.pop()
        && locks.try_hold(&lock_name(&key)).await?
    {
        match connection.adopt(record.clone()) {
            Ok(true) => adopted = Some(key),
            Ok(false) => replay_held(db.clone(), key, record, url.to_owned()),
            Err(e) => tracing::warn!("peloton: a closed page's edits do not apply: {e}"),
        }
    }
    keep(connection, &db, page, adopted);
    Ok(Prepared {
        db,
        locks: Some(locks),
        others,
    })
}

impl Prepared {
    /// Replays every other closed page's record, each by the one page that
    /// takes its lock.
    fn replay_the_rest(self, url: String) {
        let Some(locks) = self.locks else { return };
        for (key, record) in self.others {
            let (db, url) = (self.db.clone(), url.clone());
            locks.if_available(&lock_name(&key), async move {
                replay(&db, &key, record, url).await;
            });
        }
    }
}

/// Replays a record whose lock this page already holds.
fn replay_held(db: Rc<Database>, key: String, record: PendingRecord, url: String) {
    wasm_bindgen_futures::spawn_local(async move { replay(&db, &key, record, url).await });
}

fn lock_name(page: &str) -> String {
    format!("peloton-page-{page}")
}

fn is_online() -> bool {
    Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"onLine".into()))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

fn register_service_worker(path: &str) {
    let registered = Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"serviceWorker".into()))
        .ok()
        .filter(|sw| !sw.is_undefined())
        .and_then(|sw| {
            let register = Reflect::get(&sw, &"register".into())
                .ok()?
                .dyn_into::<Function>()
                .ok()?;
            register.call1(&sw, &path.into()).ok()
        });
    if registered.is_none() {
        tracing::warn!("peloton: no service worker here: pages will not open offline");
    }
}

/// Writes `connection`'s record under `key` whenever it changes (the
/// latest only, in order), and deletes it when it holds nothing. With
/// `adopted`, the first write also deletes that record (taken over), in
/// the same transaction, so the ops are never stored twice. A replay keeps
/// only its pending ops (`Keep::Pending`): the documents it held are not a
/// page's view.
fn keep(connection: &Connection, db: &Rc<Database>, key: String, adopted: Option<String>) {
    keep_as(connection, db, key, adopted, Keep::All);
}

/// What a record keeps.
#[derive(Clone, Copy, PartialEq)]
enum Keep {
    /// Pending ops, the documents held and the queries' results: a page.
    All,
    /// Pending ops only: a replay.
    Pending,
}

fn keep_as(
    connection: &Connection,
    db: &Rc<Database>,
    key: String,
    adopted: Option<String>,
    what: Keep,
) {
    let (tx, mut rx) = mpsc::unbounded::<PendingRecord>();
    connection.keep_pending(move |record| {
        let _ = tx.unbounded_send(record);
    });
    let db = db.clone();
    let mut adopted = adopted;
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(mut record) = rx.next().await {
            // Only the latest matters: skip what was superseded meanwhile.
            while let Ok(newer) = rx.try_recv() {
                record = newer;
            }
            if what == Keep::Pending {
                record.held.clear();
                record.queries.clear();
            }
            record.saved_at = js_sys::Date::now();
            let json = if record.holds_nothing() {
                None
            } else {
                match serde_json::to_string(&record) {
                    Ok(json) => Some(json),
                    Err(e) => {
                        tracing::warn!("peloton: pending edits do not serialize: {e}");
                        continue;
                    }
                }
            };
            if let Err(e) = write(&db, &key, json.as_deref(), adopted.take().as_deref()).await {
                tracing::warn!("peloton: saving pending edits failed: {e}");
            }
        }
    });
}

/// Sends what a gone page left, then forgets its record.
async fn replay(db: &Rc<Database>, key: &str, record: PendingRecord, url: String) {
    let connector = WebSocketConnector::new(url);
    let connection = match Connection::replay(connector, ConnectionOptions::default(), record) {
        Ok(connection) => connection,
        Err(e) => {
            tracing::warn!("peloton: a closed page's edits cannot be replayed: {e}");
            return;
        }
    };
    // Its progress is kept under the gone page's key, so a page closed
    // mid-replay leaves the rest (with the `seq`s sent) to the next one.
    keep_as(&connection, db, key.to_owned(), None, Keep::Pending);
    connection.when_nothing_pending().await;
    connection.close();
}

async fn open() -> Result<Database, String> {
    let factory = Factory::new().map_err(|e| e.to_string())?;
    let mut request = factory.open(DATABASE, Some(1)).map_err(|e| e.to_string())?;
    request.on_upgrade_needed(|event| {
        let Ok(db) = event.database() else { return };
        if !db.store_names().iter().any(|name| name == STORE) {
            let _ = db.create_object_store(STORE, ObjectStoreParams::new());
        }
    });
    request.await.map_err(|e| e.to_string())
}

/// In one transaction: `json` under `key` (none: deletes it), and
/// `also_delete` deleted.
async fn write(
    db: &Database,
    key: &str,
    json: Option<&str>,
    also_delete: Option<&str>,
) -> Result<(), String> {
    let transaction =
        (db.transaction(&[STORE], TransactionMode::ReadWrite)).map_err(|e| e.to_string())?;
    let store = transaction.object_store(STORE).map_err(|e| e.to_string())?;
    match json {
        Some(json) => {
            (store.put(&JsValue::from_str(json), Some(&JsValue::from_str(key))))
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())?;
        }
        None => {
            (store.delete(JsValue::from_str(key)))
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    if let Some(other) = also_delete {
        (store.delete(JsValue::from_str(other)))
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
    }
    transaction.await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Every record, by key; one that does not read is skipped (and logged).
async fn all(db: &Database) -> Result<Vec<(String, PendingRecord)>, String> {
    let transaction =
        (db.transaction(&[STORE], TransactionMode::ReadOnly)).map_err(|e| e.to_string())?;
    let store = transaction.object_store(STORE).map_err(|e| e.to_string())?;
    let keys = (store.get_all_keys(None, None))
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    let values = (store.get_all(None, None))
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    transaction.await.map_err(|e| e.to_string())?;
    let mut records = Vec::new();
    for (key, value) in keys.into_iter().zip(values) {
        let (Some(key), Some(json)) = (key.as_string(), value.as_string()) else {
            continue;
        };
        match serde_json::from_str(&json) {
            Ok(record) => records.push((key, record)),
            Err(e) => tracing::warn!("peloton: a stored record does not read: {e}"),
        }
    }
    Ok(records)
}

/// The Web Locks API (`navigator.locks`), through `js_sys`.
struct Locks(JsValue);

impl Locks {
    fn get() -> Option<Self> {
        let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
        let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
        (!locks.is_undefined() && !locks.is_null()).then_some(Self(locks))
    }

    fn method(&self, name: &str) -> Result<Function, String> {
        Reflect::get(&self.0, &name.into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| format!("navigator.locks.{name} is missing"))
    }

    /// Holds `name` for as long as the page lives.
    fn hold(&self, name: &str) -> Result<(), String> {
        let forever =
            Closure::<dyn FnMut(JsValue) -> Promise>::new(|_| Promise::new(&mut |_, _| {}));
        self.method("request")?
            .call2(&self.0, &name.into(), forever.as_ref())
            .map_err(|e| format!("{e:?}"))?;
        forever.forget();
        Ok(())
    }

    /// Takes `name` for as long as the page lives, unless another page
    /// holds it; whether it did.
    async fn try_hold(&self, name: &str) -> Result<bool, String> {
        let (granted, answer) = futures::channel::oneshot::channel::<bool>();
        let mut granted = Some(granted);
        let callback = Closure::<dyn FnMut(JsValue) -> Promise>::new(move |lock: JsValue| {
            let got = !lock.is_null();
            if let Some(granted) = granted.take() {
                let _ = granted.send(got);
            }
            if got {
                Promise::new(&mut |_, _| {})
            } else {
                Promise::resolve(&JsValue::UNDEFINED)
            }
        });
        let options = Object::new();
        let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
        self.method("request")?
            .call3(&self.0, &name.into(), &options, callback.as_ref())
            .map_err(|e| format!("{e:?}"))?;
        callback.forget();
        answer
            .await
            .map_err(|_| "the lock was never answered".to_owned())
    }

    /// The names of the locks held now (by any page of this origin).
    async fn held(&self) -> Result<Vec<String>, String> {
        let promise: Promise = self
            .method("query")?
            .call0(&self.0)
            .map_err(|e| format!("{e:?}"))?
            .dyn_into()
            .map_err(|_| "navigator.locks.query gave no promise".to_owned())?;
        let snapshot = JsFuture::from(promise)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let held = Reflect::get(&snapshot, &"held".into()).map_err(|e| format!("{e:?}"))?;
        Ok(js_sys::Array::from(&held)
            .iter()
            .filter_map(|lock| Reflect::get(&lock, &"name".into()).ok()?.as_string())
            .collect())
    }

    /// Runs `work` holding `name`, unless another page holds it (then
    /// not at all).
    fn if_available(&self, name: &str, work: impl std::future::Future<Output = ()> + 'static) {
        let options = Object::new();
        let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
        let mut work = Some(work);
        let callback = Closure::<dyn FnMut(JsValue) -> Promise>::new(move |lock: JsValue| {
            match (lock.is_null(), work.take()) {
                (false, Some(work)) => wasm_bindgen_futures::future_to_promise(async move {
                    work.await;
                    Ok(JsValue::UNDEFINED)
                }),
                _ => Promise::resolve(&JsValue::UNDEFINED),
            }
        });
        let requested = self.method("request").and_then(|request| {
            request
                .call3(&self.0, &name.into(), &options, callback.as_ref())
                .map_err(|e| format!("{e:?}"))
        });
        if let Err(e) = requested {
            tracing::warn!("peloton: {e}");
        }
        callback.forget();
    }
}

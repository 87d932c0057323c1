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

/// Keeps `connection`'s pending work in IndexedDB for this page, and
/// replays, over a WebSocket to `url`, what pages that are gone left
/// there. Runs in the background; failures (no IndexedDB in a private
/// window, say) are logged and only turn the store off.
pub fn start(connection: Connection, url: String) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = run(connection, url).await {
            tracing::warn!("peloton: offline store off: {e}");
        }
    });
}

async fn run(connection: Connection, url: String) -> Result<(), String> {
    let db = Rc::new(open().await?);
    let page = crate::random::new_id();
    let locks = Locks::get();
    if let Some(locks) = &locks {
        locks.hold(&lock_name(&page))?;
    }
    keep(&connection, &db, page.clone());
    let Some(locks) = locks else {
        tracing::warn!("peloton: no Web Locks here: work left by closed pages is not replayed");
        return Ok(());
    };
    let live = locks.held().await?;
    for (key, record) in all(&db).await? {
        if key == page || live.iter().any(|name| *name == lock_name(&key)) {
            continue;
        }
        let (db, url) = (db.clone(), url.clone());
        // Only the page that gets the gone page's lock replays its record.
        locks.if_available(&lock_name(&key), async move {
            replay(&db, &key, record, url).await;
        });
    }
    Ok(())
}

fn lock_name(page: &str) -> String {
    format!("peloton-page-{page}")
}

/// Writes `connection`'s pending record under `key` whenever it changes
/// (the latest only, in order), and deletes it when there is none.
fn keep(connection: &Connection, db: &Rc<Database>, key: String) {
    let (tx, mut rx) = mpsc::unbounded::<PendingRecord>();
    connection.keep_pending(move |record| {
        let _ = tx.unbounded_send(record);
    });
    let db = db.clone();
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(mut record) = rx.next().await {
            // Only the latest matters: skip what was superseded meanwhile.
            while let Ok(newer) = rx.try_recv() {
                record = newer;
            }
            let written = if record.is_empty() {
                delete(&db, &key).await
            } else {
                match serde_json::to_string(&record) {
                    Ok(json) => put(&db, &key, &json).await,
                    Err(e) => Err(e.to_string()),
                }
            };
            if let Err(e) = written {
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
    keep(&connection, db, key.to_owned());
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

async fn put(db: &Database, key: &str, json: &str) -> Result<(), String> {
    let transaction =
        (db.transaction(&[STORE], TransactionMode::ReadWrite)).map_err(|e| e.to_string())?;
    let store = transaction.object_store(STORE).map_err(|e| e.to_string())?;
    store
        .put(&JsValue::from_str(json), Some(&JsValue::from_str(key)))
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    transaction.await.map_err(|e| e.to_string())?;
    Ok(())
}

async fn delete(db: &Database, key: &str) -> Result<(), String> {
    let transaction =
        (db.transaction(&[STORE], TransactionMode::ReadWrite)).map_err(|e| e.to_string())?;
    let store = transaction.object_store(STORE).map_err(|e| e.to_string())?;
    store
        .delete(JsValue::from_str(key))
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
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

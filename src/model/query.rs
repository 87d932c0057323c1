//! Queries in a model: results kept at `$queries.<key>`, loaded and
//! counted like documents.
//!
//! This module owns the model's queries (entries, counts, keys) and their
//! results under `$queries`, which it writes only through the mutators; the
//! documents in the results are released through `loading`, never unloaded
//! here.

use serde_json::{Value, json};

use super::loading::LoadKind;
use super::{Model, ModelError};
use crate::client::{self, QueryChange};

/// A query of a model. Cheap to clone; the same collection and expression
/// give the same query.
#[derive(Clone, Debug)]
pub struct ModelQuery {
    model: Model,
    key: String,
    collection: String,
    expression: Value,
}

/// A loaded query's state in its model.
pub(crate) struct QueryEntry {
    pub collection: String,
    pub expression: Value,
    pub subscribed: u32,
    pub fetched: u32,
    pub client: Option<client::Query>,
    /// Whether `client` is a live subscription (not a one-off fetch).
    pub live: bool,
}

impl QueryEntry {
    /// Whether anything loads the query (an entry that nothing does is
    /// kept for the unload delay, so a reload costs nothing).
    pub fn is_loaded(&self) -> bool {
        self.subscribed > 0 || self.fetched > 0
    }
}

/// The key of a query: stable across processes (the browser finds the
/// server's queries in a bundle by it), and a single path segment.
pub(crate) fn key(collection: &str, expression: &Value) -> String {
    // FNV-1a over the canonical JSON, `[collection, expression]`, hashed as
    // it is written rather than built and copied first.
    let mut fnv = Fnv(0xcbf2_9ce4_8422_2325);
    // Writing JSON into a hasher cannot fail.
    let _ = serde_json::to_writer(&mut fnv, &(collection, expression));
    format!("q{:016x}", fnv.0)
}

/// FNV-1a, fed as an `io::Write`.
struct Fnv(u64);

impl std::io::Write for Fnv {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Model {
    /// The query of `collection` by `expression` (MongoDB's language:
    /// filters, `$sort`, `$skip`, `$limit`, `$count`).
    pub fn query(&self, collection: &str, expression: Value) -> ModelQuery {
        ModelQuery {
            model: self.scope(""),
            key: key(collection, &expression),
            collection: collection.to_owned(),
            expression,
        }
    }

    /// A query's results changed on the connection.
    pub(crate) fn on_query_change(&self, client_id: u64, change: &QueryChange) {
        let key = {
            let state = self.state();
            state
                .queries
                .iter()
                .find(|(_, q)| q.client.as_ref().is_some_and(|c| c.id() == client_id))
                .map(|(key, q)| (key.clone(), q.collection.clone()))
        };
        let Some((key, collection)) = key else { return };
        let remote = self.pass(json!({"$remote": true}));
        let ids = format!("$queries.{key}.ids");
        // What leaves the results is released (unloaded unless something
        // else holds it), as Racer does: it would go stale otherwise, since
        // the query no longer brings its ops.
        let left: Vec<String> = match change {
            QueryChange::Results { ids: all } => {
                let before = self.get::<Vec<String>>(&ids).unwrap_or_default();
                // A first load (every page's) has nothing to compare.
                if before.is_empty() {
                    Vec::new()
                } else {
                    let now: std::collections::HashSet<&String> = all.iter().collect();
                    (before.into_iter())
                        .filter(|id| !now.contains(id))
                        .collect()
                }
            }
            QueryChange::Remove { ids: gone, .. } => gone.clone(),
            _ => Vec::new(),
        };
        let result = match change {
            QueryChange::Results { ids: all } => remote.set(&ids, all).map(drop),
            QueryChange::Insert { index, ids: new } => remote
                .insert(&ids, *index, new.iter().map(|id| json!(id)).collect())
                .map(drop),
            QueryChange::Remove { index, ids: gone } => {
                remote.remove(&ids, *index, gone.len()).map(drop)
            }
            QueryChange::Move { from, to, how_many } => {
                remote.move_items(&ids, *from, *to, *how_many).map(drop)
            }
            QueryChange::Extra(extra) => remote
                .set(&format!("$queries.{key}.extra"), extra)
                .map(drop),
        };
        if let Err(e) = result {
            tracing::warn!("query update of {key} failed: {e}");
        }
        for id in left {
            let model = self.clone();
            let doc = (collection.clone(), id);
            client::rt::spawn(async move { model.release_doc_later(doc).await });
        }
    }

    /// Whether a loaded query's results hold a document.
    pub(crate) fn held_by_query(&self, doc: &(String, String)) -> bool {
        let keys: Vec<String> = {
            let state = self.state();
            state
                .queries
                .iter()
                .filter(|(_, q)| q.collection == doc.0)
                .map(|(key, _)| key.clone())
                .collect()
        };
        keys.iter().any(|key| {
            self.read(&format!("$queries.{key}.ids"), |ids| {
                ids.and_then(Value::as_array)
                    .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(doc.1.as_str())))
            })
        })
    }
}

impl ModelQuery {
    /// The query's key: the same collection and expression give the same
    /// key, here and in the browser. Read the results with
    /// [`ModelQuery::ids`], [`ModelQuery::get`], [`ModelQuery::docs`] and
    /// [`ModelQuery::extra`], not by the model paths they are kept at.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The model the query belongs to.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The collection queried.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The query expression.
    pub fn expression(&self) -> &Value {
        &self.expression
    }

    /// Where the model keeps the result ids (`$queries.<key>.ids`). Read
    /// them with [`ModelQuery::ids`]; listen here ([`Model::on`]) to hear
    /// results arrive (an `Insert` event), leave and move.
    pub fn ids_path(&self) -> String {
        format!("$queries.{}.ids", self.key)
    }

    /// Where the model keeps the extra result.
    pub(crate) fn extra_path(&self) -> String {
        format!("$queries.{}.extra", self.key)
    }

    /// The query's collection and expression.
    pub(crate) fn parts(&self) -> (&str, &Value) {
        (&self.collection, &self.expression)
    }

    /// The ids of the results, in order.
    pub fn ids(&self) -> Vec<String> {
        self.model.get(&self.ids_path()).unwrap_or_default()
    }

    /// The results as `T`s, in order (those that are not a `T` are left
    /// out, with a warning).
    pub fn docs<T: serde::de::DeserializeOwned>(&self) -> Vec<T> {
        // Each read in place, not from a copy (a page's list of 100).
        (self.ids().iter())
            .filter_map(|id| match self.model.get_doc(&self.collection, id)? {
                Ok(doc) => Some(doc),
                Err(e) => {
                    tracing::warn!("a result of query {} is not the type asked: {e}", self.key);
                    None
                }
            })
            .collect()
    }

    /// The query's extra result as a `T` (`$count` gives a number).
    pub fn extra_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.extra()
            .and_then(|extra| serde_json::from_value(extra).ok())
    }

    /// Calls `listener` whenever what the query gives may have changed:
    /// its ids, its extra result, or a document of its collection. Returns
    /// the listeners' ids, for [`Model::remove_listener`]; the view layer's
    /// query signals are built on it.
    pub fn on_change(&self, listener: impl Fn() + Send + Sync + 'static) -> Vec<u64> {
        let listener = std::sync::Arc::new(listener);
        [self.ids_path(), self.extra_path(), self.collection.clone()]
            .iter()
            .map(|path| {
                let listener = listener.clone();
                self.model.on_value_change(path, move |_| listener())
            })
            .collect()
    }

    /// The results' data, in order.
    pub fn get(&self) -> Vec<Value> {
        self.ids()
            .iter()
            .filter_map(|id| self.model.get_value(&format!("{}.{id}", self.collection)))
            .collect()
    }

    /// The query's extra result (`$count`, …).
    pub fn extra(&self) -> Option<Value> {
        self.model
            .get_value(&self.extra_path())
            .filter(|v| !v.is_null())
    }

    /// Makes `path` (absolute) a ref list of the results (Racer's
    /// `query.ref`); returns the model at `path`.
    pub fn ref_to(&self, path: &str) -> Model {
        self.model
            .ref_list(path, &self.collection, &self.ids_path())
    }

    /// Subscribes (counted), like `model.subscribe([&query])`.
    pub async fn subscribe(&self) -> Result<(), ModelError> {
        self.model.subscribe([self]).await
    }

    /// Fetches (counted), like `model.fetch([&query])`.
    pub async fn fetch(&self) -> Result<(), ModelError> {
        self.model.fetch([self]).await
    }

    /// Undoes one `subscribe`, like `model.unsubscribe([&query])`. When
    /// nothing loads the query any more its results are released (after the
    /// unload delay) unless loaded on their own or by another query.
    pub async fn unsubscribe(&self) -> Result<(), ModelError> {
        self.model.unsubscribe([self]).await
    }

    /// Undoes one `fetch`, like `model.unfetch([&query])`.
    pub async fn unfetch(&self) -> Result<(), ModelError> {
        self.model.unfetch([self]).await
    }

    pub(crate) async fn load(&self, how: LoadKind) -> Result<(), ModelError> {
        let model = &self.model;
        let connection = model
            .connection()
            .ok_or_else(|| ModelError::NoConnection(self.collection.clone()))?
            .clone();
        let live = how == LoadKind::Subscribe && !model.options().fetch_only;
        let existing = {
            let mut state = model.state();
            let entry = state
                .queries
                .entry(self.key.clone())
                .or_insert_with(|| QueryEntry {
                    collection: self.collection.clone(),
                    expression: self.expression.clone(),
                    subscribed: 0,
                    fetched: 0,
                    client: None,
                    live: false,
                });
            match how {
                LoadKind::Subscribe => entry.subscribed += 1,
                LoadKind::Fetch | LoadKind::Create => entry.fetched += 1,
            }
            entry.client.clone().filter(|_| !live || entry.live)
        };
        let client = match existing {
            Some(client) => client,
            None => {
                let client = if live {
                    connection.subscribe_query(&self.collection, self.expression.clone())
                } else {
                    connection.fetch_query(&self.collection, self.expression.clone())
                };
                if let Some(entry) = model.state().queries.get_mut(&self.key)
                    && (live || entry.client.is_none())
                {
                    entry.client = Some(client.clone());
                    entry.live |= live;
                }
                client
            }
        };
        client.ready().await?;
        // The results, as the model keeps them: usually there already (the
        // results' event put them there), then checked in place, not copied.
        let ids = client.ids();
        let ids_path = self.ids_path();
        if !model.read(&ids_path, |kept| holds_ids(kept, &ids)) {
            model.set(&ids_path, ids)?;
        }
        // A query without an extra result (most) writes none, not a null.
        let (extra, extra_path) = (client.extra(), self.extra_path());
        if extra.is_some() || model.read(&extra_path, |kept| kept.is_some()) {
            model.set_diff(&extra_path, extra)?;
        }
        Ok(())
    }

    pub(crate) async fn unload(&self, how: LoadKind) -> Result<(), ModelError> {
        let unloaded = {
            let mut state = self.model.state();
            let Some(entry) = state.queries.get_mut(&self.key) else {
                return Ok(());
            };
            match how {
                LoadKind::Subscribe => entry.subscribed = entry.subscribed.saturating_sub(1),
                LoadKind::Fetch | LoadKind::Create => {
                    entry.fetched = entry.fetched.saturating_sub(1)
                }
            }
            !entry.is_loaded()
        };
        if !unloaded {
            return Ok(());
        }
        // Kept (and kept live) for the unload delay: loaded again within
        // it, the query is there already.
        let delay = self.model.options().unload_delay;
        if delay.is_zero() {
            self.release().await;
        } else {
            let query = self.clone();
            client::rt::spawn(async move {
                client::rt::sleep(delay).await;
                query.release().await;
            });
        }
        Ok(())
    }

    /// Forgets the query if still nothing loads it: stops its
    /// subscription and releases its results, unless they are loaded on
    /// their own or by another query.
    async fn release(&self) {
        let model = &self.model;
        let entry = {
            let mut state = model.state();
            match state.queries.get(&self.key) {
                Some(entry) if !entry.is_loaded() => state.queries.remove(&self.key),
                _ => None,
            }
        };
        let Some(entry) = entry else { return };
        if let Some(client) = entry.client {
            client.unsubscribe();
        }
        let results = self.ids();
        let _ = model.silent().del(&format!("$queries.{}", self.key));
        for id in results {
            model.release_doc((self.collection.clone(), id)).await;
        }
    }
}

/// The same query of the same model.
impl PartialEq for ModelQuery {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && std::sync::Arc::ptr_eq(&self.model.root, &other.model.root)
    }
}

/// Whether `kept` is the list of `ids`, in order.
fn holds_ids(kept: Option<&Value>, ids: &[String]) -> bool {
    kept.and_then(Value::as_array).is_some_and(|kept| {
        kept.len() == ids.len()
            && (kept.iter().zip(ids)).all(|(kept, id)| kept.as_str() == Some(id.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a over a built copy of the JSON: how keys were first made.
    fn key_from_text(collection: &str, expression: &Value) -> String {
        let text = json!([collection, expression]).to_string();
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("q{hash:016x}")
    }

    #[test]
    fn keys_stay_what_pages_and_browsers_already_use() {
        let sorted = json!({"$sort": {"createdAt": 1}});
        assert_eq!(key("lists", &sorted), "qd42e299724f7fac8");
        for (collection, expression) in [
            ("lists", sorted),
            ("todos", json!({"done": false, "$count": true})),
            (
                "a\"b",
                json!({"t": "é\n\u{1F600}", "n": [1.5, null, {"x": []}]}),
            ),
            ("", json!(null)),
        ] {
            assert_eq!(
                key(collection, &expression),
                key_from_text(collection, &expression)
            );
        }
    }
}

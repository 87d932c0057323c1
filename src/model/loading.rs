//! Loading data into a model: subscribe, fetch, and their counted undoing.
//!
//! This module owns the documents' load counts and when a document is
//! unsubscribed and forgotten; queries count themselves (`query`), and the
//! documents' data stays the client's.

use std::collections::HashMap;

use futures::future::try_join_all;
use serde_json::Value;

use super::events::EventKind;
use super::path;
use super::query::ModelQuery;
use super::{Model, ModelError};
use crate::client::rt;

/// Something a model can subscribe to or fetch: a document, or a query.
#[derive(Clone, Debug)]
pub enum Loadable {
    /// A document path (`collection.id`), relative to the model it is
    /// given to.
    Path(String),
    /// The document a scoped model points at.
    Scoped(Model),
    /// A query.
    Query(ModelQuery),
}

impl From<&str> for Loadable {
    fn from(path: &str) -> Self {
        Self::Path(path.to_owned())
    }
}

impl From<String> for Loadable {
    fn from(path: String) -> Self {
        Self::Path(path)
    }
}

impl From<&Model> for Loadable {
    fn from(model: &Model) -> Self {
        Self::Scoped(model.clone())
    }
}

impl From<&ModelQuery> for Loadable {
    fn from(query: &ModelQuery) -> Self {
        Self::Query(query.clone())
    }
}

/// How an item was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoadKind {
    Subscribe,
    Fetch,
    /// Created by this model: held until the next `unload()`.
    Create,
}

/// Load counts of a document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub subscribed: u32,
    pub fetched: u32,
    /// Created here: held until unloaded.
    pub created: bool,
}

impl Counts {
    pub fn holds(&self) -> bool {
        self.subscribed > 0 || self.fetched > 0 || self.created
    }

    pub fn bump(&mut self, how: LoadKind, up: bool) {
        let n = match how {
            LoadKind::Subscribe => &mut self.subscribed,
            LoadKind::Fetch => &mut self.fetched,
            LoadKind::Create => {
                self.created = up;
                return;
            }
        };
        *n = if up { *n + 1 } else { n.saturating_sub(1) };
    }
}

/// What a model has loaded.
#[derive(Default)]
pub(crate) struct Loads {
    pub docs: HashMap<(String, String), Counts>,
    /// Loads since the last `unload()`, to undo there.
    pub(crate) since_unload: Vec<(Item, LoadKind)>,
}

impl Loads {
    pub fn created(&mut self, collection: &str, id: &str) {
        let counts = self
            .docs
            .entry((collection.to_owned(), id.to_owned()))
            .or_default();
        if !counts.created {
            counts.created = true;
            let item = Item::Doc(collection.to_owned(), id.to_owned());
            self.since_unload.push((item, LoadKind::Create));
        }
    }
}

/// A resolved item. It holds no [`Model`]: the model's own state keeps
/// items, and a model there would keep the model alive forever.
#[derive(Clone)]
pub(crate) enum Item {
    Doc(String, String),
    Query {
        collection: String,
        expression: Value,
    },
    Local,
}

impl Model {
    fn item(&self, loadable: &Loadable) -> Result<Item, ModelError> {
        let segments = match loadable {
            Loadable::Query(query) => {
                let (collection, expression) = query.parts();
                return Ok(Item::Query {
                    collection: collection.to_owned(),
                    expression: expression.clone(),
                });
            }
            Loadable::Path(p) => self.resolve_owned(self.absolute(p)),
            Loadable::Scoped(model) => model.resolve(&model.at),
        };
        match segments.as_slice() {
            [c, _] if path::is_local(c) => Ok(Item::Local),
            [c, id] => Ok(Item::Doc(c.clone(), id.clone())),
            _ => Err(ModelError::PathTooShort(path::join(&segments))),
        }
    }

    /// Loads the items and keeps them up to date (in a fetch-only model:
    /// loads them once, counted as subscribed).
    pub async fn subscribe<L: Into<Loadable>>(
        &self,
        items: impl IntoIterator<Item = L>,
    ) -> Result<(), ModelError> {
        self.load(items, LoadKind::Subscribe).await
    }

    /// Loads the items once.
    pub async fn fetch<L: Into<Loadable>>(
        &self,
        items: impl IntoIterator<Item = L>,
    ) -> Result<(), ModelError> {
        self.load(items, LoadKind::Fetch).await
    }

    /// Undoes one `subscribe` of each item.
    pub async fn unsubscribe<L: Into<Loadable>>(
        &self,
        items: impl IntoIterator<Item = L>,
    ) -> Result<(), ModelError> {
        self.unload_items(
            items.into_iter().map(Into::into).collect(),
            LoadKind::Subscribe,
        )
        .await
    }

    /// Undoes one `fetch` of each item.
    pub async fn unfetch<L: Into<Loadable>>(
        &self,
        items: impl IntoIterator<Item = L>,
    ) -> Result<(), ModelError> {
        self.unload_items(items.into_iter().map(Into::into).collect(), LoadKind::Fetch)
            .await
    }

    /// Undoes every subscribe and fetch made since the last `unload`.
    pub async fn unload(&self) -> Result<(), ModelError> {
        let loads = std::mem::take(&mut self.state().loads.since_unload);
        for (item, how) in loads {
            self.unload_item(item, how).await?;
        }
        Ok(())
    }

    async fn load<L: Into<Loadable>>(
        &self,
        items: impl IntoIterator<Item = L>,
        how: LoadKind,
    ) -> Result<(), ModelError> {
        let mut work = Vec::new();
        for loadable in items.into_iter().map(Into::into) {
            let item = self.item(&loadable)?;
            self.state().loads.since_unload.push((item.clone(), how));
            work.push(self.load_one(item, how));
        }
        try_join_all(work).await?;
        Ok(())
    }

    async fn load_one(&self, item: Item, how: LoadKind) -> Result<(), ModelError> {
        match item {
            Item::Local => Ok(()),
            Item::Query {
                collection,
                expression,
            } => self.query(&collection, expression).load(how).await,
            Item::Doc(collection, id) => {
                let connection = self
                    .connection()
                    .ok_or_else(|| ModelError::NoConnection(collection.clone()))?
                    .clone();
                let counts = {
                    let mut state = self.state();
                    let counts = state
                        .loads
                        .docs
                        .entry((collection.clone(), id.clone()))
                        .or_default();
                    counts.bump(how, true);
                    *counts
                };
                let doc = connection.get(&collection, &id);
                let subscribe = how == LoadKind::Subscribe && !self.options().fetch_only;
                if subscribe {
                    // The client answers at once when already subscribed.
                    doc.subscribe().await?;
                } else if counts.subscribed + counts.fetched == 1 || doc.version().is_none() {
                    doc.fetch().await?;
                }
                Ok(())
            }
        }
    }

    async fn unload_items(&self, items: Vec<Loadable>, how: LoadKind) -> Result<(), ModelError> {
        for loadable in items {
            let item = self.item(&loadable)?;
            self.unload_item(item, how).await?;
        }
        Ok(())
    }

    async fn unload_item(&self, item: Item, how: LoadKind) -> Result<(), ModelError> {
        match item {
            Item::Local => {}
            Item::Query {
                collection,
                expression,
            } => self.query(&collection, expression).unload(how).await?,
            Item::Doc(collection, id) => {
                let key = (collection, id);
                let released = {
                    let mut state = self.state();
                    let Some(counts) = state.loads.docs.get_mut(&key) else {
                        return Ok(());
                    };
                    counts.bump(how, false);
                    *counts
                };
                if released.subscribed == 0 || !released.holds() {
                    self.release_doc_later(key).await;
                }
            }
        }
        Ok(())
    }

    /// Runs [`release_doc`](Self::release_doc) after the unload delay (at
    /// once without one), so a reload within the delay costs nothing.
    pub(crate) async fn release_doc_later(&self, key: (String, String)) {
        let delay = self.options().unload_delay;
        if delay.is_zero() {
            self.release_doc(key).await;
        } else {
            let model = self.clone();
            rt::spawn(async move {
                rt::sleep(delay).await;
                model.release_doc(key).await;
            });
        }
    }

    /// Unsubscribes a document nothing subscribes to any more, and unloads
    /// it if nothing holds it; if it has edits in flight, once they are
    /// done.
    pub(crate) async fn release_doc(&self, key: (String, String)) {
        if self.try_release_doc(&key).await {
            let model = self.clone();
            rt::spawn(async move {
                while {
                    model.when_nothing_pending().await;
                    model.try_release_doc(&key).await
                } {}
            });
        }
    }

    /// One try of [`release_doc`](Self::release_doc); whether to try again
    /// (edits were pending).
    async fn try_release_doc(&self, key: &(String, String)) -> bool {
        let key = key.clone();
        let Some(connection) = self.connection().cloned() else {
            return false;
        };
        let counts = self
            .state()
            .loads
            .docs
            .get(&key)
            .copied()
            .unwrap_or_default();
        let doc = connection.get(&key.0, &key.1);
        if counts.subscribed == 0
            && doc.subscribed()
            && let Err(e) = doc.unsubscribe().await
        {
            tracing::debug!("unsubscribe of {}.{} failed: {e}", key.0, key.1);
        }
        // Loaded again meanwhile?
        if self.state().loads.docs.get(&key).is_some_and(Counts::holds) || self.held_by_query(&key)
        {
            return false;
        }
        self.state().loads.docs.remove(&key);
        let previous = doc.data();
        if doc.forget() {
            let segments = vec![key.0, key.1];
            self.emit(vec![(segments, EventKind::Unload { previous })]);
            return false;
        }
        doc.has_pending()
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::backend::Backend;
    use crate::client::Connection;
    use crate::model::Model;

    /// What a model remembers to unload must not keep the model alive: a
    /// server makes a model per request, and a cycle here leaked every one.
    #[tokio::test]
    async fn a_dropped_model_is_freed_after_loading_queries_and_scoped_models() {
        let model = Model::new(Connection::new(Backend::new()));
        model
            .create("notes.n", json!({"v": 1}))
            .unwrap()
            .acked()
            .await
            .unwrap();
        let query = model.query("notes", json!({}));
        model.subscribe([&query]).await.unwrap();
        model.fetch([&model.at("notes.n")]).await.unwrap();
        let root = Arc::downgrade(&model.root);
        drop(query);
        model.close();
        drop(model);
        assert!(
            root.upgrade().is_none(),
            "the model outlived its last handle"
        );
    }
}

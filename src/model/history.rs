//! A document's history, through the model: its versions (when, by whom),
//! the document at any of them, and restoring one.
//!
//! Restoring submits the edit that turns the document as it is now into
//! the document as it was: an ordinary op, so it merges with what others
//! edit meanwhile, and it can be undone. A string changes by the smallest
//! text0 edit, as bound fields type, so what others type into a
//! `TextInput`/`TextArea` meanwhile is kept (ot-json0 does not transform
//! text0 against `si`/`sd` components of the same string: an app that
//! edits a string with `string_insert` while it is restored may see that
//! edit refused and rolled back). This module owns only that; the server
//! rebuilds past versions (see `peloton::backend::milestones`).
//!
//! ```
//! # #[cfg(feature = "ssr")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), peloton::model::ModelError> {
//! use peloton::backend::Backend;
//! use peloton::client::Connection;
//! use peloton::model::Model;
//!
//! let model = Model::new(Connection::new(Backend::new()));
//! model.create("notes.n1", serde_json::json!({"text": "first draft"}))?;
//! model.set("notes.n1.text", "second draft")?;
//! model.when_nothing_pending().await;
//!
//! let versions = model.versions("notes.n1", 1, None).await?;
//! assert_eq!(versions.len(), 2);
//! model.restore("notes.n1", 1).await?;
//! assert_eq!(model.get::<String>("notes.n1.text").as_deref(), Some("first draft"));
//! # Ok(()) }
//! # #[cfg(not(feature = "ssr"))]
//! # fn main() {}
//! ```

use super::mutators::Strings;
use super::{Model, ModelError, path};
use crate::protocol::{Snapshot, VersionInfo};

impl Model {
    /// The collection and id of the remote document at `path`.
    fn remote_doc(&self, path: &str) -> Result<(String, String), ModelError> {
        let segments = self.resolve_owned(self.absolute(path));
        match segments.as_slice() {
            [c, id] if !path::is_local(c) => Ok((c.clone(), id.clone())),
            _ => Err(ModelError::NotADocument(path::join(&segments))),
        }
    }

    /// The versions of the document at `path` (`collection.id`) from
    /// `from` (version 1 is its creation) up to `to` (exclusive; `None`:
    /// the latest), oldest first: when each was made, by which connection,
    /// and whether it created, edited or deleted the document. At most
    /// [`MAX_HISTORY_VERSIONS`](crate::protocol::MAX_HISTORY_VERSIONS)
    /// come back at once.
    pub async fn versions(
        &self,
        path: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<Vec<VersionInfo>, ModelError> {
        let (c, id) = self.remote_doc(path)?;
        let connection = self
            .connection()
            .ok_or(ModelError::NoConnection(c.clone()))?;
        Ok(connection.versions(&c, &id, from, to).await?)
    }

    /// The document at `path` as it was at `version` (its data is `None`
    /// where it did not exist). The model's copy is left as it is.
    pub async fn snapshot_at(&self, path: &str, version: u64) -> Result<Snapshot, ModelError> {
        let (c, id) = self.remote_doc(path)?;
        let connection = self
            .connection()
            .ok_or(ModelError::NoConnection(c.clone()))?;
        Ok(connection.fetch_snapshot(&c, &id, Some(version)).await?)
    }

    /// Makes the document at `path` what it was at `version`, by one undo
    /// step of ordinary edits (loading the document first if the model
    /// does not have it); resolves once the server has them. A version at
    /// which the document did not exist deletes it.
    pub async fn restore(&self, path: &str, version: u64) -> Result<(), ModelError> {
        let target = self.snapshot_at(path, version).await?;
        let (c, id) = self.remote_doc(path)?;
        let root = self.scope("");
        let doc = path::join(&[c, id]);
        if root.get_value(&doc).is_none() {
            root.fetch([doc.as_str()]).await?;
        }
        let write = self.undo_group(|| match target.data {
            Some(data) => root.diff_deep(&doc, data.into_value(), Strings::Edit),
            None => root.del(&doc).map(|w| w.map(|_| ())),
        })?;
        write.acked().await
    }
}

//! Writes through a ref list (Racer's `refList` writes): a list mutator on
//! a ref list's path writes the documents into its collection and their
//! ids into its ids list, and the list's events follow from those.
//!
//! Where this differs from Racer: the list's event is heard before the
//! ids' (an echo comes before its cause, for every ref alike; Racer emits
//! the ids' first for writes to the list), `set` of one item (`list.1`)
//! writes the document whose id is listed there (Racer lists the new
//! object's id instead), and there is no `deleteRemoved` option: removed
//! documents stay in their collection.
//!
//! This module only routes such writes to the mutators of the documents and
//! of the ids; what a ref list reads as, and its events, are `refs`'.

use serde_json::Value;

use super::Mutation;
use crate::model::path;
use crate::model::refs::RefList;
use crate::model::{Model, ModelError};

impl Model {
    /// The ref list whose path `path` (relative to this model) is.
    pub(super) fn ref_list_at(&self, path: &str) -> Option<RefList> {
        let segments = self.resolve_owned(self.absolute(path));
        self.state()
            .ref_lists
            .iter()
            .find(|l| l.from == segments)
            .cloned()
    }

    /// The model that writes a ref list's ids and documents: at the root,
    /// with this model's `pass` and `silent`.
    fn root_writer(&self) -> Model {
        self.scope("")
    }

    /// Writes `items` (documents, or ids of documents already there) into
    /// the list's collection; returns their ids, and the writes' acks.
    fn write_items(
        &self,
        list: &RefList,
        items: Vec<Value>,
    ) -> Result<Mutation<Vec<Value>>, ModelError> {
        let root = self.root_writer();
        let mut written = Mutation::done(Vec::new());
        let mut ids = Vec::with_capacity(items.len());
        for mut item in items {
            let id = match &mut item {
                // Without an id, a new one, written onto the document (as
                // Racer does), so the list reads it like any other.
                Value::Object(doc) => match doc.get("id").and_then(Value::as_str) {
                    Some(id) => id.to_owned(),
                    None => {
                        let id = self.id();
                        doc.insert("id".into(), Value::String(id.clone()));
                        id
                    }
                },
                Value::String(id) => {
                    ids.push(Value::String(id.clone()));
                    continue;
                }
                other => {
                    return Err(ModelError::RefList(format!(
                        "{} is a ref list of documents: it takes objects (or ids), not {other}",
                        path::join(&list.from)
                    )));
                }
            };
            let mut doc_path = list.to.clone();
            doc_path.push(id.clone());
            let current = self.read_resolved(&doc_path, |v| v.cloned());
            if current.as_ref() != Some(&item) {
                let doc = path::join(&doc_path);
                let write =
                    if current.is_none() && doc_path.len() == 2 && !path::is_local(&doc_path[0]) {
                        root.create(&doc, item)?
                    } else {
                        root.set(&doc, item)?.map(drop)
                    };
                written.merge_acks(write);
            }
            ids.push(Value::String(id));
        }
        written.value = ids;
        Ok(written)
    }

    /// `insert` (and `push`, `unshift`) on a ref list.
    pub(super) fn insert_into_ref_list(
        &self,
        list: &RefList,
        index: Option<usize>,
        items: Vec<Value>,
    ) -> Result<Mutation<usize>, ModelError> {
        let mut written = self.write_items(list, items)?;
        let ids = std::mem::take(&mut written.value);
        let ids_path = path::join(&list.ids);
        let root = self.root_writer();
        let len = written.merge_acks(root.insert_at(&ids_path, index, ids)?);
        Ok(written.map(|_| len))
    }

    /// `remove` (and `pop`, `shift`) on a ref list: the ids go, the
    /// documents stay in their collection. Returns the documents.
    pub(super) fn remove_from_ref_list(
        &self,
        list: &RefList,
        index: Option<usize>,
        how_many: usize,
    ) -> Result<Mutation<Vec<Value>>, ModelError> {
        let root = self.root_writer();
        let ids_path = path::join(&list.ids);
        let removed = root.remove_at(&ids_path, index, how_many)?;
        Ok(removed.map(|ids| self.docs_of(list, &ids)))
    }

    /// `move` on a ref list: the ids move. Returns the documents moved.
    pub(super) fn move_in_ref_list(
        &self,
        list: &RefList,
        from: usize,
        to: usize,
        how_many: usize,
    ) -> Result<Mutation<Vec<Value>>, ModelError> {
        let moved = self
            .root_writer()
            .move_items(&path::join(&list.ids), from, to, how_many)?;
        Ok(moved.map(|ids| self.docs_of(list, &ids)))
    }

    /// `set` of a whole ref list: its documents are written and its ids
    /// replaced. Returns the previous list.
    pub(super) fn set_ref_list(
        &self,
        list: &RefList,
        items: Vec<Value>,
    ) -> Result<Mutation<Option<Value>>, ModelError> {
        let previous = self.ref_list_value(&list.from);
        let mut written = self.write_items(list, items)?;
        let ids = std::mem::take(&mut written.value);
        let set = self.root_writer().set(&path::join(&list.ids), ids)?;
        written.merge_acks(set);
        Ok(written.map(|_| previous))
    }

    fn docs_of(&self, list: &RefList, ids: &[Value]) -> Vec<Value> {
        ids.iter()
            .map(|id| {
                let mut doc = list.to.clone();
                doc.push(id.as_str().map_or_else(|| id.to_string(), str::to_owned));
                self.read_resolved(&doc, |v| v.cloned().unwrap_or(Value::Null))
            })
            .collect()
    }
}

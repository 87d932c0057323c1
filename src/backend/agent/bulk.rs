//! Bulk requests: several documents of a collection at once, by ids or
//! from versions.
//!
//! This module owns bulk fetches and subscribes only; listening to, recording
//! and passing each document through middleware are `docs`'s helpers, and bulk
//! unsubscribes go through `docs` too.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::backend::StoredSnapshot;
use crate::backend::middleware::SnapshotKind;
use crate::protocol::{Bulk, BulkReply, BulkRequest, DocOp, ErrorObject};

use super::Agent;

/// What reading several documents sends.
pub(super) struct BulkRead {
    pub(super) reply: BulkReply,
    pub(super) ops: Vec<Arc<DocOp>>,
    /// The documents read (not rejected), with the version the client has
    /// next.
    pub(super) read: Vec<(String, u64)>,
}

impl Agent {
    /// A bulk fetch or subscribe. A subscribe listens first, then reads;
    /// documents whose read is rejected are not subscribed to, and a
    /// request that fails as a whole subscribes to none.
    pub(super) async fn bulk(
        &mut self,
        r: &BulkRequest,
        subscribe: bool,
    ) -> Result<BulkReply, ErrorObject> {
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
    pub(super) async fn read_bulk(
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
                    .shared
                    .db
                    .get_snapshot_bulk(c, &ids)
                    .await
                    .map_err(|e| e.to_client("bulk fetch"))?;
                let mut snapshots: Vec<StoredSnapshot> = ids
                    .iter()
                    .map(|id| {
                        map.remove(id)
                            .unwrap_or_else(|| StoredSnapshot::never_created(id.as_str()))
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
}

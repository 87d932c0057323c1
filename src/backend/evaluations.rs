//! Shared evaluations of live queries: one per distinct query per op,
//! whatever the number of subscribers. The first agent to need how an op
//! changed a query's results works it out; every other agent with the same
//! query gets the same answer, and only diffs it against its own results.
//!
//! This module owns the short-lived cache of those answers (keyed by
//! collection, query, document and version, a few hundred at most); how an
//! answer is worked out and applied is `live_query`'s. Queries a connection
//! reads document by document (see `access`) give different answers to
//! different agents and are never shared.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OnceCell;

use super::StoredSnapshot;
use crate::list_diff::{self, ArrayDiff};
use crate::protocol::ErrorObject;

/// How many answers are kept: enough for every agent of a burst of ops to
/// find its answer, little enough that memory stays small.
const CAPACITY: usize = 256;

/// Which answer: a query (by its expression) after one op.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct Key {
    pub collection: String,
    /// The query's expression, as JSON text.
    pub query: Arc<str>,
    pub doc: String,
    /// The version the op was applied at.
    pub version: u64,
}

/// How one op changed a query's results.
#[derive(Clone, Debug)]
pub(crate) enum Evaluation {
    /// The document alone decides: whether it matches now, and its
    /// snapshot (`None` once deleted).
    Doc {
        snapshot: Option<Arc<StoredSnapshot>>,
        matches: bool,
    },
    /// The query ran again: its ids, in order, and its extra, with the
    /// diffs to them that subscribers worked out.
    Results {
        ids: Arc<Vec<String>>,
        extra: Option<Value>,
        diffs: Arc<Diffs>,
        members: Members,
    },
}

/// The ids of a result list as a set, built when first asked and shared
/// by the subscribers that hold the same list: whether an op's document
/// is a result must not cost a scan of the list per subscriber.
pub(crate) type Members = Arc<std::sync::OnceLock<std::collections::HashSet<String>>>;

impl Evaluation {
    /// The query's results after an op.
    pub fn results(ids: Vec<String>, extra: Option<Value>) -> Self {
        Self::Results {
            ids: Arc::new(ids),
            extra,
            diffs: Arc::default(),
            members: Members::default(),
        }
    }
}

/// The diffs from earlier results to one evaluation's, by the earlier
/// results (the same `Arc`, when subscribers took it from the same
/// evaluation): subscribers that agree diff once between them.
#[derive(Debug, Default)]
pub(crate) struct Diffs(Mutex<Vec<(Arc<Vec<String>>, Steps)>>);

/// A diff's steps, shared.
pub(crate) type Steps = Arc<Vec<ArrayDiff<String>>>;

/// How many earlier results a `Diffs` remembers (subscribers that joined
/// at different moments may hold a few different ones).
const DIFFS_KEPT: usize = 4;

impl Diffs {
    /// The steps from `before` to `after`: another subscriber's, when it
    /// diffed from the same `before`.
    pub fn from(&self, before: &Arc<Vec<String>>, after: &[String]) -> Steps {
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, steps)) = known.iter().find(|(from, _)| Arc::ptr_eq(from, before)) {
            return steps.clone();
        }
        let steps = Arc::new(list_diff::diff_hashed(before, after));
        if known.len() >= DIFFS_KEPT {
            known.remove(0);
        }
        known.push((before.clone(), steps.clone()));
        steps
    }
}

/// The cache, one per backend.
#[derive(Default)]
pub(crate) struct Evaluations {
    cells: Mutex<Cells>,
}

#[derive(Default)]
struct Cells {
    by_key: HashMap<Key, Arc<OnceCell<Evaluation>>>,
    /// Keys in the order they came, to drop the oldest.
    order: VecDeque<Key>,
}

impl Evaluations {
    /// The answer for `key`: worked out by `run` if no other agent has (or
    /// is doing it; then this one waits for it). A failed `run` is not
    /// kept: the next agent tries again.
    pub async fn get_or_run<F>(
        &self,
        key: Key,
        run: impl FnOnce() -> F,
    ) -> Result<Evaluation, ErrorObject>
    where
        F: Future<Output = Result<Evaluation, ErrorObject>>,
    {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            let Cells { by_key, order } = &mut *cells;
            match by_key.get(&key) {
                Some(cell) => cell.clone(),
                None => {
                    let cell = Arc::new(OnceCell::new());
                    by_key.insert(key.clone(), cell.clone());
                    order.push_back(key);
                    while order.len() > CAPACITY {
                        if let Some(oldest) = order.pop_front() {
                            by_key.remove(&oldest);
                        }
                    }
                    cell
                }
            }
        };
        cell.get_or_try_init(run).await.cloned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn key(version: u64) -> Key {
        Key {
            collection: "items".into(),
            query: Arc::from("{}"),
            doc: "a".into(),
            version,
        }
    }

    #[tokio::test]
    async fn one_run_per_key_however_many_ask() {
        let evaluations = Evaluations::default();
        let runs = AtomicUsize::new(0);
        let run = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok(Evaluation::Doc {
                snapshot: None,
                matches: true,
            })
        };
        let asks = (0..100).map(|_| evaluations.get_or_run(key(1), run));
        for answer in futures::future::join_all(asks).await {
            assert!(matches!(answer, Ok(Evaluation::Doc { matches: true, .. })));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        evaluations.get_or_run(key(2), run).await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2, "another op, another run");
    }

    #[tokio::test]
    async fn the_oldest_answers_go_first() {
        let evaluations = Evaluations::default();
        let run = || async { Ok(Evaluation::results(Vec::new(), None)) };
        for v in 0..(CAPACITY as u64 + 10) {
            evaluations.get_or_run(key(v), run).await.unwrap();
        }
        let cells = evaluations.cells.lock().unwrap();
        assert_eq!(cells.by_key.len(), CAPACITY);
        assert!(!cells.by_key.contains_key(&key(0)));
    }
}

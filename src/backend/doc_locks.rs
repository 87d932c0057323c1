//! `DocLocks`: submits to one document queue up within a process, and the
//! snapshot each one committed is kept for the next.
//!
//! This module owns the locks and the cached snapshots only; the submit
//! pipeline (`submit`) decides when to take, use and refresh them.

use std::future::Future;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::Duration;

use super::StoredSnapshot;
use crate::protocol::{ErrorCode, ErrorObject};

/// Serializes submits to one document within the process, so concurrent
/// submits queue instead of racing (and retrying) on the commit, and keeps
/// with each lock the snapshot its last submit committed.
///
/// A fixed set of async mutexes, picked by hashing the document's
/// collection and id: memory stays bounded however many documents there
/// are (at most one cached snapshot per stripe), at the price of rare waits
/// between unrelated documents.
///
/// The lock is an optimization, never needed for correctness (commits are
/// version-checked), so it can never deadlock: a submit made from inside a
/// hook of a submit holding the same stripe (in the same task) goes on
/// without it, and a submit that waits longer than the database timeout
/// (a hook of another task waiting for this one) goes on without it too.
/// Either way the commit that comes second loses the version check and
/// retries. A hook that submits to the very document its submit is for is
/// refused (`ERR_NESTED_SUBMIT`): the outer commit would lose every time,
/// and run the hook again each time.
pub(crate) struct DocLocks {
    stripes: Box<[tokio::sync::Mutex<Stripe>]>,
    hasher: std::collections::hash_map::RandomState,
}

tokio::task_local! {
    /// The stripes the submits of this task hold, with their documents.
    static HELD: Vec<(usize, String, String)>;
}

/// What the submits of a task hold: a submit made from inside their hooks
/// must not wait for those locks (see [`DocLocks`]).
pub(crate) struct Held(Vec<(usize, String, String)>);

impl Held {
    /// Runs `future` (the rest of a submit, with its hooks) as holding
    /// these locks.
    pub(crate) async fn scope<F: Future>(self, future: F) -> F::Output {
        HELD.scope(self.0, future).await
    }
}

/// A document's lock, if it was had (see [`DocLocks`]).
pub(crate) struct DocLock<'a> {
    stripe: usize,
    guard: Option<tokio::sync::MutexGuard<'a, Stripe>>,
}

impl DocLock<'_> {
    /// What this task holds with this lock, for `collection.id`.
    pub(crate) fn held(&self, collection: &str, id: &str) -> Held {
        let mut held = HELD.try_with(Vec::clone).unwrap_or_default();
        held.push((self.stripe, collection.to_owned(), id.to_owned()));
        Held(held)
    }

    pub(crate) fn take_cached(
        &mut self,
        collection: &str,
        id: &str,
    ) -> (Option<StoredSnapshot>, Option<usize>) {
        match &mut self.guard {
            Some(stripe) => stripe.take_cached(collection, id),
            None => (None, None),
        }
    }

    pub(crate) fn cache(
        &mut self,
        collection: &str,
        id: &str,
        snapshot: StoredSnapshot,
        bytes: Option<usize>,
    ) {
        if let Some(stripe) = &mut self.guard {
            stripe.cache(collection, id, snapshot, bytes);
        }
    }
}

impl DocLocks {
    pub(crate) fn new(stripes: usize) -> Self {
        Self {
            stripes: (0..stripes.max(1))
                .map(|_| tokio::sync::Mutex::new(Stripe::default()))
                .collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The lock of a document, waiting for it at most `wait`.
    pub(crate) async fn lock(
        &self,
        collection: &str,
        id: &str,
        wait: Duration,
    ) -> Result<DocLock<'_>, ErrorObject> {
        let mut h = self.hasher.build_hasher();
        collection.hash(&mut h);
        id.hash(&mut h);
        let stripe = (h.finish() % self.stripes.len() as u64) as usize;
        let held = HELD.try_with(|held| {
            let doc = held.iter().any(|(_, c, d)| c == collection && d == id);
            (doc, held.iter().any(|(s, _, _)| *s == stripe))
        });
        match held.unwrap_or((false, false)) {
            (true, _) => {
                return Err(ErrorObject::new(
                    ErrorCode::NestedSubmit,
                    format!(
                        "A hook of a submit to {collection}.{id} submitted to {collection}.{id}: \
                         that submit could never commit; change the op in the hook instead"
                    ),
                ));
            }
            // A hook of this task's submit submits elsewhere: the lock it
            // would wait for is its own.
            (false, true) => {
                return Ok(DocLock {
                    stripe,
                    guard: None,
                });
            }
            (false, false) => {}
        }
        let guard = match tokio::time::timeout(wait, self.stripes[stripe].lock()).await {
            Ok(guard) => Some(guard),
            Err(_) => {
                tracing::warn!(
                    collection,
                    id,
                    "waited {wait:?} for a document's lock: going on without it"
                );
                None
            }
        };
        Ok(DocLock { stripe, guard })
    }
}

/// What a [`DocLocks`] stripe keeps: the snapshot the last submit through
/// it committed, and which document that was.
#[derive(Default)]
pub(crate) struct Stripe {
    last_commit: Option<LastCommit>,
}

/// A committed snapshot, with an estimate of its size (see `check_size`).
struct LastCommit {
    collection: String,
    id: String,
    snapshot: StoredSnapshot,
    bytes: Option<usize>,
}

impl Stripe {
    /// Takes the cached snapshot (and its size estimate) if it is this
    /// document's (another document's is dropped: this submit will keep
    /// its own).
    fn take_cached(
        &mut self,
        collection: &str,
        id: &str,
    ) -> (Option<StoredSnapshot>, Option<usize>) {
        match self.last_commit.take() {
            Some(cached) if cached.collection == collection && cached.id == id => {
                (Some(cached.snapshot), cached.bytes)
            }
            _ => (None, None),
        }
    }

    fn cache(
        &mut self,
        collection: &str,
        id: &str,
        snapshot: StoredSnapshot,
        bytes: Option<usize>,
    ) {
        self.last_commit = Some(LastCommit {
            collection: collection.to_owned(),
            id: id.to_owned(),
            snapshot,
            bytes,
        });
    }
}

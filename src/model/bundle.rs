//! Bundles: a model's state, serialized on the server into the page and
//! rebuilt in the browser into the same model.
//!
//! This module owns the bundle's format and the conversions both ways; it
//! copies load counts, refs and queries as they are, and leaves counting,
//! resolving and releasing them to `loading`, `refs` and `query`.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::loading::Counts;
use super::path;
use super::query::QueryEntry;
use super::refs::{Ref, RefList};
use super::{Model, ModelOptions};
use crate::client::DocReader;
use crate::client::{Connection, rt};
use crate::ot::json0;
use crate::protocol::SnapshotRef;
use crate::protocol::{DocData, Snapshot};

/// The id of the `<script type="application/json">` element that carries a
/// server-rendered page's bundle to the browser.
pub const BUNDLE_ELEMENT_ID: &str = "peloton-bundle";

/// How long [`Model::bundle`] waits for pending requests (Racer's 10 s).
pub const BUNDLE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A model's state as JSON: what [`Model::bundle`] gives and
/// [`Model::from_bundle`] takes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bundle {
    /// Remote documents: collection → id → snapshot (`{v, data}`).
    pub docs: BTreeMap<String, BTreeMap<String, Snapshot>>,
    /// Local collections: collection → id → data.
    pub local: BTreeMap<String, Map<String, Value>>,
    /// Documents' load counts: `[collection, id, subscribed, fetched]`.
    pub counts: Vec<(String, String, u32, u32)>,
    /// Loaded queries.
    pub queries: Vec<BundledQuery>,
    /// Refs: `[from, to, follows list items]`.
    pub refs: Vec<(String, String, bool)>,
    /// Ref lists: `[from, to, ids]`.
    pub ref_lists: Vec<(String, String, String)>,
}

/// A loaded query in a bundle.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BundledQuery {
    /// The collection.
    pub collection: String,
    /// The expression.
    pub expression: Value,
    /// The result ids, in order.
    pub ids: Vec<String>,
    /// The extra result.
    pub extra: Option<Value>,
    /// How often it was subscribed.
    pub subscribed: u32,
    /// How often it was fetched.
    pub fetched: u32,
}

impl Model {
    /// The model's state, once nothing is pending on the connection (so
    /// the bundle holds the server's versions), or as it is after
    /// [`ModelOptions::bundle_wait`](super::ModelOptions::bundle_wait) if
    /// something still is (then with a warning: the browser catches up from
    /// the versions it gets).
    pub async fn bundle(&self) -> Bundle {
        self.wait_to_bundle().await;
        self.bundle_now()
    }

    /// [`Model::bundle`] as JSON, written straight from the documents the
    /// connection holds, without copying them first: what a server writes
    /// into a page.
    pub async fn bundle_json(&self) -> String {
        let mut out = Vec::with_capacity(16 * 1024);
        match self.write_bundle_json(&mut out).await {
            // serde_json writes UTF-8.
            Ok(()) => String::from_utf8(out).unwrap_or_default(),
            Err(e) => {
                tracing::error!("serializing a bundle failed: {e}");
                "{}".to_owned()
            }
        }
    }

    /// Writes [`Model::bundle_json`] to `out` (a page's buffer, through
    /// whatever escaping the page needs), with no copy in between.
    pub(crate) async fn write_bundle_json<W: std::io::Write>(
        &self,
        mut out: W,
    ) -> Result<(), serde_json::Error> {
        self.wait_to_bundle().await;
        let bundle = self.bundle_parts();
        let remote = remote_docs(&bundle);
        let mut write = |docs: &DocsJson<'_>| -> Result<(), serde_json::Error> {
            let mut serializer = serde_json::Serializer::new(&mut out);
            let mut map = (&mut serializer).serialize_map(None)?;
            map.serialize_entry("docs", docs)?;
            map.serialize_entry("local", &bundle.local)?;
            map.serialize_entry("counts", &bundle.counts)?;
            map.serialize_entry("queries", &bundle.queries)?;
            map.serialize_entry("refs", &bundle.refs)?;
            map.serialize_entry("ref_lists", &bundle.ref_lists)?;
            map.end()
        };
        match self.connection() {
            Some(connection) => connection.read_docs(|reader| {
                write(&DocsJson {
                    reader: Some(&reader),
                    remote: &remote,
                })
            }),
            None => write(&DocsJson {
                reader: None,
                remote: &remote,
            }),
        }
    }

    /// Waits as [`Model::bundle`] does.
    async fn wait_to_bundle(&self) {
        let wait = self.options().bundle_wait;
        if !self.when_nothing_pending_within(wait).await {
            tracing::warn!(
                "bundling a model with requests still pending after {wait:?}; \
                 the page may show data older than the server's"
            );
        }
    }

    /// The model's state as it is now.
    pub fn bundle_now(&self) -> Bundle {
        let mut bundle = self.bundle_parts();
        if let Some(connection) = self.connection() {
            let mut docs: BTreeMap<String, BTreeMap<String, Snapshot>> = BTreeMap::new();
            connection.read_docs(|reader| {
                for (collection, id) in remote_docs(&bundle) {
                    let Some((v, exists, data)) = reader.get(collection, id) else {
                        continue;
                    };
                    let snapshot = Snapshot {
                        v,
                        doc_type: exists.then(|| json0::URI.to_owned()),
                        data: data.cloned(),
                    };
                    (docs.entry(collection.to_owned()).or_default())
                        .insert(id.to_owned(), snapshot);
                }
            });
            bundle.docs = docs;
        }
        bundle
    }

    /// Everything of the bundle but the documents' snapshots (which go in:
    /// see [`remote_docs`]).
    fn bundle_parts(&self) -> Bundle {
        let state = self.state();
        let mut bundle = Bundle::default();
        for (collection, docs) in &state.local {
            if !collection.starts_with('$') {
                bundle.local.insert(collection.clone(), docs.clone());
            }
        }
        for ((collection, id), counts) in &state.loads.docs {
            bundle.counts.push((
                collection.clone(),
                id.clone(),
                counts.subscribed,
                counts.fetched,
            ));
        }
        for (key, entry) in state.queries.iter().filter(|(_, q)| q.is_loaded()) {
            let results = state.local.get("$queries").and_then(|q| q.get(key));
            let ids: Vec<String> = match results.and_then(|r| r.get("ids")) {
                Some(Value::Array(ids)) => (ids.iter())
                    .filter_map(|id| id.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            bundle.queries.push(BundledQuery {
                collection: entry.collection.clone(),
                expression: entry.expression.clone(),
                ids,
                extra: results
                    .and_then(|r| r.get("extra"))
                    .cloned()
                    .filter(|e| !e.is_null()),
                subscribed: entry.subscribed,
                fetched: entry.fetched,
            });
        }
        // In a stable order, so equal models give equal bundles.
        bundle.counts.sort();
        bundle
            .queries
            .sort_by_cached_key(|q| (q.collection.clone(), q.expression.to_string()));
        bundle.refs = state
            .refs
            .iter()
            .map(|r| (path::join(&r.from), path::join(&r.to), r.follow))
            .collect();
        bundle.ref_lists = state
            .ref_lists
            .iter()
            .map(|r| (path::join(&r.from), path::join(&r.to), path::join(&r.ids)))
            .collect();
        bundle
    }

    /// Rebuilds a model from a bundle: the same data at the same paths.
    /// With a connection (and not fetch-only), what was subscribed is
    /// subscribed again from the bundled versions, in the background.
    pub fn from_bundle(
        connection: Option<Connection>,
        bundle: Bundle,
        options: ModelOptions,
    ) -> Model {
        let live = connection.is_some() && !options.fetch_only;
        let model = Model::build(connection, options);
        if let Some(connection) = model.connection() {
            for (collection, docs) in &bundle.docs {
                for (id, snapshot) in docs {
                    connection.get(collection, id).ingest(snapshot.clone());
                }
            }
        }
        let mut to_subscribe = Vec::new();
        {
            let mut state = model.state();
            state.local = bundle.local.into_iter().collect();
            for (collection, id, subscribed, fetched) in bundle.counts {
                if subscribed > 0 {
                    to_subscribe.push((collection.clone(), id.clone()));
                }
                state.loads.docs.insert(
                    (collection, id),
                    Counts {
                        subscribed,
                        fetched,
                        created: false,
                    },
                );
            }
            state.refs = bundle
                .refs
                .iter()
                .map(|(from, to, follow)| Ref {
                    from: path::split(from),
                    to: path::split(to),
                    follow: *follow,
                })
                .collect();
            state.ref_lists = bundle
                .ref_lists
                .iter()
                .map(|(from, to, ids)| RefList {
                    from: path::split(from),
                    to: path::split(to),
                    ids: path::split(ids),
                })
                .collect();
            let queries = state.local.entry("$queries".into()).or_default();
            let mut entries = Vec::new();
            for query in &bundle.queries {
                let key = super::query::key(&query.collection, &query.expression);
                queries.insert(
                    key.clone(),
                    serde_json::json!({"ids": query.ids, "extra": query.extra}),
                );
                entries.push((key, query));
            }
            for (key, query) in entries {
                let client = match model.connection() {
                    Some(connection) if live && query.subscribed > 0 => {
                        let docs: Vec<(String, Option<u64>)> = query
                            .ids
                            .iter()
                            .map(|id| (id.clone(), connection.get(&query.collection, id).version()))
                            .collect();
                        Some(connection.resume_query(
                            &query.collection,
                            query.expression.clone(),
                            docs,
                        ))
                    }
                    _ => None,
                };
                state.queries.insert(
                    key,
                    QueryEntry {
                        collection: query.collection.clone(),
                        expression: query.expression.clone(),
                        subscribed: query.subscribed,
                        fetched: query.fetched,
                        live: client.is_some(),
                        client,
                    },
                );
            }
        }
        if live && let Some(connection) = model.connection() {
            for (collection, id) in to_subscribe {
                let doc = connection.get(&collection, &id);
                rt::spawn(async move {
                    if let Err(e) = doc.subscribe().await {
                        tracing::warn!(
                            "subscribing to {collection}.{id} from the bundle failed: {e}"
                        );
                    }
                });
            }
        }
        model
    }
}

/// The documents whose snapshots go into `bundle`: those it counts as
/// loaded and its queries' results; each once, grouped by collection.
fn remote_docs(bundle: &Bundle) -> Vec<(&str, &str)> {
    let counted = (bundle.counts.iter()).map(|(c, id, _, _)| (c.as_str(), id.as_str()));
    let results = (bundle.queries.iter())
        .flat_map(|q| q.ids.iter().map(|id| (q.collection.as_str(), id.as_str())));
    let mut remote: Vec<(&str, &str)> = counted.chain(results).collect();
    // Once each: by a set, not by sorting the whole list (a page's 100
    // results cost more to sort than the rest of the bundle's bookkeeping).
    // One query's results alone are each once already.
    let with_results = bundle.queries.iter().filter(|q| !q.ids.is_empty()).count();
    if !bundle.counts.is_empty() || with_results > 1 {
        let mut seen = std::collections::HashSet::with_capacity_and_hasher(
            remote.len(),
            foldhash::fast::RandomState::default(),
        );
        remote.retain(|doc| seen.insert(*doc));
    }
    // Grouped by collection; stable, so each keeps its documents' order.
    remote.sort_by(|a, b| a.0.cmp(b.0));
    remote
}

/// A bundle's `docs` (collection → id → snapshot), serialized from the
/// connection's documents as they are.
struct DocsJson<'a> {
    reader: Option<&'a DocReader<'a>>,
    /// Each once, grouped by collection.
    remote: &'a [(&'a str, &'a str)],
}

impl Serialize for DocsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let Some(reader) = self.reader else {
            return map.end();
        };
        let loaded: Vec<_> = self
            .remote
            .iter()
            .filter_map(|&(c, id)| reader.get(c, id).map(|parts| (c, id, parts)))
            .collect();
        for group in loaded.chunk_by(|a, b| a.0 == b.0) {
            map.serialize_entry(group[0].0, &CollectionJson(group))?;
        }
        map.end()
    }
}

/// A document going into a bundle: collection, id, and its parts as the
/// connection holds them (version, whether it exists, data).
type LoadedDoc<'a> = (&'a str, &'a str, (u64, bool, Option<&'a DocData>));

/// One collection of a bundle's `docs`.
struct CollectionJson<'a, 'b>(&'b [LoadedDoc<'a>]);

impl Serialize for CollectionJson<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (_, id, (v, exists, data)) in self.0 {
            let snapshot = SnapshotRef {
                v: *v,
                doc_type: exists.then_some(json0::URI),
                data: *data,
            };
            map.serialize_entry(id, &snapshot)?;
        }
        map.end()
    }
}

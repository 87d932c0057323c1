//! The model's part of a server render, in process and without Leptos:
//! what the demo's home page pays beyond its markup (BENCHMARKS.md,
//! "Server rendering"). One iteration is one request's model over an
//! in-process connection, as `peloton::axum::ModelLayer` makes it:
//!
//! - `load`: connect, load a 100-document query (fetched, as a page's
//!   model does), close;
//! - `load_read`: the same, then read the 100 documents as values
//!   (`ModelQuery::docs`), as the home page's rows do;
//! - `load_read_bundle`: the same, then write the page's bundle.
//!
//! The documents are those `loadgen --seed 100` makes. The query is
//! remembered by the in-memory database after the first iteration, as it
//! is between page requests.
//!
//!     cargo bench --features ssr --bench page_model

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use peloton::backend::Backend;
use peloton::client::Connection;
use peloton::model::{Model, ModelOptions};
use serde::Deserialize;
use serde_json::{Value, json};

const LISTS: usize = 100;

/// What the home page reads of a list.
#[derive(Deserialize)]
#[allow(dead_code)] // read by serde, kept to be dropped
struct Row {
    id: String,
    title: String,
    items: Vec<Item>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Item {
    #[serde(default)]
    done: bool,
}

/// The lists `loadgen --seed 100` creates.
async fn seed(backend: &Backend) {
    let model = Model::new(Connection::new(backend.clone()));
    for i in 0..LISTS {
        let items: Vec<Value> = (0..5)
            .map(
                |k| json!({"id": format!("i{k}"), "text": format!("item {k}"), "done": k % 2 == 0}),
            )
            .collect();
        let list = json!({"title": format!("List {i}"), "createdAt": i, "items": items});
        let added = model
            .create(&format!("lists.seed{i}"), list)
            .expect("create");
        added.acked().await.expect("acked");
    }
    model.close();
}

/// One request's model, as far as `upto` goes.
async fn page(backend: &Backend, upto: &str) -> usize {
    let mut options = ModelOptions::default();
    options.fetch_only = true;
    let model = Model::with_options(Connection::new(backend.clone()), options);
    let lists = model.query("lists", json!({"$sort": {"createdAt": 1}}));
    lists.subscribe().await.expect("query");
    let mut size = lists.ids().len();
    if upto != "load" {
        size = lists.docs::<Row>().len();
    }
    if upto == "load_read_bundle" {
        size += model.bundle_json().await.len();
    }
    model.close();
    size
}

fn page_model(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let backend = Backend::new();
    runtime.block_on(seed(&backend));
    let mut group = c.benchmark_group("page_model");
    group.measurement_time(Duration::from_secs(5));
    for upto in ["load", "load_read", "load_read_bundle"] {
        group.bench_function(upto, |b| {
            b.iter(|| black_box(runtime.block_on(page(&backend, upto))))
        });
    }
    group.finish();
}

criterion::criterion_group!(benches, page_model);
criterion::criterion_main!(benches);

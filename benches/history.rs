//! A snapshot at a random version of a document with 100,000 ops: with
//! milestones (every 1,000 versions, the default) and without (replaying
//! from version 0), through an in-process connection.
//!
//! The document is a note being typed into and trimmed (its text stays
//! about 1,000 characters) with a counter bumped now and then.
//!
//!     cargo bench --features ssr --bench history

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use peloton::backend::Backend;
use peloton::client::Connection;
use peloton::ot::json0::{Component, Op};
use peloton::protocol::{CreateData, OpKind};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

const OPS: u64 = 100_000;

/// Makes `notes.n` in `backend`, at version `OPS + 1`.
async fn document(backend: &Backend) {
    let mut text: String = "lorem ipsum ".repeat(84);
    let create = OpKind::Create(CreateData {
        doc_type: "http://sharejs.org/types/JSONv0".into(),
        data: Some(json!({"text": text, "edits": 0})),
    });
    backend.submit("notes", "n", create).await.expect("create");
    let mut rng = SmallRng::seed_from_u64(7);
    for i in 0..OPS {
        // ASCII only: byte offsets are UTF-16 offsets.
        let component = if i % 10 == 9 {
            Component::number_add(["edits"], 1.0)
        } else if i % 2 == 0 {
            let at = rng.random_range(0..=text.len());
            text.insert(at, 'x');
            Component::string_insert(["text"], at, "x")
        } else {
            let at = rng.random_range(0..text.len());
            let removed = text.remove(at).to_string();
            Component::string_delete(["text"], at, &removed)
        };
        let op = OpKind::Edit(Op::from(component));
        backend.submit("notes", "n", op).await.expect("op");
    }
}

fn snapshots(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("history");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for (name, backend) in [
        ("milestones_every_1000", Backend::new()),
        (
            "no_milestones",
            Backend::builder().without_milestones().build(),
        ),
    ] {
        runtime.block_on(document(&backend));
        let connection = runtime.block_on(async { Connection::new(backend.clone()) });
        let mut rng = SmallRng::seed_from_u64(11);
        group.bench_function(BenchmarkId::new("snapshot_at_random_version", name), |b| {
            b.iter(|| {
                let v = rng.random_range(1..=OPS);
                let snapshot = runtime
                    .block_on(connection.fetch_snapshot("notes", "n", Some(v)))
                    .expect("snapshot");
                black_box(snapshot)
            })
        });
    }
    group.finish();
}

criterion::criterion_group!(benches, snapshots);
criterion::criterion_main!(benches);

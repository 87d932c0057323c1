//! json0 apply and transform over a realistic editing trace.
//!
//! The trace is generated deterministically: two users edit a todo list and
//! a note at the same time. Most edits are typing and backspacing in the note
//! (legacy `si`/`sd`, as Racer sends them) and in todo titles (text0 subtype
//! ops); the rest add, remove, move and tick off todos and bump counters. At
//! each step both users make an op against the same document; the server
//! applies A's op, then B's transformed past it.
//!
//! - `apply_trace`: the whole sequential trace applied to a fresh copy of
//!   the initial document, as peloton applies ops: through a
//!   `json0::Document` (what `DocData` holds on the server and the
//!   client), which finds each string offset from where the last edits
//!   were.
//! - `apply_trace_unindexed`: the same with `json0::apply` on a bare
//!   `Value`, every offset counted from its string's start.
//! - `transform`: every concurrent pair transformed both ways (B past A on
//!   the right, A past B on the left).
//!
//! The trace is written to `target/json0-trace.json` so that
//! `interop/ot-json0/bench.js` runs the very same ops through ot-json0.
//!
//!     cargo bench --bench json0
//!     node interop/ot-json0/bench.js

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use peloton::ot::Side;
use peloton::ot::json0::{self, Component, Cursor, Op, Path, PathSegment};
use peloton::ot::text0;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Concurrent steps in the trace; each gives two ops.
const STEPS: usize = 2_500;
const SEED: u64 = 20_240_601;

const WORDS: &[&str] = &[
    "milk", "eggs", "call", "mum", "about", "the", "trip", "to", "Zürich", "café", "日本", "✓",
    "🚲", "plan", "and",
];

struct Trace {
    doc: Value,
    /// The sequential history: A's op, then B's transformed, per step.
    ops: Vec<Op>,
    /// The concurrent pairs (A's op, B's op), both made against one state.
    pairs: Vec<(Op, Op)>,
    end: Value,
}

/// A simulated user: where their caret is in the note.
struct User {
    caret: Cursor,
}

struct Sim {
    rng: SmallRng,
    next_id: u64,
}

impl Sim {
    fn word(&mut self) -> &'static str {
        WORDS[self.rng.random_range(0..WORDS.len())]
    }

    fn initial_doc(&mut self) -> Value {
        let todos: Vec<Value> = (0..20).map(|_| self.todo()).collect();
        let note: Vec<&str> = (0..400).map(|_| self.word()).collect();
        json!({"title": "Week plan", "todos": todos, "note": note.join(" "), "edits": 0})
    }

    fn todo(&mut self) -> Value {
        self.next_id += 1;
        let text = format!("{} {}", self.word(), self.word());
        json!({"id": self.next_id, "text": text, "done": false, "priority": self.rng.random_range(1..4)})
    }

    /// One user's next op against `doc`.
    fn op(&mut self, doc: &Value, user: &mut User) -> Op {
        let note = doc["note"].as_str().unwrap_or_default();
        let todos = doc["todos"].as_array().map_or(0, Vec::len);
        let roll = self.rng.random_range(0..100);
        let note_path = || vec![PathSegment::from("note")];
        let caret = snap(note, user.caret.offset);
        user.caret.offset = caret;
        match roll {
            // Typing: a character or a word at the caret.
            0..=59 => {
                let text = if self.rng.random_bool(0.8) {
                    let w = self.word();
                    w.chars().take(1).collect::<String>()
                } else {
                    format!(" {}", self.word())
                };
                user.caret.offset += utf16_len(&text);
                Op::from(Component::string_insert(note_path(), caret, text))
            }
            // Backspace.
            60..=71 if caret > 0 => {
                let before = last_char_before(note, caret);
                user.caret.offset -= utf16_len(&before);
                Op::from(Component::string_delete(
                    note_path(),
                    user.caret.offset,
                    before,
                ))
            }
            // Jump the caret somewhere else and type there.
            72..=74 => {
                user.caret.offset = snap(note, self.rng.random_range(0..=utf16_len(note)));
                Op::from(Component::string_insert(
                    note_path(),
                    user.caret.offset,
                    self.word(),
                ))
            }
            // Edit a todo's text, as a text0 subtype op.
            75..=84 if todos > 0 => {
                let i = self.rng.random_range(0..todos);
                let text = doc["todos"][i]["text"].as_str().unwrap_or_default();
                let path: Path = vec!["todos".into(), i.into(), "text".into()];
                let len = utf16_len(text);
                if self.rng.random_bool(0.3) && len > 0 {
                    let last = last_char_before(text, len);
                    Op::from(Component::text0(
                        path,
                        vec![text0::Component::delete(len - utf16_len(&last), last)],
                    ))
                } else {
                    Op::from(Component::text0(
                        path,
                        vec![text0::Component::insert(len, format!(" {}", self.word()))],
                    ))
                }
            }
            // Tick a todo off (or back on).
            85..=88 if todos > 0 => {
                let i = self.rng.random_range(0..todos);
                let done = doc["todos"][i]["done"].clone();
                let flipped = Value::Bool(done != Value::Bool(true));
                Op::from(Component::object_replace(
                    vec![PathSegment::from("todos"), i.into(), "done".into()],
                    done,
                    flipped,
                ))
            }
            // Add a todo.
            89..=91 => {
                let i = self.rng.random_range(0..=todos);
                Op::from(Component::list_insert(["todos"], i, self.todo()))
            }
            // Remove one.
            92..=93 if todos > 1 => {
                let i = self.rng.random_range(0..todos);
                Op::from(Component::list_delete(
                    ["todos"],
                    i,
                    doc["todos"][i].clone(),
                ))
            }
            // Reorder.
            94..=95 if todos > 1 => {
                let from = self.rng.random_range(0..todos);
                Op::from(Component::list_move(
                    ["todos"],
                    from,
                    self.rng.random_range(0..todos),
                ))
            }
            // Bump a priority and the edit counter.
            _ if todos > 0 => {
                let i = self.rng.random_range(0..todos);
                Op::new(vec![
                    Component::number_add(
                        vec![PathSegment::from("todos"), i.into(), "priority".into()],
                        1.0,
                    ),
                    Component::number_add(["edits"], 1.0),
                ])
            }
            _ => Op::from(Component::number_add(["edits"], 1.0)),
        }
    }
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The nearest code point boundary at or before UTF-16 offset `at`.
fn snap(s: &str, at: usize) -> usize {
    let mut units = 0;
    for ch in s.chars() {
        if units + ch.len_utf16() > at {
            break;
        }
        units += ch.len_utf16();
    }
    units
}

/// The character ending at UTF-16 offset `at` (a code point boundary > 0).
fn last_char_before(s: &str, at: usize) -> String {
    let mut units = 0;
    for ch in s.chars() {
        units += ch.len_utf16();
        if units == at {
            return ch.to_string();
        }
    }
    String::new()
}

impl Trace {
    fn generate() -> Trace {
        let mut sim = Sim {
            rng: SmallRng::seed_from_u64(SEED),
            next_id: 0,
        };
        let doc = sim.initial_doc();
        let caret = |offset| User {
            caret: Cursor {
                path: vec![PathSegment::from("note")],
                offset,
            },
        };
        let (mut alice, mut bob) = (caret(0), caret(1000));
        let mut cur = doc.clone();
        let (mut ops, mut pairs) = (Vec::new(), Vec::new());
        for _ in 0..STEPS {
            let a = sim.op(&cur, &mut alice);
            let b = sim.op(&cur, &mut bob);
            let b2 = json0::transform(&b, &a, Side::Right).expect("trace ops transform");
            json0::apply(&mut cur, &a).expect("trace ops apply");
            json0::apply(&mut cur, &b2).expect("trace ops apply");
            // Each caret moves past the other user's op.
            if let Some(c) = json0::transform_cursor(&alice.caret, &b2, Side::Left) {
                alice.caret = c;
            }
            let a_for_bob = json0::transform(&a, &b, Side::Left).expect("trace ops transform");
            if let Some(c) = json0::transform_cursor(&bob.caret, &a_for_bob, Side::Left) {
                bob.caret = c;
            }
            ops.extend([a.clone(), b2]);
            pairs.push((a, b));
        }
        Trace {
            doc,
            ops,
            pairs,
            end: cur,
        }
    }

    fn write(&self) -> PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        let path = target.join("json0-trace.json");
        let pairs: Vec<[&Op; 2]> = self.pairs.iter().map(|(a, b)| [a, b]).collect();
        let body = json!({"seed": SEED, "doc": self.doc, "ops": self.ops, "pairs": pairs, "end": self.end});
        std::fs::create_dir_all(&target).expect("create target dir");
        std::fs::write(&path, body.to_string()).expect("write the trace");
        path
    }
}

fn bench_apply(c: &mut Criterion, trace: &Trace) {
    let mut group = c.benchmark_group("json0");
    group.throughput(Throughput::Elements(trace.ops.len() as u64));
    group.bench_function("apply_trace", |b| {
        b.iter_batched(
            || json0::Document::new(trace.doc.clone()),
            |mut doc| {
                for op in &trace.ops {
                    doc.apply(op).expect("trace applies");
                }
                doc
            },
            BatchSize::SmallInput,
        )
    });
    // Each op applied to a bare `Value`, every offset counted from its
    // string's start.
    group.bench_function("apply_trace_unindexed", |b| {
        b.iter_batched(
            || trace.doc.clone(),
            |mut doc| {
                for op in &trace.ops {
                    json0::apply(&mut doc, op).expect("trace applies");
                }
                doc
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn bench_transform(c: &mut Criterion, trace: &Trace) {
    let mut group = c.benchmark_group("json0");
    group.throughput(Throughput::Elements(2 * trace.pairs.len() as u64));
    group.bench_function("transform_trace", |b| {
        b.iter(|| {
            for (a, bo) in &trace.pairs {
                black_box(json0::transform(black_box(bo), a, Side::Right).expect("transforms"));
                black_box(json0::transform(black_box(a), bo, Side::Left).expect("transforms"));
            }
        })
    });
    group.finish();
}

fn main() {
    let trace = Trace::generate();
    let mut doc = json0::Document::new(trace.doc.clone());
    for op in &trace.ops {
        doc.apply(op).expect("trace applies");
    }
    assert_eq!(doc.value(), &trace.end, "a Document ends where apply does");
    let path = trace.write();
    let strings = trace.ops.iter().flatten().filter(|c| {
        matches!(
            c.action,
            json0::Action::StringInsert(_)
                | json0::Action::StringDelete(_)
                | json0::Action::Text0(_)
        )
    });
    println!(
        "json0 trace: {} ops ({} string edits), {} concurrent pairs, written to {}",
        trace.ops.len(),
        strings.count(),
        trace.pairs.len(),
        path.display()
    );
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    bench_apply(&mut c, &trace);
    bench_transform(&mut c, &trace);
    c.final_summary();
}

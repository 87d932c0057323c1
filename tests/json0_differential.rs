//! Differential test: peloton's json0 against npm `ot-json0@1.1.0` under Node.
//!
//! `interop/ot-json0/corpus.js` generates seeded random cases (a document,
//! an op A whose first component is of each kind in turn, a concurrent op B,
//! an op C made after A) and records ot-json0's results. This test replays
//! them and asserts that every op we produce serializes to the same JSON, and
//! every document we produce is the same value.
//!
//! Rules of the comparison:
//! - transform, compose, invert, normalize: same result, or both an error.
//! - apply: same document, or both an error.
//! - Wherever ot-json0 succeeds we must succeed with the same result. That
//!   includes the quirk: ot-json0 does not transform a legacy `si`/`sd`
//!   against a text0 component on the same string (nor the other way
//!   round), so transformed ops may no longer fit the string; ot-json0
//!   then appends an insert past the end, and so do we. The one named
//!   exception, the only refusal allowed where ot-json0 succeeds:
//!   - **split surrogate pairs**: a result, or a string on the way to it,
//!     that holds half of a UTF-16 surrogate pair. JavaScript strings can,
//!     Rust's cannot; we refuse those.
//! - Not compared, on purpose: ops that do not fit their document. The
//!   corpus makes valid ops only, because there the two differ by design:
//!   ot-json0 splices at negative or past-the-end list indexes and coerces
//!   types, where our apply refuses the op with a typed error (see
//!   `peloton::ot::json0::apply`); tests/json0_apply.rs covers those.
//! - Also not compared: the server's limits (document depth and size, see
//!   `peloton::backend::Limits`), which are the backend's, not json0's.
//!
//! Needs `node` and `npm` (it runs `npm ci` in `interop/ot-json0` if
//! `node_modules` is missing) and fails if they are absent, unless
//! `PELOTON_SKIP_NODE=1`. `PELOTON_JSON0_SEED` and `PELOTON_JSON0_PER_KIND`
//! change the corpus.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use peloton::ot::Side;
use peloton::ot::json0::{self, Op};
use serde_json::Value;

const DEFAULT_SEED: u64 = 1;
const DEFAULT_PER_KIND: usize = 1_000;

#[test]
fn json0_matches_ot_json0_1_1_0() {
    if std::env::var("PELOTON_SKIP_NODE").as_deref() == Ok("1") {
        eprintln!("PELOTON_SKIP_NODE=1: skipping the differential test against ot-json0");
        return;
    }
    let seed = env_or("PELOTON_JSON0_SEED", DEFAULT_SEED);
    let per_kind = env_or("PELOTON_JSON0_PER_KIND", DEFAULT_PER_KIND);
    let corpus = produce_corpus(seed, per_kind);

    let cases = corpus["cases"].as_array().expect("corpus has no cases");
    let mut tally = Tally::default();
    for (i, case) in cases.iter().enumerate() {
        replay(i, case, &mut tally);
    }

    println!(
        "json0 differential test against {} (seed {seed}):",
        corpus["generator"]
    );
    println!("  {:<6} {:>6}", "kind", "cases");
    for (kind, n) in &tally.kinds {
        println!("  {kind:<6} {n:>6}");
    }
    println!(
        "  {} cases, {} results compared: {} equal, {} both errors; refused by us where they \
         succeed, by name: {} split surrogate pairs on the way, {} split in their result",
        cases.len(),
        tally.compared,
        tally.equal,
        tally.both_err,
        tally.split_surrogates,
        tally.unrepresentable
    );
    if !tally.failures.is_empty() {
        for f in tally.failures.iter().take(20) {
            eprintln!("{f}\n");
        }
        panic!(
            "{} results differ from ot-json0 (first {} shown above; reproduce with PELOTON_JSON0_SEED={seed})",
            tally.failures.len(),
            tally.failures.len().min(20)
        );
    }
    assert!(cases.len() >= 12 * per_kind.min(100), "corpus is too small");
}

#[derive(Default)]
struct Tally {
    kinds: BTreeMap<String, usize>,
    compared: usize,
    equal: usize,
    both_err: usize,
    split_surrogates: usize,
    unrepresentable: usize,
    failures: Vec<String>,
}

fn replay(index: usize, case: &Value, tally: &mut Tally) {
    let kind = case["kind"].as_str().unwrap_or("?").to_owned();
    *tally.kinds.entry(kind.clone()).or_default() += 1;
    let doc = case["doc"].clone();
    let (a, b, c) = (op(&case["a"]), op(&case["b"]), op(&case["c"]));
    let results = &case["results"];

    let apply = |doc: &Value, op: &Op| -> Result<Value, String> {
        let mut doc = doc.clone();
        json0::apply(&mut doc, op)
            .map(|()| doc)
            .map_err(|e| e.to_string())
    };
    let transform = |x: &Op, y: &Op, side| json0::transform(x, y, side).map_err(|e| e.to_string());
    let then = |doc: Result<Value, String>, op: &Result<Op, String>| match (doc, op) {
        (Ok(doc), Ok(op)) => apply(&doc, op),
        (Err(e), _) => Err(e),
        (_, Err(e)) => Err(e.clone()),
    };

    let apply_a = apply(&doc, &a);
    let apply_b = apply(&doc, &b);
    let ab_left = transform(&a, &b, Side::Left);
    let ba_right = transform(&b, &a, Side::Right);
    let compose_ac = json0::compose(&a, &c).map_err(|e| e.to_string());
    let invert_a = json0::invert(&a).map_err(|e| e.to_string());
    let a_then_c = Op(a.0.iter().chain(&c.0).cloned().collect());

    let ops = [
        ("transform_ab_left", ab_left.clone()),
        ("transform_ab_right", transform(&a, &b, Side::Right)),
        ("transform_ba_left", transform(&b, &a, Side::Left)),
        ("transform_ba_right", ba_right.clone()),
        ("compose_ac", compose_ac.clone()),
        ("invert_a", invert_a.clone()),
        (
            "normalize_ac",
            json0::normalize(a_then_c).map_err(|e| e.to_string()),
        ),
    ];
    let docs = [
        ("apply_a", apply_a.clone()),
        ("apply_b", apply_b.clone()),
        ("apply_ac", then(apply_a.clone(), &Ok(c.clone()))),
        ("apply_b_then_a", then(apply_b, &ab_left)),
        ("apply_a_then_b", then(apply_a.clone(), &ba_right)),
        ("apply_compose_ac", then(Ok(doc.clone()), &compose_ac)),
        ("apply_a_invert", then(apply_a, &invert_a)),
    ];

    let mut fail = |name: &str, detail: String| {
        tally.failures.push(format!(
            "case {index} ({kind}, {} strings) {name}: {detail}\n  doc: {doc}\n  a: {}\n  b: {}\n  c: {}",
            case["strings"], case["a"], case["b"], case["c"]
        ));
    };
    for (name, ours) in ops {
        let ours = ours.map(|op| serde_json::to_value(&op).expect("ops serialize"));
        match compare(&results[name], ours) {
            Outcome::Equal => tally.equal += 1,
            Outcome::BothErr => tally.both_err += 1,
            Outcome::Unrepresentable => tally.unrepresentable += 1,
            Outcome::Stricter(e) if splits_surrogate(&e) => tally.split_surrogates += 1,
            Outcome::Stricter(e) | Outcome::Differ(e) => fail(name, e),
        }
        tally.compared += 1;
        // Everything ot-json0 outputs must read back as the same JSON.
        if let Some(theirs) = results[name].get("ok") {
            round_trip(theirs);
        }
    }
    for (name, ours) in docs {
        match compare(&results[name], ours) {
            Outcome::Equal => tally.equal += 1,
            Outcome::BothErr => tally.both_err += 1,
            Outcome::Unrepresentable => tally.unrepresentable += 1,
            Outcome::Stricter(e) if splits_surrogate(&e) => tally.split_surrogates += 1,
            Outcome::Stricter(e) | Outcome::Differ(e) => fail(name, e),
        }
        tally.compared += 1;
    }
}

enum Outcome {
    Equal,
    BothErr,
    Unrepresentable,
    /// They succeeded where we refused.
    Stricter(String),
    Differ(String),
}

fn compare(theirs: &Value, ours: Result<Value, String>) -> Outcome {
    if theirs.get("unrepresentable").is_some() {
        return match ours {
            Err(_) => Outcome::Unrepresentable,
            Ok(o) => Outcome::Differ(format!("they cut a surrogate pair, we gave {o}")),
        };
    }
    match (theirs.get("ok"), theirs.get("err"), ours) {
        (Some(t), _, Ok(o)) if *t == o => Outcome::Equal,
        (Some(t), _, Ok(o)) => Outcome::Differ(format!("\n  theirs: {t}\n  ours:   {o}")),
        (Some(t), _, Err(e)) => Outcome::Stricter(format!("they gave {t}, we refused: {e}")),
        (_, Some(_), Err(_)) => Outcome::BothErr,
        (_, Some(t), Ok(o)) => Outcome::Differ(format!("they failed ({t}), we gave {o}")),
        _ => Outcome::Differ(format!("malformed corpus entry {theirs}")),
    }
}

/// Whether our refusal is the named exception: half a surrogate pair.
fn splits_surrogate(error: &str) -> bool {
    error.contains("surrogate pair")
}

fn op(v: &Value) -> Op {
    let op: Op =
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("cannot read op {v}: {e}"));
    round_trip(v);
    op
}

fn round_trip(v: &Value) {
    let op: Op =
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("cannot read op {v}: {e}"));
    let back = serde_json::to_value(&op).expect("ops serialize");
    assert_eq!(&back, v, "op does not serialize back to its JSON");
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the Node generator (installing ot-json0 first if needed) and reads
/// the corpus it writes under `target/`.
fn produce_corpus(seed: u64, per_kind: usize) -> Value {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/ot-json0");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("json0-corpus-{seed}-{per_kind}.json"));

    require_tool("node");
    if !interop.join("node_modules/ot-json0").exists() {
        require_tool("npm");
        run(Command::new("npm")
            .arg("ci")
            .arg("--no-audit")
            .arg("--no-fund")
            .current_dir(&interop));
    }
    run(Command::new("node")
        .arg("corpus.js")
        .args([
            "--seed",
            &seed.to_string(),
            "--per-kind",
            &per_kind.to_string(),
        ])
        .arg("--out")
        .arg(&out)
        .current_dir(&interop));
    let text = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", out.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("corpus {} is not JSON: {e}", out.display()))
}

fn require_tool(name: &str) {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name}` is not on PATH. The json0 differential test runs npm ot-json0@1.1.0 under Node \
         (Node 18+ and npm): install them, or set PELOTON_SKIP_NODE=1 to skip this test."
    );
}

fn run(cmd: &mut Command) {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

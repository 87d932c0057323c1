//! `json0::apply`, one table per component kind: what each does, and the
//! errors that leave the document untouched.

use peloton::ot::json0::{self, ApplyError, Component, Error, Op, PathSegment};
use peloton::ot::text0;
use serde_json::{Value, json};

fn op(v: Value) -> Op {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("bad op {v}: {e}"))
}

/// Applies `op` to `doc` and checks the result, as a value and as JSON text
/// (so `2` is not `2.0`).
fn applies(doc: Value, o: Value, expected: Value) {
    let mut d = doc.clone();
    json0::apply(&mut d, &op(o.clone())).unwrap_or_else(|e| panic!("{o} on {doc}: {e}"));
    assert_eq!(d, expected, "{o} on {doc}");
    assert_eq!(
        d.to_string(),
        expected.to_string(),
        "{o} on {doc}: JSON text"
    );
}

/// Applies `op` to `doc`, expects an error whose message contains `says`,
/// and checks the document is unchanged, key order included.
fn refuses(doc: Value, o: Value, says: &str) -> Error {
    let mut d = doc.clone();
    let err = json0::apply(&mut d, &op(o.clone())).expect_err(&format!("{o} on {doc} should fail"));
    assert!(
        err.to_string().contains(says),
        "{o} on {doc}: error {err:?} does not say {says:?}"
    );
    assert_eq!(
        d.to_string(),
        doc.to_string(),
        "{o} changed the document despite failing"
    );
    err
}

#[test]
fn na_adds_like_javascript() {
    applies(json!(1), json!([{"p": [], "na": 2}]), json!(3));
    applies(json!([1]), json!([{"p": [0], "na": 2}]), json!([3]));
    applies(
        json!({"n": 1.5}),
        json!([{"p": ["n"], "na": 1.5}]),
        json!({"n": 3}),
    );
    applies(
        json!({"n": 1}),
        json!([{"p": ["n"], "na": 0.25}]),
        json!({"n": 1.25}),
    );
    applies(
        json!({"n": 5}),
        json!([{"p": ["n"], "na": -5}]),
        json!({"n": 0}),
    );
    applies(
        json!({"n": 1}),
        json!([{"p": ["n"], "na": 1}, {"p": ["n"], "na": 1}]),
        json!({"n": 3}),
    );
}

#[test]
fn na_errors() {
    refuses(json!("a"), json!([{"p": [], "na": 1}]), "expected a number");
    refuses(
        json!({"n": null}),
        json!([{"p": ["n"], "na": 1}]),
        "found null",
    );
    refuses(
        json!({}),
        json!([{"p": ["n"], "na": 1}]),
        "key \"n\" does not exist",
    );
    refuses(
        json!({"n": 1e308}),
        json!([{"p": ["n"], "na": 1e308}]),
        "finite",
    );
}

#[test]
fn li_inserts() {
    applies(
        json!(["b", "c"]),
        json!([{"p": [0], "li": "a"}]),
        json!(["a", "b", "c"]),
    );
    applies(
        json!(["a", "c"]),
        json!([{"p": [1], "li": "b"}]),
        json!(["a", "b", "c"]),
    );
    applies(
        json!(["a", "b"]),
        json!([{"p": [2], "li": "c"}]),
        json!(["a", "b", "c"]),
    );
    applies(
        json!({"l": []}),
        json!([{"p": ["l", 0], "li": {"x": [1]}}]),
        json!({"l": [{"x": [1]}]}),
    );
}

#[test]
fn li_errors() {
    refuses(
        json!(["a"]),
        json!([{"p": [2], "li": "x"}]),
        "index 2 is out of range for a list of length 1",
    );
    refuses(
        json!({"l": "s"}),
        json!([{"p": ["l", 0], "li": 1}]),
        "expected a list at the parent, found a string",
    );
    refuses(
        json!({"l": {}}),
        json!([{"p": ["l", 0], "li": 1}]),
        "found an object",
    );
    refuses(
        json!([["a"]]),
        json!([{"p": ["0", 0], "li": 1}]),
        "needs an index here, not key \"0\"",
    );
}

#[test]
fn ld_deletes_without_checking_the_value() {
    applies(
        json!(["a", "b", "c"]),
        json!([{"p": [0], "ld": "a"}]),
        json!(["b", "c"]),
    );
    applies(
        json!(["a", "b", "c"]),
        json!([{"p": [1], "ld": "b"}]),
        json!(["a", "c"]),
    );
    applies(
        json!(["a", "b", "c"]),
        json!([{"p": [2], "ld": "c"}]),
        json!(["a", "b"]),
    );
    // Like ot-json0, `ld` is what `invert` puts back, not a precondition.
    applies(
        json!(["a", "b"]),
        json!([{"p": [0], "ld": "not a"}]),
        json!(["b"]),
    );
}

#[test]
fn ld_errors() {
    refuses(
        json!(["a"]),
        json!([{"p": [1], "ld": "x"}]),
        "index 1 is out of range",
    );
    refuses(
        json!({"l": 3}),
        json!([{"p": ["l", 0], "ld": 1}]),
        "found a number",
    );
}

#[test]
fn li_ld_replaces() {
    applies(
        json!(["a", "x", "b"]),
        json!([{"p": [1], "ld": "x", "li": "y"}]),
        json!(["a", "y", "b"]),
    );
    applies(
        json!([[1]]),
        json!([{"p": [0], "ld": [1], "li": {"k": 2}}]),
        json!([{"k": 2}]),
    );
    refuses(
        json!(["a"]),
        json!([{"p": [1], "ld": "x", "li": "y"}]),
        "out of range",
    );
}

#[test]
fn lm_moves() {
    applies(
        json!(["b", "a", "c"]),
        json!([{"p": [1], "lm": 0}]),
        json!(["a", "b", "c"]),
    );
    applies(
        json!(["b", "a", "c"]),
        json!([{"p": [0], "lm": 1}]),
        json!(["a", "b", "c"]),
    );
    applies(
        json!(["a", "b", "c"]),
        json!([{"p": [0], "lm": 2}]),
        json!(["b", "c", "a"]),
    );
    applies(
        json!(["a", "b", "c"]),
        json!([{"p": [2], "lm": 0}]),
        json!(["c", "a", "b"]),
    );
    applies(
        json!(["a", "b", "c"]),
        json!([{"p": [1], "lm": 1}]),
        json!(["a", "b", "c"]),
    );
    refuses(
        json!(["a", "b"]),
        json!([{"p": [2], "lm": 0}]),
        "index 2 is out of range",
    );
    refuses(
        json!(["a", "b"]),
        json!([{"p": [0], "lm": 2}]),
        "move target 2 is out of range",
    );
}

#[test]
fn oi_sets_keys() {
    applies(
        json!({"x": "a"}),
        json!([{"p": ["y"], "oi": "b"}]),
        json!({"x": "a", "y": "b"}),
    );
    // An existing key is replaced in place, as JavaScript's `obj[k] = v` does.
    applies(
        json!({"x": 1, "y": 2}),
        json!([{"p": ["x"], "oi": 3}]),
        json!({"x": 3, "y": 2}),
    );
    // The root path replaces the whole document.
    applies(json!({"x": 1}), json!([{"p": [], "oi": [1]}]), json!([1]));
    applies(
        json!(null),
        json!([{"p": [], "oi": {"a": 1}}]),
        json!({"a": 1}),
    );
    applies(
        json!([{}]),
        json!([{"p": [0, "k"], "oi": null}]),
        json!([{"k": null}]),
    );
}

#[test]
fn oi_errors() {
    refuses(
        json!({"1": "a"}),
        json!([{"p": [1], "oi": "b"}]),
        "needs a key here, not index 1",
    );
    refuses(
        json!(["a"]),
        json!([{"p": ["k"], "oi": "b"}]),
        "expected an object at the parent, found a list",
    );
    refuses(
        json!({"a": "s"}),
        json!([{"p": ["a", "k"], "oi": 1}]),
        "found a string",
    );
    refuses(
        json!({"a": {}}),
        json!([{"p": ["b", "k"], "oi": 1}]),
        "p[0]: key \"b\" does not exist",
    );
}

#[test]
fn od_deletes_keys() {
    applies(
        json!({"x": "a"}),
        json!([{"p": ["x"], "od": "a"}]),
        json!({}),
    );
    applies(
        json!({"x": "a", "y": 1}),
        json!([{"p": ["x"], "od": "not checked"}]),
        json!({"y": 1}),
    );
    // Deleting the root leaves null: JSON has no `undefined`.
    applies(
        json!({"x": 1}),
        json!([{"p": [], "od": {"x": 1}}]),
        json!(null),
    );
    refuses(
        json!({"x": 1}),
        json!([{"p": ["y"], "od": 1}]),
        "key \"y\" does not exist",
    );
    refuses(
        json!({"1": "a"}),
        json!([{"p": [1], "od": "a"}]),
        "needs a key here",
    );
    refuses(
        json!({"1": {"x": "a"}}),
        json!([{"p": [1, "x"], "od": "a"}]),
        "p[0]",
    );
}

#[test]
fn oi_od_replaces() {
    applies(
        json!({"x": "a"}),
        json!([{"p": ["x"], "od": "a", "oi": "b"}]),
        json!({"x": "b"}),
    );
    applies(
        json!("old"),
        json!([{"p": [], "od": "old", "oi": {"new": true}}]),
        json!({"new": true}),
    );
    refuses(
        json!({"x": "a"}),
        json!([{"p": ["y"], "od": "a", "oi": "b"}]),
        "key \"y\" does not exist",
    );
}

#[test]
fn si_inserts_at_utf16_offsets() {
    applies(json!("a"), json!([{"p": [1], "si": "bc"}]), json!("abc"));
    applies(
        json!({"x": "a"}),
        json!([{"p": ["x", 1], "si": "bc"}]),
        json!({"x": "abc"}),
    );
    applies(json!("ac"), json!([{"p": [1], "si": "b"}]), json!("abc"));
    // 😀 is two UTF-16 code units: offset 2 is after it, 3 after the "b".
    applies(json!("😀b"), json!([{"p": [2], "si": "x"}]), json!("😀xb"));
    applies(json!("😀b"), json!([{"p": [3], "si": "x"}]), json!("😀bx"));
    applies(
        json!("é日本"),
        json!([{"p": [2], "si": "🇫🇷"}]),
        json!("é日🇫🇷本"),
    );
    applies(json!("a𝄞"), json!([{"p": [3], "si": "!"}]), json!("a𝄞!"));
}

#[test]
fn si_errors() {
    refuses(
        json!("😀b"),
        json!([{"p": [1], "si": "x"}]),
        "offset 1 falls inside a surrogate pair",
    );
    refuses(
        json!([1]),
        json!([{"p": [0, 0], "si": "a"}]),
        "expected a string at the path, found a number",
    );
    refuses(
        json!({"x": ["s"]}),
        json!([{"p": ["x", 0], "si": "a"}]),
        "found a list",
    );
}

#[test]
fn inserts_past_the_end_append_as_in_ot_json0() {
    applies(json!("ab"), json!([{"p": [3], "si": "x"}]), json!("abx"));
    applies(json!("😀"), json!([{"p": [3], "si": "x"}]), json!("😀x"));
    applies(
        json!({"t": "ab"}),
        json!([{"p": ["t"], "t": "text0", "o": [{"p": 9, "i": "!"}]}]),
        json!({"t": "ab!"}),
    );
    // A later failure still undoes them, where they landed.
    refuses(
        json!({"t": "ab"}),
        json!([
            {"p": ["t", 5], "si": "xy"},
            {"p": ["t"], "t": "text0", "o": [{"p": 9, "i": "Z"}, {"p": 0, "d": "q"}]}
        ]),
        "does not match",
    );
}

#[test]
fn sd_deletes_matching_text() {
    applies(json!("abc"), json!([{"p": [0], "sd": "a"}]), json!("bc"));
    applies(json!("a😀b"), json!([{"p": [1], "sd": "😀"}]), json!("ab"));
    applies(json!("a😀b"), json!([{"p": [1], "sd": "😀b"}]), json!("a"));
    applies(
        json!("日本語"),
        json!([{"p": [1], "sd": "本"}]),
        json!("日語"),
    );
    refuses(
        json!("abc"),
        json!([{"p": [0], "sd": "b"}]),
        "delete of \"b\" at offset 0 does not match the text there (\"a\")",
    );
    refuses(
        json!("abc"),
        json!([{"p": [2], "sd": "cd"}]),
        "does not match the text there (\"c\")",
    );
    refuses(
        json!("a😀b"),
        json!([{"p": [2], "sd": "b"}]),
        "inside a surrogate pair",
    );
}

#[test]
fn text0_subtype_edits_strings() {
    applies(
        json!("a"),
        json!([{"p": [], "t": "text0", "o": [{"p": 1, "i": "bc"}]}]),
        json!("abc"),
    );
    applies(
        json!("abc"),
        json!([{"p": [], "t": "text0", "o": [{"p": 0, "d": "a"}]}]),
        json!("bc"),
    );
    applies(
        json!({"x": "a"}),
        json!([{"p": ["x"], "t": "text0", "o": [{"p": 1, "i": "bc"}]}]),
        json!({"x": "abc"}),
    );
    applies(
        json!({"x": "h😀llo"}),
        json!([{"p": ["x"], "t": "text0", "o": [{"p": 0, "d": "h😀"}, {"p": 0, "i": "👋 he"}, {"p": 8, "i": "!"}]}]),
        json!({"x": "👋 hello!"}),
    );
    applies(
        json!({"x": "a"}),
        json!([{"p": ["x"], "t": "text0", "o": []}]),
        json!({"x": "a"}),
    );
}

#[test]
fn text0_errors_leave_the_string_unchanged() {
    // The second edit fails after the first applied: both are undone.
    let err = refuses(
        json!({"x": "abc"}),
        json!([{"p": ["x"], "t": "text0", "o": [{"p": 0, "i": "Z"}, {"p": 9, "d": "q"}]}]),
        "text component 1: offset 9 is past the end",
    );
    assert!(matches!(
        err,
        Error::Apply {
            component: 0,
            reason: ApplyError::Text(text0::Error::Apply { component: 1, .. }),
            ..
        }
    ));
    refuses(
        json!([1]),
        json!([{"p": [0], "t": "text0", "o": [{"p": 0, "i": "a"}]}]),
        "expected a string",
    );
    refuses(
        json!("ab"),
        json!([{"p": [], "t": "text0", "o": [{"p": 0, "d": "b"}]}]),
        "does not match",
    );
}

#[test]
fn a_failing_component_undoes_the_ones_before() {
    let doc = json!({
        "a": 1, "b": [1, 2, 3], "c": "text 😀", "d": {"k": 1, "m": 2}, "e": [[0], "x"], "z": true
    });
    let before = json!([
        {"p": ["a"], "na": 5},
        {"p": ["b", 0], "li": 0},
        {"p": ["b", 1], "ld": 1},
        {"p": ["b", 2], "ld": 3, "li": "three"},
        {"p": ["b", 0], "lm": 2},
        {"p": ["d", "k"], "od": 1},
        {"p": ["d", "n"], "oi": 3},
        {"p": ["d", "m"], "od": 2, "oi": 20},
        {"p": ["c", 5], "sd": "😀"},
        {"p": ["c", 0], "si": "my "},
        {"p": ["c"], "t": "text0", "o": [{"p": 0, "d": "my"}, {"p": 0, "i": "our"}]},
        {"p": ["e", 0, 0], "na": 1},
        {"p": ["e", 1], "ld": "x"},
    ]);
    // Every kind applied, then one that fails: the document must be exactly
    // as before, key order included (checked by `refuses` on the JSON text).
    let failing = [
        json!({"p": ["nope"], "od": 1}),
        json!({"p": ["c", 0], "li": 0}),
        json!({"p": ["b", 9], "ld": 0}),
        json!({"p": ["c"], "t": "text0", "o": [{"p": 0, "d": "nope"}]}),
    ];
    for f in failing {
        let mut o = before.as_array().unwrap().clone();
        o.push(f);
        let err = refuses(doc.clone(), Value::Array(o.clone()), "does not apply");
        assert!(
            matches!(err, Error::Apply { component, .. } if component == o.len() - 1),
            "{err}"
        );
    }
    // A root replace, then a failure.
    refuses(
        doc,
        json!([{"p": [], "oi": 5}, {"p": ["x"], "na": 1}]),
        "p[0]: cannot go into a number",
    );
}

#[test]
fn an_od_that_fails_later_keeps_key_order() {
    let doc = json!({"first": 1, "second": 2, "third": 3});
    refuses(
        doc,
        json!([{"p": ["first"], "od": 1}, {"p": ["second"], "od": 2}, {"p": ["x"], "na": 1}]),
        "component 2",
    );
}

#[test]
fn errors_say_which_component_and_where() {
    let err = refuses(
        json!({"a": [1, 2]}),
        json!([{"p": ["a", 0], "na": 1}, {"p": ["a", 5, "x"], "oi": 1}]),
        "",
    );
    assert_eq!(
        err.to_string(),
        "component 1 (p: [\"a\",5,\"x\"]) does not apply: p[1]: index 5 is out of range for a list of length 2"
    );
    match err {
        Error::Apply {
            component,
            path,
            reason,
        } => {
            assert_eq!(component, 1);
            assert_eq!(path, vec![PathSegment::from("a"), 5.into(), "x".into()]);
            assert_eq!(
                reason,
                ApplyError::IndexOutOfRange {
                    depth: 1,
                    index: 5,
                    len: 2
                }
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn constructors_build_the_same_components_as_json() {
    let built = Op::new(vec![
        Component::number_add(["n"], 2.0),
        Component::list_insert(["l"], 0, json!("a")),
        Component::list_delete(["l"], 1, json!("b")),
        Component::list_replace(["l"], 0, json!("a"), json!("A")),
        Component::list_move(["l"], 0, 1),
        Component::object_insert(["p"], json!(1)),
        Component::object_delete(["p"], json!(1)),
        Component::object_replace(["o"], json!(1), json!(2)),
        Component::string_insert(["s"], 3, "x"),
        Component::string_delete(["s"], 3, "x"),
        Component::text0(["s"], vec![text0::Component::insert(0, "y")]),
    ]);
    assert_eq!(
        serde_json::to_value(&built).unwrap(),
        json!([
            {"p": ["n"], "na": 2},
            {"p": ["l", 0], "li": "a"},
            {"p": ["l", 1], "ld": "b"},
            {"p": ["l", 0], "ld": "a", "li": "A"},
            {"p": ["l", 0], "lm": 1},
            {"p": ["p"], "oi": 1},
            {"p": ["p"], "od": 1},
            {"p": ["o"], "od": 1, "oi": 2},
            {"p": ["s", 3], "si": "x"},
            {"p": ["s", 3], "sd": "x"},
            {"p": ["s"], "t": "text0", "o": [{"p": 0, "i": "y"}]},
        ])
    );
    let mut doc = json!({"n": 1, "l": ["z", "b"], "o": 0, "s": "abc"});
    json0::apply(&mut doc, &built).unwrap();
    assert_eq!(doc, json!({"n": 3, "l": ["b", "A"], "o": 2, "s": "yabc"}));
}

#[test]
fn create_and_noops() {
    assert_eq!(json0::create(None), Value::Null);
    assert_eq!(json0::create(Some(json!({"a": 1}))), json!({"a": 1}));
    assert!(Op::default().is_noop());
    assert!(!op(json!([{"p": [], "na": 0}])).is_noop());
    let mut doc = json!({"a": 1});
    json0::apply(&mut doc, &Op::default()).unwrap();
    assert_eq!(doc, json!({"a": 1}));
}

/// A long session in long strings through a `Document`: two carets typing,
/// deleting and jumping in a note of mixed widths, text0 ops of two edits,
/// list edits around strings held in a list, the note replaced now and
/// then, and ops that fail half-way. After every op the document must be
/// what `apply` makes of the same value, error for error.
#[test]
fn a_document_in_long_strings_matches_apply_op_for_op() {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    const PIECES: &[&str] = &["a", "é", "日本", "🚲", " ", "word ", "\u{1F1EB}\u{1F1F7}"];
    let mut rng = SmallRng::seed_from_u64(7);
    let note: String = (0..600).map(|i| PIECES[i % PIECES.len()]).collect();
    let start = json!({"note": note, "items": ["one", "two 😀", "three"]});
    let (mut plain, mut doc) = (start.clone(), json0::Document::new(start));
    let mut carets = [5usize, 900];
    for step in 0..3_000 {
        let s = plain["note"].as_str().unwrap_or_default().to_owned();
        // Code point boundaries, in UTF-16 units.
        let mut bounds = vec![0];
        bounds.extend(s.chars().scan(0, |u, c| {
            *u += c.len_utf16();
            Some(*u)
        }));
        let who = step % 2;
        let near = |at: usize| *bounds.iter().rfind(|&&b| b <= at).unwrap_or(&0);
        let caret = near(carets[who]);
        let piece = PIECES[rng.random_range(0..PIECES.len())];
        let o = match rng.random_range(0..100) {
            0..=49 => {
                carets[who] = caret + piece.encode_utf16().count();
                json!([{"p": ["note", caret], "si": piece}])
            }
            50..=64 if caret > 0 => {
                let before = near(caret - 1);
                let units: Vec<u16> = s.encode_utf16().collect();
                let deleted = String::from_utf16_lossy(&units[before..caret]);
                carets[who] = before;
                json!([{"p": ["note", before], "sd": deleted}])
            }
            65..=74 => {
                let at = near(rng.random_range(0..=bounds.len() * 2));
                json!([{"p": ["note"], "t": "text0", "o": [{"p": at, "i": piece}, {"p": 0, "i": "x"}]}])
            }
            75..=79 => json!([{"p": ["items", 0], "li": piece}]),
            80..=84 => json!([{"p": ["items", 1, 0], "si": piece}]),
            85..=86 => json!([{"p": ["note"], "od": null, "oi": format!("{piece}{s}")}]),
            87..=92 => {
                carets[who] = near(rng.random_range(0..bounds.len() * 2));
                json!([{"p": ["note", carets[who]], "si": piece}])
            }
            // Fails at its second component, after editing the note.
            _ => json!([{"p": ["note", caret], "si": piece}, {"p": ["nope", 0], "si": "x"}]),
        };
        let o = op(o);
        let expected = json0::apply(&mut plain, &o).map_err(|e| e.to_string());
        let got = doc.apply(&o).map_err(|e| e.to_string());
        assert_eq!(got, expected, "step {step}: {o:?}");
        assert_eq!(doc.value(), &plain, "step {step}: {o:?}");
    }
}

/// Offsets from the wire can be anything up to `u64::MAX`: after an edit
/// has left a mark behind non-ASCII text, a `Document` must treat them as
/// `apply` does (past the end: append, or refuse), and not overflow.
#[test]
fn a_document_takes_huge_offsets_as_apply_does() {
    let start = json!({"note": "é".repeat(300)});
    let (mut plain, mut doc) = (start.clone(), json0::Document::new(start));
    let huge = u64::MAX;
    for o in [
        json!([{"p": ["note", 300], "si": "x"}]),
        json!([{"p": ["note", huge], "si": "y"}]),
        json!([{"p": ["note", huge], "sd": "y"}]),
        json!([{"p": ["note"], "t": "text0", "o": [{"p": huge, "i": "z"}]}]),
        json!([{"p": ["note"], "t": "text0", "o": [{"p": huge, "d": "z"}]}]),
        json!([{"p": ["note", 299], "sd": "é"}]),
    ] {
        let o = op(o);
        let expected = json0::apply(&mut plain, &o).map_err(|e| e.to_string());
        assert_eq!(doc.apply(&o).map_err(|e| e.to_string()), expected, "{o:?}");
        assert_eq!(doc.value(), &plain, "{o:?}");
    }
    assert!(plain["note"].as_str().is_some_and(|s| s.ends_with("yz")));
}

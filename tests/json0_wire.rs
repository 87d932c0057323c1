//! json0's JSON form: every kind reads and writes back the same JSON, and
//! malformed components are refused with a message saying what is wrong.

use peloton::ot::json0::{self, Action, Op, PathSegment};
use peloton::ot::{Side, text0};
use serde_json::{Value, json};

#[test]
fn every_kind_round_trips() {
    let ops = json!([
        [],
        [{"p": [], "na": 2}],
        [{"p": ["a", 0], "na": -1.5}],
        [{"p": ["l", 3], "li": {"deep": [1, null, "x"]}}],
        [{"p": ["l", 3], "ld": null}],
        [{"p": ["l", 3], "ld": "x", "li": [1]}],
        [{"p": ["l", 3], "lm": 0}],
        [{"p": ["k"], "oi": false}],
        [{"p": [], "od": {"a": 1}}],
        [{"p": ["k"], "od": 1, "oi": 2}],
        [{"p": ["s", 5], "si": "hé😀"}],
        [{"p": ["s", 0], "sd": "日本"}],
        [{"p": ["s"], "t": "text0", "o": [{"p": 1, "i": "x"}, {"p": 0, "d": "🇫🇷"}]}],
        [{"p": ["s"], "t": "text0", "o": []}],
        [{"p": [], "na": 1}, {"p": ["x", "y", 2, "z"], "oi": 1}],
    ]);
    for v in ops.as_array().unwrap() {
        let op: Op = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(&serde_json::to_value(&op).unwrap(), v);
    }
}

#[test]
fn numbers_are_written_as_javascript_writes_them() {
    let op: Op =
        serde_json::from_value(json!([{"p": [2.0, "x"], "na": 2.0}, {"p": [1], "lm": 3.0}]))
            .unwrap();
    assert_eq!(
        op.0[0].p,
        vec![PathSegment::Index(2), PathSegment::from("x")]
    );
    assert_eq!(
        serde_json::to_string(&op).unwrap(),
        r#"[{"p":[2,"x"],"na":2},{"p":[1],"lm":3}]"#
    );
    let half = json0::Component::number_add(json0::Path::new(), 0.5);
    assert_eq!(
        serde_json::to_string(&half).unwrap(),
        r#"{"p":[],"na":0.5}"#
    );
    // A fractional sum stays fractional, an integral one is an integer.
    let composed = json0::compose(&Op::from(half.clone()), &Op::from(half)).unwrap();
    assert_eq!(
        serde_json::to_string(&composed).unwrap(),
        r#"[{"p":[],"na":1}]"#
    );
}

#[test]
fn legacy_string_ops_keep_their_form() {
    let legacy: Op =
        serde_json::from_value(json!([{"p": ["s", 1], "si": "a"}, {"p": ["s", 2], "si": "b"}]))
            .unwrap();
    assert!(matches!(legacy.0[0].action, Action::StringInsert(_)));
    // Composed, transformed and inverted, they stay si/sd.
    let composed = json0::normalize(legacy.clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&composed).unwrap(),
        json!([{"p": ["s", 1], "si": "ab"}])
    );
    let other: Op = serde_json::from_value(json!([{"p": ["s", 0], "sd": "x"}])).unwrap();
    let moved = json0::transform(&composed, &other, Side::Left).unwrap();
    assert_eq!(
        serde_json::to_value(&moved).unwrap(),
        json!([{"p": ["s", 0], "si": "ab"}])
    );
    let inverted = json0::invert(&moved).unwrap();
    assert_eq!(
        serde_json::to_value(&inverted).unwrap(),
        json!([{"p": ["s", 0], "sd": "ab"}])
    );
}

fn refused(v: Value, says: &str) {
    let err = serde_json::from_value::<Op>(v.clone()).expect_err(&format!("{v} should be refused"));
    assert!(
        err.to_string().contains(says),
        "{v}: {err} does not say {says:?}"
    );
}

#[test]
fn malformed_ops_are_refused_clearly() {
    refused(
        json!({"p": [], "na": 1}),
        "a json0 op (an array of components)",
    );
    refused(json!("op"), "a json0 op");
    refused(
        json!([1]),
        "component 0: invalid type: integer `1`, expected a json0 component",
    );
    refused(
        json!([{"p": [], "na": 1}, {"na": 1}]),
        "component 1: json0 component is missing its path `p`",
    );
    refused(json!([{"p": "a", "na": 1}]), "expected a sequence");
    refused(json!([{"p": [true], "na": 1}]), "expected a path segment");
    refused(
        json!([{"p": [-1], "na": 1}]),
        "expected a non-negative integer, found -1",
    );
    refused(
        json!([{"p": [1.5], "na": 1}]),
        "expected a non-negative integer, found 1.5",
    );
    refused(json!([{"p": []}]), "json0 component has no action");
    refused(
        json!([{"p": [0], "li": 1, "oi": 1}]),
        "mixes actions li, oi",
    );
    refused(
        json!([{"p": [0], "si": "a", "sd": "b"}]),
        "mixes actions si, sd",
    );
    refused(
        json!([{"p": [0], "lm": 1, "ld": 1}]),
        "mixes actions ld, lm",
    );
    refused(
        json!([{"p": [0], "x": 1}]),
        "unknown key `x` in json0 component",
    );
    // (json! would merge the duplicate key, so this one is text.)
    let twice = serde_json::from_str::<Op>(r#"[{"p": [0], "li": 1, "li": 2}]"#).unwrap_err();
    assert!(twice.to_string().contains("has `li` twice"), "{twice}");
    refused(json!([{"p": [0], "lm": -1}]), "non-negative integer");
    refused(json!([{"p": [0], "lm": 0.5}]), "non-negative integer");
    refused(
        json!([{"p": [0], "lm": "1"}]),
        "expected a non-negative integer",
    );
    refused(json!([{"p": [0], "na": "1"}]), "expected a JSON number");
    refused(json!([{"p": [0], "si": 1}]), "expected a string");
    refused(
        json!([{"p": ["k"], "li": 1}]),
        "need a path ending in a number",
    );
    refused(
        json!([{"p": [], "si": "a"}]),
        "need a path ending in a number",
    );
    refused(
        json!([{"p": ["s", "k"], "sd": "a"}]),
        "need a path ending in a number",
    );
    refused(
        json!([{"p": [], "t": "text1", "o": []}]),
        "unknown subtype `t: \"text1\"`",
    );
    refused(
        json!([{"p": [], "t": "text0"}]),
        "has `t` but no subtype op `o`",
    );
    refused(
        json!([{"p": [], "o": []}]),
        "has `o` but no subtype name `t`",
    );
    refused(
        json!([{"p": [], "t": "text0", "o": {"p": 0, "i": "a"}}]),
        "a text0 op (an array of components)",
    );
    refused(
        json!([{"p": [], "t": "text0", "o": [{"p": 0, "i": "a", "d": "b"}]}]),
        "both `i` and `d`",
    );
    refused(
        json!([{"p": [], "t": "text0", "o": [{"p": 0}]}]),
        "needs `i` (insert) or `d` (delete)",
    );
    refused(
        json!([{"p": [], "t": "text0", "o": [{"i": "a"}]}]),
        "missing its offset `p`",
    );
    refused(
        json!([{"p": [], "t": "text0", "o": [{"p": -2, "i": "a"}]}]),
        "non-negative integer",
    );
    refused(
        json!([{"p": [], "t": "text0", "o": [{"p": 0, "i": "a", "x": 1}]}]),
        "unknown key `x` in text0 component",
    );
}

#[test]
fn lone_surrogates_cannot_be_read() {
    // JavaScript strings may hold half an emoji; Rust strings cannot.
    let text = r#"[{"p": [0], "si": "\ud83d"}]"#;
    assert!(serde_json::from_str::<Op>(text).is_err());
}

#[test]
fn normalize_value_accepts_ot_json0s_loose_forms() {
    let op = json0::normalize_value(json!({"na": 1})).unwrap();
    assert_eq!(
        serde_json::to_value(&op).unwrap(),
        json!([{"p": [], "na": 1}])
    );
    let op =
        json0::normalize_value(json!([{"p": ["a"], "na": 1}, {"p": ["a"], "na": 2}, {"oi": 1}]))
            .unwrap();
    assert_eq!(
        serde_json::to_value(&op).unwrap(),
        json!([{"p": ["a"], "na": 3}, {"p": [], "oi": 1}])
    );
    let err = json0::normalize_value(json!(3)).unwrap_err();
    assert!(err.to_string().contains("not a json0 op"), "{err}");
    let err = json0::normalize_value(json!([{"li": 1}])).unwrap_err();
    assert!(
        err.to_string().contains("need a path ending in a number"),
        "{err}"
    );
}

#[test]
fn side_reads_and_writes_as_javascript_strings() {
    assert_eq!(serde_json::to_value(Side::Left).unwrap(), json!("left"));
    assert_eq!(
        serde_json::from_value::<Side>(json!("right")).unwrap(),
        Side::Right
    );
}

#[test]
fn text0_ops_round_trip() {
    let v = json!([{"p": 3, "i": "a😀"}, {"p": 0, "d": "x"}]);
    let op: text0::Op = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(op.0[0], text0::Component::insert(3, "a😀"));
    assert_eq!(serde_json::to_value(&op).unwrap(), v);
}

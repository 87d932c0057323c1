//! Text bindings: caret mapping, chained ops and rendering.

use super::*;

fn op(json: serde_json::Value) -> text0::Op {
    serde_json::from_value(json).unwrap()
}

#[test]
fn typing_becomes_minimal_ops() {
    let mut sync = FieldSync::new("milk".into());
    let (typed, show) = sync.local("oat milk", (4, 4), "milk");
    assert_eq!(typed, op(serde_json::json!([{"p": 0, "i": "oat "}])));
    assert!(show.is_none());
}

#[test]
fn remote_edits_keep_the_caret_on_its_text() {
    let mut sync = FieldSync::new("hello world".into());
    // The caret is after "hello"; someone replaces "world" and prepends.
    let remote = op(serde_json::json!([
        {"p": 0, "i": ">> "},
        {"p": 9, "d": "world"},
        {"p": 9, "i": "there"}
    ]));
    let (text, caret) = sync.remote(Some(remote), ">> hello there", (5, 5)).unwrap();
    assert_eq!(text, ">> hello there");
    assert_eq!(caret, (8, 8));
    // An edit that does not fit what the field shows is diffed instead.
    let wrong = op(serde_json::json!([{"p": 0, "i": "x"}]));
    let (text, caret) = sync.remote(Some(wrong), ">> hello there!", (8, 8)).unwrap();
    assert_eq!((text.as_str(), caret), (">> hello there!", (8, 8)));
}

#[test]
fn a_composition_lands_after_what_arrived_meanwhile() {
    let mut sync = FieldSync::new("ab".into());
    sync.set_composing(true);
    let remote = op(serde_json::json!([{"p": 0, "i": "XY"}]));
    assert!(sync.remote(Some(remote), "XYab", (2, 2)).is_none());
    sync.set_composing(false);
    // The user composed "日本" after "a".
    let (typed, show) = sync.local("a日本b", (3, 3), "XYab");
    assert_eq!(typed, op(serde_json::json!([{"p": 3, "i": "日本"}])));
    assert_eq!(show, Some(("XYa日本b".to_owned(), (5, 5))));
}

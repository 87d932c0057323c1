use serde_json::{Value, json};

use super::*;
use crate::ot::json0::{Component, Op};
use crate::protocol::CreateData;

fn query(expression: Value) -> Query {
    Query::parse(&expression).unwrap_or_else(|e| panic!("{expression}: {e}"))
}

/// For each filter: documents that match and documents that do not.
fn table(cases: &[(Value, &[Value], &[Value])]) {
    for (filter, yes, no) in cases {
        let q = query(filter.clone());
        for doc in *yes {
            assert!(q.matches("id", doc), "{filter} should match {doc}");
        }
        for doc in *no {
            assert!(!q.matches("id", doc), "{filter} should not match {doc}");
        }
    }
}

#[test]
fn equality() {
    table(&[
        (json!({}), &[json!({}), json!({"a": 1})], &[]),
        (
            json!({"a": 1}),
            &[json!({"a": 1}), json!({"a": 1.0}), json!({"a": [3, 1]})],
            &[json!({"a": 2}), json!({"a": "1"}), json!({})],
        ),
        (
            json!({"a": [1, 2]}),
            &[json!({"a": [1, 2]}), json!({"a": [[1, 2], 3]})],
            &[json!({"a": [2, 1]})],
        ),
        (
            json!({"a": {"b": 1}}),
            &[json!({"a": {"b": 1}})],
            &[json!({"a": {"b": 1, "c": 2}})],
        ),
        (
            json!({"a": null}),
            &[json!({}), json!({"a": null})],
            &[json!({"a": 0})],
        ),
        (
            json!({"a": 1, "b": "x"}),
            &[json!({"a": 1, "b": "x"})],
            &[json!({"a": 1, "b": "y"})],
        ),
        (
            json!({"a": {"$eq": "x"}}),
            &[json!({"a": "x"})],
            &[json!({"a": "y"})],
        ),
    ]);
}

#[test]
fn nested_paths() {
    table(&[
        (
            json!({"a.b": 1}),
            &[json!({"a": {"b": 1}}), json!({"a": [{"b": 2}, {"b": 1}]})],
            &[json!({"a": {"b": 2}}), json!({"a": 1}), json!({})],
        ),
        (
            json!({"a.1": "y"}),
            &[json!({"a": ["x", "y"]})],
            &[json!({"a": ["y", "x"]})],
        ),
        (
            json!({"a.b.c": true}),
            &[json!({"a": {"b": {"c": true}}})],
            &[json!({"a": {"b": true}})],
        ),
        (
            json!({"a.b": {"$exists": false}}),
            &[json!({"a": {}}), json!({})],
            &[json!({"a": {"b": null}})],
        ),
    ]);
}

#[test]
fn comparisons_stay_within_a_type_class() {
    table(&[
        (
            json!({"n": {"$gt": 2}}),
            &[json!({"n": 3}), json!({"n": 2.5}), json!({"n": [1, 5]})],
            &[
                json!({"n": 2}),
                json!({"n": "3"}),
                json!({}),
                json!({"n": null}),
            ],
        ),
        (
            json!({"n": {"$gte": 2}}),
            &[json!({"n": 2})],
            &[json!({"n": 1})],
        ),
        (
            json!({"n": {"$lt": 2}}),
            &[json!({"n": 1}), json!({"n": -0.5})],
            &[json!({"n": 2}), json!({"n": "1"})],
        ),
        (
            json!({"n": {"$lte": 2}}),
            &[json!({"n": 2})],
            &[json!({"n": 3})],
        ),
        (
            json!({"s": {"$gt": "b"}}),
            &[json!({"s": "c"}), json!({"s": "ba"})],
            &[json!({"s": "a"}), json!({"s": 9})],
        ),
        (
            json!({"n": {"$gt": 1, "$lt": 4}}),
            &[json!({"n": 2})],
            &[json!({"n": 4}), json!({"n": 0})],
        ),
    ]);
}

#[test]
fn ne_in_nin_exists() {
    table(&[
        (
            json!({"a": {"$ne": 1}}),
            &[json!({"a": 2}), json!({}), json!({"a": [2, 3]})],
            &[json!({"a": 1}), json!({"a": [1, 2]})],
        ),
        (
            json!({"a": {"$in": [1, "x"]}}),
            &[json!({"a": 1}), json!({"a": "x"}), json!({"a": [0, "x"]})],
            &[json!({"a": 2}), json!({})],
        ),
        (
            json!({"a": {"$in": [null]}}),
            &[json!({}), json!({"a": null})],
            &[json!({"a": 1})],
        ),
        (
            json!({"a": {"$nin": [1, 2]}}),
            &[json!({"a": 3}), json!({})],
            &[json!({"a": 2}), json!({"a": [5, 1]})],
        ),
        (
            json!({"a": {"$exists": true}}),
            &[json!({"a": null}), json!({"a": 0})],
            &[json!({})],
        ),
        (
            json!({"a": {"$exists": false}}),
            &[json!({})],
            &[json!({"a": false})],
        ),
    ]);
}

#[test]
fn logical_operators() {
    table(&[
        (
            json!({"$and": [{"a": 1}, {"b": 2}]}),
            &[json!({"a": 1, "b": 2})],
            &[json!({"a": 1})],
        ),
        (
            json!({"$or": [{"a": 1}, {"b": 2}]}),
            &[json!({"a": 1}), json!({"b": 2})],
            &[json!({"a": 2, "b": 1})],
        ),
        (
            json!({"$nor": [{"a": 1}, {"b": 2}]}),
            &[json!({"a": 2})],
            &[json!({"a": 1}), json!({"b": 2})],
        ),
        (
            json!({"a": {"$not": {"$gt": 2}}}),
            &[json!({"a": 1}), json!({})],
            &[json!({"a": 3})],
        ),
        (
            json!({"$or": [{"$and": [{"a": 1}, {"b": {"$in": [2, 3]}}]}, {"c": {"$exists": true}}]}),
            &[json!({"a": 1, "b": 3}), json!({"c": 0})],
            &[json!({"a": 1, "b": 4})],
        ),
    ]);
}

#[test]
fn size_all_and_id() {
    table(&[
        (
            json!({"a": {"$size": 2}}),
            &[json!({"a": [1, 2]})],
            &[json!({"a": [1]}), json!({"a": 2})],
        ),
        (
            json!({"a": {"$all": [1, 2]}}),
            &[json!({"a": [2, 3, 1]})],
            &[json!({"a": [1, 3]})],
        ),
    ]);
    let q = query(json!({"_id": {"$in": ["x", "y"]}}));
    assert!(q.matches("x", &json!({})));
    assert!(!q.matches("z", &json!({"_id": "x"})));
}

#[test]
fn rejects_what_it_cannot_run() {
    for (expression, message) in [
        (json!(3), "a query must be a JSON object, not a number"),
        (
            json!({"$where": "this.a"}),
            "unknown or unsupported query operator $where",
        ),
        (
            json!({"a": {"$regex": "x"}}),
            "unknown or unsupported query operator $regex",
        ),
        (json!({"a": {"$in": 3}}), "$in needs an array"),
        (json!({"$or": {}}), "$or needs an array of filters"),
        (json!({"$limit": -1}), "$limit needs a non-negative integer"),
        (json!({"$skip": 1.5}), "$skip needs a non-negative integer"),
        (json!({"$sort": {"a": 2}}), "$sort on a needs 1 or -1"),
        (
            json!({"a": {"$gt": 1, "b": 2}}),
            "the condition on a mixes $-operators with plain keys",
        ),
        (json!({"a": {"$exists": "yes"}}), "$exists needs a boolean"),
    ] {
        assert_eq!(
            Query::parse(&expression).unwrap_err().to_string(),
            message,
            "{expression}"
        );
    }
}

fn run(expression: Value, docs: &[(&str, Value)]) -> QueryOutcome {
    query(expression).run(docs.iter().map(|(id, data)| (*id, data)))
}

#[test]
fn sort_skip_limit_count() {
    let docs = [
        ("a", json!({"n": 3, "s": "x"})),
        ("b", json!({"n": 1, "s": "y"})),
        ("c", json!({"s": "x"})),
        ("d", json!({"n": "text", "s": "y"})),
        ("e", json!({"n": 3, "s": "a"})),
        ("f", json!({"n": [0, 10], "s": "z"})),
    ];
    assert_eq!(
        run(json!({}), &docs).ids,
        ["a", "b", "c", "d", "e", "f"],
        "natural order"
    );
    assert_eq!(
        run(json!({"$sort": {"n": 1}}), &docs).ids,
        ["c", "f", "b", "a", "e", "d"]
    );
    assert_eq!(
        run(json!({"$sort": {"n": -1}}), &docs).ids,
        ["d", "f", "a", "e", "b", "c"]
    );
    assert_eq!(
        run(json!({"$sort": {"n": -1, "s": 1}}), &docs).ids,
        ["d", "f", "e", "a", "b", "c"]
    );
    assert_eq!(
        run(json!({"$sort": {"s": 1}, "$skip": 1, "$limit": 2}), &docs).ids,
        ["a", "c"]
    );
    let counted = run(json!({"s": "y", "$count": true}), &docs);
    assert_eq!((counted.ids.len(), counted.extra), (0, Some(json!(2))));
    assert_eq!(run(json!({"$count": true}), &[]).extra, Some(json!(0)));
}

fn edit(path: &[&str]) -> OpKind {
    OpKind::Edit(Op::from(Component::object_insert(
        path.iter().copied(),
        json!(1),
    )))
}

#[test]
fn poll_decisions() {
    let filtered = query(json!({"kind": "fruit", "$or": [{"owner.name": "ann"}]}));
    assert!(filtered.can_poll_doc());
    assert!(filtered.skip_poll(&edit(&["title"])));
    assert!(!filtered.skip_poll(&edit(&["kind"])));
    assert!(
        !filtered.skip_poll(&edit(&["owner", "age"])),
        "a field under a queried one"
    );
    assert!(
        !filtered.skip_poll(&OpKind::Edit(Op::from(Component::object_insert(
            Vec::<&str>::new(),
            json!({})
        ))))
    );
    assert!(!filtered.skip_poll(&OpKind::Delete));
    assert!(!filtered.skip_poll(&OpKind::Create(CreateData {
        doc_type: "json0".into(),
        data: None
    })));

    let sorted = query(json!({"$sort": {"rank": 1}, "$limit": 5}));
    assert!(!sorted.can_poll_doc());
    assert!(!sorted.skip_poll(&edit(&["rank"])));
    assert!(sorted.skip_poll(&edit(&["title"])));
    assert!(!query(json!({"$count": true})).skip_poll(&edit(&["title"])));
}

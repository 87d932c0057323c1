//! Unit tests of `ParsedQuery` (the parent module, compiled for tests only):
//! which documents each filter matches, what is kept for the database or
//! refused, sorting, paging and counting, and when a live query must poll.
//! That every database gives the same results is `tests/db_conformance.rs`'s.

use serde_json::{Value, json};

use super::*;
use crate::ot::json0::{Component, Op};
use crate::protocol::CreateData;

fn query(expression: Value) -> ParsedQuery {
    ParsedQuery::parse(&expression).unwrap_or_else(|e| panic!("{expression}: {e}"))
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
#[cfg_attr(
    not(feature = "ssr"),
    ignore = "`$regex` needs the regex crate, which comes with the ssr feature"
)]
fn regex_elem_match_type_mod() {
    table(&[
        (
            json!({"s": {"$regex": "^ap"}}),
            &[json!({"s": "apple"}), json!({"s": ["x", "apricot"]})],
            &[json!({"s": "Apple"}), json!({"s": 1}), json!({})],
        ),
        (
            json!({"s": {"$regex": "^ap", "$options": "i"}}),
            &[json!({"s": "Apple"})],
            &[json!({"s": "grape"})],
        ),
        (
            json!({"s": {"$not": {"$regex": "e$"}}}),
            &[json!({"s": "kiwi"}), json!({})],
            &[json!({"s": "grape"})],
        ),
        (
            json!({"items": {"$elemMatch": {"k": {"$gt": 2}, "c": "red"}}}),
            &[json!({"items": [{"k": 1, "c": "red"}, {"k": 3, "c": "red"}]})],
            &[
                json!({"items": [{"k": 3, "c": "blue"}, {"k": 1, "c": "red"}]}),
                json!({"items": {"k": 3, "c": "red"}}),
            ],
        ),
        (
            json!({"n": {"$elemMatch": {"$gte": 2, "$lt": 3}}}),
            &[json!({"n": [1, 2.5]})],
            &[json!({"n": [1, 3]}), json!({"n": 2})],
        ),
        (
            json!({"v": {"$type": "string"}}),
            &[json!({"v": "x"}), json!({"v": [1, "x"]})],
            &[json!({"v": 1}), json!({"v": null}), json!({})],
        ),
        (
            json!({"v": {"$type": ["number", "null"]}}),
            &[json!({"v": 1.5}), json!({"v": null})],
            &[json!({"v": "1"}), json!({})],
        ),
        (
            json!({"v": {"$type": 4}}),
            &[json!({"v": []})],
            &[json!({"v": {}})],
        ),
        (
            json!({"n": {"$mod": [3, 1]}}),
            &[json!({"n": 4}), json!({"n": 4.9}), json!({"n": [0, 7]})],
            &[json!({"n": 3}), json!({"n": "4"}), json!({})],
        ),
        (
            json!({"n": {"$mod": [3, -1]}}),
            &[json!({"n": -4})],
            &[json!({"n": 2})],
        ),
    ]);
}

#[test]
fn database_operators_are_kept_for_the_database() {
    for (expression, foreign) in [
        (json!({"$where": "this.a"}), "$where"),
        (json!({"$expr": {"$gt": ["$a", 1]}}), "$expr"),
        (json!({"a": {"$geoWithin": {}}}), "$geoWithin"),
        (json!({"a": {"$type": "date"}}), "$type"),
        (json!({"a": {"$type": ["string", "long"]}}), "$type"),
        (json!({"a": {"$regex": "(?<=x)y"}}), "$regex"),
        (json!({"$or": [{"a": {"$bitsAllSet": 1}}]}), "$bitsAllSet"),
        (json!({"a": {"$not": {"$near": [0, 0]}}}), "$near"),
    ] {
        let q = query(expression.clone());
        assert_eq!(q.foreign_operators(), [foreign], "{expression}");
        assert!(!q.is_portable() && !q.can_poll_doc(), "{expression}");
        assert!(!q.matches("id", &json!({"a": 1})), "{expression}");
        match q.require_portable("MemoryDb") {
            Err(QueryError::Unsupported {
                operator, database, ..
            }) => {
                assert_eq!((operator.as_str(), database), (foreign, "MemoryDb"));
            }
            other => panic!("{expression}: {other:?}"),
        }
    }
    // Options that tune how a database runs a query keep it portable;
    // options that change its results do not.
    let tuned = query(json!({"a": 1, "$comment": "why", "$hint": {"a": 1}, "$maxTimeMS": 100}));
    assert!(tuned.is_portable() && tuned.can_poll_doc());
    assert_eq!(tuned.options().len(), 3);
    let distinct = query(json!({"$distinct": {"field": "a"}}));
    assert!(!distinct.is_portable());
    assert!(
        !distinct.skip_poll(&edit(&["title"])),
        "operations always poll"
    );
    assert!(
        !query(json!({"$where": "this.a"})).skip_poll(&edit(&["title"])),
        "$where may read any field"
    );
    assert!(
        query(json!({"a": {"$type": "date"}})).skip_poll(&edit(&["title"])),
        "a foreign operator on a known field"
    );
}

#[test]
#[cfg_attr(
    not(feature = "ssr"),
    ignore = "`$regex` needs the regex crate, which comes with the ssr feature"
)]
fn rejects_what_it_cannot_run() {
    for (expression, message) in [
        (json!(3), "a query must be a JSON object, not a number"),
        (
            json!({"$query": {"a": 1}}),
            "$query property deprecated in queries: put the filter and $sort at the top level",
        ),
        (
            json!({"$and": [{"$foo": 1}]}),
            "unknown query operator $foo",
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
        (json!({"a": {"$regex": 1}}), "$regex needs a string"),
        (
            json!({"a": {"$regex": "x", "$options": "q"}}),
            "$options needs flags among i, m, s, x and u",
        ),
        (
            json!({"a": {"$options": "i"}}),
            "$options needs a $regex beside it",
        ),
        (
            json!({"a": {"$mod": [0, 1]}}),
            "$mod needs a divisor other than 0",
        ),
        (
            json!({"a": {"$mod": [2]}}),
            "$mod needs an array of two numbers, [divisor, remainder]",
        ),
        (
            json!({"a": {"$type": "nope"}}),
            "$type needs BSON type names or numbers, e.g. \"string\" or 2",
        ),
        (
            json!({"a": {"$elemMatch": 1}}),
            "$elemMatch needs an object",
        ),
    ] {
        assert_eq!(
            ParsedQuery::parse(&expression).unwrap_err().to_string(),
            message,
            "{expression}"
        );
    }
    assert_eq!(
        ParsedQuery::parse(&json!({"$query": {}}))
            .unwrap_err()
            .code(),
        crate::protocol::ErrorCode::Numeric(4106)
    );
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

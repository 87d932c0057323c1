//! Keeping one person's undo history valid while others edit: their ops
//! move it, and never let an undo take back what someone else did.

use std::collections::VecDeque;

use super::error::Error;
use super::invert::invert;
use super::op::{Action, Component, Op};
use super::transform::transform;
use crate::ot::Side;

/// Moves an undo history past `other`, an op someone else made that has
/// just been applied.
///
/// `history` holds ops in the order they would be applied: the first to
/// the document as it was before `other`, each next one to what the ones
/// before it leave (an undo stack read from the top down, or a redo stack).
/// Afterwards they apply in the same way to the document after `other`.
///
/// Beyond a plain transform, the history yields wherever it would take
/// back someone else's work: a component that would delete or replace a
/// value `other` edited (inside it, or the value itself) is dropped, and
/// the rest of the history is moved back past it; where both set the same
/// key or move the same item, `other` wins. So undoing never removes or
/// reverts what others did; an undo of your insert of a list item that
/// someone has since edited leaves the item there.
///
/// Legacy `si`/`sd` components are turned into text0 ones first, so the
/// two forms move each other (ot-json0 does not transform one against the
/// other).
///
/// Errors when an op of the history cannot have been made against the
/// document `other` was (two deletes of different text): then the history
/// for this document should be dropped.
pub fn transform_undo(history: &mut [Op], other: &Op) -> Result<(), Error> {
    let mut other = as_text0(other.clone());
    let legacy: Vec<bool> = history
        .iter()
        .map(|op| op.iter().any(|c| c.action.is_legacy_text()))
        .collect();
    let mut queue: VecDeque<(usize, Component)> = history
        .iter_mut()
        .enumerate()
        .flat_map(|(k, op)| {
            let op = std::mem::take(op);
            as_text0(op).0.into_iter().map(move |c| (k, c))
        })
        .collect();
    while let Some((k, c)) = queue.pop_front() {
        if other.is_empty() {
            history[k].push(c);
            continue;
        }
        if overwrites(&c, &other)? {
            // Skip `c`: what follows was made on top of it, so move it back
            // past `c`'s inverse; `other` was made without `c` all along.
            let mut back = invert(&Op(vec![c]))?;
            for (j, q) in std::mem::take(&mut queue) {
                let q = Op(vec![q]);
                let moved = transform(&q, &back, Side::Left)?;
                back = transform(&back, &q, Side::Right)?;
                queue.extend(moved.0.into_iter().map(|c| (j, c)));
            }
            continue;
        }
        let c = Op(vec![c]);
        let moved = transform(&c, &other, Side::Right)?;
        other = transform(&other, &c, Side::Left)?;
        history[k].0.extend(moved.0);
    }
    // Back in the form each op had: an undo is sent as it was made, so it
    // never meets a concurrent edit of the other form (which ot-json0
    // would not move it past).
    for (op, legacy) in history.iter_mut().zip(legacy) {
        if legacy {
            *op = as_legacy(std::mem::take(op));
        }
    }
    Ok(())
}

/// Whether `c` deletes or replaces a value that `other` (made against the
/// same document) edits.
fn overwrites(c: &Component, other: &Op) -> Result<bool, Error> {
    if !removes_value(&c.action) {
        return Ok(false);
    }
    // Follow `c` through `other`, one component at a time, so each is
    // compared where it applies.
    let mut probe = c.clone();
    for o in other {
        if edits_value_at(o, &probe) {
            return Ok(true);
        }
        let mut moved = transform(&Op(vec![probe]), &Op(vec![o.clone()]), Side::Right)?;
        match moved.0.pop() {
            Some(next) if moved.is_empty() => probe = next,
            // Gone (they deleted it too) or split: nothing left to overwrite.
            _ => return Ok(false),
        }
    }
    Ok(false)
}

fn removes_value(action: &Action) -> bool {
    action.has_ld() || action.has_od()
}

/// Whether `o` changes the value that `c` removes: anything beneath it, or
/// the value itself (a list insert or move at its index only shifts it).
fn edits_value_at(o: &Component, c: &Component) -> bool {
    if o.p.len() > c.p.len() {
        return o.p.starts_with(&c.p);
    }
    o.p == c.p && !matches!(o.action, Action::ListInsert(_) | Action::ListMove(_))
}

/// The same op with text0 components as legacy `si`/`sd` ones.
fn as_legacy(op: Op) -> Op {
    op.into_iter()
        .flat_map(|c| match c.action {
            Action::Text0(text) => text
                .0
                .into_iter()
                .map(|t| Component::from_legacy_text(&c.p, t))
                .collect(),
            _ => vec![c],
        })
        .collect()
}

/// The same op with legacy string components as text0 ones.
fn as_text0(op: Op) -> Op {
    op.into_iter()
        .map(|c| match c.legacy_text() {
            Some((string, edit)) => Component::text0(string.to_vec(), vec![edit]),
            None => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ot::json0::apply;
    use serde_json::{Value, json};

    fn op(value: Value) -> Op {
        serde_json::from_value(value).unwrap()
    }

    /// Applies `history` after `other` and returns the document.
    fn undo_after(doc: Value, history: &[Value], other: Value) -> Value {
        let mut doc = doc;
        let other = op(other);
        apply(&mut doc, &other).unwrap();
        let mut ops: Vec<Op> = history.iter().cloned().map(op).collect();
        transform_undo(&mut ops, &other).unwrap();
        for op in &ops {
            apply(&mut doc, op).unwrap();
        }
        doc
    }

    #[test]
    fn undoing_typing_keeps_text_others_typed_inside_it() {
        // Ann typed "abc"; Bob typed "X" in the middle of it.
        let doc = json!({"t": "abc"});
        let undo = json!([{"p": ["t"], "t": "text0", "o": [{"p": 0, "d": "abc"}]}]);
        let bob = json!([{"p": ["t", 1], "si": "X"}]);
        assert_eq!(undo_after(doc, &[undo], bob), json!({"t": "X"}));
    }

    #[test]
    fn an_undo_yields_to_a_later_write_of_the_same_key() {
        // Ann set k from "old" to "mine"; then Bob set it to "theirs".
        let doc = json!({"k": "mine"});
        let undo = json!([{"p": ["k"], "od": "mine", "oi": "old"}]);
        let bob = json!([{"p": ["k"], "od": "mine", "oi": "theirs"}]);
        assert_eq!(undo_after(doc, &[undo], bob), json!({"k": "theirs"}));
    }

    #[test]
    fn an_item_someone_edited_stays_and_the_rest_still_undoes() {
        // Ann inserted items a and b (undo: delete both); Bob edited a.
        let doc = json!({"l": [{"n": "a"}, {"n": "b"}, "z"]});
        let undo = [
            json!([{"p": ["l", 1], "ld": {"n": "b"}}]),
            json!([{"p": ["l", 0], "ld": {"n": "a"}}]),
        ];
        let bob = json!([{"p": ["l", 0, "n"], "od": "a", "oi": "A"}]);
        assert_eq!(
            undo_after(doc.clone(), &undo, bob),
            json!({"l": [{"n": "A"}, "z"]})
        );

        // In one op: the second delete moves to where the item is now.
        let undo = [json!([{"p": ["l", 0], "ld": {"n": "a"}}, {"p": ["l", 0], "ld": {"n": "b"}}])];
        let bob = json!([{"p": ["l", 0, "n"], "od": "a", "oi": "A"}]);
        assert_eq!(undo_after(doc, &undo, bob), json!({"l": [{"n": "A"}, "z"]}));
    }

    #[test]
    fn legacy_and_text0_edits_of_one_string_move_each_other() {
        let doc = json!({"t": "hello"});
        let undo = json!([{"p": ["t"], "t": "text0", "o": [{"p": 3, "d": "lo"}]}]);
        let bob = json!([{"p": ["t", 0], "si": ">> "}]);
        assert_eq!(
            undo_after(doc.clone(), &[undo], bob),
            json!({"t": ">> hel"})
        );
        // A legacy history stays legacy.
        let mut history = [op(json!([{"p": ["t", 3], "sd": "lo"}]))];
        transform_undo(
            &mut history,
            &op(json!([{"p": ["t"], "t": "text0", "o": [{"p": 0, "i": "> "}]}])),
        )
        .unwrap();
        assert_eq!(history[0], op(json!([{"p": ["t", 5], "sd": "lo"}])));
    }

    #[test]
    fn numbers_add_up() {
        let doc = json!({"n": 12});
        let undo = json!([{"p": ["n"], "na": -2}]);
        let bob = json!([{"p": ["n"], "na": 10}]);
        assert_eq!(undo_after(doc, &[undo], bob), json!({"n": 20}));
    }
}

//! List diffs: the inserts, removes and moves that turn one list into
//! another. Live queries (`backend::live_query`) send them to clients as
//! result changes; the model's `set_diff` turns them into list ops and
//! events. A plain algorithm over slices: it knows no OT type, no document
//! and no wire format.
//!
//! This module owns the algorithm and its steps only; its callers turn the
//! steps into what they send or apply (query diffs, list ops, events).

use std::collections::HashMap;
use std::hash::Hash;

/// One step of a list diff. Steps apply in order, each to the list as the
/// previous steps left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ArrayDiff<T> {
    /// Insert `values` at `index`.
    Insert {
        /// Where the first value goes.
        index: usize,
        /// The values, in order.
        values: Vec<T>,
    },
    /// Remove `how_many` items at `index`.
    Remove {
        /// Where the first removed item is.
        index: usize,
        /// How many.
        how_many: usize,
    },
    /// Move `how_many` items from `from` to `to` (`to` as an index of the
    /// list without the moved items, as json0's `lm`).
    Move {
        /// Where the items are.
        from: usize,
        /// Where they go.
        to: usize,
        /// How many.
        how_many: usize,
    },
}

/// The steps that turn `before` into `after`: first removes of what is
/// gone, then moves and inserts in target order.
pub(crate) fn diff<T: Clone>(
    before: &[T],
    after: &[T],
    eq: impl Fn(&T, &T) -> bool,
) -> Vec<ArrayDiff<T>> {
    let mut steps = Vec::new();

    // Removes: items of `before` with no unmatched equal item in `after`.
    let mut matched = vec![false; after.len()];
    let mut current: Vec<T> = Vec::with_capacity(before.len());
    for item in before {
        match (0..after.len()).find(|&j| !matched[j] && eq(item, &after[j])) {
            Some(j) => {
                matched[j] = true;
                current.push(item.clone());
            }
            None => push_remove(&mut steps, current.len()),
        }
    }
    place(current, after, steps, |current, i, target| {
        (i..current.len()).find(|&j| eq(&current[j], target))
    })
}

/// Adds the removal of the item at `index` (of the list as the removes
/// so far left it), joined to the previous removal where they touch.
fn push_remove<T>(steps: &mut Vec<ArrayDiff<T>>, index: usize) {
    match steps.last_mut() {
        Some(ArrayDiff::Remove {
            index: at,
            how_many,
        }) if *at == index => *how_many += 1,
        _ => steps.push(ArrayDiff::Remove { index, how_many: 1 }),
    }
}

/// The moves and inserts that turn `current` (what is left of `before`
/// after the removes) into `after`, so that `current[..i] == after[..i]`
/// after step i. `find(current, i, target)`: where at or after `i` the
/// target is in `current`, if it is.
fn place<T: Clone>(
    mut current: Vec<T>,
    after: &[T],
    mut steps: Vec<ArrayDiff<T>>,
    mut find: impl FnMut(&[T], usize, &T) -> Option<usize>,
) -> Vec<ArrayDiff<T>> {
    for (i, target) in after.iter().enumerate() {
        match find(&current, i, target) {
            Some(j) if j == i => continue,
            Some(j) => {
                let item = current.remove(j);
                current.insert(i, item);
                steps.push(ArrayDiff::Move {
                    from: j,
                    to: i,
                    how_many: 1,
                });
            }
            None => {
                current.insert(i, target.clone());
                match steps.last_mut() {
                    Some(ArrayDiff::Insert { index, values }) if *index + values.len() == i => {
                        values.push(target.clone());
                    }
                    _ => steps.push(ArrayDiff::Insert {
                        index: i,
                        values: vec![target.clone()],
                    }),
                }
            }
        }
    }
    steps
}

/// [`diff`] for items that hash (ids): the same steps, in time linear in
/// the lists' lengths plus, for each item moved, the distance it moves.
/// Live queries diff their result ids with it on every op, for every
/// subscriber, so a 1,000-result query must not cost 1,000 × 1,000.
pub(crate) fn diff_hashed<T: Clone + Eq + Hash>(before: &[T], after: &[T]) -> Vec<ArrayDiff<T>> {
    let mut steps = Vec::new();
    // How many of each item `after` still wants.
    let mut wanted: HashMap<&T, usize> = HashMap::with_capacity(after.len());
    for item in after {
        *wanted.entry(item).or_default() += 1;
    }
    // Removes: items of `before` beyond what `after` wants of them.
    let mut current: Vec<T> = Vec::with_capacity(after.len());
    for item in before {
        match wanted.get_mut(item) {
            Some(n) if *n > 0 => {
                *n -= 1;
                current.push(item.clone());
            }
            _ => push_remove(&mut steps, current.len()),
        }
    }
    // Of each item, how many `current[i..]` still holds: an item it holds
    // none of is inserted without a scan.
    let mut left: HashMap<T, usize> = HashMap::with_capacity(current.len());
    for item in &current {
        *left.entry(item.clone()).or_default() += 1;
    }
    place(current, after, steps, |current, i, target| {
        if current.get(i) == Some(target) {
            // In place: it leaves `current[i..]` all the same.
        } else if left.get(target).is_none_or(|n| *n == 0) {
            return None;
        }
        if let Some(n) = left.get_mut(target) {
            *n -= 1;
        }
        (i..current.len()).find(|&j| current[j] == *target)
    })
}

/// Applies diff steps to a list: what a receiver of the steps does.
#[cfg(test)]
fn apply<T: Clone>(list: &mut Vec<T>, steps: &[ArrayDiff<T>]) {
    for step in steps {
        match step {
            ArrayDiff::Insert { index, values } => {
                let at = (*index).min(list.len());
                list.splice(at..at, values.iter().cloned());
            }
            ArrayDiff::Remove { index, how_many } => {
                let start = (*index).min(list.len());
                let end = (start + how_many).min(list.len());
                list.drain(start..end);
            }
            ArrayDiff::Move { from, to, how_many } => {
                let start = (*from).min(list.len());
                let end = (start + how_many).min(list.len());
                let moved: Vec<T> = list.drain(start..end).collect();
                let at = (*to).min(list.len());
                list.splice(at..at, moved);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(before: &[u32], after: &[u32]) {
        let steps = diff(before, after, |a, b| a == b);
        let mut list = before.to_vec();
        apply(&mut list, &steps);
        assert_eq!(list, after, "{before:?} -> {after:?} via {steps:?}");
        // The hashed diff takes the very same steps.
        assert_eq!(diff_hashed(before, after), steps, "{before:?} -> {after:?}");
    }

    #[test]
    fn removes_first_then_moves_and_inserts_in_target_order() {
        let steps = diff(&["a", "x", "b"], &["b", "a", "c"], |x, y| x == y);
        assert_eq!(
            steps,
            vec![
                ArrayDiff::Remove {
                    index: 1,
                    how_many: 1
                },
                ArrayDiff::Move {
                    from: 1,
                    to: 0,
                    how_many: 1
                },
                ArrayDiff::Insert {
                    index: 2,
                    values: vec!["c"]
                },
            ]
        );
    }

    #[test]
    fn turns_any_list_into_any_other() {
        check(&[], &[]);
        check(&[], &[1, 2]);
        check(&[1, 2], &[]);
        check(&[1, 2, 3], &[3, 2, 1]);
        check(&[1, 1, 2], &[2, 1]);
        check(&[1, 2, 3, 4], &[1, 5, 6, 4]);
        // Every permutation-with-changes of small lists.
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for _ in 0..2000 {
            let a: Vec<u32> = (0..next() % 7).map(|_| next() % 5).collect();
            let b: Vec<u32> = (0..next() % 7).map(|_| next() % 5).collect();
            check(&a, &b);
        }
    }

    #[test]
    fn groups_neighbouring_steps() {
        assert_eq!(
            diff(&[1, 2, 3, 4], &[1, 4], |a, b| a == b),
            vec![ArrayDiff::Remove {
                index: 1,
                how_many: 2
            }]
        );
        assert_eq!(
            diff(&[1], &[1, 2, 3], |a, b| a == b),
            vec![ArrayDiff::Insert {
                index: 1,
                values: vec![2, 3]
            }]
        );
    }
}

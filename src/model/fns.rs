//! Reactive functions (Racer's `start`, `fn` and `evaluate`): an output
//! path kept equal to a function of input paths, recomputed whenever an
//! input changes (at it, below it, or at one of its parents), locally or
//! remotely; two-way with a setter, which turns a write of the output into
//! writes of the inputs.
//!
//! This module owns the started functions and their listeners; it writes
//! only through the mutators (`set_diff_deep`, so an unchanged result emits
//! nothing, and a list result changes by inserts, removes and moves).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use serde_json::{Value, json};

use super::path::{self, Segments};
use super::{Model, ModelError, Root};

/// The values a reactive function reads: one per input path, `None` where
/// there is no value.
pub type Inputs<'a> = &'a [Option<Value>];

type Getter = dyn Fn(Inputs<'_>) -> Option<Value> + Send + Sync;
type Setter = dyn Fn(&Value, Inputs<'_>) -> Vec<Option<Value>> + Send + Sync;

/// A reactive function: a getter from its inputs to its output (`None`: no
/// output, the path is deleted), and for a two-way one a setter.
///
/// Any `Fn(&[Option<Value>]) -> Option<Value>` is a one-way function.
#[derive(Clone)]
pub struct ReactiveFn {
    get: Arc<Getter>,
    set: Option<Arc<Setter>>,
}

impl ReactiveFn {
    /// A one-way function.
    pub fn new(get: impl Fn(Inputs<'_>) -> Option<Value> + Send + Sync + 'static) -> Self {
        Self {
            get: Arc::new(get),
            set: None,
        }
    }

    /// A two-way function: `set` gets the output's new value and the
    /// inputs' current values, and returns the inputs' new values by
    /// position (`None`, or a shorter list, leaves an input as it is).
    pub fn two_way(
        get: impl Fn(Inputs<'_>) -> Option<Value> + Send + Sync + 'static,
        set: impl Fn(&Value, Inputs<'_>) -> Vec<Option<Value>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            get: Arc::new(get),
            set: Some(Arc::new(set)),
        }
    }
}

impl<F> From<F> for ReactiveFn
where
    F: Fn(Inputs<'_>) -> Option<Value> + Send + Sync + 'static,
{
    fn from(get: F) -> Self {
        Self::new(get)
    }
}

impl std::fmt::Debug for ReactiveFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReactiveFn")
            .field("two_way", &self.set.is_some())
            .finish()
    }
}

/// The model's reactive functions.
#[derive(Default)]
pub(crate) struct Fns {
    /// By name, for [`Model::start_named`] (Racer's `model.fn`).
    named: HashMap<String, ReactiveFn>,
    /// The started ones: output path, and the listeners that run them.
    started: Vec<(Segments, Vec<u64>)>,
}

/// Tells a function's own writes apart in `passed`, so they do not
/// run it again.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Model {
    /// Names a reactive function, for [`Model::start_named`] and
    /// [`Model::evaluate_named`] (Racer's `model.fn(name, fn)`).
    pub fn define_fn(&self, name: &str, f: impl Into<ReactiveFn>) {
        self.state().fns.named.insert(name.to_owned(), f.into());
    }

    fn named_fn(&self, name: &str) -> Result<ReactiveFn, ModelError> {
        self.state()
            .fns
            .named
            .get(name)
            .cloned()
            .ok_or_else(|| ModelError::UnknownFn(name.to_owned()))
    }

    /// Computes `f` once from the values at `inputs` (relative to this
    /// model), without starting anything. Racer's `evaluate`.
    pub fn evaluate(&self, inputs: &[&str], f: impl Into<ReactiveFn>) -> Option<Value> {
        let inputs: Vec<Segments> = inputs.iter().map(|p| self.absolute(p)).collect();
        (f.into().get)(&self.values_at(&inputs))
    }

    /// [`Model::evaluate`] with a function named by [`Model::define_fn`].
    pub fn evaluate_named(&self, inputs: &[&str], name: &str) -> Result<Option<Value>, ModelError> {
        Ok(self.evaluate(inputs, self.named_fn(name)?))
    }

    /// Keeps `out` equal to `f` of the values at `inputs` (all relative to
    /// this model), from now until [`Model::stop`]: recomputed whenever an
    /// input changes (at it, below it, or at one of its parents; a sibling
    /// does not count), and written with `set_diff_deep`, so only what
    /// changed emits events, after the input's own event. A two-way
    /// function ([`ReactiveFn::two_way`]) also writes its inputs when
    /// something else writes `out`. Starting another function at `out`
    /// replaces this one. Racer's `start`; returns the first output.
    ///
    /// ```
    /// use peloton::model::Model;
    /// use serde_json::{Value, json};
    ///
    /// let model = Model::local();
    /// model.set("_page.items", json!([2, 3]))?;
    /// model.start("_page.total", &["_page.items"], |inputs: &[Option<Value>]| {
    ///     let items = inputs[0].as_ref()?.as_array()?;
    ///     Some(json!(items.iter().filter_map(Value::as_i64).sum::<i64>()))
    /// })?;
    /// model.push("_page.items", 5)?;
    /// assert_eq!(model.get_value("_page.total"), Some(json!(10)));
    /// # Ok::<(), peloton::model::ModelError>(())
    /// ```
    ///
    /// Peloton differs from Racer in one respect: a function whose result
    /// is `None` deletes `out` (Racer leaves the key, set to `undefined`,
    /// which JSON cannot hold).
    pub fn start(
        &self,
        out: &str,
        inputs: &[&str],
        f: impl Into<ReactiveFn>,
    ) -> Result<Option<Value>, ModelError> {
        let out = self.absolute(out);
        let inputs: Vec<Segments> = inputs.iter().map(|p| self.absolute(p)).collect();
        self.start_at(out, inputs, f.into())
    }

    /// [`Model::start`] with a function named by [`Model::define_fn`].
    pub fn start_named(
        &self,
        out: &str,
        inputs: &[&str],
        name: &str,
    ) -> Result<Option<Value>, ModelError> {
        let f = self.named_fn(name)?;
        self.start(out, inputs, f)
    }

    fn start_at(
        &self,
        out: Segments,
        inputs: Vec<Segments>,
        f: ReactiveFn,
    ) -> Result<Option<Value>, ModelError> {
        self.stop_at(&out);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let first = (f.get)(&self.values_at(&inputs));
        self.fn_writer(id).write_output(&out, first.clone())?;

        let weak = Arc::downgrade(&self.root);
        let mut listeners = Vec::new();
        let root = Model::from_root(self.root.clone());
        for input in &inputs {
            let (weak, out, inputs, f) = (weak.clone(), out.clone(), inputs.clone(), f.clone());
            listeners.push(root.on_value_change(&path::join(input), move |event| {
                if is_own(event, id) {
                    return;
                }
                let Some(model) = upgrade(&weak) else { return };
                let value = (f.get)(&model.values_at(&inputs));
                if let Err(e) = model.fn_writer(id).write_output(&out, value) {
                    tracing::warn!("reactive function at {}: {e}", path::join(&out));
                }
            }));
        }
        if let Some(set) = f.set.clone() {
            let (weak, target, inputs) = (weak.clone(), out.clone(), inputs.clone());
            listeners.push(root.on_value_change(&path::join(&out), move |event| {
                if is_own(event, id) {
                    return;
                }
                let Some(model) = upgrade(&weak) else { return };
                let current = model.values_at(std::slice::from_ref(&target));
                let Some(Some(value)) = current.first() else {
                    return;
                };
                let writer = model.fn_writer(id);
                let new_inputs = set(value, &model.values_at(&inputs));
                for (input, new) in inputs.iter().zip(new_inputs) {
                    if let Some(new) = new
                        && let Err(e) = writer.set_diff_deep(&path::join(input), new)
                    {
                        tracing::warn!("reactive function setter at {}: {e}", path::join(input));
                    }
                }
            }));
        }
        self.state().fns.started.push((out, listeners));
        Ok(first)
    }

    /// Stops the reactive function at `out` (relative to this model); the
    /// output keeps its last value. Racer's `stop`.
    pub fn stop(&self, out: &str) {
        self.stop_at(&self.absolute(out));
    }

    fn stop_at(&self, out: &[String]) {
        let listeners: Vec<u64> = {
            let mut state = self.state();
            let mut gone = Vec::new();
            state.fns.started.retain(|(o, listeners)| {
                let keep = o != out;
                if !keep {
                    gone.extend_from_slice(listeners);
                }
                keep
            });
            gone
        };
        for id in listeners {
            self.remove_listener(id);
        }
    }

    /// Stops every reactive function whose output is at or below this
    /// model's path (all of them, on the root). Racer's `stopAll`.
    pub fn stop_all(&self) {
        let outs: Vec<Segments> = (self.state().fns.started.iter())
            .filter(|(out, _)| path::starts_with(out, &self.at))
            .map(|(out, _)| out.clone())
            .collect();
        for out in outs {
            self.stop_at(&out);
        }
    }

    /// The values at absolute input paths, through refs.
    fn values_at(&self, inputs: &[Segments]) -> Vec<Option<Value>> {
        inputs
            .iter()
            .map(|input| self.read_resolved(&self.resolve(input), |v| v.cloned()))
            .collect()
    }

    /// The root model, passing the function's id, so its writes do not
    /// run it again.
    fn fn_writer(&self, id: u64) -> Model {
        Model::from_root(self.root.clone()).pass(json!({ "$fn": id }))
    }

    fn write_output(&self, out: &[String], value: Option<Value>) -> Result<(), ModelError> {
        let out = path::join(out);
        match value {
            Some(value) => self.set_diff_deep(&out, value).map(drop),
            None if self.get_value(&out).is_some() => self.del(&out).map(drop),
            None => Ok(()),
        }
    }
}

fn is_own(event: &super::ModelEvent, id: u64) -> bool {
    event.passed.get("$fn").and_then(Value::as_u64) == Some(id)
}

fn upgrade(weak: &Weak<Root>) -> Option<Model> {
    weak.upgrade().map(Model::from_root)
}

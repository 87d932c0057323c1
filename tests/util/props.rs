//! Property tests on proptest, with generators written as plain code.
//!
//! The generators here (documents, ops, editing sessions) are ordinary
//! functions that draw with `rand`'s `Rng` methods. They draw from
//! [`Choices`]: a list of numbers that proptest generates and, when a case
//! fails, shrinks (fewer numbers, smaller numbers). A draw past the end of
//! the list is 0, and 0 makes the smallest choice (the lowest number of a
//! range, the first option), so a shrunk list is a smaller case: fewer
//! components, shorter strings, lower indices. (Hypothesis shrinks this
//! way.)
//!
//! Runs are reproducible: the seed is fixed unless `PROPTEST_RNG_SEED` is
//! set, and `PROPTEST_CASES` changes how many cases run.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use rand::RngCore;

/// The seed of every property test run, unless `PROPTEST_RNG_SEED` says
/// otherwise.
const SEED: u64 = 0x5eed;

/// A random source that replays proptest's choices, then zeros.
#[derive(Clone, Debug)]
pub struct Choices {
    values: Vec<u64>,
    next: usize,
}

impl Choices {
    pub fn new(values: Vec<u64>) -> Self {
        Self { values, next: 0 }
    }
}

impl RngCore for Choices {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }

    fn next_u64(&mut self) -> u64 {
        let value = self.values.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        value
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Choice lists long enough for every generator here.
fn choices() -> impl Strategy<Value = Vec<u64>> {
    proptest::collection::vec(any::<u64>(), 0..1024)
}

/// Runs `property` on `cases` generated cases (unless `PROPTEST_CASES`
/// says otherwise). On a failure, proptest shrinks the case, and the panic
/// shows the smallest failing one's message.
pub fn check(name: &str, cases: u32, property: impl Fn(Choices) -> Result<(), String>) {
    let mut config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_some() {
        config.cases = Config::default().cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    let mut runner = TestRunner::new(config);
    let result = runner.run(&choices(), |values| {
        property(Choices::new(values)).map_err(TestCaseError::fail)
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, choices)) => panic!(
            "property `{name}` fails; the smallest case found ({} choices):\n{reason}",
            choices.len()
        ),
        Err(TestError::Abort(reason)) => panic!("property `{name}` aborted: {reason}"),
    }
}

/// Runs an async case on a fresh single-threaded tokio runtime, as
/// `#[tokio::test]` runs a test: a shrunk case runs alone, from scratch.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

//! `Ack`: the server's answer to an op or a request, awaited.
//!
//! This module owns the `Ack` future and its sending side only; the concern the
//! answer depends on (`docs`, `queries`, `presences`) keeps the waiters and
//! decides when to answer them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::oneshot;

use super::ClientError;

/// Resolves when the server acknowledges an op, or with why it did not.
/// Dropping it does not cancel the op.
#[derive(Debug)]
#[must_use = "an Ack does nothing unless awaited; drop it if the ack does not matter"]
pub struct Ack(oneshot::Receiver<Result<(), ClientError>>);

/// The sending side of an [`Ack`], kept by whatever the answer depends on.
pub(crate) type Waiter = oneshot::Sender<Result<(), ClientError>>;

impl Ack {
    /// An ack and the waiter that resolves it.
    pub(crate) fn new() -> (Waiter, Self) {
        let (tx, rx) = oneshot::channel();
        (tx, Self(rx))
    }
}

impl Future for Ack {
    type Output = Result<(), ClientError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(ClientError::Closed)))
    }
}

/// Answers every waiter with `result`.
pub(crate) fn resolve(waiters: impl IntoIterator<Item = Waiter>, result: Result<(), ClientError>) {
    for waiter in waiters {
        let _ = waiter.send(result.clone());
    }
}

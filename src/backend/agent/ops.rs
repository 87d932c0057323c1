//! Submitting: a client's op through the submit pipeline, applied at most
//! once whatever the client claims, then acknowledged.
//!
//! This module owns the connection's side of a submit (the at-most-once check,
//! the ack, the ops the client missed); transforming, applying and committing
//! the op are the submit pipeline's (`submit`).

use crate::backend::Shared;
use crate::backend::middleware::AgentInfo;
use crate::backend::submit::{self, SubmitRequest};
use crate::protocol::{ErrorCode, ErrorObject, ServerMessage};

use super::Agent;

/// Applies each op at most once, whatever its sender claims: an op that may
/// have been committed already (one in another client's name, which is
/// only ever a resend; the first on a document since a resumed id; a
/// `seq` this connection used before) is looked up in the journal by its
/// `src` and `seq`. Returns the version it was committed at, if it was.
/// Otherwise an op in another name is applied in this connection's own,
/// and a `seq` that went back is refused.
pub(super) async fn at_most_once(
    shared: &Shared,
    req: &mut SubmitRequest<'_>,
    agent: &AgentInfo,
    first_since_resumed: bool,
    last_seq: Option<u64>,
) -> Result<Option<u64>, ErrorObject> {
    let (Some(src), Some(seq)) = (req.op.src.clone(), req.op.seq) else {
        return Ok(None);
    };
    let own = src == agent.client_id;
    let went_back = own && last_seq.is_some_and(|last| seq <= last);
    if own && !went_back && !first_since_resumed {
        return Ok(None);
    }
    let committed = shared
        .db
        .committed_op_version(&req.collection, &req.id, &src, seq)
        .await
        .map_err(|e| e.to_client("looking up a resent op"))?;
    if committed.is_some() {
        return Ok(committed);
    }
    if went_back {
        return Err(ErrorObject::new(
            ErrorCode::OtOpBadlyFormed,
            format!(
                "Op seq {seq} is not after {}: a connection's seq only moves forward",
                last_seq.unwrap_or(0)
            ),
        ));
    }
    if !own {
        req.op.src = Some(agent.client_id.clone());
    }
    Ok(None)
}

impl Agent {
    pub(super) async fn submit(
        &mut self,
        request: &crate::protocol::OpRequest,
    ) -> Result<ServerMessage, ErrorObject> {
        // Writing needs reading: the reply tells versions.
        self.may_read(&request.c, &request.d).await?;
        let shared = self.shared.clone();
        let (looked_up, last_seq) = (self.looked_up_first(request), self.last_seq);
        let mut req = SubmitRequest::new(
            &self.info,
            request.clone(),
            shared.options.max_submit_retries,
        );
        // The client's op is acknowledged in the name it was sent in.
        let src = req.op.src.clone();
        let result = match at_most_once(&shared, &mut req, &self.info, looked_up, last_seq).await {
            Ok(Some(v)) => {
                req.op.v = v;
                Ok(())
            }
            Ok(None) => submit::submit(&shared, &mut req).await,
            Err(error) => Err(error),
        };
        if result.is_ok() && req.op.src.as_deref() == Some(self.info.client_id.as_str()) {
            self.last_seq = self.last_seq.max(req.op.seq);
        }
        let ack = ServerMessage::OpAck {
            c: req.collection.clone(),
            d: req.id.clone(),
            src,
            seq: req.op.seq,
            v: req.op.v,
        };
        match result {
            Ok(()) => {
                // The ops the client's op was transformed past, before its
                // ack; an op the subscription sent already is not sent again.
                let transformed = std::mem::take(&mut req.transformed_against);
                let (c, d) = (req.collection.clone(), req.id.clone());
                let committed_v = req.op.v;
                drop(req);
                let mut missed = Vec::with_capacity(transformed.len());
                let mut next_v = self.docs.get_mut(&c).and_then(|docs| docs.get_mut(&d));
                for op in transformed {
                    if let Some(next_v) = next_v.as_deref_mut() {
                        if op.v < *next_v {
                            continue;
                        }
                        *next_v = op.v.saturating_add(1);
                    }
                    missed.push(op);
                }
                if let Some(next_v) = next_v {
                    *next_v = (*next_v).max(committed_v.saturating_add(1));
                }
                // The op is committed whatever happens now; a rejected read
                // is reported as ShareDB reports it, as the submit's error.
                self.send_ops(self.sanitize_ops(&c, &d, missed).await?);
                Ok(ack)
            }
            Err(error) if error.code == ErrorCode::OpAlreadySubmitted => Ok(ack),
            Err(error) => Err(error),
        }
    }

    /// Whether this op is the first on its document since the client id
    /// was resumed (it may be one sent before the client came back).
    pub(super) fn looked_up_first(&mut self, request: &crate::protocol::OpRequest) -> bool {
        self.resumed
            && self
                .looked_up
                .insert((request.c.clone(), request.d.clone()))
    }
}

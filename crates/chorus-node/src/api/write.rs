//! `POST /api/v1/objects`: one signed envelope in, the control socket's
//! outcome out.
//!
//! In order, each step answering before the next one runs:
//! 1. The client address takes a token from its bucket, else `429` with
//!    `Retry-After` (the body is not read).
//! 2. The node-wide bucket gives a token, else `429` with `Retry-After`:
//!    it bounds a client that cycles through more addresses (or keys) than
//!    the per-address (or per-signer) map remembers.
//! 3. `Content-Type` must be `application/octet-stream` (the body is the
//!    envelope bytes) or `application/json` (`{"envelope": "<base64>"}`),
//!    else `415`.
//! 4. The body is read through a size-limited reader within
//!    [`BODY_TIMEOUT`]: over [`MAX_BODY_BYTES`] (or [`MAX_JSON_BODY_BYTES`])
//!    is `413`, as soon as `Content-Length` says so or the limit is passed;
//!    a body that does not arrive in time is `408`.
//! 5. The bytes must decode as an envelope (PROTOCOL.md 3.3), else `400`.
//! 6. The signature is checked against the coalition
//!    (`Ledger::check_signature`, no ledger lock), else `422` refused
//!    (e.g. `bad_signature`). Only the address (and the node-wide bucket)
//!    paid for it: a forged envelope naming a key costs that key nothing.
//! 7. The key of the first signature, now verified, takes a token from its
//!    bucket, else `429`.
//! 8. `daemon::submit` ingests it as the control socket does: `201`
//!    stored, `200` duplicate, each with `{"outcome", "id", "adopted"}`;
//!    `422` with `{"error": "refused", "reason", "code"}` when the ledger
//!    refuses it (`code` is the metric label of the reason). Unlike on the
//!    control socket, an object that awaits others (signer or roster
//!    version unknown here) is refused for good, its reason saying what to
//!    submit first, and is not kept: the open endpoint cannot fill the
//!    node's waiting pool.
//!
//! The bound is the protocol's envelope limit (96 KiB), not the genesis
//! limit (4 MiB): a genesis cannot change anything on a running node (its
//! own genesis is a duplicate, any other is refused as foreign), so there
//! is no reason to read one. A genesis within 96 KiB is still answered
//! like any other object. Every request is counted in
//! `chorus_api_submissions_total` under exactly one outcome.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chorus_core::{Envelope, Ledger, Rejection};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::ratelimit::{client_key, RateLimiter};
use super::{b64, error, internal_error, json_response, SubmitLimits};
use crate::control::SubmitOutcome;
use crate::daemon::{submit, Inner, SubmitError, Submitter};
use crate::metrics::ApiOutcome;

/// Largest envelope body accepted: the protocol's bound on every envelope
/// but a genesis.
pub const MAX_BODY_BYTES: usize = chorus_core::limits::MAX_ENVELOPE_BYTES;
/// Largest JSON body accepted: the base64 of [`MAX_BODY_BYTES`] and room
/// for the object around it.
pub const MAX_JSON_BODY_BYTES: usize = MAX_BODY_BYTES.div_ceil(3) * 4 + 1024;
/// Time a client has to send the whole body once its head has arrived.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// How a body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// The envelope bytes themselves.
    Octets,
    /// `{"envelope": "<standard padded base64>"}`.
    Json,
}

impl BodyFormat {
    /// The format a `Content-Type` names (parameters ignored), if any.
    pub fn of(content_type: Option<&str>) -> Option<BodyFormat> {
        let media = content_type?.split(';').next()?.trim().to_ascii_lowercase();
        match media.as_str() {
            "application/octet-stream" => Some(BodyFormat::Octets),
            "application/json" => Some(BodyFormat::Json),
            _ => None,
        }
    }

    /// Largest body read in this format.
    pub fn limit(self) -> usize {
        match self {
            BodyFormat::Octets => MAX_BODY_BYTES,
            BodyFormat::Json => MAX_JSON_BODY_BYTES,
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody {
    envelope: String,
}

/// The envelope a body carries: the bytes decoded as an envelope, or why
/// not (one line). What the fuzz target and the tests drive.
pub fn decode_body(format: BodyFormat, body: &[u8]) -> Result<Envelope, String> {
    let json;
    let bytes = match format {
        BodyFormat::Octets => body,
        BodyFormat::Json => {
            let parsed: JsonBody =
                serde_json::from_slice(body).map_err(|e| format!("body is not {{\"envelope\": base64}}: {e}"))?;
            json = b64::decode(&parsed.envelope).ok_or("envelope is not standard padded base64")?;
            &json
        }
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(format!("envelope is {} bytes, over the limit of {MAX_BODY_BYTES}", bytes.len()));
    }
    Envelope::decode(bytes).map_err(|e| format!("not an envelope: {e}"))
}

/// The write path's state: its three rate limiters.
pub(crate) struct Writer {
    per_address: Mutex<RateLimiter<std::net::IpAddr>>,
    total: Mutex<RateLimiter<()>>,
    per_signer: Mutex<RateLimiter<[u8; 32]>>,
}

fn retry_after(mut r: Response<Full<Bytes>>, wait: Duration) -> Response<Full<Bytes>> {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

impl Writer {
    pub(crate) fn new(limits: SubmitLimits) -> Self {
        Writer {
            per_address: Mutex::new(RateLimiter::new(limits.per_address)),
            total: Mutex::new(RateLimiter::with_capacity(limits.total, 1)),
            per_signer: Mutex::new(RateLimiter::new(limits.per_signer)),
        }
    }

    /// Answers one `POST /api/v1/objects` from `client`.
    pub(crate) async fn post(
        &self,
        inner: &Arc<Inner>,
        req: Request<Incoming>,
        client: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let (outcome, response) = self.handle(inner, req, client).await;
        inner.metrics.api_submission(outcome);
        response
    }

    async fn handle(
        &self,
        inner: &Arc<Inner>,
        req: Request<Incoming>,
        client: SocketAddr,
    ) -> (ApiOutcome, Response<Full<Bytes>>) {
        if inner.observer {
            let r = error(StatusCode::FORBIDDEN, "observer", crate::observer::CANNOT_SUBMIT);
            return (ApiOutcome::Refused, r);
        }
        let allowed =
            self.per_address.lock().unwrap_or_else(|e| e.into_inner()).check(&client_key(client.ip()), Instant::now());
        if let Err(wait) = allowed {
            let r = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many submissions from this address");
            return (ApiOutcome::RateLimited, retry_after(r, wait));
        }
        let allowed = self.total.lock().unwrap_or_else(|e| e.into_inner()).check(&(), Instant::now());
        if let Err(wait) = allowed {
            let r =
                error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many submissions to this node; try later");
            return (ApiOutcome::RateLimited, retry_after(r, wait));
        }
        let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let Some(format) = BodyFormat::of(content_type) else {
            let r = error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/octet-stream (the envelope bytes) or application/json ({\"envelope\": base64})",
            );
            return (ApiOutcome::Malformed, r);
        };
        let limit = format.limit();
        let too_large = || {
            let r = error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &format!("the body is over {limit} bytes"));
            (ApiOutcome::TooLarge, r)
        };
        let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return too_large();
        }
        let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(req.into_body(), limit).collect()).await {
            Err(_) => {
                let r = error(StatusCode::REQUEST_TIMEOUT, "timeout", "the body did not arrive in time");
                return (ApiOutcome::Malformed, r);
            }
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
            Ok(Err(e)) => {
                let r = error(StatusCode::BAD_REQUEST, "malformed", &format!("cannot read the body: {e}"));
                return (ApiOutcome::Malformed, r);
            }
            Ok(Ok(b)) => b.to_bytes(),
        };
        let envelope = match decode_body(format, &body) {
            Ok(e) => e,
            Err(reason) => return (ApiOutcome::Malformed, error(StatusCode::BAD_REQUEST, "malformed", &reason)),
        };
        // Verified before any per-signer charge, off the async threads.
        let i = inner.clone();
        let checking =
            tokio::task::spawn_blocking(move || (Ledger::check_signature(&i.coalition, envelope.bytes()), envelope));
        let (checked, envelope) = match checking.await {
            Ok(c) => c,
            Err(e) => return (ApiOutcome::Failed, internal_error("an API signature check failed", &e)),
        };
        let checked = match checked {
            Ok(c) => c,
            Err(r) => {
                inner.metrics.refused(&r);
                return refused(&r);
            }
        };
        if let Some(signer) = envelope.signatures().first().map(|s| s.signer) {
            let allowed = self.per_signer.lock().unwrap_or_else(|e| e.into_inner()).check(&signer, Instant::now());
            if let Err(wait) = allowed {
                let r = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many submissions by this signer");
                return (ApiOutcome::RateLimited, retry_after(r, wait));
            }
        }
        match submit(inner, checked.bytes().to_vec(), Submitter::Remote(Box::new(checked))).await {
            Ok(result) => {
                let (status, outcome) = match result.outcome {
                    SubmitOutcome::Stored => (StatusCode::CREATED, ApiOutcome::Stored),
                    SubmitOutcome::Duplicate => (StatusCode::OK, ApiOutcome::Duplicate),
                    SubmitOutcome::Waiting => {
                        let what = "daemon::submit answered waiting to the HTTP API, which it never should";
                        return (ApiOutcome::Failed, internal_error(what, &result.id));
                    }
                };
                let body = serde_json::json!({
                    "outcome": result.outcome.name(),
                    "id": result.id.to_hex(),
                    "adopted": result.adopted.map(|a| a.to_hex()),
                });
                (outcome, json_response(status, &body, "no-store"))
            }
            Err(SubmitError::Refused(r)) => refused(&r),
            Err(SubmitError::Internal(e)) => {
                (ApiOutcome::Failed, internal_error("an API submission failed inside the node", &e))
            }
        }
    }
}

/// `422` for an object the ledger refuses: its reason, and for one that
/// only awaits other objects, what to do about it.
fn refused(r: &Rejection) -> (ApiOutcome, Response<Full<Bytes>>) {
    let body = serde_json::json!({
        "error": "refused",
        "reason": refusal_reason(r),
        "code": crate::metrics::reason_name(r),
    });
    (ApiOutcome::Refused, json_response(StatusCode::UNPROCESSABLE_ENTITY, &body, "no-store"))
}

/// The ledger's reason; for an object that awaits others, followed by what
/// the client can do (this endpoint keeps no object waiting).
fn refusal_reason(r: &Rejection) -> String {
    match r {
        Rejection::UnknownSigner { .. } => format!(
            "{r}; if it is a leader's key, submit its delegation first (or the admission or key rotation that \
             makes it the trust's key), or try again once this node has synced"
        ),
        Rejection::UnknownRoster(_) => format!(
            "{r}; submit the governance proposals (and the endorsements that adopted them) that define this \
             roster version first, or try again once this node has synced"
        ),
        // A comment, open-voting or withdrawal that waits for its signer or
        // roster version: the same advice.
        Rejection::KindRules { reason, .. } if reason.awaits_objects() => refusal_reason(reason),
        _ => r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_that_await_others_are_told_what_to_submit_first() {
        let unknown = Rejection::UnknownSigner { key: "ab".repeat(32), trust: "cd".repeat(32) };
        let reason = refusal_reason(&unknown);
        assert!(reason.starts_with(&unknown.to_string()), "{reason}");
        assert!(reason.contains(&"ab".repeat(32)) && reason.contains(&"cd".repeat(32)), "{reason}");
        assert!(reason.contains("delegation first"), "{reason}");
        let roster = Rejection::UnknownRoster(chorus_core::ObjectId::from_slice(&[7; 32]).unwrap());
        assert!(refusal_reason(&roster).contains("governance proposals"));
        let bad = Rejection::BadSignature { signer: "ab".repeat(32) };
        assert_eq!(refusal_reason(&bad), bad.to_string());
    }

    #[test]
    fn content_types_name_formats() {
        assert_eq!(BodyFormat::of(Some("application/octet-stream")), Some(BodyFormat::Octets));
        assert_eq!(BodyFormat::of(Some("Application/JSON; charset=utf-8")), Some(BodyFormat::Json));
        assert_eq!(BodyFormat::of(Some("text/plain")), None);
        assert_eq!(BodyFormat::of(None), None);
    }

    #[test]
    fn bodies_decode_in_both_formats_and_nothing_else() {
        let f = chorus_core::testkit::Fixture::new(2);
        let p = f.proposal(0, "T", 1, None);
        assert_eq!(decode_body(BodyFormat::Octets, p.bytes()).unwrap().id(), p.id());
        let json = format!("{{\"envelope\":\"{}\"}}", b64::encode(p.bytes()));
        assert_eq!(decode_body(BodyFormat::Json, json.as_bytes()).unwrap().id(), p.id());
        assert!(decode_body(BodyFormat::Octets, b"garbage").is_err());
        assert!(decode_body(BodyFormat::Json, p.bytes()).is_err());
        assert!(decode_body(BodyFormat::Json, b"{\"envelope\":\"Zg\"}").is_err());
        assert!(decode_body(BodyFormat::Json, b"{\"envelope\":\"Zm9v\",\"x\":1}").is_err());
        let big = vec![0u8; MAX_BODY_BYTES + 1];
        assert!(decode_body(BodyFormat::Octets, &big).unwrap_err().contains("over the limit"));
    }

    /// The decoder never panics on mutated bodies, and whatever it accepts
    /// is an envelope whose bytes are the ones sent (fuzz/ drives
    /// `Envelope::decode` itself; this covers the JSON and base64 layer).
    #[test]
    fn mutated_bodies_are_refused_or_decoded_exactly() {
        let f = chorus_core::testkit::Fixture::new(2);
        let p = f.proposal(0, "T", 1, None);
        let json = format!("{{\"envelope\":\"{}\"}}", b64::encode(p.bytes())).into_bytes();
        let mut rng = chorus_core::testkit::SplitMix(14);
        for round in 0..4000 {
            let (format, seed) =
                if round % 2 == 0 { (BodyFormat::Octets, p.bytes()) } else { (BodyFormat::Json, &json[..]) };
            let mut body = seed.to_vec();
            for _ in 0..=rng.below(4) {
                let i = rng.index(body.len());
                match rng.below(3) {
                    0 if !body.is_empty() => body[i] = rng.next() as u8,
                    0 => {}
                    1 => body.truncate(i),
                    _ => body.insert(i, rng.next() as u8),
                }
            }
            if let Ok(e) = decode_body(format, &body) {
                if format == BodyFormat::Octets {
                    assert_eq!(e.bytes(), &body[..]);
                }
            }
        }
    }
}

//! The node's HTTP API for clients, under `/api/v1/` on the website's
//! server (only when `http_addr` is set). docs/API.md documents every
//! route and field; it is not part of the signed protocol.
//!
//! ## Reads
//! `GET` (and `HEAD`) of `/api/v1/coalition`, `/api/v1/roster`,
//! `/api/v1/proposals`, `/api/v1/proposals/{id}` and `/api/v1/objects/{id}`
//! answer JSON. Every envelope is given as the exact stored bytes (standard
//! padded base64) with its id (hex) and kind name, so a client verifies the
//! signatures itself instead of trusting the node; what the node derives
//! (status, tally, stances counted) is labelled as the node's view.
//!
//! The API follows the website's publication setting: under
//! `publish = "positions"` only adopted proposals are listed or shown, and
//! `/api/v1/objects/{id}` serves only the genesis, adopted proposals and
//! the stances on them; everything else is `404`, as it is on the website.
//! The write path does not depend on the setting.
//!
//! ## The one write path
//! `POST /api/v1/objects` takes one signed envelope and hands it to exactly
//! the path the control socket uses (`daemon::submit`): validated
//! and authorised by the ledger, stored durably, published to the peers;
//! only an object the ledger cannot authorise yet is refused here rather
//! than kept waiting. See [`mod@write`] for its bounds and answers.
//! Nothing else writes: every other method on `/api/v1/objects` is `405`
//! with `Allow: POST`, and every method but `GET`/`HEAD` anywhere else is
//! `405` with `Allow: GET, HEAD`.
//!
//! ## Cross-origin use
//! Every API response carries `Access-Control-Allow-Origin: *` (no
//! credentials are ever involved, and everything served is public), so a
//! page on another origin may read it. Preflight requests (`OPTIONS`) are
//! not answered (`405`), so a browser on another origin cannot POST an
//! `application/octet-stream` body; clients that write are expected to be
//! programs, or pages served by the node itself. The signature, not the
//! origin, is what authorises an object either way.

mod b64;
pub mod ratelimit;
mod read;
pub mod write;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chorus_core::ObjectId;
use chorus_web::Publish;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use crate::daemon::Inner;

/// Prefix of every API route.
pub const PREFIX: &str = "/api/v1/";

/// The policy every API response carries: it is data, never a document.
const API_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// How fast clients may submit: per client address, per signer key, and
/// all clients together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubmitLimits {
    /// Per client address (IPv6 by /64).
    pub per_address: ratelimit::Rate,
    /// Per signing key whose signature verified, whichever address it
    /// comes from.
    pub per_signer: ratelimit::Rate,
    /// Every submission to this node, whoever sends it.
    pub total: ratelimit::Rate,
}

/// The message of every `500` answer: what went wrong inside the node is
/// logged, never told to the client.
pub const INTERNAL_MESSAGE: &str = "the node could not decide; try again later";

/// The API's state: the node, its publication setting, the rate limiters.
pub(crate) struct Api {
    inner: Arc<Inner>,
    publish: Publish,
    writer: write::Writer,
}

impl Api {
    pub(crate) fn new(inner: Arc<Inner>, publish: Publish, limits: SubmitLimits) -> Self {
        Api { inner, publish, writer: write::Writer::new(limits) }
    }

    /// Answers one request whose path starts with `/api/`.
    pub(crate) async fn respond(self: Arc<Self>, req: Request<Incoming>, client: SocketAddr) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let route = path.strip_prefix(PREFIX).unwrap_or("");
        let method = req.method().clone();
        let mut r = if route == "objects" {
            if method == Method::POST {
                self.writer.post(&self.inner, req, client).await
            } else {
                not_allowed("POST")
            }
        } else if method != Method::GET && method != Method::HEAD {
            not_allowed("GET, HEAD")
        } else {
            let (inner, publish, route) = (self.inner.clone(), self.publish, route.to_string());
            match tokio::task::spawn_blocking(move || read::answer(&inner, publish, &route)).await {
                Ok(r) => r,
                Err(e) => internal_error("an API read task failed", &e),
            }
        };
        if method == Method::HEAD {
            // A full body knows its length exactly.
            let len = hyper::body::Body::size_hint(r.body()).exact().unwrap_or(0);
            *r.body_mut() = Full::new(Bytes::new());
            r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        r
    }
}

/// An envelope as the API gives it: its id, kind and exact bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnvelopeJson {
    /// Object id, lower-case hex.
    pub id: String,
    /// Kind name, e.g. `proposal`.
    pub kind: String,
    /// The exact stored bytes, standard base64 with padding.
    pub envelope: String,
}

impl EnvelopeJson {
    /// The JSON form of stored envelope bytes; `None` when they do not
    /// decode (a store never holds such bytes).
    pub fn of(bytes: &[u8]) -> Option<Self> {
        let e = chorus_core::Envelope::decode(bytes).ok()?;
        Some(EnvelopeJson { id: e.id().to_hex(), kind: e.kind().name().to_string(), envelope: b64::encode(bytes) })
    }
}

/// Parses a full object id (64 hex digits); prefixes are not accepted, so
/// an answer never depends on what else the node holds.
fn parse_id(s: &str) -> Option<ObjectId> {
    if s.len() != 64 {
        return None;
    }
    ObjectId::from_slice(&hex::decode(s).ok()?)
}

/// A JSON response with the API's headers.
fn json_response<T: serde::Serialize>(status: StatusCode, value: &T, cache: &'static str) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot encode an API answer");
        serde_json::json!({ "error": "internal", "message": INTERNAL_MESSAGE }).to_string().into_bytes()
    });
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(API_CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    r
}

/// `{"error": code, "message": ...}` with `status`, never cached.
fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    json_response(status, &serde_json::json!({ "error": code, "message": message }), "no-store")
}

/// A `500` saying only [`INTERNAL_MESSAGE`]; `what` and `detail` (which
/// may name paths, keys or store internals) go to the log.
fn internal_error(what: &str, detail: &dyn std::fmt::Display) -> Response<Full<Bytes>> {
    tracing::error!(error = %detail, "{what}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", INTERNAL_MESSAGE)
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", &format!("only {allow} here"));
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits() {
        let id = "ab".repeat(32);
        assert_eq!(parse_id(&id).unwrap().to_hex(), id);
        assert!(parse_id(&id[..63]).is_none());
        assert!(parse_id(&"zz".repeat(32)).is_none());
        assert!(parse_id("").is_none());
    }

    /// A 500 carries the fixed message and nothing of the internal error.
    /// (An end-to-end 500 would need a store that fails on demand, which
    /// the node offers no way to cause; every 500 is built here.)
    #[test]
    fn internal_errors_tell_the_client_nothing_internal() {
        let r = internal_error("the store failed", &"cannot write /var/lib/chorus/store/db: disk full");
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_of(r);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, serde_json::json!({ "error": "internal", "message": INTERNAL_MESSAGE }));
    }

    fn body_of(r: Response<Full<Bytes>>) -> Bytes {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(http_body_util::BodyExt::collect(r.into_body())).unwrap().to_bytes()
    }

    #[test]
    fn envelopes_carry_their_exact_bytes() {
        let f = chorus_core::testkit::Fixture::new(2);
        let p = f.proposal(0, "T", 1, None);
        let j = EnvelopeJson::of(p.bytes()).unwrap();
        assert_eq!(j.id, p.id().to_hex());
        assert_eq!(j.kind, "proposal");
        assert_eq!(b64::decode(&j.envelope).unwrap(), p.bytes());
        assert!(EnvelopeJson::of(b"garbage").is_none());
    }
}

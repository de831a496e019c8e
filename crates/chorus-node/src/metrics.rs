//! Prometheus metrics and the optional loopback `/metrics`, `/health` and
//! `/ready` endpoint.
//!
//! `/health` answers 200 while the process serves at all. `/ready` answers
//! 200 once the node is caught up as far as it can tell (see
//! [`ReadinessCheck`]), else 503 with a one-line reason.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::error::{NodeError, Result};
use crate::http::{self, HttpLimits};

/// Label of a refused object: the reason, as a short stable name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The rejection kind in snake case, e.g. `bad_signature` or
    /// `unknown_signer` ([`reason_name`]; its verdict follows from it,
    /// except that a comment, open-voting or withdrawal refused by its
    /// kind's own rules is always Ignore).
    pub reason: String,
}

/// Label of objects held by kind.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// The kind's protocol name ([`chorus_core::Kind::name`]): `proposal`,
    /// `endorsement`, `comment`, `kind-13` (open-voting), `kind-14`
    /// (withdrawal), ...
    pub kind: &'static str,
}

/// Label of an API submission: what became of it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// [`ApiOutcome::name`].
    pub outcome: &'static str,
}

/// What became of one `POST /api/v1/objects`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiOutcome {
    /// Stored (201).
    Stored,
    /// Already held (200).
    Duplicate,
    /// Refused by the ledger (422).
    Refused,
    /// Not an envelope, or sent as an unsupported type or too slowly (400, 415, 408).
    Malformed,
    /// Body over the limit (413).
    TooLarge,
    /// Over the address's, the node-wide or the signer's rate (429).
    RateLimited,
    /// The node failed to decide (500).
    Failed,
}

impl ApiOutcome {
    /// Every outcome.
    pub const ALL: [ApiOutcome; 7] = [
        ApiOutcome::Stored,
        ApiOutcome::Duplicate,
        ApiOutcome::Refused,
        ApiOutcome::Malformed,
        ApiOutcome::TooLarge,
        ApiOutcome::RateLimited,
        ApiOutcome::Failed,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            ApiOutcome::Stored => "stored",
            ApiOutcome::Duplicate => "duplicate",
            ApiOutcome::Refused => "refused",
            ApiOutcome::Malformed => "malformed",
            ApiOutcome::TooLarge => "too_large",
            ApiOutcome::RateLimited => "rate_limited",
            ApiOutcome::Failed => "failed",
        }
    }
}

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    /// Objects newly stored.
    pub objects_stored: Counter,
    /// Objects refused, by reason.
    pub objects_refused: Family<ReasonLabel, Counter>,
    /// Objects held.
    pub objects: Gauge,
    /// Objects held, by kind; set with [`Metrics::held`].
    pub objects_by_kind: Family<KindLabel, Gauge>,
    /// Connected peers proved to be member nodes, as the network counts
    /// them now: set from its state on every peer event, never counted up.
    pub peers: Gauge,
    /// Sync rounds finished, failed ones included.
    pub sync_rounds: Counter,
    /// Sync rounds that ended with an error (the network reports why only
    /// as text, so there is no reason label).
    pub sync_failures: Counter,
    /// Control requests served.
    pub control_requests: Counter,
    /// Peers whose split view is reported now (PROTOCOL.md 13): set from
    /// the network's state, never counted up.
    pub split_view_peers: Gauge,
    /// When the installed node attestation expires, seconds since 1970;
    /// 0 when none is installed or it never expires.
    pub attestation_expiry: Gauge,
    /// Split views reported, by reason (`withheld`, `other_coalition`,
    /// `unsupported_roster`).
    pub split_view_reports: Family<ReasonLabel, Counter>,
    /// Submissions to the HTTP API, by outcome.
    pub api_submissions: Family<OutcomeLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics registered under the `chorus` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chorus");
        let m = Metrics {
            registry: Registry::default(),
            objects_stored: Counter::default(),
            objects_refused: Family::default(),
            objects: Gauge::default(),
            objects_by_kind: Family::default(),
            peers: Gauge::default(),
            sync_rounds: Counter::default(),
            sync_failures: Counter::default(),
            control_requests: Counter::default(),
            split_view_peers: Gauge::default(),
            attestation_expiry: Gauge::default(),
            split_view_reports: Family::default(),
            api_submissions: Family::default(),
        };
        registry.register("objects_stored", "Objects newly stored", m.objects_stored.clone());
        registry.register("objects_refused", "Objects refused, by reason", m.objects_refused.clone());
        registry.register("objects", "Objects held, genesis included", m.objects.clone());
        registry.register("objects_by_kind", "Objects held, by kind", m.objects_by_kind.clone());
        // Every defined kind's series exists from the start, at 0.
        for kind in chorus_core::Kind::ALL {
            m.objects_by_kind.get_or_create(&KindLabel { kind: kind.name() }).set(0);
        }
        registry.register("peers", "Connected peers proved to be member nodes", m.peers.clone());
        registry.register("sync_rounds", "Sync rounds finished, failed ones included", m.sync_rounds.clone());
        registry.register("sync_failures", "Sync rounds that ended with an error", m.sync_failures.clone());
        registry.register("control_requests", "Control requests served", m.control_requests.clone());
        registry.register(
            "split_view_peers",
            "Peers whose split view is reported now: they show this node a different history from the one they announce",
            m.split_view_peers.clone(),
        );
        registry.register("split_view_reports", "Split views reported, by reason", m.split_view_reports.clone());
        registry.register(
            "node_attestation_expiry_timestamp_seconds",
            "When the installed node attestation expires (seconds since 1970); 0: none installed, or it never expires",
            m.attestation_expiry.clone(),
        );
        registry.register("api_submissions", "Objects posted to the HTTP API, by outcome", m.api_submissions.clone());
        for outcome in ApiOutcome::ALL {
            m.api_submissions.get_or_create(&OutcomeLabel { outcome: outcome.name() }).inc_by(0);
        }
        // Every reason's series exists from the start, at 0, so that rates
        // and alerts see the first report.
        for reason in chorus_net::splitview::SPLIT_VIEW_REASONS {
            m.split_view_reports.get_or_create(&ReasonLabel { reason: reason.into() }).inc_by(0);
        }
        Metrics { registry, ..m }
    }

    /// Sets the objects held, in all and by kind, from the store.
    pub fn held(&self, store: &chorus_store::Store) {
        self.objects.set(store.object_count() as i64);
        for (kind, n) in store.kind_counts() {
            self.objects_by_kind.get_or_create(&KindLabel { kind: kind.name() }).set(n as i64);
        }
    }

    /// Counts a refusal under a short reason name.
    pub fn refused(&self, rejection: &chorus_core::Rejection) {
        self.objects_refused.get_or_create(&ReasonLabel { reason: reason_name(rejection).into() }).inc();
    }

    /// Counts one API submission under its outcome.
    pub fn api_submission(&self, outcome: ApiOutcome) {
        self.api_submissions.get_or_create(&OutcomeLabel { outcome: outcome.name() }).inc();
    }

    /// Counts a split view reported, by its reason.
    pub fn split_view(&self, reason: &str) {
        self.split_view_reports.get_or_create(&ReasonLabel { reason: reason.into() }).inc();
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// What `/ready` asks: `Ok` when the node is ready, else why not, one line.
pub type ReadinessCheck = Arc<dyn Fn() -> std::result::Result<(), String> + Send + Sync>;

/// A short, stable name for a rejection, for metric labels.
pub fn reason_name(r: &chorus_core::Rejection) -> &'static str {
    use chorus_core::Rejection::*;
    match r {
        TooLarge { .. } => "too_large",
        Malformed { .. } => "malformed",
        NonCanonical { .. } => "non_canonical",
        UnknownKind(_) => "unknown_kind",
        SignatureCount { .. } => "signature_count",
        SignaturesNotSorted { .. } => "signatures_not_sorted",
        SignatureLength { .. } => "signature_length",
        BadKey { .. } => "bad_key",
        BadSignature { .. } => "bad_signature",
        InvalidField { .. } => "invalid_field",
        WrongCoalition { .. } => "wrong_coalition",
        NotAMember { .. } => "not_a_member",
        SignerMismatch { .. } => "signer_mismatch",
        UnknownRoster(_) => "unknown_roster",
        UnknownSigner { .. } => "unknown_signer",
        FromTheFuture { .. } => "from_the_future",
        ForeignGenesis(_) => "foreign_genesis",
        // A comment, open-voting or withdrawal refused by its kind's own
        // rules (verdict Ignore, PROTOCOL.md 10) is labelled by the rule's
        // own error, so that e.g. one waiting for its signer's delegation
        // is `unknown_signer` whatever its kind.
        KindRules { reason, .. } => reason_name(reason),
    }
}

/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 32;
/// Largest request head (request line and headers) read; hyper's smallest
/// buffer. A larger head is answered `431`.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Time a client has to send its whole request head, in as many pieces as
/// it likes; the connection is closed after it.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a connection stays open.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics`, `GET /health` and `GET /ready` (200 when `ready`
/// says so, else 503 with its reason) on a loopback address until the task
/// is aborted; returns the task and the address bound (port 0 picks a free
/// port). Only loopback addresses are accepted.
///
/// HTTP/1.1 with hyper: a request head may arrive in any number of pieces
/// within [`HEAD_TIMEOUT`]; a head over [`MAX_HEAD_BYTES`] is answered
/// `431`, a malformed one `400`; `HEAD` is answered like `GET` without the
/// body, other methods `405`. Every response closes the connection.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    ready: ReadinessCheck,
) -> Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    if !addr.ip().is_loopback() {
        return Err(NodeError::Config(format!("metrics address {addr} is not loopback")));
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| NodeError::Config(format!("cannot listen for metrics on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| NodeError::Config(format!("metrics listener: {e}")))?;
    let limits = HttpLimits {
        connections: MAX_CONNECTIONS,
        head_bytes: MAX_HEAD_BYTES,
        head_timeout: HEAD_TIMEOUT,
        connection_timeout: CONNECTION_TIMEOUT,
    };
    let task = http::spawn(listener, "metrics", limits, None, move |req, _client| {
        std::future::ready(respond(&metrics, &ready, &req))
    });
    Ok((task, bound))
}

/// The response to one request: the same paths and bodies as always.
fn respond<B>(metrics: &Metrics, ready: &ReadinessCheck, req: &Request<B>) -> Response<Full<Bytes>> {
    let (status, ctype, body) = if req.method() != Method::GET && req.method() != Method::HEAD {
        (StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET and HEAD only\n".to_string())
    } else {
        match req.uri().path() {
            "/metrics" => (StatusCode::OK, OPENMETRICS, metrics.encode()),
            "/health" => (StatusCode::OK, "text/plain", "ok\n".to_string()),
            "/ready" => match ready() {
                Ok(()) => (StatusCode::OK, "text/plain", "ready\n".to_string()),
                Err(why) => (StatusCode::SERVICE_UNAVAILABLE, "text/plain", format!("not ready: {why}\n")),
            },
            _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".to_string()),
        }
    };
    let length = body.len();
    let body = if req.method() == Method::HEAD { Bytes::new() } else { Bytes::from(body) };
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn metrics_health_and_readiness_are_served_on_loopback_only() {
        let m = Arc::new(Metrics::new());
        m.objects_stored.inc();
        m.refused(&chorus_core::Rejection::UnknownKind(9));
        let synced = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = synced.clone();
        let ready: ReadinessCheck =
            Arc::new(
                move || {
                    if flag.load(std::sync::atomic::Ordering::Relaxed) {
                        Ok(())
                    } else {
                        Err("no sync yet".into())
                    }
                },
            );
        assert!(serve("0.0.0.0:0".parse().unwrap(), m.clone(), ready.clone()).await.is_err());
        let (task, addr) = serve("127.0.0.1:0".parse().unwrap(), m, ready).await.unwrap();
        let get = |path: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let metrics = get("/metrics").await;
        assert!(metrics.contains("chorus_objects_stored_total 1"), "{metrics}");
        assert!(metrics.contains("reason=\"unknown_kind\""), "{metrics}");
        for kind in ["proposal", "comment", "kind-13", "kind-14"] {
            assert!(metrics.contains(&format!("chorus_objects_by_kind{{kind=\"{kind}\"}} 0")), "{metrics}");
        }
        // Split views: the gauge and every reason's counter are served at 0
        // before the first report.
        assert!(metrics.contains("chorus_split_view_peers 0"), "{metrics}");
        assert!(metrics.contains("chorus_node_attestation_expiry_timestamp_seconds 0"), "{metrics}");
        for reason in chorus_net::splitview::SPLIT_VIEW_REASONS {
            let series = format!("chorus_split_view_reports_total{{reason=\"{reason}\"}} 0");
            assert!(metrics.contains(&series), "{metrics}");
        }
        assert!(get("/health").await.ends_with("ok\n"));
        let not_ready = get("/ready").await;
        assert!(not_ready.starts_with("HTTP/1.1 503"), "{not_ready}");
        assert!(not_ready.ends_with("not ready: no sync yet\n"), "{not_ready}");
        synced.store(true, std::sync::atomic::Ordering::Relaxed);
        let ready = get("/ready").await;
        assert!(ready.starts_with("HTTP/1.1 200") && ready.ends_with("ready\n"), "{ready}");
        assert!(get("/nope").await.starts_with("HTTP/1.1 404"));
        task.abort();
    }

    fn always_ready() -> ReadinessCheck {
        Arc::new(|| Ok(()))
    }

    /// Everything the server sends until it closes, within a bound that
    /// turns a hang into a failure.
    async fn reply_of(s: &mut tokio::net::TcpStream) -> String {
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
        assert!(read.is_ok(), "the server neither answered nor closed: {}", String::from_utf8_lossy(&out));
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn a_request_written_in_pieces_is_served() {
        let m = Arc::new(Metrics::new());
        m.sync_failures.inc();
        let (task, addr) = serve("127.0.0.1:0".parse().unwrap(), m, always_ready()).await.unwrap();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        for piece in ["GET /metr", "ics HTTP/1.1\r\n", "Host: x\r\nAccept: */*\r\n\r\n"] {
            s.write_all(piece.as_bytes()).await.unwrap();
            s.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let reply = reply_of(&mut s).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.contains("chorus_sync_failures_total 1"), "{reply}");
        assert!(reply.contains("chorus_sync_rounds_total 0"), "{reply}");
        task.abort();
    }

    #[tokio::test]
    async fn an_oversized_head_is_refused_not_left_hanging() {
        let m = Arc::new(Metrics::new());
        let (task, addr) = serve("127.0.0.1:0".parse().unwrap(), m, always_ready()).await.unwrap();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n", "a".repeat(4 * MAX_HEAD_BYTES));
        // The server may close before reading it all; what it answered counts.
        let _ = s.write_all(head.as_bytes()).await;
        let reply = reply_of(&mut s).await;
        assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
        task.abort();
    }

    #[tokio::test]
    async fn head_answers_without_a_body_and_other_methods_are_refused() {
        let m = Arc::new(Metrics::new());
        let (task, addr) = serve("127.0.0.1:0".parse().unwrap(), m, always_ready()).await.unwrap();
        let send = |request: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(request.as_bytes()).await.unwrap();
            reply_of(&mut s).await
        };
        let head = send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"), "{head}");
        assert!(head.to_ascii_lowercase().contains("content-length: 3"), "{head}");
        let post = send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").await;
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        let garbage = send("NOT HTTP AT ALL\r\n\r\n").await;
        assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
        task.abort();
    }
}

//! Prometheus metrics and the optional loopback `/metrics`, `/health` and
//! `/ready` endpoint.
//!
//! `/health` answers 200 while the process serves at all. `/ready` answers
//! 200 once the node is caught up as far as it can tell (see
//! [`ReadinessCheck`]), else 503 with a one-line reason.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::error::{NodeError, Result};

/// Label of a refused object: the reason, as a short stable name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The rejection kind in snake case, e.g. `bad_signature` or
    /// `unknown_signer` ([`reason_name`]; its verdict follows from it).
    pub reason: String,
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
    /// Connected peers proved to be member nodes, as the network counts
    /// them now: set from its state on every peer event, never counted up.
    pub peers: Gauge,
    /// Completed sync rounds.
    pub sync_rounds: Counter,
    /// Control requests served.
    pub control_requests: Counter,
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
            peers: Gauge::default(),
            sync_rounds: Counter::default(),
            control_requests: Counter::default(),
        };
        registry.register("objects_stored", "Objects newly stored", m.objects_stored.clone());
        registry.register("objects_refused", "Objects refused, by reason", m.objects_refused.clone());
        registry.register("objects", "Objects held, genesis included", m.objects.clone());
        registry.register("peers", "Connected peers proved to be member nodes", m.peers.clone());
        registry.register("sync_rounds", "Completed sync rounds", m.sync_rounds.clone());
        registry.register("control_requests", "Control requests served", m.control_requests.clone());
        Metrics { registry, ..m }
    }

    /// Counts a refusal under a short reason name.
    pub fn refused(&self, rejection: &chorus_core::Rejection) {
        self.objects_refused.get_or_create(&ReasonLabel { reason: reason_name(rejection).into() }).inc();
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
    }
}

/// Serves `GET /metrics`, `GET /health` and `GET /ready` (200 when `ready`
/// says so, else 503 with its reason) on a loopback address until the task
/// is aborted; returns the task and the address bound (port 0 picks a free
/// port). Only loopback addresses are accepted.
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
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { continue };
            let metrics = metrics.clone();
            let ready = ready.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let n = match tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf)).await {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("");
                let (status, ctype, body) = match path {
                    "/metrics" => {
                        ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", metrics.encode())
                    }
                    "/health" => ("200 OK", "text/plain", "ok\n".to_string()),
                    "/ready" => match ready() {
                        Ok(()) => ("200 OK", "text/plain", "ready\n".to_string()),
                        Err(why) => ("503 Service Unavailable", "text/plain", format!("not ready: {why}\n")),
                    },
                    _ => ("404 Not Found", "text/plain", "not found\n".to_string()),
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok((task, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

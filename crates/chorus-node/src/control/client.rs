//! The client side of the control socket: [`Client`] sends one request
//! and reads the reply, and when the node gives no complete answer says
//! which [`NoAnswer`] case it is, from the [`Stage`] the I/O failed at, and
//! what the operator should do.

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{Reply, Request, MAX_REPLY_BYTES};
use crate::error::{NodeError, Result};

/// Where in a control request an I/O error happened: it decides what the
/// error means (see [`NoAnswer::classify`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Connecting to the socket: nothing reached the node.
    Connect,
    /// Writing the request: the node had accepted the connection.
    Send,
    /// Reading the reply: the node had the request.
    Receive,
}

/// Why a control request got no complete answer. Each case points the
/// operator somewhere different, and has a stable name for `--json`
/// ([`NoAnswer::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAnswer {
    /// No node is listening: no socket file, or one left over by a node
    /// that is gone (connection refused). Nothing was carried out.
    NotRunning,
    /// The node accepted the connection, then closed it before a full
    /// reply: it stopped (or crashed) while handling the request, which may
    /// or may not have been carried out.
    Stopped,
    /// This OS user may not use the socket: the operating system refused
    /// the connection, or the node closed it because it serves only the
    /// user it runs as.
    PermissionDenied,
    /// Anything else, e.g. no answer within the client's timeout.
    Other,
}

impl NoAnswer {
    /// What an I/O error of kind `kind` at `stage` means.
    pub fn classify(stage: Stage, kind: std::io::ErrorKind) -> NoAnswer {
        use std::io::ErrorKind as K;
        match (stage, kind) {
            (_, K::PermissionDenied) => NoAnswer::PermissionDenied,
            (Stage::Connect, K::NotFound | K::ConnectionRefused) => NoAnswer::NotRunning,
            (Stage::Send | Stage::Receive, K::BrokenPipe | K::ConnectionReset | K::UnexpectedEof) => NoAnswer::Stopped,
            _ => NoAnswer::Other,
        }
    }

    /// The stable machine-readable name (the `code` of a `--json` error).
    pub fn code(self) -> &'static str {
        match self {
            NoAnswer::NotRunning => "node_not_running",
            NoAnswer::Stopped => "node_stopped_during_request",
            NoAnswer::PermissionDenied => "permission_denied",
            NoAnswer::Other => "node_unreachable",
        }
    }
}

/// A client for one node's control socket.
#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
    timeout: Duration,
}

impl Client {
    /// A client for the socket at `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Client { socket: socket.into(), timeout: Duration::from_secs(120) }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends one request and decodes the result.
    pub fn call<T: DeserializeOwned>(&self, request: &Request) -> Result<T> {
        let value = self.call_value(request)?;
        serde_json::from_value(value).map_err(|e| NodeError::Protocol(format!("unexpected reply: {e}")))
    }

    /// Sends one request and returns the raw result. When the node gives no
    /// complete answer the error is [`NodeError::NoAnswer`], saying which
    /// [`NoAnswer`] case it is and what to do.
    pub fn call_value(&self, request: &Request) -> Result<serde_json::Value> {
        let failed = |stage: Stage| {
            move |e: std::io::Error| {
                let failure = NoAnswer::classify(stage, e.kind());
                let detail = match e.kind() {
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut if stage == Stage::Receive => {
                        format!(
                            "no answer within {} s; it may be overloaded or stuck: check its log",
                            self.timeout.as_secs()
                        )
                    }
                    _ => e.to_string(),
                };
                if failure == NoAnswer::Stopped {
                    return self.closed_early(request, stage, &detail);
                }
                self.no_answer(failure, self.explain(request, failure, stage, &detail))
            }
        };
        let mut stream = UnixStream::connect(&self.socket).map_err(failed(Stage::Connect))?;
        stream.set_read_timeout(Some(self.timeout)).map_err(failed(Stage::Connect))?;
        let mut line = serde_json::to_vec(request).map_err(|e| NodeError::Protocol(e.to_string()))?;
        line.push(b'\n');
        stream.write_all(&line).map_err(failed(Stage::Send))?;
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut buf = Vec::new();
        (&mut stream).take(MAX_REPLY_BYTES as u64 + 1).read_to_end(&mut buf).map_err(failed(Stage::Receive))?;
        if buf.len() > MAX_REPLY_BYTES {
            return Err(NodeError::Protocol(format!("reply over {MAX_REPLY_BYTES} bytes")));
        }
        if buf.is_empty() {
            return Err(self.closed_early(request, Stage::Receive, "it closed the connection without answering"));
        }
        match serde_json::from_slice::<Reply>(&buf) {
            Ok(Reply::Ok(v)) => Ok(v),
            Ok(Reply::Error(e)) => Err(NodeError::Remote(e)),
            // The node ends every reply with a line break: a reply cut
            // short is a node that stopped while writing it.
            Err(_) if !buf.ends_with(b"\n") => {
                let detail = format!("its reply broke off after {} bytes", buf.len());
                Err(self
                    .no_answer(NoAnswer::Stopped, self.explain(request, NoAnswer::Stopped, Stage::Receive, &detail)))
            }
            Err(e) => Err(NodeError::Protocol(format!("unreadable reply: {e}"))),
        }
    }

    fn no_answer(&self, failure: NoAnswer, message: String) -> NodeError {
        NodeError::NoAnswer { failure, socket: self.socket.clone(), message }
    }

    /// The node accepted the connection and closed it before a byte of
    /// reply (`detail` says how the client saw it): it either refused this
    /// OS user (the server closes connections from any uid but the socket
    /// owner's, possibly before reading the request) or stopped.
    fn closed_early(&self, request: &Request, stage: Stage, detail: &str) -> NodeError {
        let owner = std::fs::metadata(&self.socket).ok().map(|m| m.uid());
        match (owner, own_uid()) {
            (Some(owner), Some(me)) if owner != me => self.no_answer(
                NoAnswer::PermissionDenied,
                format!(
                    "the node closed the connection without answering: it serves only its own OS user (uid {owner}, \
                     the owner of {}) and you are uid {me}; run the command as that user",
                    self.socket.display()
                ),
            ),
            (Some(_), Some(_)) => {
                self.no_answer(NoAnswer::Stopped, self.explain(request, NoAnswer::Stopped, stage, detail))
            }
            _ => {
                let message = format!(
                    "{} (or, if you are not the OS user the node runs as, it refused you: it serves only its own \
                     OS user)",
                    self.explain(request, NoAnswer::Stopped, stage, detail)
                );
                self.no_answer(NoAnswer::Stopped, message)
            }
        }
    }

    /// The message for `failure` at `stage` of `request`: what happened
    /// (`detail`, the operating system's words) and what to do.
    fn explain(&self, request: &Request, failure: NoAnswer, stage: Stage, detail: &str) -> String {
        let socket = self.socket.display();
        let data_dir = self.socket.parent().unwrap_or(Path::new(".")).display();
        match failure {
            NoAnswer::NotRunning => {
                let why = if self.socket.exists() {
                    format!("{socket} is left over from a node that is no longer running ({detail})")
                } else {
                    format!("there is no control socket at {socket}")
                };
                format!(
                    "no node is running for data directory {data_dir}: {why}; start it with \
                     `chorus node run --data-dir {data_dir}` (or `systemctl start chorus` under the packaged unit)"
                )
            }
            NoAnswer::Stopped => {
                let mut m = format!(
                    "the node stopped while handling the request ({detail}); check its log (the output of \
                     `chorus node run`, or `journalctl -u chorus` under the packaged unit) for why. The request \
                     may or may not have been carried out: once the node runs again, check with `chorus status`"
                );
                if let Request::Submit { envelope } = request {
                    let decoded = hex::decode(envelope).ok().and_then(|b| chorus_core::Envelope::decode(&b).ok());
                    let id = decoded.map(|e| format!(" {}", e.id())).unwrap_or_default();
                    m.push_str(&format!(
                        "; the object{id} may already be stored: submitting the same signed object again is safe \
                         (the node keeps one copy per object id), but running the command again signs a new \
                         object, so look for this one first (`chorus proposals`, `chorus show ID`)"
                    ));
                }
                m
            }
            NoAnswer::PermissionDenied => {
                let owner = std::fs::metadata(&self.socket)
                    .or_else(|_| std::fs::metadata(self.socket.parent().unwrap_or(Path::new("."))))
                    .map(|m| format!(" (uid {})", m.uid()))
                    .unwrap_or_default();
                format!(
                    "cannot reach the node at {socket}: {detail}: the node serves only its own OS user{owner}, \
                     the owner of data directory {data_dir}; run the command as that user"
                )
            }
            NoAnswer::Other if stage == Stage::Connect => format!(
                "cannot reach the node at {socket}: {detail}; is `chorus node run` running with this data directory?"
            ),
            NoAnswer::Other => format!("the node at {socket} gave no answer: {detail}"),
        }
    }
}

/// The effective uid of this process: the owner of `/proc/self` (Linux);
/// `None` where that cannot be read.
fn own_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_what_the_operator_should_look_at() {
        use std::io::ErrorKind as K;
        let cases = [
            (Stage::Connect, K::NotFound, NoAnswer::NotRunning),
            (Stage::Connect, K::ConnectionRefused, NoAnswer::NotRunning),
            (Stage::Connect, K::PermissionDenied, NoAnswer::PermissionDenied),
            (Stage::Send, K::BrokenPipe, NoAnswer::Stopped),
            (Stage::Send, K::ConnectionReset, NoAnswer::Stopped),
            (Stage::Receive, K::ConnectionReset, NoAnswer::Stopped),
            (Stage::Receive, K::UnexpectedEof, NoAnswer::Stopped),
            (Stage::Receive, K::WouldBlock, NoAnswer::Other),
            (Stage::Receive, K::TimedOut, NoAnswer::Other),
            // A refused connection after connecting is not "no node".
            (Stage::Receive, K::ConnectionRefused, NoAnswer::Other),
            (Stage::Connect, K::BrokenPipe, NoAnswer::Other),
        ];
        for (stage, kind, want) in cases {
            assert_eq!(NoAnswer::classify(stage, kind), want, "{stage:?} {kind:?}");
        }
        let codes =
            [NoAnswer::NotRunning, NoAnswer::Stopped, NoAnswer::PermissionDenied, NoAnswer::Other].map(NoAnswer::code);
        assert_eq!(codes, ["node_not_running", "node_stopped_during_request", "permission_denied", "node_unreachable"]);
    }

    fn failure(e: NodeError) -> (NoAnswer, String) {
        match e {
            NodeError::NoAnswer { failure, message, .. } => (failure, message),
            other => panic!("expected no answer, got {other}"),
        }
    }

    #[test]
    fn a_missing_or_stale_socket_is_no_node_running() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let (f, m) = failure(Client::new(&socket).call_value(&Request::Status).unwrap_err());
        assert_eq!(f, NoAnswer::NotRunning);
        assert!(m.contains("no node is running") && m.contains("no control socket at"), "{m}");
        assert!(m.contains("chorus node run"), "{m}");
        // A listener dropped without unlinking: what a killed node leaves.
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        let (f, m) = failure(Client::new(&socket).call_value(&Request::Status).unwrap_err());
        assert_eq!(f, NoAnswer::NotRunning);
        assert!(m.contains("left over from a node that is no longer running"), "{m}");
    }

    /// A server that reads the request, writes `reply` and closes.
    fn serve_once(socket: &Path, reply: &'static [u8]) -> std::thread::JoinHandle<()> {
        let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut line = Vec::new();
            let _ = s.read_to_end(&mut line);
            let _ = s.write_all(reply);
        })
    }

    #[test]
    fn a_node_that_closes_mid_request_stopped_during_it() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let server = serve_once(&socket, b"");
        let (f, m) = failure(Client::new(&socket).call_value(&Request::Status).unwrap_err());
        server.join().unwrap();
        // The socket is ours, so the node did not refuse our uid.
        assert_eq!(f, NoAnswer::Stopped);
        assert!(m.contains("stopped while handling the request") && m.contains("may or may not"), "{m}");
        assert!(!m.contains("own OS user"), "{m}");

        std::fs::remove_file(&socket).unwrap();
        let server = serve_once(&socket, br#"{"ok":{"id":"#);
        let proposal = chorus_core::testkit::Fixture::new(1).proposal(0, "t", 0, None);
        let envelope = hex::encode(proposal.bytes());
        let (f, m) = failure(Client::new(&socket).call_value(&Request::Submit { envelope }).unwrap_err());
        server.join().unwrap();
        assert_eq!(f, NoAnswer::Stopped);
        assert!(m.contains("broke off after 12 bytes"), "{m}");
        assert!(m.contains("submitting the same signed object again is safe"), "{m}");
        assert!(m.contains(&proposal.id().to_string()), "{m}");
    }

    #[test]
    fn a_complete_reply_is_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("control.sock");
        let server = serve_once(&socket, b"{\"error\":\"no such proposal\"}\n");
        let e = Client::new(&socket).call_value(&Request::Status).unwrap_err();
        server.join().unwrap();
        assert!(matches!(e, NodeError::Remote(ref m) if m == "no such proposal"), "{e}");
    }
}

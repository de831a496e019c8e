//! A malicious test double of a node's HTTP API (docs/API.md): a small
//! HTTP/1.1 server on `127.0.0.1` that forwards every request to a real
//! node and alters what the node answers to reads, as a compromised server
//! or a machine in the middle could. It stands for "the node a leader
//! talks to lies", so that a test can show a client checks what it signs
//! against the genesis rather than trusting the node.
//!
//! Each pair of [`HttpDouble::start`]'s replacements is applied to the
//! answers of `GET` requests that are JSON with status 200: in every string
//! value (titles in `/api/v1/proposals`, say) and inside every `envelope`
//! field, whose standard base64 is decoded, altered and encoded again. A
//! replacement keeps its length, so an altered envelope is still well
//! formed and only its signature stops matching. Other answers, and every
//! other method (a `POST` included), are forwarded unchanged, and every
//! request is recorded ([`HttpDouble::requests`]), so a test can tell that
//! nothing was submitted through the double.
//!
//! Plain `std::net`, one thread per connection, one request per connection
//! (answers say `Connection: close`); every socket has a 30 s timeout, so
//! a stuck peer cannot hang a test. The server stops when the double is
//! dropped.
//!
//! [`request`] and [`get`] are the HTTP client the double forwards with,
//! for tests that read a node's API themselves.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

/// Read and write timeout of every socket the double or [`request`] opens.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest request or response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Longest request or response body accepted.
const MAX_BODY: usize = 16 << 20;

/// A request the double received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (`GET`, `POST`, ...).
    pub method: String,
    /// The request target, as sent (`/api/v1/proposals`, ...).
    pub path: String,
}

/// An HTTP answer.
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// The status line's reason phrase.
    pub reason: String,
    /// Header fields in the order received.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// The double: a server on `127.0.0.1` forwarding to a node, stopped on drop.
pub struct HttpDouble {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    tampered: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// What a connection handler shares with the double.
#[derive(Clone)]
struct Shared {
    upstream: SocketAddr,
    replacements: Arc<Vec<(Vec<u8>, Vec<u8>)>>,
    requests: Arc<Mutex<Vec<Request>>>,
    tampered: Arc<AtomicUsize>,
}

impl HttpDouble {
    /// Starts a double of the node whose API is at `upstream`, replacing
    /// each `from` by its `to` in what the node answers (see the module
    /// documentation). Panics if a pair differs in length (the envelope
    /// would no longer decode, a different failure from the one the double
    /// is for), is empty, or if it cannot listen.
    pub fn start(upstream: SocketAddr, replacements: &[(&str, &str)]) -> HttpDouble {
        for (from, to) in replacements {
            assert!(
                !from.is_empty() && from.len() == to.len(),
                "a replacement must keep the length: {from:?} -> {to:?}"
            );
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("the double listens on 127.0.0.1");
        let addr = listener.local_addr().expect("the double's address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let tampered = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Shared {
            upstream,
            replacements: Arc::new(
                replacements.iter().map(|(f, t)| (f.as_bytes().to_vec(), t.as_bytes().to_vec())).collect(),
            ),
            requests: Arc::clone(&requests),
            tampered: Arc::clone(&tampered),
        };
        let stopping = Arc::clone(&stop);
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let shared = shared.clone();
                // Detached: each connection ends within its timeouts.
                std::thread::spawn(move || {
                    let _ = serve(conn, &shared);
                });
            }
        });
        HttpDouble { addr, requests, tampered, stop, accept: Some(accept) }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("the request log").clone()
    }

    /// How many answers it has altered so far.
    pub fn tampered(&self) -> usize {
        self.tampered.load(Ordering::SeqCst)
    }
}

impl Drop for HttpDouble {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Answers one request on `conn`: forwards it, alters the answer if it is
/// a JSON read, and closes.
fn serve(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let (start, headers) = read_head(&mut reader)?;
    let mut parts = start.split_whitespace();
    let (method, path) = match (parts.next(), parts.next()) {
        (Some(m), Some(p)) => (m.to_string(), p.to_string()),
        _ => return Err(invalid(format!("not a request line: {start:?}"))),
    };
    let body = read_body(&mut reader, &headers, false)?;
    shared.requests.lock().expect("the request log").push(Request { method: method.clone(), path: path.clone() });

    let passed: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(k, _)| ["content-type", "accept"].iter().any(|n| k.eq_ignore_ascii_case(n)))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut answer = match request(shared.upstream, &method, &path, &passed, &body) {
        Ok(a) => a,
        Err(e) => {
            let text = format!("the test double could not reach the node: {e}");
            Response { status: 502, reason: "Bad Gateway".into(), headers: Vec::new(), body: text.into_bytes() }
        }
    };
    let json = answer.header("content-type").is_some_and(|t| t.starts_with("application/json"));
    if method == "GET" && answer.status == 200 && json {
        if let Ok(mut v) = serde_json::from_slice::<Value>(&answer.body) {
            if tamper(&mut v, &shared.replacements) {
                answer.body = serde_json::to_vec(&v).expect("JSON serialises");
                shared.tampered.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    let mut out = format!("HTTP/1.1 {} {}\r\n", answer.status, answer.reason);
    for (k, v) in &answer.headers {
        let hop = ["content-length", "transfer-encoding", "connection"].iter().any(|n| k.eq_ignore_ascii_case(n));
        if !hop {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", answer.body.len()));
    let mut conn = conn;
    conn.write_all(out.as_bytes())?;
    if method != "HEAD" {
        conn.write_all(&answer.body)?;
    }
    conn.flush()
}

/// Applies `replacements` to every string of `v` and inside every
/// `envelope` field's base64; whether anything changed.
fn tamper(v: &mut Value, replacements: &[(Vec<u8>, Vec<u8>)]) -> bool {
    match v {
        Value::String(s) => {
            let mut bytes = s.clone().into_bytes();
            let changed = replace_all(&mut bytes, replacements);
            if changed {
                // Whole UTF-8 strings replaced by whole UTF-8 strings.
                *s = String::from_utf8(bytes).expect("UTF-8 stays UTF-8");
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, x| tamper(x, replacements) | c),
        Value::Object(fields) => {
            let mut changed = false;
            for (k, x) in fields.iter_mut() {
                match x {
                    Value::String(text) if k == "envelope" => {
                        let Some(mut bytes) = base64_decode(text) else { continue };
                        if replace_all(&mut bytes, replacements) {
                            *text = base64_encode(&bytes);
                            changed = true;
                        }
                    }
                    _ => changed |= tamper(x, replacements),
                }
            }
            changed
        }
        _ => false,
    }
}

/// Replaces every occurrence of each `from` by its `to` (same length) in
/// place; whether any occurred.
fn replace_all(bytes: &mut [u8], replacements: &[(Vec<u8>, Vec<u8>)]) -> bool {
    let mut changed = false;
    for (from, to) in replacements {
        let mut i = 0;
        while i + from.len() <= bytes.len() {
            if bytes[i..i + from.len()] == from[..] {
                bytes[i..i + from.len()].copy_from_slice(to);
                changed = true;
                i += from.len();
            } else {
                i += 1;
            }
        }
    }
    changed
}

/// One HTTP/1.1 exchange with the server at `addr` (`Connection: close`):
/// `body` is sent with its `Content-Length` (when not empty, or when the
/// method is `POST`), `headers` added as given.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut conn = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()?;
    let mut reader = BufReader::new(conn);
    let (status_line, headers) = read_head(&mut reader)?;
    let mut parts = status_line.splitn(3, ' ');
    let status = parts
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("not a status line: {status_line:?}")))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let body = if method == "HEAD" { Vec::new() } else { read_body(&mut reader, &headers, true)? };
    Ok(Response { status, reason, headers, body })
}

/// `GET path` from the server at `addr`; panics if there is no answer.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"").unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"))
}

/// Reads a head: its first line and its header fields.
fn read_head(r: &mut impl BufRead) -> std::io::Result<(String, Vec<(String, String)>)> {
    let mut first = None;
    let mut headers = Vec::new();
    let mut read = 0;
    loop {
        let mut line = Vec::new();
        let n = Read::take(&mut *r, (MAX_HEAD - read) as u64 + 1).read_until(b'\n', &mut line)?;
        read += n;
        if n == 0 {
            return Err(invalid("the connection closed inside a head".into()));
        }
        if read > MAX_HEAD {
            return Err(invalid("a head longer than 64 KiB".into()));
        }
        let line = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            break;
        }
        if first.is_none() {
            first = Some(line);
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((first.unwrap_or_default(), headers))
}

/// Reads a body framed by `headers`: chunked, or `Content-Length`, or else
/// (for an answer, `to_end`) up to the end of the connection.
fn read_body(r: &mut impl BufRead, headers: &[(String, String)], to_end: bool) -> std::io::Result<Vec<u8>> {
    let find = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let mut body = Vec::new();
    if find("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let size = size.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16).map_err(|_| invalid(format!("a chunk size {size:?}")))?;
            if body.len() + size > MAX_BODY {
                return Err(invalid("a body longer than 16 MiB".into()));
            }
            if size == 0 {
                // Trailer fields, up to the empty line.
                read_head_lines(r)?;
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
        }
    }
    if let Some(len) = find("content-length") {
        let len: usize = len.parse().map_err(|_| invalid(format!("a Content-Length {len:?}")))?;
        if len > MAX_BODY {
            return Err(invalid("a body longer than 16 MiB".into()));
        }
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else if to_end {
        Read::take(&mut *r, MAX_BODY as u64).read_to_end(&mut body)?;
    }
    Ok(body)
}

/// Reads lines up to an empty one (a chunked body's trailer).
fn read_head_lines(r: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok(());
        }
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 section 4), as the API encodes
/// envelopes.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard padded base64; `None` if `text` is not that.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (at, quad) in text.chunks(4).enumerate() {
        let last = at + 1 == text.len() / 4;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            let v = BASE64.iter().position(|&b| b == c)? as u32;
            n = (n << 6) | v;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        let vectors =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(base64_decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)), Some(all));
        for bad in ["Zm9", "Zm=v", "Z===", "Zm9v!A==", "Zg==Zg=="] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    /// The request lines and bodies a server received.
    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

    /// A server answering each request with `answer` (JSON), recording
    /// what it received.
    fn upstream(answer: &'static str) -> (SocketAddr, Received) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let Ok((line, headers)) = read_head(&mut reader) else { continue };
                let body = read_body(&mut reader, &headers, false).unwrap();
                log.lock().unwrap().push((line, body));
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{answer}\r\n0\r\n\r\n",
                    answer.len()
                );
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        (addr, seen)
    }

    #[test]
    fn reads_are_altered_and_every_request_is_forwarded_and_recorded() {
        // "pay 300" in base64 inside an envelope field; a title in the list.
        let answer = r#"{"proposal":{"id":"ab","envelope":"cGF5IDMwMA=="},"proposals":[{"title":"pay 300"}],"n":3}"#;
        let (node, seen) = upstream(answer);
        let double = HttpDouble::start(node, &[("300", "900")]);

        let r = get(double.addr(), "/api/v1/proposals/ab");
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(base64_decode(v["proposal"]["envelope"].as_str().unwrap()).unwrap(), b"pay 900");
        assert_eq!(v["proposals"][0]["title"], "pay 900");
        assert_eq!((v["proposal"]["id"].as_str(), v["n"].as_u64()), (Some("ab"), Some(3)));
        assert_eq!(double.tampered(), 1);

        // A POST passes unchanged, both ways, and is recorded.
        let headers = [("Content-Type", "application/octet-stream")];
        let r = request(double.addr(), "POST", "/api/v1/objects", &headers, b"signed 300").unwrap();
        assert_eq!(r.json()["proposals"][0]["title"], "pay 300");
        assert_eq!(double.tampered(), 1);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert!(seen[0].0.starts_with("GET /api/v1/proposals/ab "), "{:?}", seen[0].0);
        assert_eq!((seen[1].0.split(' ').next(), seen[1].1.as_slice()), (Some("POST"), &b"signed 300"[..]));
        let methods: Vec<String> = double.requests().into_iter().map(|r| r.method).collect();
        assert_eq!(methods, ["GET", "POST"]);
    }

    #[test]
    fn an_unreachable_node_is_a_bad_gateway() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let double = HttpDouble::start(closed, &[]);
        assert_eq!(get(double.addr(), "/api/v1/coalition").status, 502);
    }
}

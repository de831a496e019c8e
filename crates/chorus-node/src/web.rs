//! The node's read-only website: the pages of `chorus-web`, served over
//! HTTP/1.1 with hyper.
//!
//! Guarantees:
//! - Read-only: `GET` and `HEAD` only; every other method is `405` with
//!   `Allow: GET, HEAD`. No request body is ever read. Paths under `/api/`
//!   go to the node's API ([`crate::api`]) when the node serves it; its one
//!   write path, `POST /api/v1/objects`, is the only route that reads a body.
//! - Bounded: at most [`MAX_CONNECTIONS`] connections at once (more wait in
//!   the kernel's backlog), request heads of at most [`MAX_HEAD_BYTES`], a
//!   head read within [`HEAD_TIMEOUT`], and a whole connection closed after
//!   [`CONNECTION_TIMEOUT`].
//! - The same bytes as `chorus publish` for every path: both render with
//!   [`chorus_web::Site`] from the same objects. Pages follow the store: the
//!   ledger is snapshot again when the store holds more objects, and rendered
//!   pages are cached until then.
//! - Headers: the content type of each file, a Content-Security-Policy that
//!   allows only the site's own scripts, styles and WebAssembly,
//!   `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`;
//!   files named by a content hash or an object id are cached as immutable,
//!   pages are revalidated with an `ETag`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chorus_core::{Envelope, Ledger, ObjectId};
use chorus_store::Store;
use chorus_web::{Asset, ObjectSource, Publish, Site, SiteConfig};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::{NodeError, Result};
use crate::http::{self, HttpLimits};
use crate::seal::SealKeys;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Largest request head (request line and headers) read.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Time a client has to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a connection stays open, keep-alive included.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Rendered files kept between changes of the store.
const CACHE_ENTRIES: usize = 512;

/// The policy every response carries: the site's own scripts, styles and
/// images, WebAssembly compiled by its own script, nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// What the website shows, from the node's configuration.
#[derive(Clone, Debug)]
pub struct WebOptions {
    /// Positions only, or everything.
    pub publish: Publish,
    /// Public address, for feed links.
    pub base_url: Option<String>,
    /// Who seals the positions' certificates ([`crate::seal`]); `None`:
    /// they are served unsealed.
    pub seal: Option<SealKeys>,
}

/// The store's exact envelopes, and who seals, for the renderer.
struct StoreObjects<'a> {
    store: &'a Store,
    seal: Option<&'a SealKeys>,
}

impl ObjectSource for StoreObjects<'_> {
    fn envelope(&self, id: &ObjectId) -> Option<Envelope> {
        let bytes = self.store.get(id).ok()??;
        Envelope::decode(&bytes).ok()
    }

    fn sealer(&self) -> Option<chorus_web::Sealer<'_>> {
        self.seal.map(SealKeys::sealer)
    }

    /// The certificate exactly as the control socket exports it
    /// ([`crate::seal::assemble`]), so a missing proof object leaves it
    /// unsealed on every path alike.
    fn certificate(&self, id: &ObjectId) -> Option<chorus_web::SourcedCertificate> {
        let c = crate::seal::assemble(self.store, id, self.seal).ok()??;
        Some(chorus_web::SourcedCertificate { bytes: c.bytes, sealed_by: c.sealed_by })
    }
}

/// A rendered file as the server sends it: the body shared by every
/// response (no copy per request) and its ETag, computed once.
struct Served {
    body: Bytes,
    content_type: &'static str,
    immutable: bool,
    etag: String,
}

impl From<Asset> for Served {
    fn from(a: Asset) -> Self {
        let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&a.body)[..16]));
        Served { body: Bytes::from(a.body), content_type: a.content_type, immutable: a.immutable, etag }
    }
}

/// The ledger as of a number of stored objects, and the files rendered
/// from it.
struct Snapshot {
    objects: usize,
    ledger: Arc<Ledger>,
    files: HashMap<String, Arc<Served>>,
}

struct Website {
    store: Arc<Store>,
    config: SiteConfig,
    seal: Option<SealKeys>,
    snapshot: Mutex<Snapshot>,
}

impl Website {
    fn new(store: Arc<Store>, options: WebOptions) -> Self {
        let ledger = Arc::new(store.ledger_snapshot());
        let objects = store.object_count();
        Website {
            store,
            config: SiteConfig { publish: options.publish, base_url: options.base_url },
            seal: options.seal,
            snapshot: Mutex::new(Snapshot { objects, ledger, files: HashMap::new() }),
        }
    }

    /// The file at `path`, rendered from the newest objects.
    fn file(&self, path: &str) -> Option<Arc<Served>> {
        let ledger = {
            let mut s = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
            let now = self.store.object_count();
            if now != s.objects {
                *s = Snapshot { objects: now, ledger: Arc::new(self.store.ledger_snapshot()), files: HashMap::new() };
            }
            if let Some(f) = s.files.get(path) {
                return Some(f.clone());
            }
            s.ledger.clone()
        };
        let objects = StoreObjects { store: &self.store, seal: self.seal.as_ref() };
        let asset = Arc::new(Served::from(Site::new(&ledger, &objects, &self.config).get(path)?));
        let mut s = self.snapshot.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::ptr_eq(&s.ledger, &ledger) {
            if s.files.len() >= CACHE_ENTRIES {
                s.files.clear();
            }
            s.files.insert(path.to_string(), asset.clone());
        }
        Some(asset)
    }
}

/// Serves the website on `addr` until `stopped` turns true. Returns the task
/// and the address bound (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    store: Arc<Store>,
    options: WebOptions,
    stopped: watch::Receiver<bool>,
) -> Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    serve_with_api(addr, store, options, None, stopped).await
}

/// [`serve`], with the paths under `/api/` answered by `api` when given.
pub(crate) async fn serve_with_api(
    addr: SocketAddr,
    store: Arc<Store>,
    options: WebOptions,
    api: Option<Arc<crate::api::Api>>,
    stopped: watch::Receiver<bool>,
) -> Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| NodeError::Config(format!("cannot serve the website on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| NodeError::Config(format!("website address: {e}")))?;
    let site = Arc::new(Website::new(store, options));
    let limits = HttpLimits {
        connections: MAX_CONNECTIONS,
        head_bytes: MAX_HEAD_BYTES,
        head_timeout: HEAD_TIMEOUT,
        connection_timeout: CONNECTION_TIMEOUT,
    };
    let task = http::spawn(listener, "website", limits, Some(stopped), move |req, client| {
        let api = api.clone().filter(|_| req.uri().path().starts_with("/api/"));
        let site = site.clone();
        async move {
            match api {
                Some(api) => api.respond(req, client).await,
                None => respond(&site, &req),
            }
        }
    });
    Ok((task, bound))
}

/// Name of the marker file `chorus publish` leaves in a directory it wrote,
/// so that it may write there again and remove files it no longer has.
pub const SITE_MARKER: &str = ".chorus-site";

/// What a static export wrote.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PublishResult {
    /// The directory.
    pub dir: std::path::PathBuf,
    /// Files written.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
    /// Files of an earlier export that this one no longer has, removed.
    pub removed: usize,
    /// Positions published.
    pub positions: usize,
    /// Whether proposals and stances were published as well.
    pub everything: bool,
    /// True when every position's certificate is sealed; false from a
    /// node that did not say.
    #[serde(default)]
    pub sealed: bool,
    /// Why some certificates are not, when some are not.
    #[serde(default)]
    pub unsealed_reason: Option<String>,
}

/// Writes the whole website into `dir` (absolute) as static files: the
/// same bytes the node serves for the same objects. `dir` must be empty,
/// missing, or a directory an earlier export wrote (it holds
/// [`SITE_MARKER`]); files of that earlier export that this one no longer
/// has are removed, nothing else is.
pub fn publish(
    store: &Store,
    dir: &std::path::Path,
    options: WebOptions,
) -> std::result::Result<PublishResult, String> {
    use std::io::Write;
    if !dir.is_absolute() {
        return Err(format!("{} is not an absolute path", dir.display()));
    }
    let marker = dir.join(SITE_MARKER);
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if entries.next().is_some() && !marker.exists() {
            return Err(format!(
                "{} is not empty and was not written by chorus publish; choose an empty or new directory",
                dir.display()
            ));
        }
    }
    let everything = matches!(options.publish, Publish::Everything);
    let config = SiteConfig { publish: options.publish, base_url: options.base_url };
    let ledger = store.ledger_snapshot();
    let unsealed_reason = match &options.seal {
        Some(seal) => {
            let n = seal.warn_unsealable(&ledger, "publish");
            (n > 0).then(|| {
                format!(
                    "{n} of {} certificates are unsealed: this node holds neither a key of its trust nor a node-scope \
                     delegation of its node key, or its trust is not a member of the proposals' roster versions",
                    ledger.positions().len()
                )
            })
        }
        None if !ledger.positions().is_empty() => {
            tracing::warn!("publish: certificates are exported unsealed (their dissent is not attested): no sealer");
            Some("this node has no key to seal certificates with".to_string())
        }
        None => None,
    };
    let objects = StoreObjects { store, seal: options.seal.as_ref() };
    let site = Site::new(&ledger, &objects, &config);
    let paths = site.paths();
    let (mut files, mut bytes) = (0, 0u64);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(&marker, b"written by chorus publish\n")
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    for path in &paths {
        let Some(asset) = site.get(path) else { continue };
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let mut f = std::fs::File::create(&target).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        f.write_all(&asset.body).map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        files += 1;
        bytes += asset.body.len() as u64;
    }
    let removed = remove_stale(dir, dir, &paths.iter().map(String::as_str).collect())?;
    Ok(PublishResult {
        dir: dir.to_path_buf(),
        files,
        bytes,
        removed,
        positions: ledger.positions().len(),
        everything,
        sealed: unsealed_reason.is_none(),
        unsealed_reason,
    })
}

/// Removes the regular files under `at` whose path relative to `root` is
/// not in `keep` (the marker excepted), and directories left empty.
fn remove_stale(
    root: &std::path::Path,
    at: &std::path::Path,
    keep: &std::collections::BTreeSet<&str>,
) -> std::result::Result<usize, String> {
    let mut removed = 0;
    for entry in std::fs::read_dir(at).map_err(|e| format!("cannot read {}: {e}", at.display()))? {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", at.display()))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let rel = path.strip_prefix(root).map(|r| r.to_string_lossy().into_owned()).unwrap_or_default();
        if kind.is_dir() {
            removed += remove_stale(root, &path, keep)?;
            let _ = std::fs::remove_dir(&path); // only succeeds when empty
        } else if kind.is_file() && rel != SITE_MARKER && !keep.contains(rel.as_str()) {
            std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The site path a request URI names: `/` is the index, a trailing `/` names
/// that directory's index, the query is ignored.
fn site_path(uri: &hyper::Uri) -> String {
    let path = uri.path().trim_start_matches('/');
    if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_string()
    }
}

fn respond(site: &Website, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "this website is read-only: GET and HEAD only\n");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let head = req.method() == Method::HEAD;
    let Some(asset) = site.file(&site_path(req.uri())) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    let etag = &asset.etag;
    let fresh = req.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Bytes::new())
    } else if head {
        (StatusCode::OK, Bytes::new())
    } else {
        (StatusCode::OK, asset.body.clone())
    };
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    security_headers(h);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    if head {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    }
    let cache = if asset.immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    security_headers(r.headers_mut());
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn security_headers(h: &mut hyper::HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::site_path;

    #[test]
    fn paths_map_to_site_files() {
        let p = |s: &str| site_path(&s.parse().unwrap());
        assert_eq!(p("/"), "index.html");
        assert_eq!(p("/?x=1"), "index.html");
        assert_eq!(p("/proposals/ab.html"), "proposals/ab.html");
        assert_eq!(p("/feeds/"), "feeds/index.html");
        assert_eq!(p("//etc/passwd"), "etc/passwd");
    }
}

//! The daemon: opens the store, starts the network, serves the control
//! socket and metrics, and shuts all of it down in order.
//!
//! Durability: every object a control client is told is `stored` was made
//! durable by the store before the reply (the store acknowledges only after
//! its commit). On SIGINT/SIGTERM the node stops accepting requests, lets
//! the ones in flight finish, stops the network, and closes the store, which
//! flushes everything.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chorus_core::{Admission, Coalition, PublicKey};
use chorus_store::{Store, StoreConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use crate::config::Config;
use crate::control::{
    resolve_prefix, BackupResult, CertificateResult, Reply, Request, StatusInfo, SubmitOutcome, SubmitResult,
    MAX_REQUEST_BYTES,
};
use crate::datadir::DataDir;
use crate::error::{NodeError, Result};
use crate::metrics::Metrics;
use crate::network::{Network, NodeCredential};

mod views;
pub use views::{breakdown_info, coalition_info, member_name, roster_info};
pub(crate) use views::{deliberation, stance_infos, status_name, Deliberation};
use views::{detail, summary};

/// Milliseconds since 1970 by the system clock.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Everything a running node shares between its tasks.
pub(crate) struct Inner {
    pub(crate) store: Arc<Store>,
    pub(crate) coalition: Coalition,
    pub(crate) trust: PublicKey,
    pub(crate) trust_name: String,
    /// An observer's node (`role = "observer"`): `trust` is its node key,
    /// and it takes no object to submit ([`crate::observer::CANNOT_SUBMIT`]).
    pub(crate) observer: bool,
    pub(crate) net: Network,
    pub(crate) metrics: Arc<Metrics>,
    /// The keys the node seals the certificates it exports with.
    pub(crate) seal: crate::seal::SealKeys,
    /// Where the website is served, once it is.
    pub(crate) web_addr: std::sync::OnceLock<std::net::SocketAddr>,
}

/// A running node. Dropping it without [`Node::shutdown`] still stops the
/// tasks, but the store is only closed cleanly by `shutdown`.
pub struct Node {
    inner: Arc<Inner>,
    socket: PathBuf,
    stop: watch::Sender<bool>,
    control: tokio::task::JoinHandle<()>,
    metrics_task: Option<tokio::task::JoinHandle<()>>,
    metrics_addr: Option<std::net::SocketAddr>,
    web: Option<(tokio::task::JoinHandle<()>, std::net::SocketAddr)>,
}

/// Options that are not part of the configuration file: used by the devnet
/// and tests.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// Skip fsync on commit (devnet only: its data is thrown away).
    pub no_fsync: bool,
}

impl Node {
    /// Starts a node from its data directory and configuration: opens (or on
    /// first start creates) the store for the configured genesis, starts the
    /// network and listens on the control socket.
    pub async fn start(data_dir: DataDir, config: Config, options: StartOptions) -> Result<Node> {
        data_dir.require_initialised()?;
        let genesis_path = config.genesis_path(data_dir.root());
        if !genesis_path.exists() {
            return Err(NodeError::NoGenesis(genesis_path));
        }
        let coalition = crate::founding::load_final(&genesis_path)?;
        let store_config = StoreConfig {
            cache_capacity_bytes: config.cache_mb.saturating_mul(1024 * 1024),
            fsync: !options.no_fsync,
            ..StoreConfig::default()
        };
        let store_dir = data_dir.store_path();
        let genesis_bytes = coalition.genesis_envelope().bytes().to_vec();
        let store = tokio::task::spawn_blocking(move || {
            if store_dir.exists() {
                Store::open(&store_dir, store_config)
            } else {
                Store::create(&store_dir, &genesis_bytes, store_config)
            }
        })
        .await
        .map_err(|source| NodeError::TaskFailed { what: "opens the store", source })??;
        if store.coalition().id() != coalition.id() {
            return Err(NodeError::Config(format!(
                "the store in {} holds coalition {}, but the configured genesis is coalition {}; \
                 point `genesis` at the right file or use another data directory",
                data_dir.store_path().display(),
                store.coalition().id(),
                coalition.id()
            )));
        }
        let store = Arc::new(store);
        let metrics = Arc::new(Metrics::new());
        metrics.held(&store);
        // With an installed attestation the trust key is not read at all:
        // it can stay offline.
        let trust_key;
        let node_key = chorus_core::Keypair::from_seed(&data_dir.node_key_seed()?);
        // An observer proves only its node key, which stands in for a trust
        // in what the node reports; it reads no attestation or trust key.
        let observer = config.is_observer();
        let installed =
            if observer { None } else { crate::network::load_installed(&data_dir, &coalition, &store, now_ms())? };
        let (credential, trust_id) = match installed {
            _ if observer => (NodeCredential::Observer, node_key.public()),
            Some((attestation, trust_id, expires_at_ms)) => {
                if let Some(exp) = expires_at_ms {
                    metrics.attestation_expiry.set(i64::try_from(exp / 1000).unwrap_or(i64::MAX));
                    tokio::spawn(crate::network::watch_attestation_expiry(data_dir.node_attestation_path(), exp));
                }
                (NodeCredential::Installed(attestation), trust_id)
            }
            None => {
                trust_key = data_dir.trust_key()?;
                (NodeCredential::TrustKey(&trust_key), data_dir.trust_id()?)
            }
        };
        let held_trust_key = match &credential {
            NodeCredential::TrustKey(key) => Some((*key).clone()),
            NodeCredential::Installed(_) | NodeCredential::Observer => None,
        };
        let net = Network::start(&data_dir, &config, credential, trust_id, &coalition, store.clone(), metrics.clone())
            .await?;
        let ready = net.readiness(trust_id);
        // The trust key seals when the node holds it (it was read above);
        // the node key, under a node-scope delegation, otherwise.
        let seal_keys = match held_trust_key {
            Some(trust_key) => vec![trust_key, node_key],
            None if observer => vec![],
            None => vec![node_key],
        };
        let seal = crate::seal::SealKeys { trust: trust_id, keys: seal_keys };
        let inner = Arc::new(Inner {
            store,
            coalition,
            trust: trust_id,
            trust_name: config.trust_name.clone(),
            observer,
            net,
            metrics: metrics.clone(),
            seal,
            web_addr: std::sync::OnceLock::new(),
        });

        let socket = data_dir.socket_path();
        let listener = bind_control(&socket)?;
        let owner = std::fs::metadata(&socket).map_err(|e| NodeError::io("cannot inspect", &socket, e))?.uid();
        let (stop, stopped) = watch::channel(false);
        let control = tokio::spawn(serve_control(listener, owner, inner.clone(), stopped));
        let (metrics_task, metrics_addr) = match config.metrics_addr {
            Some(addr) => {
                let (task, bound) = crate::metrics::serve(addr, metrics, ready).await?;
                tracing::info!(%bound, "serving /metrics, /health and /ready");
                (Some(task), Some(bound))
            }
            None => (None, None),
        };
        let web = match config.http_addr {
            Some(addr) => {
                let options = crate::web::WebOptions {
                    publish: if config.publishes_everything() {
                        chorus_web::Publish::Everything
                    } else {
                        chorus_web::Publish::Positions
                    },
                    base_url: config.base_url.clone(),
                    // An observer holds no key that may seal: served unsealed, without a warning each time.
                    seal: (!inner.observer).then(|| inner.seal.clone()),
                };
                if !inner.observer {
                    inner.store.with_ledger(|l| inner.seal.warn_unsealable(l, "the website"));
                }
                let api = Arc::new(crate::api::Api::new(inner.clone(), options.publish, config.submit_limits()));
                let (task, bound) =
                    crate::web::serve_with_api(addr, inner.store.clone(), options, Some(api), stop.subscribe()).await?;
                tracing::info!(%bound, everything = config.publishes_everything(), "serving the website");
                let _ = inner.web_addr.set(bound);
                Some((task, bound))
            }
            None => None,
        };
        tracing::info!(
            coalition = %inner.coalition.id(),
            trust = %inner.trust,
            socket = %socket.display(),
            "node started"
        );
        Ok(Node { inner, socket, stop, control, metrics_task, metrics_addr, web })
    }

    /// The control socket path.
    pub fn socket_path(&self) -> &std::path::Path {
        &self.socket
    }

    /// The address the website is served on, if it is.
    pub fn web_addr(&self) -> Option<std::net::SocketAddr> {
        self.web.as_ref().map(|(_, a)| *a)
    }

    /// The address `/metrics` is served on, if it is.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    /// This node's libp2p peer id.
    pub fn peer_id(&self) -> String {
        self.inner.net.peer_id()
    }

    /// Addresses other nodes can dial, with `/p2p/<peer id>`.
    pub async fn dial_addrs(&self) -> Vec<String> {
        self.inner.net.listen_addrs().await
    }

    /// Stops serving, stops the network and closes the store durably.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        let _ = self.control.await;
        if let Some(t) = self.metrics_task {
            t.abort();
        }
        if let Some((t, _)) = self.web {
            let _ = t.await;
        }
        let _ = std::fs::remove_file(&self.socket);
        let mut inner = self.inner;
        // Requests in flight hold the state; give them time to finish.
        let inner = loop {
            match Arc::try_unwrap(inner) {
                Ok(i) => break Some(i),
                Err(again) => {
                    if Arc::strong_count(&again) == 0 {
                        break None;
                    }
                    inner = again;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let Some(inner) = inner else { return Ok(()) };
        inner.net.shutdown().await;
        let mut store = inner.store;
        for _ in 0..250 {
            match Arc::try_unwrap(store) {
                Ok(s) => {
                    return tokio::task::spawn_blocking(move || s.close())
                        .await
                        .map_err(|source| NodeError::TaskFailed { what: "closes the store", source })?
                        .map_err(NodeError::from);
                }
                Err(again) => {
                    store = again;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        // Every acknowledged object is already durable; a store still shared
        // by a lingering task is flushed when that task drops it.
        tracing::warn!("store still in use at shutdown; it closes when released");
        Ok(())
    }
}

/// Runs a node until SIGINT or SIGTERM, then shuts it down.
pub async fn run(data_dir: DataDir, config: Config) -> Result<()> {
    let node = Node::start(data_dir, config, StartOptions::default()).await?;
    wait_for_signal().await;
    tracing::info!("shutting down");
    node.shutdown().await?;
    tracing::info!("stopped; everything is on disk");
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn bind_control(socket: &std::path::Path) -> Result<UnixListener> {
    if let Ok(meta) = std::fs::symlink_metadata(socket) {
        if !meta.file_type().is_socket() {
            return Err(NodeError::Config(format!("{} exists and is not a socket; remove it", socket.display())));
        }
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(NodeError::Config(format!(
                "another node is already running on {}; stop it first",
                socket.display()
            )));
        }
        // A stale socket from a node that was killed.
        std::fs::remove_file(socket).map_err(|e| NodeError::io("cannot remove stale socket", socket, e))?;
    }
    let listener = UnixListener::bind(socket).map_err(|e| NodeError::io("cannot listen on", socket, e))?;
    // The directory (0700) already keeps other users out; the socket mode is
    // a second wall, and the peer-credential check below a third.
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| NodeError::io("cannot set permissions on", socket, e))?;
    Ok(listener)
}

async fn serve_control(listener: UnixListener, owner: u32, inner: Arc<Inner>, mut stopped: watch::Receiver<bool>) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let uid = stream.peer_cred().map(|c| c.uid()).ok();
                if uid != Some(owner) {
                    tracing::warn!(?uid, "refused a control connection from another user");
                    continue;
                }
                tasks.spawn(handle_connection(stream, inner.clone()));
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

async fn handle_connection(stream: UnixStream, inner: Arc<Inner>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_REQUEST_BYTES as u64 + 1));
    let mut line = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), reader.read_until(b'\n', &mut line)).await;
    let reply = match read {
        Err(_) => Reply::Error("request timed out".into()),
        Ok(Err(e)) => Reply::Error(format!("cannot read request: {e}")),
        Ok(Ok(_)) if line.len() > MAX_REQUEST_BYTES => Reply::Error(format!("request over {MAX_REQUEST_BYTES} bytes")),
        Ok(Ok(_)) => match serde_json::from_slice::<Request>(&line) {
            Err(e) => Reply::Error(format!("unknown or malformed request: {e}")),
            Ok(req) => {
                inner.metrics.control_requests.inc();
                match dispatch(inner, req).await {
                    Ok(v) => Reply::Ok(v),
                    Err(e) => Reply::Error(e),
                }
            }
        },
    };
    let mut out = serde_json::to_vec(&reply).unwrap_or_else(|_| br#"{"error":"cannot encode reply"}"#.to_vec());
    out.push(b'\n');
    let _ = write.write_all(&out).await;
    let _ = write.shutdown().await;
}

fn json<T: serde::Serialize>(v: T) -> std::result::Result<serde_json::Value, String> {
    serde_json::to_value(v).map_err(|e| format!("cannot encode result: {e}"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, String> + Send + 'static,
) -> std::result::Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| format!("internal error: {e}"))?
}

async fn dispatch(inner: Arc<Inner>, req: Request) -> std::result::Result<serde_json::Value, String> {
    match req {
        Request::Status => {
            let (peers, target_peers) = inner.net.member_peers_and_target().await;
            let listen = inner.net.listen_addrs().await;
            let i = inner.clone();
            let (objects, proposals, positions) = blocking(move || {
                Ok((i.store.object_count() as u64, i.store.proposals().len(), i.store.positions().len()))
            })
            .await?;
            json(StatusInfo {
                node_id: inner.net.peer_id(),
                node_key: inner.net.node_key(),
                listen,
                trust_name: inner.trust_name.clone(),
                trust_key: inner.trust.to_hex(),
                role: if inner.observer { crate::config::ROLE_OBSERVER } else { crate::config::ROLE_MEMBER }.into(),
                member: !inner.observer
                    && inner.store.with_ledger(|l| l.head_roster().is_some_and(|(r, _)| r.contains(&inner.trust))),
                coalition: inner.coalition.id(),
                coalition_name: inner.coalition.name().to_string(),
                peers,
                observers: inner.net.observer_peers().await,
                target_peers,
                objects,
                proposals,
                positions,
                last_sync_ms: inner.net.last_sync_ms(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                website: inner.web_addr.get().map(|a| format!("http://{a}/")),
                split_views: inner.net.split_views().await,
            })
        }
        Request::Peers => json(inner.net.peers().await),
        Request::Dial { addr } => {
            inner.net.dial(&addr).await.map_err(|e| e.to_string())?;
            json(())
        }
        Request::Coalition => json(coalition_info(&inner.coalition)),
        Request::Object { id } => {
            let id: chorus_core::ObjectId = id
                .trim()
                .parse()
                .map_err(|_| format!("{:?} is not an object id: give its 64 hex characters", id.trim()))?;
            blocking(move || match inner.store.get(&id).map_err(|e| e.to_string())? {
                Some(bytes) => json(hex::encode(bytes)),
                None => Err(format!("this node holds no object {id}")),
            })
            .await
        }
        Request::SignedBy { key } => {
            let key = crate::founding::parse_key(key.trim())?;
            blocking(move || {
                let genesis = inner.coalition.id();
                let mut ids = Vec::new();
                for (_, id) in inner.store.sync_items() {
                    if id == genesis {
                        continue;
                    }
                    let bytes = inner.store.get(&id).map_err(|e| e.to_string())?.unwrap_or_default();
                    let signed = chorus_core::Envelope::decode(&bytes)
                        .is_ok_and(|e| e.signatures().first().is_some_and(|s| s.signer == *key.as_bytes()));
                    if signed {
                        ids.push(id);
                    }
                }
                ids.sort();
                json(ids)
            })
            .await
        }
        Request::Roster => blocking(move || json(inner.store.with_ledger(roster_info)?)).await,
        Request::Proposals | Request::Positions => {
            let only_adopted = req == Request::Positions;
            blocking(move || {
                let now = now_ms();
                let list = inner.store.with_ledger(|l| {
                    let ids =
                        if only_adopted { l.positions() } else { l.proposals().into_iter().map(|p| p.0).collect() };
                    ids.iter().filter_map(|id| summary(l, id, now)).collect::<Vec<_>>()
                });
                json(list)
            })
            .await
        }
        Request::Show { id, comments } => blocking(move || json(detail(&inner, &id, comments)?)).await,
        Request::Submit { envelope } => {
            let bytes = hex::decode(envelope.trim()).map_err(|_| "envelope is not hex".to_string())?;
            if bytes.len() > chorus_core::limits::MAX_GENESIS_ENVELOPE_BYTES {
                return Err("envelope is over the size limit".into());
            }
            match submit(&inner, bytes, Submitter::Local).await {
                Ok(result) => json(result),
                Err(SubmitError::Refused(r)) => Err(format!("{}: {r}", SubmitResult::REFUSED)),
                Err(SubmitError::Internal(e)) => Err(e),
            }
        }
        Request::Certificate { id, seal } => {
            blocking(move || {
                let ids = inner.store.proposals();
                let id = resolve_prefix(&id, ids, "proposal")?;
                let (adopted, status, t) = inner
                    .store
                    .with_ledger(|l| (l.is_adopted(&id), l.status(&id, now_ms()), l.tally(&id).unwrap_or_default()));
                if !adopted {
                    let state = match status {
                        Some(chorus_core::Status::Withdrawn) => "was withdrawn by its author and is not adopted",
                        Some(chorus_core::Status::Draft) => "is a draft: voting has not opened, so it is not adopted",
                        _ => "is not adopted yet",
                    };
                    return Err(format!(
                        "proposal {} {state} ({} of {} endorsements needed); no certificate exists",
                        id.short(12),
                        t.endorse,
                        t.required
                    ));
                }
                let cert = if seal {
                    crate::seal::certificate(&inner.store, &id, &inner.seal)?
                } else {
                    crate::seal::unsealed_certificate(&inner.store, &id)?.map(|bytes| crate::seal::Exported {
                        bytes,
                        sealed: false,
                        sealed_by: None,
                        unsealed_reason: Some(crate::seal::NOT_SEALED_ON_REQUEST.into()),
                    })
                };
                let cert = cert.ok_or_else(|| format!("no certificate for {id}"))?;
                json(CertificateResult {
                    proposal: id,
                    certificate: hex::encode(cert.bytes),
                    sealed: cert.sealed,
                    unsealed_reason: cert.unsealed_reason,
                })
            })
            .await
        }
        Request::Export { path } => {
            blocking(move || {
                if !path.is_absolute() {
                    return Err(format!("{} is not an absolute path", path.display()));
                }
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(|e| format!("cannot create {}: {e} (choose a new file name)", path.display()))?;
                let mut w = std::io::BufWriter::new(file);
                let n = inner.store.export(&mut w).map_err(|e| e.to_string())?;
                let file = w.into_inner().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                file.sync_all().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                json(BackupResult { path, objects: n, stored: 0, refused: 0 })
            })
            .await
        }
        Request::Publish { dir, base_url, everything } => {
            blocking(move || {
                if let Some(u) = &base_url {
                    crate::config::check_base_url(u).map_err(|e| e.to_string())?;
                }
                let publish = if everything { chorus_web::Publish::Everything } else { chorus_web::Publish::Positions };
                let seal = (!inner.observer).then(|| inner.seal.clone());
                let options = crate::web::WebOptions { publish, base_url, seal };
                json(crate::web::publish(&inner.store, &dir, options)?)
            })
            .await
        }
        Request::Import { path } => {
            let i = inner.clone();
            let (report, path) = blocking(move || {
                if !path.is_absolute() {
                    return Err(format!("{} is not an absolute path", path.display()));
                }
                let file = std::fs::File::open(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let r = i.store.import(std::io::BufReader::new(file), now_ms()).map_err(|e| e.to_string())?;
                Ok((r, path))
            })
            .await?;
            inner.metrics.held(&inner.store);
            json(BackupResult {
                path,
                objects: report.read as u64,
                stored: report.stored as u64,
                refused: report.refused.len() as u64,
            })
        }
    }
}

/// Why a submitted object was not taken.
#[derive(Debug)]
pub(crate) enum SubmitError {
    /// The ledger refused it, for good (not for want of other objects).
    Refused(chorus_core::Rejection),
    /// The store or a task failed; nothing was decided about the object.
    Internal(String),
}

/// Who handed an object to [`submit`].
#[derive(Debug)]
pub(crate) enum Submitter {
    /// The control socket: the node's own OS user.
    Local,
    /// The HTTP API: anyone who can reach it. Carries the envelope's
    /// signature as the API checked it (before charging its signer), so
    /// that the check for objects it awaits does not verify it again.
    Remote(Box<chorus_core::SignatureChecked>),
}

/// Ingests one envelope exactly as gossip does and publishes it: the one
/// path by which the control socket and the HTTP API take objects. A
/// `stored` object is durable when this returns; a duplicate from the
/// node's own user is offered to the peers again. An object that awaits
/// others (its signer or roster version unknown here,
/// [`chorus_core::Rejection::awaits_objects`]) is `waiting` only when the
/// node's own user submitted it: it is held in the bounded waiting pool
/// and offered to the peers. One from the HTTP API is refused for good
/// instead ([`SubmitError::Refused`]) and neither stored nor kept, so
/// anyone reaching the open endpoint can neither fill the waiting pool
/// nor make the peers hold objects no member may have signed. Counts
/// stored and refused objects.
pub(crate) async fn submit(
    inner: &Arc<Inner>,
    bytes: Vec<u8>,
    from: Submitter,
) -> std::result::Result<SubmitResult, SubmitError> {
    if inner.observer {
        return Err(SubmitError::Internal(crate::observer::CANNOT_SUBMIT.into()));
    }
    let local = matches!(from, Submitter::Local);
    let i = inner.clone();
    let copy = bytes.clone();
    let admission = blocking(move || {
        if let Submitter::Remote(checked) = &from {
            if let Some(why) = awaits_objects(&i, checked) {
                return Ok(Admission::Refused(why));
            }
        }
        let mut out = i.store.ingest(&[copy], now_ms()).map_err(|e| e.to_string())?;
        out.pop().ok_or_else(|| "store returned no outcome".to_string())
    })
    .await
    .map_err(SubmitError::Internal)?;
    match admission {
        Admission::Stored { id, adopted } => {
            inner.metrics.objects_stored.inc();
            inner.metrics.held(&inner.store);
            inner.net.publish(bytes).await;
            Ok(SubmitResult { id, outcome: SubmitOutcome::Stored, adopted })
        }
        Admission::Duplicate { id } => {
            // Publish again when the node's own user asks: a peer that
            // missed it gets another chance. Not for the open API, where
            // anyone could make the node re-broadcast any stored object;
            // sync brings it to peers that lack it.
            if local {
                inner.net.publish(bytes).await;
            }
            Ok(SubmitResult { id, outcome: SubmitOutcome::Duplicate, adopted: None })
        }
        Admission::Refused(r) if r.awaits_objects() && local => {
            inner.metrics.refused(&r);
            let id = chorus_core::Envelope::decode(&bytes)
                .map(|e| e.id())
                .map_err(|e| SubmitError::Internal(e.to_string()))?;
            inner.net.publish(bytes).await;
            Ok(SubmitResult { id, outcome: SubmitOutcome::Waiting, adopted: None })
        }
        Admission::Refused(r) => {
            inner.metrics.refused(&r);
            Err(SubmitError::Refused(r))
        }
    }
}

/// Why the ledger would refuse `checked` until other objects arrive, judged
/// before ingest so that such an object never reaches the waiting pool;
/// `None` when it would not (it may still be refused for another reason,
/// which ingest reports). The held set only grows and authorisation does
/// not depend on arrival order, so an object that passes here is not
/// found waiting by the ingest that follows.
fn awaits_objects(inner: &Inner, checked: &chorus_core::SignatureChecked) -> Option<chorus_core::Rejection> {
    let now = now_ms();
    inner.store.with_ledger(|l| {
        if l.contains(&checked.id()) {
            return None;
        }
        l.authorise(checked, now).err().filter(chorus_core::Rejection::awaits_objects)
    })
}

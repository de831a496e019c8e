//! The node's network: chorus-net started with this node's identity, over
//! the durable store, with its events turned into metrics and logs.
//!
//! The node's libp2p identity is `node.key`; its membership credential is a
//! node attestation: the one installed as `node.attestation` when there is
//! one (signed elsewhere by `chorus node attest`, so `trust.key` can stay
//! offline), else one signed at every start with `trust.key`. Either way a
//! node of a trust that is not a member cannot join the coalition's network
//! as a member's node. An observer's node (`role = "observer"`, PROTOCOL.md
//! 14.9) presents no credential: it asks to follow the coalition, proving
//! only its node key, and is served what the charter's observer access
//! allows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chorus_core::{Admission, Coalition, Keypair, ObjectId};
/// The trust's signed statement that a node key speaks for it (signed by
/// `chorus node attest`, checked by [`load_installed`]).
pub use chorus_net::NodeAttestation;
use chorus_net::{NetConfig, NetworkEvent, NetworkHandle, NodeIdentity, ObjectStore, ServedSet, StoreFailure};
use chorus_store::Store;

use crate::config::Config;
use crate::control::{PeerInfo, SplitViewInfo};
use crate::datadir::DataDir;
use crate::error::{NodeError, Result};
use crate::metrics::{Metrics, ReadinessCheck};

/// How often the peers gauge is read again from the network even without a
/// peer event (a full event queue drops events).
const PEER_RECOUNT_INTERVAL: Duration = Duration::from_secs(5);

/// Sets the peers gauge to the network's current count of verified member
/// peers; leaves it alone if the network has stopped.
async fn set_member_peers(net: &NetworkHandle, metrics: &Metrics) {
    if let Ok(status) = net.status().await {
        metrics.peers.set(status.verified as i64);
        metrics.split_view_peers.set(status.split_views.len() as i64);
    }
}

/// The durable store as chorus-net sees it.
struct StoreAdapter(Arc<Store>);

impl ObjectStore for StoreAdapter {
    fn coalition(&self) -> &Coalition {
        self.0.coalition()
    }

    fn ingest(&self, batch: Vec<Vec<u8>>) -> std::result::Result<Vec<Admission>, StoreFailure> {
        self.0.ingest(&batch, crate::daemon::now_ms()).map_err(|e| Box::new(e) as StoreFailure)
    }

    fn ingest_admissible(&self, batch: Vec<Vec<u8>>) -> std::result::Result<Vec<Admission>, StoreFailure> {
        // An object that awaits others is refused here, before ingest, so
        // that it never enters the waiting pool (PROTOCOL.md 14.4).
        let now = crate::daemon::now_ms();
        let coalition = self.0.coalition().clone();
        let mut out: Vec<Option<Admission>> = self.0.with_ledger(|l| {
            batch
                .iter()
                .map(|bytes| {
                    let checked = chorus_core::Ledger::check_signature(&coalition, bytes).ok()?;
                    if l.contains(&checked.id()) {
                        return None;
                    }
                    l.authorise(&checked, now)
                        .err()
                        .filter(chorus_core::Rejection::awaits_objects)
                        .map(Admission::Refused)
                })
                .collect()
        });
        let rest: Vec<Vec<u8>> = batch.into_iter().zip(&out).filter(|(_, o)| o.is_none()).map(|(b, _)| b).collect();
        let mut admitted = self.ingest(rest)?.into_iter();
        for slot in out.iter_mut().filter(|o| o.is_none()) {
            *slot = admitted.next();
        }
        out.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| "an object got no outcome".into())
    }

    fn observer_access(&self) -> chorus_core::ObserverAccess {
        self.0.with_ledger(crate::observer::access_in_force)
    }

    fn observer_served_set(&self) -> std::result::Result<ServedSet, StoreFailure> {
        // The visible set is read from the same state as the items, as in
        // `served_set`, so that every head named is among them.
        let (items, (visible, (roster_heads, roster_version))) =
            self.0.sync_items_with_ledger(|l| (crate::observer::visible_to_observers(l), l.head_version()));
        let items = match visible {
            None => items,
            Some(set) => items.into_iter().filter(|(_, id)| set.contains(id)).collect(),
        };
        Ok(ServedSet { items, roster_heads, roster_version })
    }

    fn keys_of(&self, trust: &chorus_core::PublicKey) -> Option<Vec<chorus_core::PublicKey>> {
        self.0.with_ledger(|l| chorus_net::keys_of(l, trust))
    }

    fn node_key_revoked(&self, trust: &chorus_core::PublicKey, node_key: &chorus_core::PublicKey) -> bool {
        self.0.with_ledger(|l| l.node_key_revoked(trust, node_key))
    }

    fn served_set(&self) -> std::result::Result<ServedSet, StoreFailure> {
        let (items, (roster_heads, roster_version)) = self.0.sync_items_with_ledger(|l| l.head_version());
        Ok(ServedSet { items, roster_heads, roster_version })
    }

    fn is_adopted(&self, id: &ObjectId) -> bool {
        self.0.with_ledger(|l| l.is_adopted(id))
    }

    fn get(&self, id: &ObjectId) -> std::result::Result<Option<Vec<u8>>, StoreFailure> {
        self.0.get(id).map_err(|e| Box::new(e) as StoreFailure)
    }

    fn sync_items(&self) -> std::result::Result<Vec<(u64, ObjectId)>, StoreFailure> {
        Ok(self.0.sync_items())
    }
}

/// How long before its expiry an installed attestation is warned about at
/// start.
pub const ATTESTATION_WARN_MS: u64 = 14 * 24 * 60 * 60 * 1000;

/// The membership credential the node presents to its peers.
pub enum NodeCredential<'a> {
    /// Sign a fresh attestation at start with the trust's current key.
    TrustKey(&'a Keypair),
    /// An attestation signed elsewhere, checked by [`load_installed`].
    Installed(NodeAttestation),
    /// None: an observer's node (PROTOCOL.md 14.9), which proves only its
    /// node key and never publishes.
    Observer,
}

/// Reads and checks `node.attestation` if the data directory holds one:
/// it must decode, name this node's key and this coalition, be signed for a
/// trust (by a key the store knows for it, or its own id), agree with
/// `trust.id` when that exists, and not be expired at `now_ms`. Returns the
/// attestation, the trust it speaks for and when it expires; `None` when
/// the file is absent.
/// Logs a warning when it expires within [`ATTESTATION_WARN_MS`].
pub fn load_installed(
    data_dir: &DataDir,
    coalition: &Coalition,
    store: &Arc<Store>,
    now_ms: u64,
) -> Result<Option<(NodeAttestation, chorus_core::PublicKey, Option<u64>)>> {
    let path = data_dir.node_attestation_path();
    if !path.exists() {
        return Ok(None);
    }
    let renew = "run `chorus node attest --node-key <this node's key, from `chorus whoami`>` on the machine \
                 holding the trust key and copy the file it writes here";
    let refuse = |reason: String| NodeError::Attestation(format!("{}: {reason}; {renew}", path.display()));
    let bytes = crate::datadir::read_bounded(&path, chorus_net::attestation::MAX_ATTESTATION_BYTES)?;
    let attestation = NodeAttestation::decode(&bytes).map_err(|e| refuse(format!("not a node attestation ({e})")))?;
    let node_key = Keypair::from_seed(&data_dir.node_key_seed()?).public();
    let claimed = attestation.claimed_node_key().map_err(|e| refuse(e.to_string()))?;
    if claimed != node_key {
        return Err(refuse(format!("it attests node key {claimed}, but this node's key is {node_key}")));
    }
    let adapter = StoreAdapter(store.clone());
    let verified = attestation
        .verify_with(coalition, |t| Some(adapter.keys_of(t).unwrap_or_else(|| vec![*t])), None, now_ms)
        .map_err(|e| match e {
            chorus_net::AttestationError::Expired { expires_at_ms, .. } => {
                refuse(format!("it expired at {}", chorus_web::date::human(expires_at_ms)))
            }
            other => refuse(other.to_string()),
        })?;
    if data_dir.trust_id_path().exists() {
        let trust_id = data_dir.trust_id()?;
        if trust_id != verified.trust() {
            return Err(refuse(format!(
                "it is signed for trust {}, but {} names trust {trust_id}",
                verified.trust(),
                data_dir.trust_id_path().display()
            )));
        }
    }
    match verified.expires_at_ms() {
        Some(exp) if exp.saturating_sub(now_ms) <= ATTESTATION_WARN_MS => tracing::warn!(
            file = %path.display(),
            expires = %chorus_web::date::human(exp),
            "the node attestation expires soon; {renew}"
        ),
        Some(exp) => tracing::info!(expires = %chorus_web::date::human(exp), "using the installed node attestation"),
        None => tracing::info!("using the installed node attestation (it does not expire)"),
    }
    Ok(Some((attestation, verified.trust(), verified.expires_at_ms())))
}

/// How often a running node looks at its attestation's expiry again.
const ATTESTATION_CHECK_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Watches the installed attestation's expiry while the node runs, since
/// a node may run for months: logs a warning every hour once it expires
/// within [`ATTESTATION_WARN_MS`], and an error every hour once it has
/// expired (peers then refuse this node's hello, so it loses its peers as
/// connections are renewed). The metric
/// `chorus_node_attestation_expiry_timestamp_seconds` carries the time for
/// alerting.
pub async fn watch_attestation_expiry(path: std::path::PathBuf, expires_at_ms: u64) {
    let mut tick = tokio::time::interval(ATTESTATION_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is now: the start already logged it
    loop {
        tick.tick().await;
        let now = crate::daemon::now_ms();
        let expires = chorus_web::date::human(expires_at_ms);
        if now > expires_at_ms {
            tracing::error!(file = %path.display(), %expires, "the node attestation has expired: peers refuse this node; \
                run `chorus node attest` on the machine holding the trust key, install the file it writes and restart");
        } else if expires_at_ms - now <= ATTESTATION_WARN_MS {
            tracing::warn!(file = %path.display(), %expires, "the node attestation expires soon; run `chorus node attest` \
                on the machine holding the trust key, install the file it writes and restart");
        }
    }
}

/// A running network endpoint.
pub struct Network {
    handle: NetworkHandle,
    last_sync_ms: Arc<AtomicU64>,
    events: tokio::task::JoinHandle<()>,
    store: Arc<Store>,
    node_key: chorus_core::PublicKey,
}

/// Fails naming the first of `list` that is not a multiaddr, as the node
/// would at start; `what` names the list ("bootstrap", "listen").
pub fn check_addrs(what: &str, list: &[String]) -> std::result::Result<(), String> {
    parse_addrs(what, list).map(drop).map_err(|e| match e {
        NodeError::Config(message) => message,
        other => other.to_string(),
    })
}

fn parse_addrs(what: &str, list: &[String]) -> Result<Vec<chorus_net::Multiaddr>> {
    list.iter()
        .map(|a| {
            a.parse().map_err(|e| {
                NodeError::Config(format!(
                    "{what} address {a:?} is not a multiaddr ({e}); e.g. /ip4/192.0.2.1/tcp/7700"
                ))
            })
        })
        .collect()
}

impl Network {
    /// Starts the network for this node.
    pub async fn start(
        data_dir: &DataDir,
        config: &Config,
        credential: NodeCredential<'_>,
        trust_id: chorus_core::PublicKey,
        coalition: &Coalition,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let observer = matches!(credential, NodeCredential::Observer);
        if observer {
            let access = store.with_ledger(crate::observer::access_in_force);
            if access == chorus_core::ObserverAccess::None {
                tracing::warn!(
                    coalition = coalition.name(),
                    "the coalition does not admit observers (observers = none in its charter, as far as this \
                     node's objects tell): members' nodes will refuse this node"
                );
            }
            tracing::info!(
                coalition = coalition.name(),
                observers = crate::observer::access_text(access),
                "running as an observer"
            );
        } else if !store.with_ledger(|l| l.head_roster().is_some_and(|(r, _)| r.contains(&trust_id))) {
            // A newly admitted trust's node holds only the genesis at first;
            // peers that hold the admission accept it and sync brings it.
            tracing::warn!(
                trust = %trust_id,
                coalition = coalition.name(),
                "this trust is not a member as far as this node's objects tell; \
                 peers accept this node only once they hold an admission of it"
            );
        }
        let node_key = Keypair::from_seed(&data_dir.node_key_seed()?);
        let node_key_public = node_key.public();
        let attestation = match credential {
            // Signed with the trust's current key, for its id (they differ
            // after a key rotation).
            NodeCredential::TrustKey(trust) => Some(NodeAttestation::issue_for(
                trust,
                trust_id,
                coalition.id(),
                node_key.public(),
                crate::daemon::now_ms(),
                None,
            )),
            NodeCredential::Installed(attestation) => Some(attestation),
            NodeCredential::Observer => None,
        };
        let identity = match attestation {
            Some(attestation) => NodeIdentity::new(node_key, attestation).map_err(chorus_net::NetError::from)?,
            None => NodeIdentity::observer(node_key),
        };
        let heartbeat = Duration::from_millis(config.heartbeat_ms);
        let net_config = NetConfig {
            listen_addrs: parse_addrs("listen", &config.listen)?,
            bootstrap: parse_addrs("bootstrap", &config.bootstrap)?,
            mdns: config.mdns,
            sync_interval: Duration::from_millis(config.sync_interval_ms),
            heartbeat_interval: heartbeat,
            heartbeat_initial_delay: heartbeat.min(Duration::from_secs(1)),
            limits: chorus_net::NetLimits { target_peers: config.target_peers as usize, ..Default::default() },
            ..NetConfig::default()
        };
        let (handle, mut events) =
            chorus_net::Network::spawn(net_config, identity, Arc::new(StoreAdapter(store.clone())))?;
        let last_sync_ms = Arc::new(AtomicU64::new(0));
        let last = last_sync_ms.clone();
        let net = handle.clone();
        let held = store.clone();
        let events = tokio::spawn(async move {
            // Events can be dropped when the queue is full, so the peer
            // count is also read again now and then, not only on events.
            let mut recount = tokio::time::interval(PEER_RECOUNT_INTERVAL);
            recount.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let event = tokio::select! {
                    event = events.recv() => match event {
                        Some(event) => event,
                        None => break,
                    },
                    _ = recount.tick() => {
                        set_member_peers(&net, &metrics).await;
                        continue;
                    }
                };
                let peers_changed = matches!(
                    event,
                    NetworkEvent::PeerConnected { .. }
                        | NetworkEvent::PeerVerified { .. }
                        | NetworkEvent::PeerDisconnected { .. }
                        | NetworkEvent::PeerBanned { .. }
                        | NetworkEvent::SplitView(_)
                        | NetworkEvent::SplitViewCleared { .. }
                );
                match event {
                    NetworkEvent::Listening { address } => tracing::info!(%address, "listening"),
                    NetworkEvent::PeerConnected { peer } => tracing::debug!(%peer, "peer connected"),
                    NetworkEvent::PeerVerified { peer, trust } => tracing::info!(%peer, %trust, "member peer verified"),
                    NetworkEvent::PeerDisconnected { peer } => tracing::debug!(%peer, "peer disconnected"),
                    NetworkEvent::PeerBanned { peer, reason } => tracing::warn!(%peer, %reason, "peer banned"),
                    NetworkEvent::ObjectStored { id, adopted, from, via } => {
                        metrics.objects_stored.inc();
                        metrics.held(&held);
                        tracing::info!(%id, %from, ?via, "object stored");
                        if let Some(p) = adopted {
                            tracing::info!(proposal = %p, "proposal adopted as a position");
                        }
                    }
                    NetworkEvent::ObjectRefused { from, via, reason } => {
                        metrics.refused(&reason);
                        tracing::info!(%from, ?via, %reason, "object refused");
                    }
                    NetworkEvent::SyncFinished(report) => {
                        metrics.sync_rounds.inc();
                        match &report.error {
                            None => last.store(crate::daemon::now_ms(), Ordering::Relaxed),
                            Some(error) => {
                                metrics.sync_failures.inc();
                                tracing::debug!(?report.peer, %error, "sync round failed");
                            }
                        }
                        tracing::debug!(?report.peer, report.stored, report.missing, "sync finished");
                    }
                    // chorus-net logs the warning itself.
                    NetworkEvent::SplitView(view) => metrics.split_view(view.evidence.reason()),
                    NetworkEvent::SplitViewCleared { .. } => {}
                }
                if peers_changed {
                    set_member_peers(&net, &metrics).await;
                }
            }
        });
        Ok(Network { handle, last_sync_ms, events, store, node_key: node_key_public })
    }

    /// This node's key (the ed25519 key of `node.key`), hex: what
    /// `chorus delegate --scope node --key` names to make it revocable.
    pub fn node_key(&self) -> String {
        self.node_key.to_hex()
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> String {
        self.handle.peer_id().to_string()
    }

    /// Addresses others can dial, each ending in `/p2p/<peer id>`.
    pub async fn listen_addrs(&self) -> Vec<String> {
        let me = self.handle.peer_id();
        match self.handle.status().await {
            Ok(s) => s.listen_addrs.iter().map(|a| format!("{a}/p2p/{me}")).collect(),
            Err(_) => vec![],
        }
    }

    /// Publishes an object that was just stored. Failure is not an error:
    /// the object is durable and reaches peers by sync.
    pub async fn publish(&self, bytes: Vec<u8>) {
        match self.handle.publish(bytes).await {
            Ok(outcome) => tracing::debug!(?outcome, "published"),
            Err(e) => tracing::warn!(error = %e, "publish failed; the object goes out by sync"),
        }
    }

    /// Connected peers.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        let peers = self.handle.peers().await.unwrap_or_default();
        peers
            .into_iter()
            .map(|p| PeerInfo {
                peer_id: p.peer.to_string(),
                addrs: p.address.iter().map(|a| a.to_string()).collect(),
                trust: p.trust.map(|t| t.to_hex()),
                trust_name: p.trust.map(|t| self.store.with_ledger(|l| crate::daemon::member_name(l, &t))),
                observer: p.observer,
            })
            .collect()
    }

    /// Peers whose split view the network reports now (PROTOCOL.md 13).
    pub async fn split_views(&self) -> Vec<SplitViewInfo> {
        let status = self.handle.status().await.unwrap_or_default();
        status
            .split_views
            .into_iter()
            .map(|v| SplitViewInfo {
                peer_id: v.peer.to_string(),
                trust: v.trust.map(|t| t.to_hex()),
                trust_name: v.trust.map(|t| self.store.with_ledger(|l| crate::daemon::member_name(l, &t))),
                reason: v.evidence.reason().to_string(),
                evidence: v.evidence.to_string(),
                sessions: v.sessions,
            })
            .collect()
    }

    /// Number of connected peers proved to be member nodes, and how many
    /// the node tries to keep (`target_peers`).
    pub async fn member_peers_and_target(&self) -> (usize, usize) {
        self.handle.status().await.map(|s| (s.verified, s.target_peers)).unwrap_or((0, 0))
    }

    /// Number of connected observers (PROTOCOL.md 14.9).
    pub async fn observer_peers(&self) -> usize {
        self.handle.status().await.map(|s| s.observers).unwrap_or(0)
    }

    /// Dials a peer.
    pub async fn dial(&self, addr: &str) -> Result<()> {
        let addr = parse_addrs("peer", &[addr.to_string()])?.remove(0);
        Ok(self.handle.dial(addr).await?)
    }

    /// Last completed sync round.
    pub fn last_sync_ms(&self) -> Option<u64> {
        Some(self.last_sync_ms.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    /// The `/ready` check: ready once a sync with a member peer has
    /// completed since start, or at once when `trust` is the only member of
    /// the roster this node holds (there is no one to catch up from).
    pub fn readiness(&self, trust: chorus_core::PublicKey) -> ReadinessCheck {
        let last_sync_ms = self.last_sync_ms.clone();
        // Weak, so a lingering request cannot keep the store from closing.
        let store = Arc::downgrade(&self.store);
        Arc::new(move || {
            if last_sync_ms.load(Ordering::Relaxed) > 0 {
                return Ok(());
            }
            let store = store.upgrade().ok_or("the node is shutting down")?;
            let others = store
                .with_ledger(|l| l.head_roster().map_or(0, |(r, _)| r.members().filter(|m| m.key != trust).count()));
            if others == 0 {
                return Ok(());
            }
            Err(format!("no sync with a member peer has completed yet ({others} other member trust(s) in the roster)"))
        })
    }

    /// Stops the network.
    pub async fn shutdown(self) {
        let _ = self.handle.shutdown().await;
        self.events.abort();
    }
}

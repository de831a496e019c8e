//! Split views end to end (PROTOCOL.md 13): a member node whose head counts
//! an object it never serves, or claims a roster version that the objects
//! it serves do not adopt, is reported by its honest peer after two
//! sessions in a row (an event, the status list), and the report clears
//! once a session shows everything; the honest node is reported by nobody.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chorus_core::testkit::Fixture;
use chorus_core::{Action, Admission, Coalition, Keypair, Member, ObjectId, PublicKey};
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, NetworkEvent, ObjectStore, ServedSet, SplitEvidence, StoreFailure};

/// A compromised node's store: lists `hidden` among its items (so its head
/// and its splits count it) but never hands it out, while `withholding`;
/// and announces `claimed` as its roster version (heads and id) when set.
struct WithholdingStore {
    inner: MemoryStore,
    hidden: ObjectId,
    withholding: AtomicBool,
    claimed: Option<(Vec<ObjectId>, ObjectId)>,
}

impl ObjectStore for WithholdingStore {
    fn coalition(&self) -> &Coalition {
        self.inner.coalition()
    }
    fn ingest(&self, batch: Vec<Vec<u8>>) -> Result<Vec<Admission>, StoreFailure> {
        self.inner.ingest(batch)
    }
    fn keys_of(&self, trust: &PublicKey) -> Option<Vec<PublicKey>> {
        self.inner.keys_of(trust)
    }
    fn node_key_revoked(&self, trust: &PublicKey, node_key: &PublicKey) -> bool {
        self.inner.node_key_revoked(trust, node_key)
    }
    fn served_set(&self) -> Result<ServedSet, StoreFailure> {
        let mut served = self.inner.served_set()?;
        if let Some((heads, version)) = self.claimed.clone() {
            (served.roster_heads, served.roster_version) = (heads, version);
        }
        Ok(served)
    }
    fn is_adopted(&self, id: &ObjectId) -> bool {
        self.inner.is_adopted(id)
    }
    fn get(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreFailure> {
        if *id == self.hidden && self.withholding.load(Ordering::Relaxed) {
            return Ok(None);
        }
        self.inner.get(id)
    }
    fn sync_items(&self) -> Result<Vec<(u64, ObjectId)>, StoreFailure> {
        self.inner.sync_items()
    }
}

/// Starts the malicious node M (node 1 of trust 1) over `m_store` and the
/// honest node H (node 0 of trust 0, bootstrapping to M) over a fresh
/// store: M's handle and peer id, H and H's store.
async fn honest_and_malicious(
    f: &Fixture,
    m_store: Arc<WithholdingStore>,
) -> (chorus_net::NetworkHandle, chorus_net::PeerId, Node, Arc<MemoryStore>) {
    let config = memory_config(vec![]);
    let (m, _m_events) = chorus_net::Network::spawn(config.clone(), identity(f, 1, 1), m_store).unwrap();
    let m_peer = m.peer_id();
    let m_addr = loop {
        if let Some(a) = m.status().await.unwrap().listen_addrs.first() {
            break a.clone().with_p2p(m_peer).unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let mut hc = config;
    hc.bootstrap = vec![m_addr];
    let h_store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let h = start(hc, identity(f, 0, 0), h_store.clone()).await;
    (m, m_peer, h, h_store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_withholds_an_object_it_announces_is_reported_and_cleared() {
    let f = Fixture::new(3);
    // M holds ten proposals nobody else has and withholds the seventh.
    let m_inner = MemoryStore::new(f.coalition.clone());
    let objects = proposals(&f, "Only at M", 10, 10);
    store_all(&m_inner, &objects);
    let hidden = objects[6].id();
    let m_store =
        Arc::new(WithholdingStore { inner: m_inner, hidden, withholding: AtomicBool::new(true), claimed: None });
    let (m, m_peer, mut h, h_store) = honest_and_malicious(&f, m_store.clone()).await;

    // H syncs with M every 700 ms: the first session is evidence, the
    // second reports it.
    let (trust, evidence, sessions) = next_event(&mut h.events, |e| match e {
        NetworkEvent::SplitView(v) if v.peer == m_peer => Some((v.trust, v.evidence.clone(), v.sessions)),
        _ => None,
    })
    .await;
    assert_eq!(trust, Some(f.keys[1].public()));
    assert_eq!(sessions, 2);
    // Genesis and ten proposals announced; the genesis and nine shown.
    assert_eq!(evidence, SplitEvidence::Withheld { announced: 11, showed: 10, whole_set: true });
    assert_eq!(evidence.to_string(), "withholds objects: announced 11, showed 10");
    assert!(!h_store.contains(&hidden));
    assert_eq!(h_store.len(), 10);
    let status = h.handle.status().await.unwrap();
    assert_eq!(status.split_views.len(), 1);
    assert_eq!(status.split_views[0].peer, m_peer);
    assert_eq!(status.split_views[0].evidence, evidence);

    // M stops withholding: the next session shows everything and clears it.
    m_store.withholding.store(false, Ordering::Relaxed);
    next_event(&mut h.events, |e| {
        matches!(e, NetworkEvent::SplitViewCleared { peer } if *peer == m_peer).then_some(())
    })
    .await;
    assert!(h_store.contains(&hidden));
    assert!(h.handle.status().await.unwrap().split_views.is_empty());
    // M's own sessions with the honest H never found anything.
    assert!(m.status().await.unwrap().split_views.is_empty());
    assert!(m.status().await.unwrap().syncs_completed >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_claims_a_roster_its_objects_do_not_adopt_is_reported() {
    let f = Fixture::new(3);
    // M holds a proposal to admit a new trust that no member endorsed, and
    // announces the roster version that its adoption would make: a history
    // its objects do not support.
    let m_inner = MemoryStore::new(f.coalition.clone());
    let newcomer = Keypair::from_seed(&[0x77; 32]);
    let member =
        Member { key: newcomer.public(), name: "Newcomer".into(), external_id: None, attributes: Default::default() };
    let admit = f.proposal_under(&f.keys[1], f.keys[1].public(), "Admit Newcomer", &[], Some(Action::Admit(member)), 5);
    let mut objects = proposals(&f, "At M", 3, 10);
    objects.push(admit.clone());
    store_all(&m_inner, &objects);
    assert!(!m_inner.is_adopted(&admit.id()));
    let claimed = (vec![admit.id()], chorus_core::version_id(&f.id(), &[admit.id()]));
    let m_store = Arc::new(WithholdingStore {
        inner: m_inner,
        hidden: ObjectId([0; 32]),
        withholding: AtomicBool::new(false),
        claimed: Some(claimed.clone()),
    });
    let (m, m_peer, mut h, h_store) = honest_and_malicious(&f, m_store).await;

    let view = next_event(&mut h.events, |e| match e {
        NetworkEvent::SplitView(v) if v.peer == m_peer => Some(v.clone()),
        _ => None,
    })
    .await;
    assert_eq!(view.evidence, SplitEvidence::UnsupportedRoster { version: claimed.1, head: admit.id() });
    assert_eq!(view.evidence.reason(), "unsupported_roster");
    assert_eq!((view.trust, view.sessions), (Some(f.keys[1].public()), 2));
    // H holds every object M showed, the proposal among them, unadopted.
    assert!(h_store.contains(&admit.id()) && !h_store.is_adopted(&admit.id()));
    assert_eq!(h.handle.status().await.unwrap().split_views.len(), 1);
    assert!(m.status().await.unwrap().split_views.is_empty());
}

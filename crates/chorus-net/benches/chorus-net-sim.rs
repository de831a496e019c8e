//! Simulation of many in-process nodes over the memory transport (Noise and
//! Yamux included, no added latency), printing:
//! - for 50 and 200 nodes: p50 and p99 time for an object to reach every
//!   node, the fraction delivered by gossip alone (sync is off), and the
//!   bytes each node wrote to the wire per delivered object byte (≈ copies
//!   sent per delivery, gossip control and encryption overhead included);
//! - for catch-up of the newest 10,000 objects out of 100,000 over the real
//!   network stack: round trips, bytes exchanged, overhead beyond the missing
//!   objects, and time.
//!
//! Run with `cargo bench -p chorus-net --bench chorus-net-sim` (release).
//! `CHORUS_SIM_SIZES=50,200`, `CHORUS_SIM_OBJECTS=100` and
//! `CHORUS_SIM_GAP_MS=50` (time between publishes) change the runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Keypair, ObjectId};
use chorus_net::{
    MemoryStore, Multiaddr, NetConfig, Network, NetworkEvent, NetworkHandle, NodeAttestation, NodeIdentity,
    ObjectStore, PublishOutcome, SyncReport,
};
use sha2::{Digest, Sha256};

type Arrivals = Arc<Mutex<HashMap<ObjectId, Vec<Instant>>>>;

fn identity(f: &Fixture, i: usize) -> NodeIdentity {
    let mut seed = [0x33; 32];
    seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
    let key = Keypair::from_seed(&seed);
    let att = NodeAttestation::issue(&f.keys[i % f.keys.len()], f.id(), key.public(), T0, None);
    NodeIdentity::new(key, att).expect("attestation names the key")
}

fn config(bootstrap: Vec<Multiaddr>) -> NetConfig {
    let mut c = NetConfig::memory();
    c.bootstrap = bootstrap;
    c.kademlia = false;
    c.sync_interval = Duration::from_secs(3600); // gossip alone is measured
    c.heartbeat_interval = Duration::from_millis(500);
    c.heartbeat_initial_delay = Duration::from_millis(100);
    c
}

struct SimNode {
    handle: NetworkHandle,
    store: Arc<MemoryStore>,
    addr: Multiaddr,
}

/// Starts a node, records the arrival time of every object it stores.
async fn start(f: &Fixture, i: usize, bootstrap: Vec<Multiaddr>, arrivals: Arrivals) -> SimNode {
    let store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let (handle, mut events) = Network::spawn(config(bootstrap), identity(f, i), store.clone()).expect("spawn");
    let addr = loop {
        match events.recv().await {
            Some(NetworkEvent::Listening { address }) => break address.with_p2p(handle.peer_id()).expect("p2p"),
            Some(_) => {}
            None => panic!("node stopped"),
        }
    };
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if let NetworkEvent::ObjectStored { id, .. } = ev {
                let now = Instant::now();
                arrivals.lock().unwrap().entry(id).or_default().push(now);
            }
        }
    });
    SimNode { handle, store, addr }
}

/// A tiny deterministic generator, so every run has the same topology.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn gossip_run(n: usize, objects: usize, gap: Duration) {
    let f = Fixture::new(n as u32);
    let arrivals: Arrivals = Arc::default();
    let mut rng = Lcg(n as u64);
    let mut nodes: Vec<SimNode> = Vec::with_capacity(n);
    for i in 0..n {
        // Each node knows up to 4 random earlier nodes: a connected random graph.
        let mut bootstrap = Vec::new();
        for _ in 0..4.min(i) {
            let addr = nodes[rng.next(i)].addr.clone();
            if !bootstrap.contains(&addr) {
                bootstrap.push(addr);
            }
        }
        nodes.push(start(&f, i, bootstrap, arrivals.clone()).await);
    }
    // Wait for every node to have verified peers in its mesh.
    let ready = Instant::now();
    loop {
        let mut all = true;
        for node in &nodes {
            let s = node.handle.status().await.expect("status");
            if s.verified == 0 || s.mesh_peers < s.verified.min(4) {
                all = false;
                break;
            }
        }
        if all || ready.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // let meshes settle past a few heartbeats
    let mut bytes_before = 0;
    for node in &nodes {
        bytes_before += node.handle.status().await.expect("status").transport_bytes_sent;
    }

    let mut published: Vec<(ObjectId, Instant, usize)> = Vec::new();
    let mut object_bytes = 0usize;
    for k in 0..objects {
        let origin = rng.next(n);
        let p = f.proposal(origin % f.keys.len(), &format!("Sim {k}"), 1_000 + k as u64, None);
        object_bytes += p.bytes().len();
        nodes[origin].store.ingest(vec![p.bytes().to_vec()]).expect("store");
        let t0 = Instant::now();
        match nodes[origin].handle.publish(p.bytes().to_vec()).await.expect("publish") {
            PublishOutcome::Sent { .. } => {}
            other => println!("  publish {k}: {other:?}"),
        }
        published.push((p.id(), t0, origin));
        tokio::time::sleep(gap).await;
    }
    // Wait until everything arrived or a generous deadline passed.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = {
            let a = arrivals.lock().unwrap();
            published.iter().all(|(id, _, _)| a.get(id).map_or(0, Vec::len) >= n - 1)
        };
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut bytes_after = 0;
    for node in &nodes {
        bytes_after += node.handle.status().await.expect("status").transport_bytes_sent;
    }

    let a = arrivals.lock().unwrap().clone();
    let mut to_all: Vec<Duration> = Vec::new();
    let mut each: Vec<Duration> = Vec::new();
    let mut delivered = 0usize;
    for (id, t0, _) in &published {
        let times = a.get(id).cloned().unwrap_or_default();
        delivered += times.len();
        each.extend(times.iter().map(|t| t.duration_since(*t0)));
        if times.len() >= n - 1 {
            to_all.push(times.iter().map(|t| t.duration_since(*t0)).max().unwrap_or_default());
        }
    }
    to_all.sort();
    each.sort();
    let expected = objects * (n - 1);
    let wire = bytes_after - bytes_before;
    let per_delivery = wire as f64 / (delivered.max(1) as f64 * (object_bytes as f64 / objects as f64));
    println!(
        "gossip, {n} nodes, {objects} objects {} ms apart: time to reach every node p50 {:.1} ms, p99 {:.1} ms \
         (per node p50 {:.1} ms, p99 {:.1} ms); delivered {delivered}/{expected} = {:.4}; \
         {:.2} object-sizes on the wire per delivery ({wire} B written)",
        gap.as_millis(),
        percentile(&to_all, 0.50).as_secs_f64() * 1e3,
        percentile(&to_all, 0.99).as_secs_f64() * 1e3,
        percentile(&each, 0.50).as_secs_f64() * 1e3,
        percentile(&each, 0.99).as_secs_f64() * 1e3,
        delivered as f64 / expected as f64,
        per_delivery,
    );
    if to_all.len() < objects {
        println!("  {} of {objects} objects did not reach every node within 20 s", objects - to_all.len());
    }
    for node in &nodes {
        let _ = node.handle.shutdown().await;
    }
}

async fn catchup_run() {
    const TOTAL: u64 = 100_000;
    const MISSING: usize = 10_000;
    let f = Fixture::new(4);
    // 90,000 objects both hold: only their ids matter to reconciliation.
    let common: Vec<(u64, ObjectId, Vec<u8>)> = (0..TOTAL - MISSING as u64)
        .map(|i| (T0 + i, ObjectId(Sha256::digest(i.to_be_bytes()).into()), Vec::new()))
        .collect();
    // The newest 10,000: real signed objects the client must fetch and verify.
    let newest: Vec<_> = (0..MISSING).map(|j| f.proposal(j % 4, &format!("New {j}"), TOTAL + j as u64, None)).collect();
    let server = Arc::new(MemoryStore::new(f.coalition.clone()));
    server.insert_trusted(common.iter().cloned());
    server.insert_trusted(newest.iter().enumerate().map(|(j, e)| (T0 + TOTAL + j as u64, e.id(), e.bytes().to_vec())));
    let server_items = server.sync_items().expect("items").len();
    let client = Arc::new(MemoryStore::new(f.coalition.clone()));
    client.insert_trusted(common.iter().cloned());
    let (s_handle, mut s_events) = Network::spawn(config(vec![]), identity(&f, 0), server.clone()).expect("spawn");
    let s_addr = loop {
        if let Some(NetworkEvent::Listening { address }) = s_events.recv().await {
            break address.with_p2p(s_handle.peer_id()).expect("p2p");
        }
    };
    tokio::spawn(async move { while s_events.recv().await.is_some() {} });
    let t0 = Instant::now();
    let (c_handle, mut c_events) =
        Network::spawn(config(vec![s_addr]), identity(&f, 1), client.clone()).expect("spawn");
    let report: SyncReport = loop {
        match c_events.recv().await {
            Some(NetworkEvent::SyncFinished(r)) if r.missing > 0 || r.error.is_some() => break r,
            Some(_) => {}
            None => panic!("client stopped"),
        }
    };
    let elapsed = t0.elapsed();
    let total = report.bytes_sent + report.bytes_received;
    println!(
        "catch-up of {} missing out of {server_items}: {} round trips, {} B sent, {} B received, \
         {} B total, {} B of objects, {} B overhead beyond the objects; session {:.0} ms, connect+session {:.0} ms; \
         stored {} refused {} error {:?}",
        report.missing,
        report.round_trips,
        report.bytes_sent,
        report.bytes_received,
        total,
        report.object_bytes,
        total - report.object_bytes,
        report.elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e3,
        report.stored,
        report.refused,
        report.error,
    );
    // And again with nothing missing.
    c_handle.sync_now().await.expect("sync");
    let again: SyncReport = loop {
        match c_events.recv().await {
            Some(NetworkEvent::SyncFinished(r)) => break r,
            Some(_) => {}
            None => panic!("client stopped"),
        }
    };
    println!(
        "reconciliation of identical sets of {}: {} round trips, {} B total, {:.1} ms",
        client.sync_items().map(|v| v.len()).unwrap_or(0),
        again.round_trips,
        again.bytes_sent + again.bytes_received,
        again.elapsed.as_secs_f64() * 1e3
    );
    let _ = c_handle.shutdown().await;
    let _ = s_handle.shutdown().await;
}

fn main() {
    let sizes: Vec<usize> = std::env::var("CHORUS_SIM_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![50, 200]);
    let objects: usize = std::env::var("CHORUS_SIM_OBJECTS").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let gap = Duration::from_millis(std::env::var("CHORUS_SIM_GAP_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(50));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        for n in sizes {
            gossip_run(n, objects, gap).await;
        }
        catchup_run().await;
    });
}

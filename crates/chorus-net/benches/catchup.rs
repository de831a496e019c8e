//! Catch-up of 10,000 missing objects out of 100,000, in process (no
//! network): one session of range reconciliation that carries the missing
//! objects, printing round trips, bytes, overhead beyond the missing objects
//! themselves, and time. Two scenarios:
//! - *clustered*: the client lacks the newest 10,000 (a node that was away);
//! - *uniform*: the client lacks 10,000 chosen uniformly at random (the
//!   worst shape for range reconciliation: nearly every small range differs).
//!
//! and, after each, a second session between the now identical sets.
//!
//! Run with `cargo bench -p chorus-net --bench catchup`.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{ObjectId, Stance};
use chorus_net::sync::{ClientStep, SyncClient, SyncLimits, SyncServer, SyncSnapshot, SyncStats};
use sha2::{Digest, Sha256};

const TOTAL: u64 = 100_000;
const MISSING: usize = 10_000;

/// A deterministic xorshift generator: the scenario is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Run {
    stats: SyncStats,
    largest_frame: usize,
    time: Duration,
    received: BTreeSet<ObjectId>,
    have: usize,
}

fn session(client: &SyncSnapshot, server: &SyncServer, store: &HashMap<ObjectId, Vec<u8>>) -> Run {
    let limits = SyncLimits::default();
    let start = Instant::now();
    let mut session = SyncClient::new(client, limits).expect("limits");
    let mut request = session.initiate().expect("initiate");
    let mut largest_frame = request.len();
    let mut received = BTreeSet::new();
    loop {
        let response = server.handle_request(&request, |id| store.get(id).cloned()).expect("valid request");
        largest_frame = largest_frame.max(response.len());
        let progress = session.handle_response(&response).expect("valid response");
        received.extend(progress.envelopes.iter().map(|e| e.id()));
        match progress.next {
            ClientStep::Request(next) => {
                largest_frame = largest_frame.max(next.len());
                request = next;
            }
            ClientStep::Done => break,
        }
    }
    let time = start.elapsed();
    Run { stats: session.stats(), largest_frame, time, received, have: session.have().len() }
}

/// Runs one scenario: `missing` are the positions (0..TOTAL) the client
/// lacks; the objects at those positions are real signed endorsements, the
/// others only need ids (both sides hold them, so nothing reads them).
fn scenario(name: &str, missing: &BTreeSet<u64>) {
    let fixture = Fixture::new(1);
    let proposal = fixture.proposal(0, "Catch-up benchmark", 0, None);
    let mut server_items = Vec::with_capacity(TOTAL as usize);
    let mut client_items = Vec::with_capacity(TOTAL as usize);
    let mut store: HashMap<ObjectId, Vec<u8>> = HashMap::new();
    for i in 0..TOTAL {
        if missing.contains(&i) {
            let e = fixture.endorsement(0, proposal.id(), Stance::Endorse, i);
            server_items.push((T0 + i, e.id()));
            store.insert(e.id(), e.into_bytes());
        } else {
            let item = (T0 + i, ObjectId(Sha256::digest(i.to_be_bytes()).into()));
            server_items.push(item);
            client_items.push(item);
        }
    }
    let missing_bytes: u64 = store.values().map(|b| b.len() as u64).sum();
    let server =
        SyncServer::new(SyncSnapshot::new(server_items.iter().copied()), SyncLimits::default()).expect("limits");
    let client = SyncSnapshot::new(client_items.iter().copied());

    let run = session(&client, &server, &store);
    assert_eq!(run.received.len(), MISSING);
    assert_eq!(run.received, store.keys().copied().collect::<BTreeSet<_>>());
    assert_eq!(run.have, 0);
    let s = run.stats;
    let total = s.bytes_sent + s.bytes_received;
    let overhead = total - missing_bytes;
    println!("{name}: catch-up of {MISSING} missing objects out of {TOTAL} (in process, default limits)");
    println!(
        "  {} round trips, {} bytes sent, {} bytes received, {} bytes total; missing objects themselves {} bytes; \
         overhead beyond them {} bytes ({:.1} KB), {}",
        s.round_trips,
        s.bytes_sent,
        s.bytes_received,
        total,
        missing_bytes,
        overhead,
        overhead as f64 / 1000.0,
        ms(run.time)
    );
    println!("  largest frame: {} bytes", run.largest_frame);

    // Identical sets afterwards.
    let after = SyncSnapshot::new(server_items.iter().copied());
    let again = session(&after, &server, &store);
    assert!(again.received.is_empty() && again.have == 0);
    println!(
        "  second session, identical sets: {} round trip(s), {} bytes ({} sent, {} received), {}",
        again.stats.round_trips,
        again.stats.bytes_sent + again.stats.bytes_received,
        again.stats.bytes_sent,
        again.stats.bytes_received,
        ms(again.time)
    );
}

fn main() {
    // Snapshot build, the cost of (re)building one when the store changes.
    let items: Vec<(u64, ObjectId)> =
        (0..TOTAL).map(|i| (T0 + i, ObjectId(Sha256::digest(i.to_be_bytes()).into()))).collect();
    let mut builds = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let s = SyncSnapshot::new(items.iter().copied());
        builds.push(start.elapsed());
        assert_eq!(s.len(), TOTAL as usize);
    }
    builds.sort();
    println!("snapshot build ({TOTAL} items): median {}, min {}", ms(builds[builds.len() / 2]), ms(builds[0]));

    let newest: BTreeSet<u64> = (TOTAL - MISSING as u64..TOTAL).collect();
    scenario("clustered (the newest 10,000 missing)", &newest);

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut uniform = BTreeSet::new();
    while uniform.len() < MISSING {
        uniform.insert(rng.next() % TOTAL);
    }
    scenario("uniform (10,000 missing at random positions)", &uniform);
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

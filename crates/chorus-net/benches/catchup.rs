//! Catch-up of the newest 10,000 objects out of 100,000: reconciliation and
//! object transfer in process (no network), printing round trips, bytes,
//! overhead beyond the missing objects themselves, and time.
//!
//! Run with `cargo bench -p chorus-net --bench catchup`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{ObjectId, Stance};
use chorus_net::sync::{ClientStep, Fetcher, SyncClient, SyncLimits, SyncServer, SyncSnapshot};
use sha2::{Digest, Sha256};

const TOTAL: u64 = 100_000;
const MISSING: u64 = 10_000;

fn main() {
    let limits = SyncLimits::default();

    // The 90,000 objects both sides hold only need ids; the 10,000 missing
    // ones are real signed endorsement envelopes, which the fetch transfers.
    let fixture = Fixture::new(1);
    let proposal = fixture.proposal(0, "Catch-up benchmark", 0, None);
    let mut items: Vec<(u64, ObjectId)> =
        (0..TOTAL - MISSING).map(|i| (T0 + i, ObjectId(Sha256::digest(i.to_be_bytes()).into()))).collect();
    let mut store: HashMap<ObjectId, Vec<u8>> = HashMap::new();
    for j in 0..MISSING {
        let offset = TOTAL - MISSING + j;
        let e = fixture.endorsement(0, proposal.id(), Stance::Endorse, offset);
        items.push((T0 + offset, e.id()));
        store.insert(e.id(), e.into_bytes());
    }
    let ours = &items[..(TOTAL - MISSING) as usize];
    let missing_bytes: u64 = store.values().map(|b| b.len() as u64).sum();

    // Snapshot build, the cost of (re)building storage when the store changes.
    let mut builds = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let s = SyncSnapshot::new(items.iter().copied()).expect("snapshot");
        builds.push(start.elapsed());
        assert_eq!(s.len(), TOTAL as usize);
    }
    builds.sort();
    let server_snapshot = SyncSnapshot::new(items.iter().copied()).expect("snapshot");
    let client_snapshot = SyncSnapshot::new(ours.iter().copied()).expect("snapshot");
    let server = SyncServer::new(server_snapshot, limits).expect("limits");

    // Reconciliation.
    let start = Instant::now();
    let mut client = SyncClient::new(&client_snapshot, limits).expect("limits");
    let mut request = client.initiate().expect("initiate");
    let mut largest_frame = request.len();
    loop {
        let response = server.handle_request(&request, |_| None).expect("valid request");
        largest_frame = largest_frame.max(response.len());
        match client.handle_response(&response).expect("valid response") {
            ClientStep::Request(next) => {
                largest_frame = largest_frame.max(next.len());
                request = next;
            }
            ClientStep::Done => break,
        }
    }
    let reconcile_time = start.elapsed();
    let sync = client.stats();
    assert_eq!(sync.need as u64, MISSING);
    assert_eq!(sync.have, 0);
    let (_, need) = client.into_difference();

    // Object transfer.
    let start = Instant::now();
    let mut fetcher = Fetcher::new(need, limits).expect("limits");
    let mut delivered = 0u64;
    while let Some(request) = fetcher.next_request() {
        let response = server.handle_request(&request, |id| store.get(id).cloned()).expect("valid request");
        largest_frame = largest_frame.max(response.len());
        delivered += fetcher.handle_response(&response).expect("valid response").len() as u64;
    }
    let fetch_time = start.elapsed();
    let fetch = fetcher.stats();
    assert_eq!(delivered, MISSING);
    assert!(fetcher.unavailable().is_empty());

    // Identical sets afterwards.
    let after = SyncSnapshot::new(items.iter().copied()).expect("snapshot");
    let mut again = SyncClient::new(&after, limits).expect("limits");
    let mut request = again.initiate().expect("initiate");
    loop {
        let response = server.handle_request(&request, |_| None).expect("valid request");
        match again.handle_response(&response).expect("valid response") {
            ClientStep::Request(next) => request = next,
            ClientStep::Done => break,
        }
    }
    let settled = again.stats();

    let reconcile_bytes = sync.bytes_sent + sync.bytes_received;
    let fetch_bytes = fetch.bytes_sent + fetch.bytes_received;
    let total = reconcile_bytes + fetch_bytes;
    let ids_bytes = MISSING * 32;
    println!("catch-up of {MISSING} missing objects out of {TOTAL} (in process, default limits)");
    println!("  snapshot build ({TOTAL} items): median {}, min {}", ms(builds[builds.len() / 2]), ms(builds[0]));
    println!(
        "  reconciliation: {} round trips, {} bytes sent, {} bytes received, {} bytes total ({} of them the {MISSING} needed ids), overhead beyond the ids {} bytes, {}",
        sync.round_trips,
        sync.bytes_sent,
        sync.bytes_received,
        reconcile_bytes,
        ids_bytes,
        reconcile_bytes - ids_bytes,
        ms(reconcile_time)
    );
    println!(
        "  object transfer: {} round trips, {} bytes sent, {} bytes received, {} envelope bytes ({} objects), {}",
        fetch.round_trips,
        fetch.bytes_sent,
        fetch.bytes_received,
        fetch.envelope_bytes,
        fetch.delivered,
        ms(fetch_time)
    );
    println!(
        "  total: {} round trips, {} bytes; missing objects themselves {} bytes; overhead beyond them {} bytes ({:.1} KB), {}",
        sync.round_trips + fetch.round_trips,
        total,
        missing_bytes,
        total - missing_bytes,
        (total - missing_bytes) as f64 / 1000.0,
        ms(reconcile_time + fetch_time)
    );
    println!("  largest frame: {largest_frame} bytes");
    println!(
        "  second reconciliation after transfer: {} round trip(s), {} bytes",
        settled.round_trips,
        settled.bytes_sent + settled.bytes_received
    );
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

//! Shared fixtures of the store's integration tests.
#![allow(dead_code)]

use std::path::Path;

use chorus_core::ingest::NO_CLOCK;
use chorus_core::testkit::Fixture;
use chorus_core::{Envelope, Ingest, Ledger, Replay, Stance};
use chorus_store::{Store, StoreConfig};

/// Objects per proposal in [`object`]: the proposal and one stance per member.
pub fn per_proposal(f: &Fixture) -> u64 {
    f.keys.len() as u64 + 1
}

/// The `i`-th object of a deterministic stream: proposal `i / per_proposal`,
/// then every member's stance on it (mostly endorsements, so many proposals
/// are adopted). The same `i` always gives the same bytes.
pub fn object(f: &Fixture, i: u64) -> Envelope {
    let n = per_proposal(f);
    let (p, j) = (i / n, i % n);
    let members = f.keys.len();
    let proposal = f.proposal((p % members as u64) as usize, &format!("Proposal {p}"), p * 1000, None);
    if j == 0 {
        return proposal;
    }
    let stance = match (p + j) % 5 {
        0 => Stance::Object,
        1 => Stance::Abstain,
        _ => Stance::Endorse,
    };
    f.endorsement((j - 1) as usize, proposal.id(), stance, p * 1000 + j)
}

/// Objects `range` of the stream, as bytes.
pub fn objects(f: &Fixture, range: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    range.map(|i| object(f, i).into_bytes()).collect()
}

/// A store config that keeps tests quick but durable.
pub fn config() -> StoreConfig {
    StoreConfig { cache_capacity_bytes: 8 * 1024 * 1024, ..StoreConfig::default() }
}

/// A new store in `dir` for the fixture's coalition.
pub fn create(dir: &Path, f: &Fixture) -> Store {
    Store::create(dir, f.coalition.genesis_envelope().bytes(), config()).expect("create store")
}

/// A ledger recomputed from scratch from every object the store serves.
pub fn recompute(store: &Store) -> Ledger {
    let coalition = store.coalition().clone();
    let stored: Vec<Vec<u8>> = store
        .sync_items()
        .into_iter()
        .map(|(_, id)| store.get(&id).expect("readable").expect("listed objects are held"))
        .collect();
    // Objects may rely on later ones (a stance of a trust admitted later in
    // this order): chorus-core's replay retries them until nothing changes.
    let mut ingest = Ingest::new(coalition.clone(), 0);
    let mut replay = Replay::new(NO_CLOCK);
    let out = ingest.replay(&mut replay, stored.iter().map(|b| ((), Ledger::check_signature(&coalition, b))));
    assert!(out.refused.is_empty(), "stored objects are valid: {:?}", out.refused);
    let never = replay.finish();
    assert!(never.is_empty(), "{} stored objects are never authorised", never.len());
    ingest.into_ledger()
}

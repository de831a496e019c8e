//! Durable ingest throughput: `cargo bench -p chorus-store`.
//!
//! Every figure counts endorsements that were fully verified (one ed25519
//! signature each, through chorus-core) and durable (sled flush plus
//! fdatasync) before `ingest` returned. Prints, in one run: group commit
//! with one submitter, group commit with concurrent submitters, one commit
//! per object, their ratio, and the time to reopen (re-verify) the store,
//! each with the CPU time it used (the machine may be shared).

use std::time::{Duration, Instant};

use chorus_core::testkit::Fixture;
use chorus_core::{Admission, Envelope, Stance};
use chorus_store::{Store, StoreConfig};

const MEMBERS: u32 = 100;
const PROPOSALS: u64 = 300;
const BATCH: usize = 1000;
/// The one-commit-per-object run stops after this long (it is slow by design).
const PER_OBJECT_BUDGET: Duration = Duration::from_secs(4);

struct Workload {
    genesis: Vec<u8>,
    proposals: Vec<Vec<u8>>,
    endorsements: Vec<Vec<u8>>,
}

fn workload() -> Workload {
    let f = Fixture::new(MEMBERS);
    let proposals: Vec<Envelope> =
        (0..PROPOSALS).map(|p| f.proposal((p % MEMBERS as u64) as usize, &format!("P{p}"), p, None)).collect();
    let mut endorsements = Vec::with_capacity(proposals.len() * MEMBERS as usize);
    for (p, prop) in proposals.iter().enumerate() {
        for m in 0..MEMBERS as usize {
            let stance = if (p + m) % 4 == 0 { Stance::Object } else { Stance::Endorse };
            endorsements.push(f.endorsement(m, prop.id(), stance, 10 + m as u64).into_bytes());
        }
    }
    Workload {
        genesis: f.coalition.genesis_envelope().bytes().to_vec(),
        proposals: proposals.into_iter().map(Envelope::into_bytes).collect(),
        endorsements,
    }
}

fn fresh_store(w: &Workload, config: StoreConfig) -> (tempfile::TempDir, Store) {
    let dir = tempfile::Builder::new().prefix("chorus-store-bench").tempdir().expect("tempdir");
    let store = Store::create(dir.path(), &w.genesis, config).expect("create");
    store.ingest(&w.proposals, u64::MAX).expect("proposals");
    (dir, store)
}

fn check_stored(outcomes: &[Admission]) -> usize {
    outcomes.iter().filter(|a| matches!(a, Admission::Stored { .. })).count()
}

/// `submitters` threads, each with its own share, in batches of `batch`;
/// their commits are grouped and their verification overlaps commits.
fn ingest_all(store: &Store, items: &[Vec<u8>], submitters: usize, batch: usize) -> usize {
    let share = items.len().div_ceil(submitters);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(share)
            .map(|part| {
                s.spawn(move || {
                    part.chunks(batch).map(|c| check_stored(&store.ingest(c, u64::MAX).expect("ingest"))).sum::<usize>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("submitter")).sum()
    })
}

/// One object per `ingest` call, so one flush and fsync per object; stops
/// after `PER_OBJECT_BUDGET`.
fn one_by_one(store: &Store, items: &[Vec<u8>]) -> usize {
    let start = Instant::now();
    let mut stored = 0;
    for e in items {
        stored += check_stored(&store.ingest(&[e], u64::MAX).expect("ingest"));
        if start.elapsed() > PER_OBJECT_BUDGET {
            break;
        }
    }
    stored
}

/// CPU time used by this process so far (user + system, all threads), in
/// seconds, from /proc/self/stat (Linux; clock ticks assumed 100 per second,
/// the value on every mainstream Linux build). NaN where unavailable.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return f64::NAN };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `f`, which stores `n` objects and returns them, and reports wall
/// rate and CPU microseconds per object.
fn measure(label: &str, f: impl FnOnce() -> usize) -> f64 {
    let cpu = cpu_seconds();
    let start = Instant::now();
    let n = f();
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let rate = n as f64 / wall;
    println!("  {label:<58} {rate:>9.0} /s   ({:>5.1} CPU-µs per object, {n} objects)", cpu * 1e6 / n as f64);
    rate
}

fn main() {
    // `cargo bench` passes `--bench`; arguments are accepted and ignored.
    let threads = chorus_core::keys::default_threads();
    eprintln!("generating {} endorsements...", PROPOSALS * MEMBERS as u64);
    let w = workload();
    let n = w.endorsements.len();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("chorus-store durable ingest: {n} endorsements, {threads} verify threads, batches of {BATCH}");
    println!("  (load average at start: {}; figures are wall-clock rates on a shared machine)", load.trim());
    let all = &w.endorsements[..];
    let coalition = chorus_core::Coalition::from_genesis(&w.genesis, threads).expect("genesis");
    // The production path (chorus-core's one validation path), no store.
    let ledger = chorus_core::Ledger::new(coalition);
    let refs: Vec<&[u8]> = all.iter().map(|e| e.as_slice()).collect();
    measure("baseline: validate_many only (no store)", || {
        ledger.validate_many(&refs, u64::MAX, threads).iter().filter(|r| r.is_ok()).count()
    });

    let (_d, store) = fresh_store(&w, StoreConfig::default());
    let group = measure("group commit, 1 submitter, flush+fdatasync per batch", || ingest_all(&store, all, 1, BATCH));
    let (_d, store) = fresh_store(&w, StoreConfig::default());
    let two = measure("group commit, 2 submitters (verify overlaps commit)", || ingest_all(&store, all, 2, BATCH));
    let (_d, store) = fresh_store(&w, StoreConfig::default());
    let many = measure("group commit, 16 submitters of 20-object batches", || ingest_all(&store, all, 16, 20));
    let (_d, store) = fresh_store(&w, StoreConfig { fsync: false, ..StoreConfig::default() });
    measure("group commit, 2 submitters, sled flush only (no fdatasync)", || ingest_all(&store, all, 2, BATCH));
    let (_d, store) = fresh_store(&w, StoreConfig::default());
    let single = measure("one commit per object (flush+fdatasync each)", || one_by_one(&store, all));
    println!("  ratio best group commit / one commit per object: {:.1}x", group.max(two).max(many) / single);

    let (dir, store) = fresh_store(&w, StoreConfig::default());
    ingest_all(&store, all, 2, BATCH);
    let objects = store.object_count();
    store.close().expect("close");
    measure("reopen: re-verify every object and rebuild the ledger", || {
        Store::open(dir.path(), StoreConfig::default()).expect("open").object_count()
    });
    assert_eq!(objects, n + w.proposals.len() + 1);
}

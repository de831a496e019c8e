//! Crash test: a child process ingests objects and prints each acknowledged
//! id; the test kills it with SIGKILL at a random moment, reopens the store
//! and checks that every acknowledged object is present and intact, that the
//! store opens cleanly, and that its ledger equals a fresh recomputation.
//!
//! The normal run kills 30 times. For 1,000 kill points:
//!
//! ```text
//! CHORUS_CRASH_KILLS=1000 cargo test --release -p chorus-store --test crash -- --nocapture
//! ```

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chorus_core::testkit::Fixture;
use chorus_core::{Admission, ObjectId};
use chorus_store::Store;

/// Set in the child: the store directory to ingest into.
const CHILD_DIR: &str = "CHORUS_CRASH_CHILD_DIR";
/// Set in the child: seed of its batch sizes.
const CHILD_SEED: &str = "CHORUS_CRASH_CHILD_SEED";
/// Number of kill points (default 30).
const KILLS: &str = "CHORUS_CRASH_KILLS";
/// Members of the test coalition.
const MEMBERS: u32 = 9;

/// xorshift64*: enough randomness for batch sizes and kill times.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The child: ingests the deterministic object stream in random batches
/// (with repeats), printing `ack <id>` only after `ingest` returns.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let seed: u64 = std::env::var(CHILD_SEED).ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = Rng(seed | 1);
    let f = Fixture::new(MEMBERS);
    let store = Store::open(std::path::Path::new(&dir), common::config()).expect("child opens the store");
    // Batches are contiguous runs of the stream, each committed whole, so
    // the store holds a prefix of it: continue where that prefix ends.
    let mut next = store.object_count() as u64 - 1;
    let stdout = std::io::stdout();
    // The parent starts its random delay from here, so kills land while
    // ingesting rather than while the process starts. (If the parent is
    // gone, writing fails and the child ends.)
    writeln!(stdout.lock(), "ready").expect("stdout");
    loop {
        let size = 1 + rng.below(150);
        // Sometimes go back a little, so batches mix duplicates and new objects.
        let start = next.saturating_sub(rng.below(20));
        let batch = common::objects(&f, start..start + size);
        let outcomes = store.ingest(&batch, u64::MAX).expect("ingest");
        let mut out = stdout.lock();
        for a in outcomes {
            match a {
                Admission::Stored { id, .. } | Admission::Duplicate { id } => {
                    writeln!(out, "ack {id}").expect("stdout");
                }
                Admission::Refused(r) => panic!("refused: {r}"),
            }
        }
        out.flush().expect("stdout");
        next = start + size;
    }
}

#[test]
fn acknowledged_objects_survive_sigkill() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let kills: u64 = std::env::var(KILLS).ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let clock = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7);
    let mut rng = Rng(clock | 1);
    let f = Fixture::new(MEMBERS);
    let exe = std::env::current_exe().unwrap();
    let mut dir = tempfile::tempdir().unwrap();
    // The expected bytes of every object the child may send, by id.
    let mut expected: HashMap<ObjectId, Vec<u8>> = HashMap::new();
    let mut generated = 0u64;
    let mut total_acks = 0usize;

    // Each store lives through several kills: every run continues on the
    // state the previous kill left behind, as a restarting node would. A new
    // store every few kills keeps reopening (which re-verifies everything)
    // quick in long runs.
    for kill in 0..kills {
        if kill % 5 == 0 {
            dir = tempfile::tempdir().unwrap();
            common::create(dir.path(), &f).close().unwrap();
        }
        let seed = rng.next();
        let delay_ms = rng.below(300);
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_SEED, seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The test harness's "test crash_child ... " shares the line.
                if line.ends_with("ready") {
                    let _ = ready_tx.send(());
                }
                // A line cut by the kill has no newline and fails to parse.
                if let Some(id) = line.strip_prefix("ack ").and_then(|h| h.parse::<ObjectId>().ok()) {
                    acked.push(id);
                }
            }
            acked
        });
        // Without a "ready" (the child failed early) the kill still happens
        // and the checks below report what is wrong.
        let _ = ready.recv_timeout(Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL the child"); // Child::kill sends SIGKILL on Unix
        let status = child.wait().expect("reap the child");
        assert!(!status.success(), "kill {kill}: the child ended by itself: {status:?}");
        let acked = reader.join().expect("reader thread");
        total_acks += acked.len();

        let store = Store::open(dir.path(), common::config())
            .unwrap_or_else(|e| panic!("kill {kill} (seed {seed}, after {delay_ms} ms): store does not open: {e}"));
        assert!(store.corrupt_records().is_empty(), "kill {kill}: {:?}", store.corrupt_records());
        for id in &acked {
            if !expected.contains_key(id) {
                // Extend the expected map far enough to cover what was sent.
                while !expected.contains_key(id) && generated < 1_000_000 {
                    let e = common::object(&f, generated);
                    expected.insert(e.id(), e.into_bytes());
                    generated += 1;
                }
            }
            let want = expected.get(id).unwrap_or_else(|| panic!("kill {kill}: acknowledged unknown id {id}"));
            let got = store.get(id).unwrap_or_else(|e| panic!("kill {kill}: acknowledged {id} unreadable: {e}"));
            assert_eq!(got.as_ref(), Some(want), "kill {kill} (seed {seed}): acknowledged {id} lost or altered");
        }
        let fresh = common::recompute(&store);
        assert_eq!(
            store.with_ledger(|l| l.digest()),
            fresh.digest(),
            "kill {kill}: derived ledger differs from a recomputation"
        );
        assert_eq!(store.with_ledger(|l| l.object_count()), fresh.object_count());
        drop(store);
        if kills > 30 && kill % 100 == 0 {
            eprintln!("kill {kill}: {} objects stored, {total_acks} acknowledgements so far", fresh.object_count());
        }
    }
    assert!(total_acks > 0, "the child never acknowledged anything; kill points were all before the first commit");
    eprintln!("{kills} kills, {total_acks} acknowledgements checked");
}

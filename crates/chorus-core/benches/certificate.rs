//! Certificate verification speed against bare one-by-one strict ed25519.
//!
//! Run with `cargo bench -p chorus-core`. Prints medians of several runs:
//! (a) `verify_strict` of 3,000 endorsement signing inputs, one by one, one
//!     core; (b) `certificate::verify_with_threads` of a 3,000-member,
//!     3,000-endorsement certificate on 1 and 2 threads; (c) the genesis part
//!     (`Coalition::from_genesis`, 3,000 countersignatures) against the
//!     endorsement part; (d) the ratios (b)/(a). No assertion on time: these
//!     are figures to read, not tests.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{certificate, Coalition, Genesis, Ledger};

const MEMBERS: u32 = 3_000;
const RUNS: usize = 7;

/// Figures of one measurement: wall-clock median and minimum over the runs,
/// and the median CPU time of the calling thread (which, for one-thread
/// runs, is unaffected by other processes competing for the cores).
struct Figures {
    median: Duration,
    min: Duration,
    cpu: Duration,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "median {:.1} ms (min {:.1}, own-thread CPU {:.1})", ms(self.median), ms(self.min), ms(self.cpu))
    }
}

/// CPU time consumed so far by the calling thread, from the kernel's
/// scheduler statistics (nanoseconds, first field).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Figures {
    // One warm-up run, so page faults and lazy tables are not measured.
    black_box(f());
    let (walls, cpus): (Vec<Duration>, Vec<Duration>) = (0..runs)
        .map(|_| {
            let c = thread_cpu();
            let t = Instant::now();
            black_box(f());
            (t.elapsed(), thread_cpu().saturating_sub(c))
        })
        .unzip();
    let min = walls.iter().copied().min().unwrap_or_default();
    Figures { median: median(walls), min, cpu: median(cpus) }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    // `cargo test --benches` runs this with --bench absent; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("certificate bench: run with `cargo bench -p chorus-core` to measure");
        return;
    }
    let t = Instant::now();
    let f = Fixture::new(MEMBERS);
    // Endorsements with a short comment: signing inputs of about 200 bytes.
    let (cert, _p, ends) = f.endorsed_by_all();
    let genesis = f.coalition.genesis_envelope().bytes().to_vec();
    let input_len = ends[0].signing_input().len();
    println!(
        "setup: {MEMBERS} members, {} endorsements, signing input {input_len} bytes, genesis {} KiB, certificate {} KiB ({:.1} s)",
        ends.len(),
        genesis.len() / 1024,
        cert.len() / 1024,
        t.elapsed().as_secs_f64()
    );

    println!("load average at start: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());

    // (a) Bare strict verification, one by one, one core.
    let bare: Vec<(ed25519_dalek::VerifyingKey, Vec<u8>, ed25519_dalek::Signature)> = ends
        .iter()
        .map(|e| {
            let s = &e.signatures()[0];
            (
                ed25519_dalek::VerifyingKey::from_bytes(&s.signer).expect("valid key"),
                e.signing_input(),
                ed25519_dalek::Signature::from_bytes(&s.signature),
            )
        })
        .collect();
    assert!(bare.iter().all(|(k, m, s)| k.verify_strict(m, s).is_ok()));
    let a = time(RUNS, || bare.iter().all(|(k, m, s)| k.verify_strict(m, s).is_ok()));
    println!(
        "(a) verify_strict x {}, one by one, 1 core: {a}; {:.1} us each",
        bare.len(),
        ms(a.cpu) * 1e3 / bare.len() as f64
    );

    // `cargo bench -p chorus-core -- known`: only the known-coalition path
    // (for profiling), after the bare figure above.
    let only_known = std::env::args().any(|a| a == "known");

    // (b) Whole certificate.
    let expected = certificate::verify_with_threads(&cert, None, 1).expect("certificate verifies");
    assert_eq!(expected.endorsers.len(), MEMBERS as usize);
    let mut b = vec![];
    for threads in if only_known { vec![] } else { vec![1, 2] } {
        assert_eq!(certificate::verify_with_threads(&cert, None, threads).as_ref(), Ok(&expected));
        let d = time(RUNS, || certificate::verify_with_threads(&cert, None, threads));
        println!(
            "(b) certificate::verify_with_threads, {threads} thread(s), {} signatures ({MEMBERS} founders + 1 proposal + {MEMBERS} endorsements): {d}",
            2 * MEMBERS + 1
        );
        b.push(d);
    }

    // (b') The same certificate for a verifier that already holds the
    // coalition verified: the endorsement part alone, same verdicts.
    let mut known = vec![];
    for threads in [1, 2] {
        assert_eq!(certificate::verify_for_coalition(&cert, &f.coalition, threads).as_ref(), Ok(&expected));
        let d = time(RUNS, || certificate::verify_for_coalition(&cert, &f.coalition, threads));
        println!(
            "(b') certificate::verify_for_coalition (genesis already verified), {threads} thread(s), {} signatures: {d}",
            MEMBERS + 1
        );
        known.push(d);
    }

    if only_known {
        return;
    }

    // (c) Breakdown: the genesis alone, its body parse alone, and the rest.
    let body = f.coalition.genesis_envelope().body().to_vec();
    let parse = time(RUNS, || Genesis::from_body(&body));
    println!("(c) Genesis::from_body alone ({MEMBERS} founder keys parsed): {parse}");
    // Every founder signs the whole genesis body, and ed25519 verification
    // hashes R || A || message, so each countersignature check hashes it
    // again: this is the floor of the genesis part.
    let genesis_input = f.coalition.genesis_envelope().signing_input();
    let hashing = time(RUNS, || {
        (0..MEMBERS).map(|_| <sha2::Sha512 as sha2::Digest>::digest(&genesis_input)[0]).fold(0u8, |a, b| a ^ b)
    });
    println!(
        "(c) SHA-512 of the {} KiB genesis signing input x {MEMBERS} (hashing inside the countersignature checks): {hashing}",
        genesis_input.len() / 1024
    );
    let end_bytes: Vec<&[u8]> = ends.iter().map(|e| e.bytes()).collect();
    let now = T0 + 10_000;
    // The production path: the ledger's validation (here holding only the
    // genesis, which is what the endorsements need).
    let ledger = Ledger::new(f.coalition.clone());
    for (i, threads) in [1, 2].into_iter().enumerate() {
        let g = time(RUNS, || Coalition::from_genesis(&genesis, threads));
        let v = time(RUNS, || ledger.validate_many(&end_bytes, now, threads));
        println!(
            "(c) {threads} thread(s): Coalition::from_genesis ({MEMBERS} countersignatures over the {} KiB body): {g}",
            genesis.len() / 1024
        );
        println!("(c) {threads} thread(s): Ledger::validate_many of the {MEMBERS} endorsements: {v}");
        println!(
            "(c) {threads} thread(s): certificate minus genesis (endorsement part): median {:.1} ms{}",
            ms(b[i].median.saturating_sub(g.median)),
            if threads == 1 { format!(", CPU {:.1} ms", ms(b[i].cpu.saturating_sub(g.cpu))) } else { String::new() }
        );
    }

    // (d) Ratios.
    let r = |x: Duration, y: Duration| x.as_secs_f64() / y.as_secs_f64();
    println!(
        "(d) known-coalition certificate / bare: 1 thread {:.2} (CPU {:.2}), 2 threads {:.2} (wall medians)",
        r(known[0].median, a.median),
        r(known[0].cpu, a.cpu),
        r(known[1].median, a.median),
    );
    println!(
        "(d) certificate / bare: 1 thread {:.2} (CPU {:.2}), 2 threads {:.2} (wall medians; the certificate checks 2x{MEMBERS}+1 signatures, 3,000 of them over the whole genesis body)",
        r(b[0].median, a.median),
        r(b[0].cpu, a.cpu),
        r(b[1].median, a.median),
    );
}

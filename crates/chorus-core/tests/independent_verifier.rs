//! The independent verifier (`tools/verify_certificate.py`, written in
//! Python from PROTOCOL.md alone) against this crate, certificate by
//! certificate: the vectors of the document, the certificates kept in
//! `tests/data/` (some exported by real nodes), and deterministic mutations
//! of all of them. Both must give the same verdict: for a valid certificate
//! the same result line, for an invalid one the same error name and, except
//! for the decoder's wording of a `Malformed` input, the same message.
//!
//! Needs `python3` with PyNaCl (`pip install pynacl`). Without them the test
//! says so and passes, unless `CHORUS_REQUIRE_INDEPENDENT_VERIFIER=1` (set
//! by `.ci/run`), which makes their absence a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chorus_core::testkit::SplitMix;
use chorus_core::{certificate, ObjectId};

mod support;

/// Mutations made of each certificate.
const MUTATIONS_PER_CERTIFICATE: usize = 120;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// True when `python3` can import PyNaCl.
fn python_with_nacl() -> bool {
    Command::new("python3")
        .args(["-c", "import nacl.signing"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One certificate to judge, with the coalition it is expected to be of.
struct Case {
    name: String,
    bytes: Vec<u8>,
    coalition: Option<ObjectId>,
}

/// The certificate vectors of PROTOCOL.md, expected to be of the vector
/// coalition (as the document verifies them).
fn document_cases() -> Vec<Case> {
    let doc = std::fs::read_to_string(root().join("docs/PROTOCOL.md")).expect("docs/PROTOCOL.md");
    let mut cases = Vec::new();
    let mut coalition = None;
    for line in doc.lines() {
        let Some((name, value)) = line.split_once(": ") else { continue };
        if name == "genesis.id" {
            coalition = value.parse().ok();
        }
        if let Some(cert) = name.strip_prefix("certificate.").filter(|n| !n.contains('.')) {
            let bytes = hex::decode(value).expect("certificate vectors are hex");
            cases.push(Case { name: format!("vector {cert}"), bytes, coalition });
        }
    }
    assert!(cases.len() > 30, "the document's certificate vectors are found");
    cases
}

/// The certificates kept in tests/data, each with the coalition named beside
/// it (`*.coalition` in its directory; the vector coalition otherwise).
fn data_cases(vector_coalition: ObjectId) -> Vec<Case> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut cases = Vec::new();
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&data).expect("tests/data").map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "cert")) {
            let stem = f.file_stem().unwrap().to_string_lossy();
            let named = files.iter().find(|c| {
                c.extension().is_some_and(|e| e == "coalition")
                    && stem.starts_with(c.file_stem().unwrap().to_string_lossy().as_ref())
            });
            let coalition = match named {
                Some(c) => std::fs::read_to_string(c).unwrap().trim().parse().ok(),
                None => Some(vector_coalition),
            };
            let bytes = std::fs::read(f).unwrap();
            cases.push(Case { name: format!("{}", f.strip_prefix(&data).unwrap().display()), bytes, coalition });
        }
    }
    cases
}

/// Bit flips, byte changes, truncations, deletions, insertions and
/// duplicated runs, one to three at a time.
fn mutate(bytes: &[u8], rng: &mut SplitMix) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for _ in 0..1 + rng.index(3) {
        if b.is_empty() {
            b.push(rng.next() as u8);
            continue;
        }
        let at = rng.index(b.len());
        match rng.index(6) {
            0 => b[at] ^= 1 << rng.index(8),
            1 => b[at] = rng.next() as u8,
            2 => b.truncate(at),
            3 => {
                let end = (at + 1 + rng.index(40)).min(b.len());
                b.drain(at..end);
            }
            4 => {
                let n = 1 + rng.index(4);
                let fill: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(at..at, fill);
            }
            _ => {
                let end = (at + 1 + rng.index(64)).min(b.len());
                let run = b[at..end].to_vec();
                b.splice(at..at, run);
            }
        }
    }
    b
}

/// Errors whose message carries the protobuf decoder's own wording.
fn decoder_wording(line: &str) -> bool {
    line.split(':').next().is_some_and(|name| name == "Malformed" || name.ends_with("/Malformed"))
}

#[test]
fn the_independent_verifier_agrees_with_this_crate_on_every_certificate() {
    if !python_with_nacl() {
        let required = std::env::var("CHORUS_REQUIRE_INDEPENDENT_VERIFIER").is_ok_and(|v| v == "1");
        assert!(!required, "python3 with PyNaCl is required (pip install pynacl)");
        eprintln!("skipped: python3 with PyNaCl not found (pip install pynacl to run this comparison)");
        return;
    }
    let mut cases = document_cases();
    let vector_coalition = cases[0].coalition.expect("genesis.id comes before the certificates");
    cases.extend(data_cases(vector_coalition));
    let mut rng = SplitMix(0x5eed_c0de);
    let bases = cases.len();
    for i in 0..bases {
        for m in 0..MUTATIONS_PER_CERTIFICATE {
            let bytes = mutate(&cases[i].bytes, &mut rng);
            // Every other mutation is judged without an expected coalition.
            let coalition = if m % 2 == 0 { cases[i].coalition } else { None };
            cases.push(Case { name: format!("{} mutation {m}", cases[i].name), bytes, coalition });
        }
    }

    let mut input = Vec::new();
    for c in &cases {
        let coalition = c.coalition.map_or("-".to_string(), |c| c.to_hex());
        let hex = if c.bytes.is_empty() { "-".to_string() } else { hex::encode(&c.bytes) };
        writeln!(input, "{hex} {coalition}").unwrap();
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let batch = dir.path().join("batch.txt");
    std::fs::write(&batch, &input).unwrap();
    let out = Command::new("python3")
        .arg(root().join("tools/verify_certificate.py"))
        .arg("--batch")
        .arg(&batch)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "the independent verifier failed: {}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<String> = String::from_utf8(out.stdout).expect("UTF-8").lines().map(str::to_owned).collect();
    assert_eq!(theirs.len(), cases.len(), "one result line per certificate");

    let mut differences = Vec::new();
    let mut valid = 0;
    for (c, their) in cases.iter().zip(&theirs) {
        let ours = support::verdict_line(&certificate::verify_with_threads(&c.bytes, c.coalition, 1));
        valid += usize::from(ours.starts_with("ok "));
        let same =
            if decoder_wording(&ours) { their.split(':').next() == ours.split(':').next() } else { *their == ours };
        if !same {
            differences.push(format!("{}\n  rust:   {ours}\n  python: {their}", c.name));
        }
    }
    eprintln!(
        "{} certificates ({bases} kept, the rest mutations of them): {valid} valid, {} differences",
        cases.len(),
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "the independent verifier and chorus-core disagree on {} certificates:\n{}",
        differences.len(),
        differences.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

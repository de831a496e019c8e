//! The built module and `assets/verify.js` under Node.js (`node --test
//! tests/verify.test.js`): the same reports as chorus-core verifying
//! natively, the verdict sentences, and the page contracts on a minimal
//! stand-in for a browser's DOM. Skipped, saying so, when the module was not
//! built or `node` is not installed.
//!
//! `cargo test --release -p chorus-verify-assets --test node -- --ignored
//! --nocapture` also times a 3,000-endorsement certificate in WebAssembly
//! under Node against native `verify_with_threads(.., 1)` (with
//! `CHORUS_BENCH_KEEP=<dir>`, the certificate and its coalition id are kept
//! there for `node tests/bench.js <module> <dir>/big.cert <id>`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chorus_core::testkit::Fixture;
use chorus_core::{certificate, ObjectId};
use serde_json::{json, Value};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");
/// The coalition of PROTOCOL.md's test vectors (section 11.2).
const VECTOR_COALITION: &str = "f7829ab691ed8e3e41b534a520d0417becb9906bc6924419195289e265d3eb49";

fn data(rel: &str) -> PathBuf {
    Path::new(MANIFEST).join("../chorus-core/tests/data").join(rel)
}

/// `node`, when present and the module was built; otherwise why not.
fn node() -> Result<(), String> {
    if !chorus_verify_assets::WASM_BUILT {
        return Err("the WebAssembly module was not built (rustup target add wasm32-unknown-unknown)".into());
    }
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("node is not installed".into()),
    }
}

/// The sentence verify.js shows for a valid report, written here again from
/// its description as a check on the script.
fn valid_sentence(r: &Value) -> String {
    let noun = r["decision"].as_str().unwrap().replace('_', " ");
    let members = r["members"].as_u64().unwrap();
    format!(
        "Verified in your browser: {noun} of \"{}\", endorsed by {} of {members} member trust{} ({} needed under the {} rule {}/{}).",
        r["coalition_name"].as_str().unwrap(),
        r["endorsers"].as_array().unwrap().len(),
        if members == 1 { "" } else { "s" },
        r["required"],
        r["rule"]["kind"].as_str().unwrap(),
        r["rule"]["numerator"],
        r["rule"]["denominator"],
    )
}

/// The lines verify.js shows after a valid sentence, written here again
/// from its description: the breadth the module words (`chorus verify`'s),
/// none for a coalition without attributes.
fn breadth_lines(r: &Value) -> Vec<String> {
    let Some(t) = r.get("breadth_text") else { return Vec::new() };
    let mut lines = vec![format!("Breadth proven: {}.", t["endorsed"].as_str().unwrap())];
    for rule in t["rules"].as_array().unwrap() {
        lines.push(format!("Breadth rule: {}.", rule.as_str().unwrap()));
    }
    lines
}

/// The lines verify.js puts in `#verdict-dissent` for a report, written
/// here again from its description: objectors, abstainers, the members
/// who did not respond, the seal line (the module's `dissent_text`).
fn dissent_lines(r: &Value) -> Vec<String> {
    let Some(t) = r.get("dissent_text") else { return Vec::new() };
    let mut lines: Vec<String> = vec![];
    for key in ["objectors", "abstainers"] {
        lines.extend(t[key].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()));
    }
    lines.push(t["silent"].as_str().unwrap().to_owned());
    lines.push(t["seal"].as_str().unwrap().to_owned());
    lines
}

/// A position of three trusts: trusts 0 and 1 endorse, trust 2 objects
/// with a reason that carries markup; sealed by trust 0's key. Also the
/// same certificate with the objection removed and the seal kept.
fn dissenting() -> (Fixture, Vec<u8>, Vec<u8>) {
    use chorus_core::{Endorsement, Envelope, Kind, Stance};
    let f = Fixture::new(3);
    let p = f.proposal(0, "Contested", 1, None);
    let ends: Vec<Envelope> = (0..2).map(|i| f.endorsement(i, p.id(), Stance::Endorse, 2)).collect();
    let e = Endorsement {
        coalition: f.id(),
        proposal: p.id(),
        trust: f.keys[2].public(),
        created_at_ms: chorus_core::testkit::T0 + 3,
        stance: Stance::Object,
        comment: Some("<b>Too costly</b> for small schools.".into()),
        delegation: None,
    };
    let dissent = vec![Envelope::sign(Kind::Endorsement, e.to_body(), &[&f.keys[2]])];
    let ids: Vec<ObjectId> = ends.iter().chain(&dissent).map(Envelope::id).collect();
    let body = certificate::seal_body(&f.id(), &p.id(), &f.keys[0].public(), None, &ids);
    let seal = certificate::Seal::sign(body, &f.keys[0]);
    let g = f.coalition.genesis_envelope();
    let whole = certificate::assemble_full(g, &p, &ends, &dissent, &[], Some(seal.clone()));
    let cut = certificate::assemble_full(g, &p, &ends, &[], &[], Some(seal));
    (f, whole, cut)
}

/// Three trusts, two in the East and one in the North, declaring schools
/// and pupils, under a charter whose positions need endorsers from two
/// regions.
fn regional() -> Fixture {
    use chorus_core::{Attribute, BreadthRule, Charter, MemberAttributes};
    let mut charter = Charter::default();
    charter.attributes.regions = vec!["East".into(), "North".into(), "West".into()];
    charter.breadth.positions = vec![BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec![] }];
    let regions = ["East", "East", "North"];
    Fixture::with_charter(3, charter, |i| MemberAttributes {
        region: Some(regions[i].into()),
        schools: Some(12 + i as u32),
        pupils: Some(6_000 + 1_000 * i as u32),
        ..MemberAttributes::default()
    })
}

#[test]
fn verify_js_and_the_module_agree_with_native_verification() {
    if let Err(why) = node() {
        println!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("chorus_verify.wasm");
    std::fs::write(&wasm, chorus_verify_assets::WASM).unwrap();
    let wasm_script = dir.path().join(chorus_verify_assets::wasm_script_name());
    std::fs::write(&wasm_script, chorus_verify_assets::wasm_script()).unwrap();

    let vector = std::fs::read(data("earlier/vector-valid-8589824.cert")).unwrap();
    let devnet = std::fs::read(data("real/devnet-position.cert")).unwrap();
    let devnet_coalition = std::fs::read_to_string(data("real/devnet.coalition")).unwrap().trim().to_owned();
    let admission = std::fs::read(data("real/governance-admission.cert")).unwrap();
    let governance = std::fs::read_to_string(data("real/governance.coalition")).unwrap().trim().to_owned();
    let mut flipped = vector.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    let mut bad_signature = vector.clone();
    *bad_signature.last_mut().unwrap() ^= 0x80;
    let fixture = Fixture::new(3);
    let (one_of_three, _) = fixture.certificate(1);
    let regional = regional();
    let (regional_all, _) = regional.certificate(3);
    // Two of three endorse, both from the East: the fraction without the
    // breadth.
    let (regional_east, _) = regional.certificate(2);
    let (contested, sealed, objection_removed) = dissenting();

    let mut cases = vec![];
    for (name, cert, coalition) in [
        ("vector-valid", &vector, VECTOR_COALITION.to_owned()),
        ("vector-valid, no expected coalition", &vector, String::new()),
        ("devnet-position", &devnet, devnet_coalition.clone()),
        ("governance-admission", &admission, governance.clone()),
        ("vector-valid, a byte flipped", &flipped, VECTOR_COALITION.to_owned()),
        ("vector-valid, last signature byte flipped", &bad_signature, VECTOR_COALITION.to_owned()),
        ("vector-valid, another coalition expected", &vector, devnet_coalition.clone()),
        ("fixture, 1 of 3", &one_of_three, fixture.id().to_hex()),
        ("regional, breadth met", &regional_all, regional.id().to_hex()),
        ("regional, breadth not met", &regional_east, regional.id().to_hex()),
        ("dissent, sealed", &sealed, contested.id().to_hex()),
        ("dissent, objection removed after sealing", &objection_removed, contested.id().to_hex()),
        ("empty", &vec![], String::new()),
    ] {
        let path = dir.path().join(format!("{}.cert", cases.len()));
        std::fs::write(&path, cert).unwrap();
        let expected_id = (!coalition.is_empty()).then(|| coalition.parse::<ObjectId>().unwrap());
        // Native, as `chorus verify --json` reports it.
        let report = chorus_wasm::report(cert, expected_id, None);
        let sentence = if report["valid"] == json!(true) {
            valid_sentence(&report)
        } else {
            format!("Verification failed in your browser: {}", report["error"].as_str().unwrap())
        };
        cases.push(json!({
            "name": name,
            "cert": path,
            "coalition": coalition,
            "lines": breadth_lines(&report),
            "dissent": dissent_lines(&report),
            "report": report,
            "sentence": sentence,
        }));
    }
    // The sentence spelled out once, for the devnet certificate.
    assert_eq!(
        cases[2]["sentence"],
        json!("Verified in your browser: position of \"Devnet Schools Coalition\", endorsed by 2 of 3 member trusts (2 needed under the positions rule 1/2).")
    );
    assert_eq!(cases[4]["report"]["valid"], json!(false));
    // A coalition without attributes: no breadth, as before.
    assert_eq!(cases[2]["lines"], json!([]));
    assert_eq!(
        cases[8]["lines"],
        json!([
            "Breadth proven: endorsed by 3 of 3 member trusts, from 2 of 3 regions, running 39 schools with 21,000 pupils.",
            "Breadth rule: from at least 2 of 3 regions: 2, met.",
        ])
    );
    assert_eq!(cases[9]["report"]["code"], json!("Breadth"));
    assert_eq!(
        cases[9]["sentence"],
        json!(
            "Verification failed in your browser: breadth: needs endorsers from at least 2 distinct regions, has 1 \
               (breadth rule of the positions rule: endorsers from at least 2 distinct regions)"
        )
    );
    // Dissent: an objection with its reason, as text; the seal's line.
    assert_eq!(
        cases[10]["dissent"],
        json!([
            "Objected: Trust 2, saying \"<b>Too costly</b> for small schools.\"",
            "Every member trust responded.",
            "Dissent known to Trust 0's node.",
        ])
    );
    assert_eq!(
        cases[2]["dissent"].as_array().unwrap().last(),
        Some(&json!("Dissent not recorded: this certificate carries no seal."))
    );
    assert_eq!(cases[11]["report"]["code"], json!("SealMismatch"));
    assert!(cases[11]["sentence"].as_str().unwrap().contains("a stance was removed after the certificate was sealed"));
    let cases_path = dir.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec_pretty(&json!(cases)).unwrap()).unwrap();

    let out = Command::new("node")
        .arg("--test")
        .arg(Path::new(MANIFEST).join("tests/verify.test.js"))
        .env("CHORUS_WASM", &wasm)
        .env("CHORUS_WASM_SCRIPT", &wasm_script)
        .env("CHORUS_CASES", &cases_path)
        .output()
        .expect("node runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "node --test failed:\n{text}");
    assert!(text.contains("# fail 0") && !text.contains("# pass 0"), "{text}");
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

/// A 3,000-member coalition's certificate with 3,000 endorsements, as
/// crates/chorus-core/benches/certificate.rs builds it.
fn big_certificate(members: u32) -> (Vec<u8>, ObjectId) {
    let f = Fixture::new(members);
    (f.endorsed_by_all().0, f.id())
}

#[test]
#[ignore = "a measurement: cargo test --release -p chorus-verify-assets --test node -- --ignored --nocapture"]
fn time_3000_endorsements_wasm_under_node_against_native() {
    if let Err(why) = node() {
        println!("skipped: {why}");
        return;
    }
    let runs = 7;
    let (cert, id) = big_certificate(3_000);
    let t = Instant::now();
    let native = certificate::verify_with_threads(&cert, Some(id), 1).expect("valid");
    println!("native first run {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(certificate::verify_with_threads(&cert, Some(id), 1).unwrap());
            t.elapsed()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, wasm_path) = (dir.path().join("big.cert"), dir.path().join("chorus_verify.wasm"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&wasm_path, chorus_verify_assets::WASM).unwrap();
    // To time other builds of the module with tests/bench.js by hand.
    if let Some(keep) = std::env::var_os("CHORUS_BENCH_KEEP") {
        std::fs::write(Path::new(&keep).join("big.cert"), &cert).unwrap();
        std::fs::write(Path::new(&keep).join("big.coalition"), id.to_hex()).unwrap();
    }
    let out = Command::new("node")
        .arg(Path::new(MANIFEST).join("tests/bench.js"))
        .args([&wasm_path, &cert_path])
        .arg(id.to_hex())
        .arg(runs.to_string())
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let wasm: Value = serde_json::from_str(text.trim()).expect("bench.js prints JSON");
    assert_eq!(wasm["endorsers"], json!(native.endorsers.len()));
    println!(
        "3,000 endorsements, certificate {} KiB, module {} KiB: native verify_with_threads(.., 1) median {:.1} ms (min {:.1}); \
         wasm under node {}: median {} ms (min {}), first run {} ms, compile+instantiate {} ms",
        cert.len() / 1024,
        chorus_verify_assets::WASM.len() / 1024,
        median(times.clone()).as_secs_f64() * 1e3,
        times.iter().min().unwrap().as_secs_f64() * 1e3,
        wasm["node"],
        wasm["median_ms"],
        wasm["min_ms"],
        wasm["first_ms"],
        wasm["instantiate_ms"],
    );
}

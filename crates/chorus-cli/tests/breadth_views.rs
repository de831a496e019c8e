//! Breadth shown to people and programs (issue 15): a coalition whose
//! founders declare regions, schools and pupils, with the breadth rule
//! "endorsers from at least 2 of the 3 regions" on positions. One node (on
//! 127.0.0.1) holds two proposals: one endorsed by two trusts of one region
//! (enough endorsements, breadth not met, still open) and one endorsed from
//! two regions (adopted). `show`, `proposals`, `--remote ... show` and
//! `verify` print the tally by attribute and each rule met or not; `--json`
//! carries it; a certificate that lacks the breadth is INVALID with the
//! breadth reason.

use std::path::{Path, PathBuf};

use chorus_core::{
    Attribute, BreadthRule, Charter, Endorsement, Envelope, Genesis, Keypair, Kind, Member, MemberAttributes, ObjectId,
    Stance,
};
use chorus_node::datadir::DataDir;
use chorus_system_tests::cli::chorus_env;
use chorus_system_tests::{chorus, Nodes};

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Founds the coalition offline with the library (founders with
/// attributes), each founder's trust key read from its data directory;
/// returns the final genesis envelope.
fn found_with_attributes(dirs: &[PathBuf], declared: &[(&str, u32, u32)], genesis_file: &Path) -> Envelope {
    let keys: Vec<Keypair> = dirs.iter().map(|d| DataDir::new(d).trust_key().unwrap()).collect();
    let mut charter = Charter::default();
    charter.attributes.regions = vec!["East".into(), "North".into(), "West".into()];
    charter.breadth.positions = vec![BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec![] }];
    let names = ["Oak Trust", "Elm Trust", "Ash Trust"];
    let mut founders: Vec<Member> = keys
        .iter()
        .zip(names.iter().zip(declared))
        .map(|(k, (name, (region, schools, pupils)))| Member {
            key: k.public(),
            name: name.to_string(),
            external_id: None,
            attributes: MemberAttributes {
                region: Some(region.to_string()),
                schools: Some(*schools),
                pupils: Some(*pupils),
                ..MemberAttributes::default()
            },
        })
        .collect();
    founders.sort_by_key(|m| *m.key.as_bytes());
    let genesis = Genesis {
        name: "Breadth Coalition".into(),
        charter,
        founders,
        created_at_ms: now_ms(),
        nonce: (1..=16).collect(),
    };
    let refs: Vec<&Keypair> = keys.iter().collect();
    let env = Envelope::sign(Kind::Genesis, genesis.to_body(), &refs);
    std::fs::write(genesis_file, env.bytes()).unwrap();
    env
}

/// An endorsement signed with a trust key from its data directory.
fn endorsement(dir: &Path, coalition: ObjectId, proposal: ObjectId) -> Envelope {
    let key = DataDir::new(dir).trust_key().unwrap();
    let e = Endorsement {
        coalition,
        proposal,
        trust: key.public(),
        created_at_ms: now_ms(),
        stance: Stance::Endorse,
        comment: None,
        delegation: None,
    };
    Envelope::sign(Kind::Endorsement, e.to_body(), &[&key])
}

/// Hands a signed object to the node of `dir` (`chorus import`).
fn import(dir: &Path, env: &Envelope, file: &Path) {
    std::fs::write(file, env.bytes()).unwrap();
    chorus(dir, &["import", file.to_str().unwrap()]).ok();
}

#[test]
fn show_proposals_remote_and_verify_print_the_breadth() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dirs: Vec<PathBuf> = (0..3).map(|i| root.join(format!("node-{i}"))).collect();
    for (d, name) in dirs.iter().zip(["Oak Trust", "Elm Trust", "Ash Trust"]) {
        chorus(d, &["init", "--name", name, "--trust-key-here"]).ok();
    }
    // Oak and Elm in the East, Ash in the North.
    let declared = [("East", 12, 6_000), ("East", 3, 1_200), ("North", 40, 191_000)];
    let genesis_file = root.join("genesis.chorus");
    let genesis = found_with_attributes(&dirs, &declared, &genesis_file);
    let coalition = genesis.id();
    let (oak, elm, ash) = (&dirs[0], &dirs[1], &dirs[2]);
    chorus(oak, &["coalition", "join", genesis_file.to_str().unwrap()]).ok();

    let mut nodes = Nodes::new();
    let url = nodes.start_serving_website(oak);

    let body = root.join("body.md");
    std::fs::write(&body, "We ask the region's councils to fund school transport.\n").unwrap();
    let propose = |title: &str| -> ObjectId {
        let r = chorus(oak, &["propose", "--title", title, "--body-file", body.to_str().unwrap(), "--json"]).ok();
        r.json()["id"].as_str().unwrap().parse().unwrap()
    };
    let east_only = propose("East only");
    let two_regions = propose("Two regions");
    for (i, (dir, proposal)) in
        [(oak, east_only), (elm, east_only), (oak, two_regions), (ash, two_regions)].into_iter().enumerate()
    {
        import(oak, &endorsement(dir, coalition, proposal), &root.join(format!("stance-{i}.chorus")));
    }

    // show: the table, the totals and the rule, met or not.
    let shown = chorus(oak, &["show", &east_only.to_hex()]).ok().stdout;
    assert!(shown.contains("status   open - 2 of 2 endorsements needed"), "{shown}");
    assert!(shown.contains("tally by attribute:\n  attribute  value"), "{shown}");
    let row = |text: &str, start: &str| -> Vec<String> {
        let line =
            text.lines().find(|l| l.trim_start().starts_with(start)).unwrap_or_else(|| panic!("{start}: {text}"));
        line.split_whitespace().map(String::from).collect()
    };
    assert_eq!(row(&shown, "region"), ["region", "East", "2", "0", "0", "0"], "{shown}");
    assert_eq!(row(&shown, "North"), ["North", "0", "0", "0", "1"], "{shown}");
    assert_eq!(row(&shown, "2-5"), ["2-5", "1", "0", "0", "0"], "{shown}");
    assert!(shown.contains("endorsers run 15 schools with 7,200 pupils\n"), "{shown}");
    assert!(shown.contains("breadth rules (positions rule):\n  from at least 2 of 3 regions: 1, not met\n"), "{shown}");
    let shown = chorus(oak, &["show", &two_regions.to_hex()]).ok().stdout;
    assert!(shown.contains("status   adopted"), "{shown}");
    assert!(shown.contains("endorsers run 52 schools with 197,000 pupils\n"), "{shown}");
    assert!(shown.contains("  from at least 2 of 3 regions: 2, met\n"), "{shown}");
    let json = chorus(oak, &["show", &east_only.to_hex(), "--json"]).ok().json();
    let b = &json["breakdown"];
    assert_eq!((b["rule"].as_str(), b["endorsers"].as_u64()), (Some("positions"), Some(2)), "{json}");
    assert_eq!(
        b["region"][0],
        serde_json::json!({"value": "East", "endorse": 2, "object": 0, "abstain": 0, "silent": 0})
    );
    assert_eq!(b["breadth"][0]["met"], false, "{json}");

    // proposals: one line each, the breadth in short.
    let list = chorus(oak, &["proposals"]).ok().stdout;
    assert_eq!(list.lines().count(), 2, "{list}");
    let line = |title: &str| list.lines().find(|l| l.contains(title)).unwrap().to_string();
    assert!(line("East only").contains("; breadth 0/1 met, 1/3 regions  East only"), "{list}");
    assert!(line("Two regions").contains("; breadth 1/1 met, 2/3 regions  Two regions"), "{list}");
    let list = chorus(oak, &["proposals", "--json"]).ok().json();
    let brief = list.as_array().unwrap().iter().find(|p| p["title"] == "Two regions").unwrap()["breadth"].clone();
    assert_eq!(brief, serde_json::json!({"rules": 1, "met": 1, "regions": 2, "of_regions": 3}));

    // --remote show: the node's view, labelled as such.
    let config = root.join("config");
    let laptop = root.join("laptop");
    std::fs::create_dir(&laptop).unwrap();
    let remote = |args: &[&str]| chorus_env(&laptop, args, &[("CHORUS_CONFIG_DIR", &config)]);
    remote(&["remote", "add", "oak", &url, "--genesis", genesis_file.to_str().unwrap()]).ok();
    let shown = remote(&["--remote", "oak", "show", &east_only.to_hex()]).ok().stdout;
    assert!(shown.contains("node's view, tally by attribute:\n"), "{shown}");
    assert_eq!(row(&shown, "region"), ["region", "East", "2", "0", "0", "0"], "{shown}");
    assert!(
        shown.contains("node's view, breadth rules (positions rule):\n  from at least 2 of 3 regions: 1, not met\n"),
        "{shown}"
    );
    let json = remote(&["--remote", "oak", "show", &east_only.to_hex(), "--json"]).ok().json();
    assert_eq!(json["node_view"]["breakdown"]["breadth"][0]["distinct"], 1, "{json}");

    // verify: the breadth the certificate proves.
    let cert = root.join("two-regions.cert");
    chorus(oak, &["certificate", &two_regions.to_hex(), "-o", cert.to_str().unwrap()]).ok();
    let v = chorus(&laptop, &["verify", cert.to_str().unwrap()]).ok().stdout;
    assert!(
        v.contains(
            "\n  breadth   endorsed by 2 of 3 member trusts, from 2 of 3 regions, running 52 schools with 197,000 pupils\n"
        ),
        "{v}"
    );
    assert!(v.contains("\n  breadth rule from at least 2 of 3 regions: 2, met"), "{v}");
    let j = chorus(&laptop, &["verify", cert.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!((j["valid"].as_bool(), j["breakdown"]["endorser_pupils"].as_u64()), (Some(true), Some(197_000)));

    // A certificate of the East-only proposal: enough endorsements, but
    // from one region. INVALID, with the breadth reason, exit 1.
    let detail = chorus(oak, &["show", &east_only.to_hex(), "--json"]).ok().json();
    let proposal = Envelope::decode(&hex::decode(detail["envelope"].as_str().unwrap()).unwrap()).unwrap();
    let ends = [endorsement(oak, coalition, east_only), endorsement(elm, coalition, east_only)];
    let bad = root.join("east-only.cert");
    std::fs::write(&bad, chorus_core::certificate::assemble(&genesis, &proposal, &ends)).unwrap();
    let r = chorus(&laptop, &["verify", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("INVALID: ")
            && r.stderr.contains("breadth: needs endorsers from at least 2 distinct regions, has 1"),
        "{}",
        r.stderr
    );
    let r = chorus(&laptop, &["verify", bad.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 1);
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!((j["valid"].as_bool(), j["code"].as_str()), (Some(false), Some("Breadth")), "{j}");
    nodes.terminate(oak);
}

//! Member attributes and the charter's value sets and breadth rules through
//! the CLI, with a real `chorus node run` process on 127.0.0.1: a coalition
//! founded with sets, a breadth rule and the founder's attributes; a trust
//! admitted with attributes; a member's attributes amended (replaced as a
//! whole); the charter's fraction amended with the sets and breadth rules
//! carried over; and mistakes (a value outside a set, an absurd count, an
//! unknown attribute in a breadth rule) refused with one line, exit 2,
//! nothing signed.

use std::path::Path;

use chorus_system_tests::{chorus, Nodes, Run};
use serde_json::Value;

fn roster(dir: &Path) -> Value {
    chorus(dir, &["roster", "--json"]).ok().json()
}

fn proposals(dir: &Path) -> usize {
    chorus(dir, &["proposals", "--json"]).ok().json().as_array().map_or(0, Vec::len)
}

fn member<'a>(roster: &'a Value, key: &str) -> &'a Value {
    roster["members"].as_array().unwrap().iter().find(|m| m["key"] == key).unwrap_or_else(|| panic!("{key}: {roster}"))
}

/// Asserts a refusal: exit 2, one line on stderr holding every `want`.
fn refused(r: Run, want: &[&str]) {
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    for w in want {
        assert!(r.stderr.contains(w), "{w:?} not in: {}", r.stderr);
    }
}

/// Endorses proposal `id` (the coalition's only member) and waits until the
/// roster names a new version.
fn adopt(nodes: &mut Nodes, dir: &Path, id: &str) -> Value {
    let before = roster(dir)["version"].clone();
    chorus(dir, &["endorse", id, "--yes"]).ok();
    nodes.eventually("the governance proposal adopted", || {
        let r = roster(dir);
        (r["version"] != before).then_some(r)
    })
}

#[test]
fn attributes_and_sets_are_declared_amended_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let oak = &root.join("oak");
    let elm = &root.join("elm");
    chorus(oak, &["init", "--name", "Oak Trust", "--trust-key-here"]).ok();
    chorus(elm, &["init", "--name", "Elm Trust", "--trust-key-here"]).ok();
    let oak_key = chorus(oak, &["whoami", "--json"]).ok().json()["trust_key"].as_str().unwrap().to_string();
    let elm_key = chorus(elm, &["whoami", "--json"]).ok().json()["trust_key"].as_str().unwrap().to_string();
    let draft = root.join("draft.chorus");
    let draft_s = draft.to_str().unwrap();
    let sets: &[&str] = &[
        "--regions",
        "North East, London,South West",
        "--phases",
        "secondary,primary",
        "--trust-types",
        "multi-academy trust,single-academy trust",
        "--breadth",
        "membership:region>=1",
    ];
    let draft_with = |extra: &[&str]| {
        let mut args = vec!["coalition", "draft", "--name", "Attribute Coalition", "-o", draft_s];
        args.extend_from_slice(sets);
        args.extend_from_slice(extra);
        chorus(oak, &args)
    };

    // Founding mistakes: one line, exit 2, no draft written.
    refused(draft_with(&["--region", "Wales"]), &["\"Wales\"", "\"London\"", "regions"]);
    refused(draft_with(&["--schools", "-3"]), &["schools -3", "10,000"]);
    refused(draft_with(&["--pupils", "20000000"]), &["pupils 20000000", "10,000,000"]);
    refused(draft_with(&["--breadth", "positions:county>=2"]), &["county", "region, phase, trust-type, size-band"]);
    refused(draft_with(&["--breadth", "positions:region>=4"]), &["4 distinct regions", "has 3"]);
    refused(draft_with(&["--breadth", "positions:phase=nursery"]), &["\"nursery\"", "\"primary\""]);
    assert!(!draft.exists(), "a refused draft writes nothing");

    let founder = [
        "--region",
        "North East",
        "--phase",
        "secondary",
        "--trust-type",
        "multi-academy trust",
        "--schools",
        "12",
        "--pupils",
        "6,400",
        "--label",
        "la:Newcastle upon Tyne",
    ];
    draft_with(&founder).ok();
    let shown = chorus(oak, &["coalition", "show", draft_s, "--json"]).ok().json();
    assert_eq!(shown["sets"]["regions"], serde_json::json!(["London", "North East", "South West"]));
    assert_eq!(shown["sets"]["membership_breadth"][0]["attribute"], "region");
    assert_eq!(shown["founders"][0]["attributes"]["region"], "North East");
    assert_eq!(shown["founders"][0]["attributes"]["pupils"], 6400);
    let text = chorus(oak, &["coalition", "show", draft_s]).ok().stdout;
    assert!(text.contains("North East, secondary, multi-academy trust, 12 schools, 6,400 pupils"), "{text}");
    assert!(text.contains("membership rule also needs endorsers from at least 1 distinct regions"), "{text}");

    let genesis = root.join("genesis.chorus");
    chorus(oak, &["coalition", "finalize", draft_s, "-o", genesis.to_str().unwrap()]).ok();
    chorus(oak, &["coalition", "join", genesis.to_str().unwrap()]).ok();
    let mut nodes = Nodes::new();
    nodes.start(oak, &[]);
    nodes.wait_up(oak);

    let r = roster(oak);
    assert_eq!(member(&r, &oak_key)["attributes"]["schools"], 12);
    assert_eq!(r["sets"]["phases"], serde_json::json!(["primary", "secondary"]));
    let text = chorus(oak, &["roster"]).ok().stdout;
    assert!(text.contains("regions:     London, North East, South West"), "{text}");
    assert!(text.contains("la:Newcastle upon Tyne"), "{text}");

    // Amending a member's attributes replaces all of them.
    refused(chorus(oak, &["member", "amend", &oak_key]), &["--clear"]);
    refused(chorus(oak, &["member", "amend", &oak_key, "--region", "Mars"]), &["\"Mars\"", "regions"]);
    refused(chorus(oak, &["member", "amend", &oak_key, "--pupils", "-5"]), &["pupils -5"]);
    assert_eq!(proposals(oak), 0, "nothing was proposed");
    let id = chorus(oak, &["member", "amend", &oak_key, "--region", "South West", "--phase", "secondary"]).ok().stdout;
    let r = adopt(&mut nodes, oak, id.trim());
    let e = &member(&r, &oak_key)["attributes"];
    assert_eq!(e["region"], "South West");
    assert_eq!(e["phase"], "secondary");
    assert!(e.get("schools").is_none() && e.get("pupils").is_none(), "replaced as a whole: {e}");

    // Amending only a fraction keeps the sets and the breadth rules.
    refused(chorus(oak, &["charter", "amend", "--breadth", "positions:county>=2"]), &["county"]);
    refused(chorus(oak, &["charter", "amend", "--breadth", "positions:region=Wales"]), &["\"Wales\""]);
    refused(chorus(oak, &["charter", "amend", "--school-bands", "2,5"]), &["start at 1"]);
    refused(chorus(oak, &["charter", "amend", "--regions", ""]), &["membership breadth rule", "has 0"]);
    assert_eq!(proposals(oak), 1, "nothing was proposed");
    let before = roster(oak);
    let id = chorus(oak, &["charter", "amend", "--positions", "2/3"]).ok().stdout;
    let r = adopt(&mut nodes, oak, id.trim());
    assert_eq!(r["positions"], "2/3");
    assert_eq!(r["sets"], before["sets"], "the sets and breadth rules are carried over");

    // The charter's sets and rules change when named.
    let id =
        chorus(oak, &["charter", "amend", "--regions", "London,North East,South West,Wales", "--breadth", "region>=1"])
            .ok()
            .stdout;
    let r = adopt(&mut nodes, oak, id.trim());
    assert_eq!(r["positions"], "2/3");
    assert_eq!(r["sets"]["regions"].as_array().unwrap().len(), 4);
    assert_eq!(r["sets"]["positions_breadth"][0]["min_distinct"], 1);
    assert_eq!(r["sets"]["membership_breadth"], before["sets"]["membership_breadth"]);
    // Admission with attributes (while Oak alone adopts it); mistakes
    // first, each changing nothing.
    let admit = |extra: &[&str]| {
        let mut args = vec!["member", "admit", "--key", &elm_key, "--name", "Elm Trust"];
        args.extend_from_slice(extra);
        chorus(oak, &args)
    };
    refused(admit(&["--region", "Mars"]), &["\"Mars\"", "\"London\", \"North East\", \"South West\", \"Wales\""]);
    refused(admit(&["--trust-type", "free school"]), &["\"free school\"", "trust types"]);
    refused(admit(&["--schools", "0"]), &["schools 0"]);
    refused(admit(&["--schools", "many"]), &["\"many\" is not a whole number"]);
    assert_eq!(proposals(oak), 3, "nothing was proposed");
    let id = admit(&["--region", "Wales", "--phase", "primary", "--schools", "3", "--pupils", "900"]).ok().stdout;
    let r = adopt(&mut nodes, oak, id.trim());
    let e = &member(&r, &elm_key)["attributes"];
    assert_eq!((e["region"].as_str(), e["schools"].as_u64()), (Some("Wales"), Some(3)));
}

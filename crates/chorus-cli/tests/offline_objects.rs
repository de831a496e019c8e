//! Signed objects carried by file: `chorus propose --out` and `chorus
//! endorse --out` write the signed envelope instead of submitting it, and
//! `chorus import FILE` on another member's node takes it like gossip.

use std::fs;

use chorus_system_tests::{chorus, found, Nodes};

#[test]
fn a_stance_written_to_a_file_counts_on_another_node() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, _) = found(root, &["Oak Trust", "Elm Trust"]);
    let (oak, elm) = (&dirs[0], &dirs[1]);
    // Two nodes that never meet: only the files carry objects between them.
    let mut nodes = Nodes::new();
    for d in &dirs {
        nodes.start(d, &[]);
        nodes.wait_up(d);
    }

    let proposal_file = root.join("proposal.chorus");
    let p = proposal_file.to_str().unwrap();
    let body = root.join("body.md");
    fs::write(&body, "Carried by hand.\n").unwrap();
    let written =
        chorus(oak, &["propose", "--title", "Offline", "--body-file", body.to_str().unwrap(), "--out", p, "--json"])
            .ok()
            .json();
    assert_eq!(written["kind"], "proposal");
    let id = written["id"].as_str().unwrap().to_string();
    assert!(chorus(oak, &["proposals", "--json"]).ok().stdout.find(&id).is_none(), "--out does not submit");
    for d in &dirs {
        let r = chorus(d, &["import", p, "--json"]).ok().json();
        assert_eq!((r["id"].as_str(), r["outcome"].as_str()), (Some(id.as_str()), Some("stored")));
    }

    let stance_file = root.join("stance.chorus");
    let s = stance_file.to_str().unwrap();
    let r = chorus(elm, &["endorse", &id, "--yes", "--out", s]).ok();
    assert!(r.stdout.contains(&format!("chorus import {s}")), "{}", r.stdout);
    let again = chorus(elm, &["endorse", &id, "--yes", "--out", s]);
    assert_eq!(again.code, 1, "an existing file is not overwritten: {}", again.stderr);
    assert_eq!(chorus(elm, &["show", &id, "--json"]).ok().json()["tally"]["endorse"], 0, "--out does not submit");

    let r = chorus(oak, &["import", s, "--json"]).ok().json();
    assert_eq!(r["outcome"], "stored");
    let shown = chorus(oak, &["show", &id, "--json"]).ok().json();
    assert_eq!(shown["tally"]["endorse"], 1);
    let by_elm = shown["stances"].as_array().unwrap().iter().find(|s| s["name"] == "Elm Trust").unwrap();
    assert_eq!(by_elm["stance"], "endorse");

    // A file that is neither an export nor one envelope is refused whole.
    let junk = root.join("junk");
    fs::write(&junk, b"not a chorus object").unwrap();
    let r = chorus(oak, &["import", junk.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is neither a chorus export"), "{}", r.stderr);
}

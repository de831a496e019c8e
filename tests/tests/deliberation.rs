//! Deliberation end to end, with real `chorus node run` processes on
//! loopback: Oak publishes a draft; Elm and Ash comment on it and Oak
//! replies to Elm; Elm proposes an amendment; Oak publishes a revised draft
//! that takes the amendment up, which withdraws the first draft. Stances on
//! a draft are refused by the CLI, and one signed anyway (built here with
//! chorus-core and imported) is kept, shown as early and not counted. Oak
//! opens voting on the revised draft; Ash objects with a reason, Oak, Elm
//! and Birch endorse, and every node shows the same thread, window and
//! tally. The position's certificate verifies offline and its report names
//! the objection with its reason, the endorsers and the seal; the same
//! certificate with the objection cut out (re-encoded canonically, the seal
//! kept) fails with the seal naming the stance removed, and with the seal
//! cut out too it verifies but says dissent is not recorded (and fails
//! under `--require-seal`).

use std::path::Path;

use chorus_proto::v1 as pb;
use chorus_system_tests::cli::chorus_env;
use chorus_system_tests::{chorus, found, Nodes, Run};
use prost::Message;
use serde_json::Value;

/// Every 64-hex-character word of `text` (object ids), in order.
fn ids_in(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_hexdigit()).filter(|w| w.len() == 64).map(str::to_ascii_lowercase).collect()
}

/// The one object id a command printed.
fn printed_id(r: &Run) -> String {
    let ids = ids_in(&r.stdout);
    assert_eq!(ids.len(), 1, "expected one id in: {}", r.stdout);
    ids[0].clone()
}

fn show(dir: &Path, id: &str) -> Value {
    chorus(dir, &["show", id, "--json"]).ok().json()
}

/// Whether the node of `dir` holds the proposal `id`.
fn holds(dir: &Path, id: &str) -> bool {
    let r = chorus(dir, &["show", id, "--json"]);
    r.code == 0
}

/// The ids of a JSON array of objects (their `id` key), sorted.
fn ids_of(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        v.as_array().into_iter().flatten().filter_map(|x| x["id"].as_str().map(String::from)).collect();
    ids.sort();
    ids
}

/// Birch's entry among a proposal's stances.
fn birch_stance(detail: &Value) -> Value {
    let stances = detail["stances"].as_array().unwrap_or_else(|| panic!("stances in {detail}"));
    stances.iter().find(|s| s["name"] == "Birch Trust").unwrap_or_else(|| panic!("Birch in {detail}")).clone()
}

/// A stance entry's records with their timing (`early`, `on_time`, `late`).
fn timings(stance: &Value) -> Vec<(String, String)> {
    stance["record_timing"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["id"].as_str().unwrap_or("").to_string(), r["timing"].as_str().unwrap_or("").to_string()))
        .collect()
}

/// A refusal: exit 1, one line on stderr containing `expect`.
fn refused(r: &Run, expect: &str) {
    assert_eq!(r.code, 1, "must be refused: stdout {} stderr {}", r.stdout, r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {}", r.stderr);
    assert!(r.stderr.contains(expect), "expected {expect:?} in {:?}", r.stderr);
}

#[test]
fn a_draft_is_discussed_amended_revised_opened_and_adopted_with_its_dissent_sealed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, _genesis) = found(root, &["Oak Trust", "Elm Trust", "Ash Trust", "Birch Trust"]);
    let (a, b, c, d) = (&dirs[0], &dirs[1], &dirs[2], &dirs[3]);
    let mut nodes = Nodes::new();
    nodes.start_mesh(&dirs);
    let everywhere = [a, b, c, d];

    // Oak publishes a draft.
    let body1 = root.join("draft1.md");
    std::fs::write(&body1, "We ask for fair funding.\n").unwrap();
    let draft = printed_id(
        &chorus(a, &["propose", "--draft", "--title", "Fair funding", "--body-file", body1.to_str().unwrap()]).ok(),
    );
    for x in everywhere {
        nodes.eventually("the draft on every node", || holds(x, &draft).then_some(()));
    }
    assert_eq!(show(b, &draft)["status"], "draft");

    // Elm and Ash comment; Oak replies to Elm.
    let elm_comment = printed_id(&chorus(b, &["comment", &draft, "Say how much: a figure persuades.", "--yes"]).ok());
    let ash_comment = printed_id(&chorus(c, &["comment", &draft, "Agreed in principle.", "--yes"]).ok());
    nodes.eventually("Elm's comment at Oak", || {
        ids_of(&show(a, &draft)["comments"]).contains(&elm_comment).then_some(())
    });
    let reply = printed_id(
        &chorus(a, &["comment", &draft, "--reply-to", &elm_comment, "Good point: 300 a year.", "--yes"]).ok(),
    );

    // Elm proposes an amendment.
    let body2 = root.join("draft2.md");
    std::fs::write(&body2, "We ask for fair funding: 300 a year per pupil.\n").unwrap();
    let amendment = printed_id(
        &chorus(
            b,
            &[
                "amend",
                &draft,
                "--body-file",
                body2.to_str().unwrap(),
                "--title",
                "Fair funding: 300 a year",
                "--reason",
                "A figure persuades.",
                "--yes",
            ],
        )
        .ok(),
    );

    // A stance on a draft is refused before anything is signed.
    refused(&chorus(c, &["endorse", &draft, "--yes"]), "has not opened");

    // Oak revises the draft, taking up Elm's amendment; the first draft is withdrawn.
    nodes.eventually("the amendment and Ash's comment at Oak", || {
        let ids = ids_of(&show(a, &draft)["comments"]);
        (ids.contains(&amendment) && ids.contains(&ash_comment)).then_some(())
    });
    let revised = chorus(
        a,
        &[
            "propose",
            "--draft",
            "--title",
            "Fair funding: 300 a year",
            "--body-file",
            body2.to_str().unwrap(),
            "--revises",
            &draft,
            "--takes-up",
            &amendment,
            "--yes",
            "--json",
        ],
    )
    .ok()
    .json();
    let rev = revised["id"].as_str().unwrap_or_else(|| panic!("the revision's id: {revised}")).to_string();
    let withdrawal =
        revised["withdrawal"]["id"].as_str().unwrap_or_else(|| panic!("the withdrawal's id: {revised}")).to_string();

    for x in everywhere {
        nodes.eventually("the revision and the withdrawal on every node", || {
            let old = show(x, &draft);
            (holds(x, &rev) && old["status"] == "withdrawn").then_some(())
        });
    }
    let old = show(c, &draft);
    assert_eq!(old["revisions"], serde_json::json!([rev]), "{old}");
    assert_eq!(old["window"]["withdrawn_by"], withdrawal.as_str(), "{old}");
    let new = show(c, &rev);
    assert_eq!(new["status"], "draft", "{new}");
    assert_eq!(new["revises"], draft.as_str(), "{new}");
    assert_eq!(new["amendments"], serde_json::json!([amendment]), "{new}");

    // The CLI refuses stances on the revised draft too.
    refused(&chorus(b, &["endorse", &rev, "--yes"]), "has not opened");
    refused(&chorus(c, &["endorse", &rev, "--object", "--yes"]), "has not opened");

    // Birch signs an endorsement anyway, without the CLI, and imports it:
    // its node keeps it, as early, and counts it for nothing.
    let early = early_endorsement(c, d, &rev, root);
    let imported = chorus(d, &["import", early.to_str().unwrap(), "--json"]).ok().json();
    let early_id = imported["id"].as_str().unwrap().to_string();
    for x in everywhere {
        nodes.eventually("the early endorsement held on every node", || {
            (show(x, &rev)["tally"]["early"] == 1).then_some(())
        });
        let birch = birch_stance(&show(x, &rev));
        assert!(birch["stance"].is_null(), "an early stance is no stance: {birch}");
        assert_eq!(timings(&birch), [(early_id.clone(), "early".to_string())], "{birch}");
    }

    // Oak opens voting on the revised draft.
    let opened = printed_id(&chorus(a, &["open-voting", &rev, "--yes"]).ok());
    for x in everywhere {
        nodes.eventually("voting open on every node", || (show(x, &rev)["status"] == "open").then_some(()));
    }

    // Ash objects with a reason; Oak and Elm endorse. Birch's early
    // endorsement does not count: 2 of the 3 needed.
    let reason = "300 is too little for rural schools.";
    let objection = chorus(c, &["endorse", &rev, "--object", "--comment", reason, "--yes", "--json"]).ok().json();
    let objection_id = objection["id"].as_str().unwrap().to_string();
    chorus(a, &["endorse", &rev, "--yes"]).ok();
    chorus(b, &["endorse", &rev, "--yes"]).ok();
    for x in everywhere {
        nodes.eventually("two endorsements, one objection and one early stance on every node", || {
            let t = &show(x, &rev)["tally"];
            (t["endorse"] == 2 && t["object"] == 1 && t["early"] == 1).then_some(())
        });
        assert_eq!(show(x, &rev)["status"], "open", "Birch's early endorsement must not count");
    }
    // Birch endorses on time: adopted.
    chorus(d, &["endorse", &rev, "--yes"]).ok();
    for x in everywhere {
        nodes.eventually("the position on every node", || (show(x, &rev)["status"] == "adopted").then_some(()));
    }

    // Every node shows the same thread, window and tally. (Each node got
    // every object before the position formed; the wait only guards
    // against a comment still on its way.)
    let reference = show(a, &rev);
    let old_reference = show(a, &draft);
    const KEYS: [&str; 7] = ["comments", "notices", "window", "tally", "stances", "revises", "amendments"];
    const OLD_KEYS: [&str; 5] = ["comments", "notices", "window", "revisions", "status"];
    for x in everywhere {
        let what = format!("{} showing Oak's view of both drafts", x.display());
        nodes.eventually(&what, || {
            let (v, o) = (show(x, &rev), show(x, &draft));
            (KEYS.iter().all(|k| v[k] == reference[k]) && OLD_KEYS.iter().all(|k| o[k] == old_reference[k]))
                .then_some(())
        });
    }
    let t = &reference["tally"];
    assert_eq!((t["endorse"].as_u64(), t["object"].as_u64(), t["early"].as_u64()), (Some(3), Some(1), Some(1)), "{t}");
    assert_eq!(reference["window"]["opened_by"], opened.as_str(), "{reference}");
    // The thread of the first draft: two comments, a reply to Elm's, the amendment.
    let comments = old_reference["comments"].as_array().unwrap();
    let find = |id: &str| comments.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} in {old_reference}"));
    assert_eq!(find(&reply)["reply_to"], elm_comment.as_str(), "{old_reference}");
    assert!(find(&elm_comment)["reply_to"].is_null());
    assert_eq!(find(&ash_comment)["text"], "Agreed in principle.");
    assert_eq!(find(&amendment)["amendment"]["title"], "Fair funding: 300 a year", "{old_reference}");
    assert_eq!(find(&amendment)["taken_up_by"], serde_json::json!([rev]), "{old_reference}");
    assert!(comments.iter().all(|c| c["counted"] == true), "{old_reference}");
    assert_eq!(comments.len(), 4, "{old_reference}");
    let reason_given = old_reference["window"]["withdrawal_reason"].as_str().unwrap_or_default();
    assert!(reason_given.contains(&rev), "the withdrawal names its revision: {old_reference}");
    let kinds: Vec<(&str, bool)> = old_reference["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["kind"].as_str().unwrap(), n["counted"] == true))
        .collect();
    assert_eq!(kinds, [("withdrawal", true)], "{old_reference}");
    let kinds: Vec<&str> =
        reference["notices"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["open_voting"], "{reference}");
    // People read the same: the reply under Elm's comment, the amendment taken up.
    let human = chorus(c, &["show", &draft]).ok().stdout;
    assert!(human.contains(&format!("taken up by {rev}")), "{human}");
    let line_of = |id: &str| {
        human.lines().find(|l| l.contains(&id[..12])).unwrap_or_else(|| panic!("{id} in {human}")).to_string()
    };
    let depth = |l: String| l.len() - l.trim_start().len();
    assert!(depth(line_of(&reply)) > depth(line_of(&elm_comment)), "the reply is indented under Elm's: {human}");
    // A stance on the withdrawn draft is refused too.
    refused(&chorus(d, &["endorse", &draft, "--yes"]), "withdrawn");
    // Birch's early endorsement is kept beside its on-time one, marked.
    let birch = birch_stance(&reference);
    assert_eq!(birch["stance"], "endorse", "{birch}");
    let marks = timings(&birch);
    assert_eq!(marks.len(), 2, "{birch}");
    assert!(marks.contains(&(early_id.clone(), "early".to_string())), "{birch}");
    assert!(marks.iter().any(|(id, t)| *id != early_id && t == "on_time"), "{birch}");

    let cert = root.join("position.cert");
    chorus(b, &["certificate", &rev, "-o", cert.to_str().unwrap()]).ok();
    let coalition = chorus(a, &["status", "--json"]).ok().json()["coalition"].as_str().unwrap().to_string();
    drop(nodes); // the rest is offline

    verify_offline(root, &cert, &coalition, &objection_id, reason);
}

/// Birch's endorsement of `proposal`, signed now with its trust key (as
/// `chorus endorse` would once voting opens), written to a file.
fn early_endorsement(any: &Path, birch: &Path, proposal: &str, root: &Path) -> std::path::PathBuf {
    let coalition: chorus_core::ObjectId =
        chorus(any, &["status", "--json"]).ok().json()["coalition"].as_str().unwrap().parse().unwrap();
    let seed: [u8; 32] = std::fs::read(birch.join("trust.key")).unwrap().as_slice().try_into().unwrap();
    let key = chorus_core::Keypair::from_seed(&seed);
    let e = chorus_core::Endorsement {
        coalition,
        proposal: proposal.parse().unwrap(),
        trust: key.public(),
        created_at_ms: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64,
        stance: chorus_core::Stance::Endorse,
        comment: None,
        delegation: None,
    };
    let env = chorus_core::Envelope::sign(chorus_core::Kind::Endorsement, e.to_body(), &[&key]);
    let file = root.join("early.stance");
    std::fs::write(&file, env.bytes()).unwrap();
    file
}

fn verify_offline(root: &Path, cert: &Path, coalition: &str, objection_id: &str, reason: &str) {
    // A fresh, empty data directory and configuration directory: no node,
    // no remote, nothing of the coalition but the certificate.
    let nowhere = root.join("no-node");
    let no_config = root.join("no-config");
    std::fs::create_dir(&no_config).unwrap();
    let verify = |file: &Path, extra: &[&str]| {
        let mut args = vec!["verify", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        chorus_env(&nowhere, &args, &[("CHORUS_CONFIG_DIR", &no_config)])
    };

    let j = verify(cert, &["--json", "--coalition", coalition]).ok().json();
    assert_eq!(j["valid"], true, "{j}");
    let names = |v: &Value| -> Vec<String> {
        let mut n: Vec<String> =
            v.as_array().into_iter().flatten().filter_map(|e| e["name"].as_str().map(String::from)).collect();
        n.sort();
        n
    };
    assert_eq!(names(&j["endorsers"]), ["Birch Trust", "Elm Trust", "Oak Trust"], "{j}");
    let objectors = j["objectors"].as_array().unwrap_or_else(|| panic!("objectors in {j}"));
    assert_eq!(objectors.len(), 1, "{j}");
    assert_eq!(objectors[0]["name"], "Ash Trust", "{j}");
    assert_eq!(objectors[0]["comment"], reason, "{j}");
    assert_eq!(objectors[0]["stance_id"], objection_id, "{j}");
    assert_eq!(j["seal"]["name"], "Elm Trust", "{j}");
    assert_eq!(j["seal"]["stances"], 4, "{j}");
    assert_eq!(j["dissent_note"], "dissent known to Elm Trust's node", "{j}");

    let human = verify(cert, &[]).ok().stdout;
    for needle in ["VALID", "Ash Trust", reason, "Oak Trust", "Elm Trust", "Birch Trust", "known to Elm Trust's node"] {
        assert!(human.contains(needle), "{needle:?} in {human}");
    }
    verify(cert, &["--require-seal"]).ok();

    // The objection cut out, re-encoded canonically, the seal kept.
    let original = std::fs::read(cert).unwrap();
    let decoded = pb::Certificate::decode(original.as_slice()).unwrap();
    assert_eq!(decoded.encode_to_vec(), original, "prost re-encodes a certificate byte for byte");
    assert_eq!(decoded.dissent.len(), 1);
    assert!(decoded.seal.is_some());
    let removed_id = chorus_core::Envelope::decode(&decoded.dissent[0].encode_to_vec()).unwrap().id().to_hex();
    assert_eq!(removed_id, objection_id);
    let mut cut = decoded.clone();
    cut.dissent.clear();
    let cut_file = root.join("cut.cert");
    std::fs::write(&cut_file, cut.encode_to_vec()).unwrap();
    let r = verify(&cut_file, &[]);
    refused(&r, &removed_id);
    assert!(r.stderr.contains("removed after the certificate was sealed"), "{}", r.stderr);
    let r = verify(&cut_file, &["--json"]);
    assert_eq!(r.code, 1);
    let j = r.json();
    assert_eq!(j["valid"], false, "{j}");
    assert_eq!(j["code"], "SealMismatch", "{j}");
    assert!(j["error"].as_str().unwrap().contains(&removed_id), "{j}");

    // The seal cut out too: it verifies, and says dissent is not recorded.
    let mut unsealed = cut;
    unsealed.seal = None;
    let unsealed_file = root.join("unsealed.cert");
    std::fs::write(&unsealed_file, unsealed.encode_to_vec()).unwrap();
    let human = verify(&unsealed_file, &[]).ok().stdout;
    assert!(human.contains("dissent not recorded"), "{human}");
    let j = verify(&unsealed_file, &["--json"]).ok().json();
    assert!(j["seal"].is_null(), "{j}");
    assert_eq!(j["dissent_note"], "dissent not recorded: this certificate carries no seal", "{j}");
    assert_eq!(j["objectors"], serde_json::json!([]), "{j}");
    let r = verify(&unsealed_file, &["--require-seal"]);
    refused(&r, "seal");
    let j = verify(&unsealed_file, &["--require-seal", "--json"]).json();
    assert_eq!(j["code"], "Unsealed", "{j}");
}

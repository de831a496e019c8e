//! Deliberation from the command line (issue 16): a draft, comments and a
//! reply, an amendment taken up by a revision (which withdraws the draft),
//! voting opened by the author, stances and an objection with its reason,
//! and the certificate's dissent and seal in `chorus verify`. Two nodes on
//! 127.0.0.1 (Oak and Elm) and a third member, Ash, whose objects are
//! signed with the library and imported. Every refusal is checked for its
//! one line, its exit code and its `--json` code, and changes nothing.

use std::path::Path;

use chorus_core::{Endorsement, Envelope, Kind, ObjectId, Stance};
use chorus_node::datadir::DataDir;
use chorus_system_tests::{chorus, found, Nodes, Run};

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A stance signed with the trust key of the data directory `dir`.
fn stance(dir: &Path, coalition: ObjectId, proposal: ObjectId, stance: Stance, comment: Option<&str>) -> Envelope {
    let key = DataDir::new(dir).trust_key().unwrap();
    let e = Endorsement {
        coalition,
        proposal,
        trust: key.public(),
        created_at_ms: now_ms(),
        stance,
        comment: comment.map(str::to_string),
        delegation: None,
    };
    Envelope::sign(Kind::Endorsement, e.to_body(), &[&key])
}

/// Hands a signed object to the node of `dir` (`chorus import`).
fn import(dir: &Path, env: &Envelope, file: &Path) {
    std::fs::write(file, env.bytes()).unwrap();
    chorus(dir, &["import", file.to_str().unwrap()]).ok();
}

/// Asserts a refusal: exit 1, one line on stderr containing `message`,
/// and with `--json` the error `code`.
fn refused(dir: &Path, args: &[&str], code: &str, message: &str) {
    let r = chorus(dir, args);
    assert_eq!(r.code, 1, "{args:?}: {} {}", r.stdout, r.stderr);
    let last = r.stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: ") && last.contains(message), "{args:?}: {}", r.stderr);
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let r = chorus(dir, &with_json);
    assert_eq!(r.code, 1, "{with_json:?}");
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|_| panic!("{}", r.stdout));
    assert_eq!(j["code"], code, "{with_json:?}: {j}");
    assert!(j["error"].as_str().unwrap().contains(message), "{j}");
}

fn id_of(r: &Run) -> String {
    r.json()["id"].as_str().unwrap().to_string()
}

fn status_of(dir: &Path, id: &str) -> Option<String> {
    let list = chorus(dir, &["proposals", "--json"]).json();
    list.as_array()?.iter().find(|p| p["id"] == id).map(|p| p["status"].as_str().unwrap().to_string())
}

#[test]
fn a_draft_is_discussed_amended_revised_opened_and_adopted_with_its_dissent() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, genesis) = found(root, &["Oak Trust", "Elm Trust", "Ash Trust"]);
    let (oak, elm, ash) = (&dirs[0], &dirs[1], &dirs[2]);
    let coalition = Envelope::decode(&std::fs::read(genesis).unwrap()).unwrap().id();
    let mut nodes = Nodes::new();
    nodes.start_mesh(&[oak.clone(), elm.clone()]);
    let body = root.join("body.md");
    std::fs::write(&body, "We ask for school transport funding.\n").unwrap();
    let body2 = root.join("body2.md");
    std::fs::write(&body2, "We ask for school transport funding, from September.\n").unwrap();
    let b = body.to_str().unwrap();

    // A draft: listed as such; no stance is signed on it.
    let draft = id_of(&chorus(oak, &["propose", "--draft", "--title", "Transport", "--body-file", b, "--json"]).ok());
    assert_eq!(status_of(oak, &draft).as_deref(), Some("draft"));
    assert!(chorus(oak, &["proposals"]).ok().stdout.contains(" draft "), "the list says draft");
    let short = &draft[..12];
    refused(
        oak,
        &["endorse", &draft, "--yes"],
        "voting_not_open",
        &format!("voting on {short} has not opened (it is a draft; it opens when its author opens it)"),
    );
    refused(oak, &["endorse", &draft, "--object", "--yes"], "voting_not_open", "has not opened");
    // A fixed opening time is named.
    let later =
        id_of(&chorus(oak, &["propose", "--voting-opens", "3d", "--title", "Later", "--body-file", b, "--json"]).ok());
    refused(oak, &["endorse", &later, "--abstain", "--yes"], "voting_not_open", "(it opens at ");
    let r = chorus(oak, &["propose", "--voting-opens", "soon", "--title", "X", "--body-file", b]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--voting-opens: \"soon\" is not a time"), "{}", r.stderr);
    let r = chorus(oak, &["propose", "--voting-opens", "2020-01-01T00:00:00Z", "--title", "X", "--body-file", b]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--voting-opens 2020-01-01 00:00 UTC is in the past"), "{}", r.stderr);
    // A stance signed before voting opens is kept, marked early.
    import(oak, &stance(ash, coalition, draft.parse().unwrap(), Stance::Endorse, None), &root.join("early.chorus"));

    // Comments: Elm comments through its own node, Oak replies.
    nodes.eventually("the draft at Elm", || (status_of(elm, &draft).as_deref() == Some("draft")).then_some(()));
    let c1 = chorus(elm, &["comment", &draft, "Should it start in September?", "--yes", "--json"]).ok().json();
    assert_eq!((c1["kind"].as_str(), c1["outcome"].as_str()), (Some("comment"), Some("stored")), "{c1}");
    assert_eq!(c1["proposal"], draft.as_str());
    assert_eq!(c1["counted"], true, "{c1}");
    let c1 = c1["id"].as_str().unwrap().to_string();
    nodes.eventually("Elm's comment at Oak", || {
        chorus(oak, &["show", &draft, "--json"]).json()["comments"].as_array().filter(|c| !c.is_empty()).map(|_| ())
    });
    let reply = chorus(oak, &["comment", &draft, "--reply-to", &c1[..8], "Yes: see the amendment.", "--yes"]).ok();
    assert!(reply.stdout.starts_with("comment recorded: "), "{}", reply.stdout);
    refused(
        elm,
        &["comment", "ffff0000", "text", "--yes"],
        "unknown_proposal",
        "no proposal ffff0000 is known to this node; check the id with `chorus proposals`",
    );
    refused(
        oak,
        &["comment", &draft, "--reply-to", "abcd1234", "text", "--yes"],
        "unknown_comment",
        &format!("no comment abcd1234 of proposal {short} is known to this node"),
    );

    // --out writes the signed comment instead; `import` hands it over.
    let out = root.join("comment.chorus");
    let written =
        chorus(elm, &["comment", &draft, "Written first.", "--yes", "--out", out.to_str().unwrap(), "--json"])
            .ok()
            .json();
    assert_eq!(written["kind"], "comment", "{written}");
    let r = chorus(elm, &["import", out.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!((r["id"].clone(), r["outcome"].as_str()), (written["id"].clone(), Some("stored")), "{r}");

    // An amendment, by Elm.
    let amendment = chorus(
        elm,
        &["amend", &draft, "--body-file", body2.to_str().unwrap(), "--title", "Transport from September"]
            .iter()
            .chain(&["--reason", "a start date", "--yes", "--json"])
            .copied()
            .collect::<Vec<_>>(),
    )
    .ok()
    .json();
    assert_eq!(amendment["kind"], "amendment", "{amendment}");
    let amendment = amendment["id"].as_str().unwrap().to_string();

    // Only the author opens voting or withdraws.
    refused(
        elm,
        &["open-voting", &draft, "--yes"],
        "not_author",
        &format!("proposal {short} is by Oak Trust, not by your trust"),
    );
    refused(elm, &["withdraw", &draft, "--yes"], "not_author", "only its author can withdraw it");

    // show: the window, the thread (the reply under its comment), the amendment.
    nodes.eventually("the amendment at Oak", || {
        let j = chorus(oak, &["show", &draft, "--json"]).json();
        (j["comments"].as_array().map_or(0, Vec::len) == 4).then_some(())
    });
    let shown = chorus(oak, &["show", &draft]).ok().stdout;
    assert!(shown.contains("\nvoting   draft; opens when its author opens it\n"), "{shown}");
    assert!(shown.contains("\ndiscussion (4 comments, 1 amendment):\n"), "{shown}");
    let lines: Vec<&str> = shown.lines().collect();
    let at =
        |prefix: &str| lines.iter().position(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix}: {shown}"));
    let parent = at(&format!("  [{}] Elm Trust, ", &c1[..12]));
    assert_eq!(lines[parent + 1], "    │ Should it start in September?", "{shown}");
    assert!(lines[parent + 2].starts_with("    [") && lines[parent + 2].contains("] Oak Trust, "), "{shown}");
    assert_eq!(lines[parent + 3], "      │ Yes: see the amendment.", "{shown}");
    assert!(shown.contains(&format!("\namendments:\n  {} by Elm Trust, ", &amendment[..12])), "{shown}");
    assert!(shown.contains(" (a start date): not taken up\n"), "{shown}");
    // The proposed text itself, on request, checked against its signature.
    let proposed = std::fs::read_to_string(&body2).unwrap();
    let text = chorus(oak, &["show", &draft, "--amendment", &amendment[..10]]).ok().stdout;
    assert!(text.starts_with(&format!("amendment {amendment}\n")), "{text}");
    assert!(text.contains("\ntitle    Transport from September\n"), "{text}");
    assert!(text.contains(&format!("    │ {}", proposed.lines().next().unwrap())), "{text}");
    let j = chorus(oak, &["show", &draft, "--amendment", &amendment, "--json"]).ok().json();
    assert_eq!(j["body"], proposed.as_str(), "{j}");
    assert!(
        shown.contains("\n  early    Ash Trust (")
            && shown.contains("[early: 1 record signed before voting opened, not counted]"),
        "{shown}"
    );

    // A revision taking the amendment up: it withdraws the draft.
    let revision = chorus(
        oak,
        &[
            "propose",
            "--draft",
            "--revises",
            short,
            "--takes-up",
            &amendment[..10],
            "--title",
            "Transport from September",
        ]
        .iter()
        .chain(&["--body-file", body2.to_str().unwrap(), "--yes", "--json"])
        .copied()
        .collect::<Vec<_>>(),
    )
    .ok()
    .json();
    assert_eq!(revision["revises"], draft.as_str(), "{revision}");
    assert_eq!(revision["amendments"], serde_json::json!([amendment]), "{revision}");
    assert_eq!(revision["withdrawal"]["outcome"], "stored", "{revision}");
    let rev = revision["id"].as_str().unwrap().to_string();
    let rshort = &rev[..12];
    assert_eq!(status_of(oak, &draft).as_deref(), Some("withdrawn"));
    let shown = chorus(oak, &["show", &draft]).ok().stdout;
    assert!(shown.contains(&format!(": replaced by its revision {rev}\n")), "{shown}");
    assert!(shown.contains(&format!("\nrevised by {rev}\n")), "{shown}");
    assert!(shown.contains(&format!(" (a start date): taken up by {rev}\n")), "{shown}");
    let shown = chorus(oak, &["show", &rev]).ok().stdout;
    assert!(shown.contains(&format!("\nrevises  {draft}, taking up amendments {}\n", &amendment[..12])), "{shown}");
    refused(oak, &["withdraw", &draft, "--yes"], "withdrawn", &format!("proposal {short} was already withdrawn at "));
    refused(oak, &["open-voting", &draft, "--yes"], "withdrawn", "voting cannot open");
    refused(oak, &["endorse", &draft, "--yes"], "withdrawn", "was withdrawn by its author");

    // Voting opens on the revision; amendments end there.
    // An open-voting written with --out is named so, and imported.
    let out = root.join("open.chorus");
    let written = chorus(oak, &["open-voting", rshort, "--yes", "--out", out.to_str().unwrap()]).ok().stdout;
    assert!(written.starts_with("signed open-voting "), "{written}");
    let imported = chorus(oak, &["import", out.to_str().unwrap()]).ok().stdout;
    assert!(imported.starts_with("read 1 signed open-voting object: "), "{imported}");
    // The author opens a proposal with a fixed opening early.
    let opened = chorus(oak, &["open-voting", &later, "--yes", "--json"]).ok().json();
    assert_eq!((opened["kind"].as_str(), opened["proposal"].as_str()), (Some("open_voting"), Some(later.as_str())));
    assert_eq!(status_of(oak, &later).as_deref(), Some("open"));
    assert_eq!(status_of(oak, &rev).as_deref(), Some("open"));
    refused(
        oak,
        &["open-voting", &rev, "--yes"],
        "voting_open",
        &format!("voting on {rshort} is already open (since "),
    );
    refused(
        oak,
        &["amend", &rev, "--body-file", b, "--yes"],
        "not_draft",
        &format!("proposal {rshort} is not a draft (voting opened at "),
    );
    let shown = chorus(oak, &["show", &rev]).ok().stdout;
    assert!(shown.contains("\nvoting   opened ") && shown.contains(" by its author (open-voting "), "{shown}");

    // Stances: Ash objects with its reason, Oak and Elm endorse.
    let reason = "September is too soon for rural routes.";
    import(
        oak,
        &stance(ash, coalition, rev.parse().unwrap(), Stance::Object, Some(reason)),
        &root.join("object.chorus"),
    );
    chorus(oak, &["endorse", &rev, "--yes"]).ok();
    nodes.eventually("the open revision at Elm", || (status_of(elm, &rev).as_deref() == Some("open")).then_some(()));
    chorus(elm, &["endorse", &rev, "--yes"]).ok();
    nodes.eventually("the position at Oak", || (status_of(oak, &rev).as_deref() == Some("adopted")).then_some(()));
    refused(
        oak,
        &["withdraw", &rev, "--yes"],
        "already_position",
        &format!("proposal {rshort} is already a position; a withdrawal cannot undo it"),
    );

    // The certificate: the objection with its reason, and the seal.
    let cert = root.join("transport.cert");
    chorus(oak, &["certificate", &rev, "-o", cert.to_str().unwrap()]).ok();
    let v = chorus(oak, &["verify", cert.to_str().unwrap(), "--require-seal"]).ok().stdout;
    assert!(v.contains("\n  objected  1\n    Ash Trust ("), "{v}");
    assert!(v.contains(&format!(": {reason}\n")), "{v}");
    assert!(v.contains("\n  abstained  0\n  did not respond  0\n"), "{v}");
    assert!(v.contains("\n  seal      dissent known to Oak Trust's node (sealed by key "), "{v}");
    let j = chorus(oak, &["verify", cert.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!((j["valid"].as_bool(), j["sealed"].as_bool()), (Some(true), Some(true)), "{j}");
    assert_eq!(j["objectors"][0]["comment"], reason, "{j}");
    assert_eq!(j["dissent_note"], "dissent known to Oak Trust's node", "{j}");
    assert_eq!(j["did_not_respond"], serde_json::json!([]), "{j}");
    assert_eq!(j["silent"], serde_json::json!([]), "{j}");
    let out = chorus(oak, &["certificate", &rev, "-o", cert.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!((out["sealed"].as_bool(), &out["unsealed_reason"]), (Some(true), &serde_json::Value::Null), "{out}");

    // --no-seal: the form earlier verifiers accept, without dissent or seal.
    let plain = root.join("transport-plain.cert");
    let w = chorus(oak, &["certificate", &rev, "-o", plain.to_str().unwrap(), "--no-seal"]).ok();
    assert!(w.stdout.contains("without dissent and seal") && !w.stdout.contains("warning:"), "{}", w.stdout);
    let j = chorus(oak, &["verify", plain.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!((j["valid"].as_bool(), j["sealed"].as_bool()), (Some(true), Some(false)), "{j}");
    assert_eq!(j["objectors"], serde_json::json!([]), "{j}");
    // Unsealed: `silent` lists the members with no stance carried; no alias.
    assert!(j["silent"].is_array() && j.get("did_not_respond").is_none(), "{j}");
}

#[test]
fn an_unsealed_certificate_says_dissent_is_not_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, _) = chorus_core::testkit::Fixture::new(3).certificate(2);
    let file = tmp.path().join("old.cert");
    std::fs::write(&file, cert).unwrap();
    let dir = tmp.path().join("auditor");
    let v = chorus(&dir, &["verify", file.to_str().unwrap()]).ok().stdout;
    assert!(v.ends_with("\n  seal      dissent not recorded: this certificate carries no seal\n"), "{v}");
    assert!(!v.contains("objected"), "{v}");
    let j = chorus(&dir, &["verify", file.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(
        (j["sealed"].as_bool(), j["dissent_note"].as_str()),
        (Some(false), Some("dissent not recorded: this certificate carries no seal"))
    );
    let r = chorus(&dir, &["verify", file.to_str().unwrap(), "--require-seal"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("INVALID: the certificate carries no seal"), "{}", r.stderr);
    let r = chorus(&dir, &["verify", file.to_str().unwrap(), "--require-seal", "--json"]);
    assert_eq!(r.code, 1);
    let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!((j["valid"].as_bool(), j["code"].as_str()), (Some(false), Some("Unsealed")), "{j}");
}

#[test]
fn a_leader_comments_through_a_remote_and_reads_the_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, genesis) = found(root, &["Oak Trust"]);
    let oak = &dirs[0];
    let mut nodes = Nodes::new();
    let url = nodes.start_serving_website(oak);
    let body = root.join("body.md");
    std::fs::write(&body, "A draft to discuss.\n").unwrap();
    let draft = id_of(
        &chorus(oak, &["propose", "--draft", "--title", "Draft", "--body-file", body.to_str().unwrap(), "--json"]).ok(),
    );
    let first = id_of(&chorus(oak, &["comment", &draft, "A first thought.", "--yes", "--json"]).ok());

    // A leader of Oak, on a laptop with no node.
    let laptop = root.join("laptop");
    std::fs::create_dir(&laptop).unwrap();
    let config = root.join("config");
    let run = |args: &[&str]| chorus_system_tests::cli::chorus_env(&laptop, args, &[("CHORUS_CONFIG_DIR", &config)]);
    let key_file = root.join("leader.key");
    let made = chorus(&laptop, &["leader-key", "--unencrypted", "--json", key_file.to_str().unwrap()]).ok().json();
    let leader_key = made["key"].as_str().unwrap().to_string();
    let delegation = chorus(oak, &["delegate", "--key", &leader_key, "--name", "Ada Leader", "--role", "Chair"]).ok();
    let delegation = delegation.stdout.split_whitespace().find(|w| w.len() == 64).unwrap().to_string();
    run(&["remote", "add", "oak", &url, "--genesis", genesis.to_str().unwrap()]).ok();
    let sign = ["--as-leader", key_file.to_str().unwrap(), "--delegation", &delegation, "--yes"];
    let mut args = vec!["--remote", "oak", "comment", &draft, "--reply-to", &first[..8], "A reply from the chair."];
    args.extend_from_slice(&sign);
    let r = run(&args).ok();
    assert!(r.stdout.starts_with("comment recorded: "), "{}", r.stdout);
    let shown = run(&["--remote", "oak", "show", &draft]).ok().stdout;
    assert!(shown.contains("node's view, voting   draft; opens when its author opens it\n"), "{shown}");
    assert!(shown.contains("node's view, discussion (2 comments):\n"), "{shown}");
    assert!(shown.contains("\n    │ A first thought.\n    [") && shown.contains("(signed by a leader)"), "{shown}");
    // Without a leader key, and for a comment the node does not hold: refused.
    let r = run(&["--remote", "oak", "comment", &draft, "text", "--yes"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let mut args = vec!["--remote", "oak", "comment", &draft, "--reply-to", "abcd1234", "text", "--json"];
    args.extend_from_slice(&sign);
    let r = run(&args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json()["code"], "unknown_comment", "{}", r.stdout);
    nodes.terminate(oak);
}

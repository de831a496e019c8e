//! Leaders sign from their own devices: the acceptance test of `chorus
//! --remote`.
//!
//! Three trusts found a coalition and run a mesh of nodes on 127.0.0.1,
//! each serving the HTTP API (docs/API.md) with `publish = "everything"`;
//! the third node runs with only a node attestation, its trust key kept
//! offline. A proposal is made on the first node and a trust delegates to
//! a leader, whose key file is encrypted. The leader holds that key file,
//! the genesis file and a config directory of their own, and no node's
//! data: they pin the coalition to the key-less node's URL (`chorus remote
//! add`), list and show the proposal and endorse it, and the endorsement
//! counts on every node. A test double that alters the proposal on its way
//! ([`chorus_system_tests::http_double`]) gets nothing signed and receives
//! no submission. A key that the delegation does not name signs nothing
//! through the CLI, and a stance it signed elsewhere and carried in with
//! `--remote NAME import` is refused by the node, whose reason, which the
//! CLI gives, names the key.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chorus_system_tests::http_double::{get, HttpDouble};
use chorus_system_tests::{chorus, cmd, copy_files, found, Nodes, Run, SERVE_WEBSITE};
use serde_json::Value;

/// What the double changes in the proposal it serves (same length, so the
/// envelope stays well formed and only its signature breaks).
const HONEST: &str = "300 a year";
const ALTERED: &str = "900 a year";

/// The leader's machine: an empty data directory that is no node's, a
/// config directory for remotes, a passphrase file for their key files.
struct Leader {
    data: PathBuf,
    config: PathBuf,
    passphrase: PathBuf,
}

impl Leader {
    fn new(root: &Path) -> Leader {
        let home = root.join("leader");
        let (data, config) = (home.join("data"), home.join("config"));
        fs::create_dir_all(&data).unwrap();
        fs::create_dir_all(&config).unwrap();
        let passphrase = home.join("passphrase");
        fs::write(&passphrase, "the leader's own passphrase\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&passphrase, fs::Permissions::from_mode(0o600)).unwrap();
        Leader { data, config, passphrase }
    }

    /// Runs `chorus --data-dir <empty> ARGS` with the leader's config
    /// directory and passphrase file (`cmd` passes on no `CHORUS_*`).
    fn run(&self, args: &[&str]) -> Run {
        let mut c = cmd(&self.data);
        c.env("CHORUS_CONFIG_DIR", &self.config).env("CHORUS_PASSPHRASE_FILE", &self.passphrase);
        let run = Run::from_output(c.args(args).output().expect("run chorus"));
        println!(
            "leader$ chorus {}\n  exit {}\n  stdout: {}\n  stderr: {}",
            args.join(" "),
            run.code,
            run.stdout.trim(),
            run.stderr.trim()
        );
        run
    }

    /// `chorus --remote REMOTE ARGS`.
    fn remote(&self, remote: &str, args: &[&str]) -> Run {
        let mut all = vec!["--remote", remote];
        all.extend_from_slice(args);
        self.run(&all)
    }
}

/// Keeps `dir`'s trust key offline: a node attestation signed on a copy
/// holding the key is installed, and the key is removed (its id kept).
fn keep_trust_key_offline(root: &Path, dir: &Path) {
    let who = chorus(dir, &["whoami", "--json"]).ok().json();
    let (trust, node_key) = (who["trust_key"].as_str().unwrap(), who["node_key"].as_str().unwrap());
    let offline = root.join("ash-offline");
    copy_files(dir, &offline);
    let attestation = root.join("ash.attestation");
    chorus(&offline, &["node", "attest", "--node-key", node_key, "--out", attestation.to_str().unwrap()]).ok();
    fs::copy(&attestation, dir.join("node.attestation")).unwrap();
    fs::write(dir.join("trust.id"), format!("{trust}\n")).unwrap();
    fs::remove_file(dir.join("trust.key")).unwrap();
}

/// Starts a node for each of `dirs` serving the API, each bootstrapping
/// from those before it, and waits for the full mesh; the API addresses.
fn start_mesh_serving_api(nodes: &mut Nodes, dirs: &[PathBuf]) -> Vec<SocketAddr> {
    let mut known: Vec<String> = Vec::new();
    for d in dirs {
        nodes.start_with(d, &known, SERVE_WEBSITE);
        known.extend(nodes.wait_listening(d));
    }
    for d in dirs {
        nodes.wait_peers(d, dirs.len() as u64 - 1);
    }
    dirs.iter()
        .map(|d| {
            let status = chorus(d, &["status", "--json"]).ok().json();
            let website = status["website"].as_str().expect("status names the website the node serves");
            website.trim_start_matches("http://").trim_end_matches('/').parse().unwrap()
        })
        .collect()
}

/// The tally of proposal `id` in `chorus proposals --json` on the node of
/// `dir`, once it lists the proposal.
fn tally(dir: &Path, id: &str) -> Option<Value> {
    let r = chorus(dir, &["proposals", "--json"]);
    if r.code != 0 {
        return None;
    }
    r.json().as_array()?.iter().find(|p| p["id"] == id).map(|p| p["tally"].clone())
}

/// Stances (endorse, object, abstain) counted in a tally.
fn stances(tally: &Value) -> u64 {
    ["endorse", "object", "abstain"].iter().map(|k| tally[*k].as_u64().unwrap()).sum()
}

/// The stance envelopes a node's API serves with proposal `id`.
fn served_stances(api: SocketAddr, id: &str) -> usize {
    let r = get(api, &format!("/api/v1/proposals/{id}"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["stances"].as_array().unwrap().len()
}

fn fails_with(run: &Run, text: &str) {
    assert_eq!(run.code, 1, "expected exit 1\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stderr.contains(text), "expected {text:?} on stderr: {}", run.stderr);
}

#[test]
fn a_leader_endorses_from_their_own_device_through_a_node_without_its_trust_key() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, genesis) = found(root, &["Oak Trust", "Elm Trust", "Ash Trust"]);
    let (oak, elm, ash) = (&dirs[0], &dirs[1], &dirs[2]);
    keep_trust_key_offline(root, ash);

    let mut nodes = Nodes::new();
    let apis = start_mesh_serving_api(&mut nodes, &dirs);
    assert!(!ash.join("trust.key").exists() && ash.join("node.attestation").exists());
    let ash_url = format!("http://{}/", apis[2]);

    // A proposal on Oak's node reaches every node, the key-less one too.
    let body = root.join("body.md");
    fs::write(&body, format!("Fund the shared bus route with {HONEST}.\n")).unwrap();
    let id = chorus(oak, &["propose", "--title", "Shared transport", "--body-file", body.to_str().unwrap()])
        .ok()
        .stdout
        .trim()
        .to_string();
    nodes.eventually("the proposal on every node", || dirs.iter().all(|d| tally(d, &id).is_some()).then_some(()));

    // The leader's key, encrypted, made on the leader's machine; Elm
    // delegates its stances to it, and the delegation reaches every node.
    let leader = Leader::new(root);
    let key_file = root.join("leader/leader.key");
    let made = leader.run(&["leader-key", "--json", key_file.to_str().unwrap()]).ok().json();
    assert_eq!(made["encrypted"], true, "{made}");
    let leader_key = made["key"].as_str().unwrap().to_string();
    let delegation = chorus(elm, &["delegate", "--key", &leader_key, "--name", "Ada Leader", "--role", "Chair"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(delegation.len(), 64, "the delegation id: {delegation}");
    nodes.eventually("the delegation served by every node", || {
        apis.iter().all(|a| get(*a, &format!("/api/v1/objects/{delegation}")).status == 200).then_some(())
    });

    // The coalition is pinned by its genesis: a node of another coalition
    // is not taken for it.
    fs::create_dir(root.join("foreign")).unwrap();
    let (_, foreign) = found(&root.join("foreign"), &["Stranger Trust"]);
    let r = leader.run(&["remote", "add", "wrong", &ash_url, "--genesis", foreign.to_str().unwrap()]);
    assert_eq!(r.code, 1, "a node serving another coalition is refused: {}", r.stderr);
    assert!(r.stderr.contains("serves coalition"), "{}", r.stderr);
    leader.run(&["remote", "add", "ash", &ash_url, "--genesis", genesis.to_str().unwrap()]).ok();
    let listed = leader.run(&["remote", "list"]).ok().stdout;
    assert!(listed.contains("ash") && listed.contains(&ash_url) && !listed.contains("wrong"), "{listed}");

    // Through the key-less node: the list, then the proposal by prefix.
    let list = leader.remote("ash", &["proposals", "--json"]).ok().json();
    let items = list.as_array().or_else(|| list["proposals"].as_array()).expect("a list of proposals");
    let item = items.iter().find(|p| p["id"] == id.as_str()).unwrap_or_else(|| panic!("{id} not in {list}"));
    assert_eq!((item["title"].as_str(), item["status"].as_str()), (Some("Shared transport"), Some("open")), "{item}");
    let shown = leader.remote("ash", &["show", &id[..12]]).ok().stdout;
    assert!(shown.contains("Shared transport") && shown.contains(&id), "{shown}");
    assert!(shown.contains(HONEST), "show gives the body: {shown}");
    leader.remote("ash", &["show", &id, "--json"]).ok().json();

    // A double of the same node that alters the proposal on its way: the
    // coalition it serves is the pinned one, so it can be added, but what
    // it serves does not verify, and nothing is signed or sent through it.
    let double = HttpDouble::start(apis[2], &[(HONEST, ALTERED)]);
    leader.run(&["remote", "add", "liar", &double.url(), "--genesis", genesis.to_str().unwrap()]).ok();
    let r = leader.remote("liar", &["show", &id]);
    fails_with(&r, "nothing was signed");
    assert!(!r.stdout.contains(ALTERED), "the altered body is never shown: {}", r.stdout);
    let r = leader.remote(
        "liar",
        &["endorse", &id, "--as-leader", key_file.to_str().unwrap(), "--delegation", &delegation, "--yes"],
    );
    fails_with(&r, "nothing was signed");
    assert!(double.tampered() >= 2, "the double altered the proposal each time ({} answers)", double.tampered());
    let requests = double.requests();
    assert!(!requests.is_empty() && requests.iter().all(|r| r.method == "GET"), "only reads: {requests:?}");
    for (d, api) in dirs.iter().zip(&apis) {
        assert_eq!(stances(&tally(d, &id).unwrap()), 0, "no stance on {}", d.display());
        assert_eq!(served_stances(*api, &id), 0);
    }
    leader.run(&["remote", "remove", "liar"]).ok();
    assert!(!leader.run(&["remote", "list"]).ok().stdout.contains("liar"));
    drop(double);

    // The honest endorsement, signed with the encrypted key on the leader's
    // machine, counts on every node.
    let r = leader
        .remote(
            "ash",
            &[
                "endorse",
                &id,
                "--as-leader",
                key_file.to_str().unwrap(),
                "--delegation",
                &delegation,
                "--yes",
                "--json",
            ],
        )
        .ok();
    let endorsed = r.json();
    assert_eq!(endorsed["outcome"], "stored", "{endorsed}");
    let stance_id = endorsed["id"].as_str().unwrap().to_string();
    nodes.eventually("the leader's endorsement counted on every node", || {
        dirs.iter().all(|d| tally(d, &id).is_some_and(|t| t["endorse"] == 1)).then_some(())
    });
    for api in &apis {
        assert_eq!(served_stances(*api, &id), 1);
    }
    // The leader sees it too, verified on their machine.
    let shown = leader.remote("ash", &["show", &id, "--json"]).ok().json();
    assert_eq!(shown["stances"][0]["id"], stance_id.as_str(), "{shown}");
    assert_eq!(shown["stances"][0]["delegation"], delegation.as_str(), "{shown}");
    let list = leader.remote("ash", &["proposals", "--json"]).ok().json();
    let items = list.as_array().or_else(|| list["proposals"].as_array()).expect("a list of proposals");
    let item = items.iter().find(|p| p["id"] == id.as_str()).unwrap();
    if let Some(tally) = item.get("tally") {
        assert_eq!(tally["endorse"], 1, "the node's tally, as listed: {item}");
    }

    // A second leader key that no delegation names, used with Elm's
    // delegation: the CLI reads the delegation from the node and signs
    // nothing, naming both keys; a made-up delegation is not served.
    let other_file = root.join("leader/other.key");
    let other = leader.run(&["leader-key", "--json", other_file.to_str().unwrap()]).ok().json();
    let other_key = other["key"].as_str().unwrap().to_string();
    let other_path = other_file.to_str().unwrap();
    let r = leader
        .remote("ash", &["endorse", &id, "--object", "--as-leader", other_path, "--delegation", &delegation, "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&other_key) && r.stderr.contains(&leader_key), "both keys named: {}", r.stderr);
    let made_up = "ab".repeat(32);
    let r = leader
        .remote("ash", &["endorse", &id, "--object", "--as-leader", other_path, "--delegation", &made_up, "--yes"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&made_up), "the delegation is named: {}", r.stderr);

    // The same stance signed elsewhere (here with Elm's node, which does
    // not check the delegation before signing to a file) and carried to
    // the leader: the node refuses it, and the CLI gives its reason, which
    // names the key that signed.
    let forged = root.join("leader/forged.stance");
    let mut c = cmd(elm);
    c.env("CHORUS_PASSPHRASE_FILE", &leader.passphrase);
    let signed = Run::from_output(
        c.args(["endorse", &id, "--object", "--as-leader", other_path, "--delegation", &delegation, "--yes"])
            .arg("--out")
            .arg(&forged)
            .output()
            .expect("run chorus"),
    )
    .ok();
    println!("signed out of band: {}", signed.stdout.trim());
    let r = leader.remote("ash", &["import", forged.to_str().unwrap()]);
    fails_with(&r, "refused");
    let line = r.stderr.lines().find(|l| l.contains("refused")).unwrap();
    assert!(line.contains(&other_key), "the reason names the key that signed: {line}");
    for (d, api) in dirs.iter().zip(&apis) {
        let t = tally(d, &id).unwrap();
        assert_eq!((t["endorse"].as_u64(), stances(&t)), (Some(1), 1), "nothing more on {}: {t}", d.display());
        assert_eq!(served_stances(*api, &id), 1);
    }

    // The leader's machine holds no node data: their directory is as empty
    // as it was, and the key files stayed encrypted.
    let left: Vec<_> = fs::read_dir(&leader.data).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "the leader's data directory stays empty: {left:?}");
    for f in [&key_file, &other_file] {
        assert!(fs::read(f).unwrap().starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"), "{}", f.display());
    }
}

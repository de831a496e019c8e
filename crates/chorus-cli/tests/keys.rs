//! Key files encrypted at rest, through the `chorus` binary: `key encrypt`,
//! `key show`, `key decrypt`, `leader-key` (encrypted by default), and a
//! node started with an encrypted trust key and node key, its passphrase
//! from a file, whose key rotation keeps the old key encrypted.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chorus_system_tests::{cmd, found, Nodes, Run};

const ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// Runs `chorus` with stdin not a terminal and `env` as its only `CHORUS_*`
/// variables.
fn chorus(dir: &Path, env: &[(&str, &Path)], args: &[&str]) -> Run {
    let mut c = cmd(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from_output(c.args(args).output().expect("run chorus"))
}

fn passphrase_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn fails_with(run: Run, text: &str) {
    assert_eq!(run.code, 1, "expected a failure\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stderr.contains(text), "expected {text:?} in: {}", run.stderr);
}

#[test]
fn encrypt_show_decrypt_keeps_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let key = d.join("leader.key");
    let k = key.to_str().unwrap();
    let public = chorus(d, &[], &["leader-key", "--unencrypted", k]).ok().stdout.trim().to_string();
    assert_eq!(fs::metadata(&key).unwrap().len(), 32);
    let shown = chorus(d, &[], &["key", "show", "--json", k]).ok().json();
    assert_eq!((shown["key"].as_str(), shown["encrypted"].as_bool()), (Some(public.as_str()), Some(false)));

    let pass = passphrase_file(d, "passphrase", "a long passphrase\n");
    let with_file = [("CHORUS_PASSPHRASE_FILE", pass.as_path())];
    let r = chorus(d, &with_file, &["key", "encrypt", "--json", k]).ok().json();
    assert_eq!((r["key"].as_str(), r["passphrase_from"].as_str()), (Some(public.as_str()), Some("file")));
    assert!(fs::read(&key).unwrap().starts_with(ARMOR));
    assert_eq!(fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

    fails_with(chorus(d, &[], &["key", "show", k]), "is encrypted; give its passphrase with CHORUS_PASSPHRASE_FILE=");
    let wrong = passphrase_file(d, "wrong", "another passphrase\n");
    fails_with(
        chorus(d, &[("CHORUS_PASSPHRASE_FILE", wrong.as_path())], &["key", "show", k]),
        &format!("the passphrase does not open {k}"),
    );
    let shown = chorus(d, &with_file, &["key", "show", "--json", k]).ok().json();
    assert_eq!((shown["key"].as_str(), shown["encrypted"].as_bool()), (Some(public.as_str()), Some(true)));
    fails_with(chorus(d, &with_file, &["key", "encrypt", k]), "is already encrypted");

    let r = chorus(d, &with_file, &["key", "decrypt", k]).ok();
    assert!(r.stdout.contains("UNPROTECTED"), "{}", r.stdout);
    assert_eq!(fs::metadata(&key).unwrap().len(), 32);
    let shown = chorus(d, &[], &["key", "show", "--json", k]).ok().json();
    assert_eq!((shown["key"].as_str(), shown["encrypted"].as_bool()), (Some(public.as_str()), Some(false)));
    fails_with(chorus(d, &with_file, &["key", "decrypt", k]), "is not encrypted");
}

#[test]
fn leader_keys_are_encrypted_unless_told_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let key = d.join("leader.key");
    let k = key.to_str().unwrap();
    fails_with(chorus(d, &[], &["leader-key", k]), "or pass --unencrypted");
    assert!(!key.exists(), "nothing is written without a passphrase");

    let pass = passphrase_file(d, "passphrase", "the leader's passphrase\n");
    let with_file = [("CHORUS_PASSPHRASE_FILE", pass.as_path())];
    let made = chorus(d, &with_file, &["leader-key", "--json", k]).ok().json();
    assert_eq!(made["encrypted"], true);
    assert!(fs::read(&key).unwrap().starts_with(ARMOR));
    let shown = chorus(d, &with_file, &["key", "show", "--json", k]).ok().json();
    assert_eq!(shown["key"], made["key"]);
    fails_with(chorus(d, &with_file, &["leader-key", k]), "already exists");

    // A passphrase file others may read is refused, as a key file would be.
    fs::set_permissions(&pass, fs::Permissions::from_mode(0o644)).unwrap();
    fails_with(chorus(d, &with_file, &["key", "show", k]), "can be read by other users");
}

#[test]
fn a_node_runs_on_encrypted_keys_with_a_passphrase_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, _) = found(root, &["Oak Trust"]);
    let dir = &dirs[0];
    let trust = chorus(dir, &[], &["whoami", "--json"]).ok().json()["trust_key"].clone();
    let pass = passphrase_file(root, "passphrase", "the node's passphrase\n");
    let with_file = [("CHORUS_PASSPHRASE_FILE", pass.as_path())];
    for key in ["trust.key", "node.key"] {
        chorus(dir, &with_file, &["key", "encrypt", dir.join(key).to_str().unwrap()]).ok();
    }
    fails_with(chorus(dir, &[], &["whoami"]), "trust.key is encrypted");
    assert_eq!(chorus(dir, &with_file, &["whoami", "--json"]).ok().json()["trust_key"], trust);

    // Unattended and without its passphrase, the node stops at once and says why.
    let mut nodes = Nodes::new();
    nodes.start(dir, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = nodes.node(dir).process().exited() {
            break s;
        }
        assert!(Instant::now() < deadline, "the node did not stop without its passphrase");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    let log = dir.with_file_name(format!("{}.log", dir.file_name().unwrap().to_str().unwrap()));
    let text = fs::read_to_string(&log).unwrap();
    // Both keys are encrypted: whichever the node reads first is named.
    let says_why = ["trust.key", "node.key"]
        .iter()
        .any(|k| text.contains(&format!("{k} is encrypted; give its passphrase with CHORUS_PASSPHRASE_FILE=")));
    assert!(says_why, "{text}");
    nodes.remove(dir);

    let pass_text = pass.to_str().unwrap();
    nodes.start_with(dir, &[], &[("CHORUS_PASSPHRASE_FILE", pass_text)]);
    nodes.wait_up(dir);
    let text = fs::read_to_string(&log).unwrap();
    for key in ["trust.key", "node.key"] {
        let said = format!("{key}: encrypted key opened with the passphrase from the passphrase file {pass_text}");
        assert!(text.contains(&said), "the node says where the passphrase of {key} came from: {text}");
    }

    // A key rotation keeps the old key file as it was, encrypted, and says
    // that the new one is not.
    let r = chorus(dir, &with_file, &["rotate-key", "--json"]).ok().json();
    let backup = PathBuf::from(r["backup"].as_str().unwrap());
    assert!(fs::read(&backup).unwrap().starts_with(ARMOR), "the old key stays encrypted");
    let said = chorus(dir, &with_file, &["key", "show", backup.to_str().unwrap()]).ok().stdout;
    assert!(said.contains("encrypted with a passphrase"), "{said}");
    let r = chorus(dir, &[], &["key", "show", "--json", dir.join("trust.key").to_str().unwrap()]).ok().json();
    assert_eq!(r["encrypted"], false);
}

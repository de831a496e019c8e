//! Running the `chorus` command line, and founding a coalition with it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::binary::chorus_bin;

/// Result of one CLI run.
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// The outcome of a finished process.
    pub fn from_output(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    /// Asserts exit code 0.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "command failed\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
    /// Standard output parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// A command for the binary with `--data-dir DIR` and no `CHORUS_*`
/// variable of the test's environment (so that what a developer or CI sets
/// for the tests, like `CHORUS_REQUIRE_BROWSER`, never reaches a node).
pub fn cmd(data_dir: &Path) -> Command {
    let mut c = Command::new(chorus_bin());
    c.arg("--data-dir").arg(data_dir).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("CHORUS_") {
            c.env_remove(k);
        }
    }
    c
}

/// Runs `chorus --data-dir DIR args...`.
pub fn chorus(data_dir: &Path, args: &[&str]) -> Run {
    Run::from_output(cmd(data_dir).args(args).output().expect("run chorus"))
}

/// Runs `chorus --data-dir DIR args...` with the environment variables
/// `env` set (such as `CHORUS_PASSPHRASE_FILE`).
pub fn chorus_env(data_dir: &Path, args: &[&str], env: &[(&str, impl AsRef<OsStr>)]) -> Run {
    let mut c = cmd(data_dir);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from_output(c.output().expect("run chorus"))
}

/// Initialises `n` nodes under `root`, each with its trust key in its data
/// directory (`init --trust-key-here`), and founds a coalition of their
/// trusts offline with the CLI; returns the data dirs and the final genesis
/// path.
pub fn found(root: &Path, names: &[&str]) -> (Vec<PathBuf>, PathBuf) {
    let dirs: Vec<PathBuf> = names.iter().enumerate().map(|(i, _)| root.join(format!("node-{i}"))).collect();
    for (d, name) in dirs.iter().zip(names) {
        chorus(d, &["init", "--name", name, "--trust-key-here"]).ok();
    }
    let keys: Vec<String> = dirs
        .iter()
        .map(|d| chorus(d, &["whoami", "--json"]).ok().json()["trust_key"].as_str().unwrap().to_string())
        .collect();
    let draft = root.join("draft.chorus");
    let mut args: Vec<String> =
        vec!["coalition".into(), "draft".into(), "--name".into(), "E2E Coalition".into(), "-o".into()];
    args.push(draft.to_str().unwrap().into());
    for (k, name) in keys.iter().zip(names).skip(1) {
        args.push("--member".into());
        args.push(format!("{name}={k}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chorus(&dirs[0], &args).ok();
    for d in &dirs[1..] {
        chorus(d, &["coalition", "sign", draft.to_str().unwrap(), "--yes"]).ok();
    }
    let genesis = root.join("genesis.chorus");
    chorus(&dirs[0], &["coalition", "finalize", draft.to_str().unwrap(), "-o", genesis.to_str().unwrap()]).ok();
    for d in &dirs {
        chorus(d, &["coalition", "join", genesis.to_str().unwrap()]).ok();
    }
    (dirs, genesis)
}

/// Copies the files (not the store or the socket) of a data directory into
/// the new directory `to`, as an operator copies it to the offline machine.
pub fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// [`found`] with more arguments for `chorus coalition draft` (the charter's
/// rules, say `["--observers", "everything"]`).
pub fn found_with(root: &Path, names: &[&str], draft_args: &[&str]) -> (Vec<PathBuf>, PathBuf) {
    let dirs: Vec<PathBuf> = names.iter().enumerate().map(|(i, _)| root.join(format!("node-{i}"))).collect();
    for (d, name) in dirs.iter().zip(names) {
        chorus(d, &["init", "--name", name, "--trust-key-here"]).ok();
    }
    let draft = root.join("draft.chorus");
    let draft_path = draft.to_str().expect("a UTF-8 path");
    let mut args: Vec<String> =
        ["coalition", "draft", "--name", "E2E Coalition", "-o", draft_path].map(String::from).to_vec();
    for (d, name) in dirs.iter().zip(names).skip(1) {
        let key = chorus(d, &["whoami", "--json"]).ok().json()["trust_key"].as_str().unwrap().to_string();
        args.push("--member".into());
        args.push(format!("{name}={key}"));
    }
    args.extend(draft_args.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chorus(&dirs[0], &args).ok();
    for d in &dirs[1..] {
        chorus(d, &["coalition", "sign", draft_path, "--yes"]).ok();
    }
    let genesis = root.join("genesis.chorus");
    chorus(&dirs[0], &["coalition", "finalize", draft_path, "-o", genesis.to_str().unwrap()]).ok();
    for d in &dirs {
        chorus(d, &["coalition", "join", genesis.to_str().unwrap()]).ok();
    }
    (dirs, genesis)
}

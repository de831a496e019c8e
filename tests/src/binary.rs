//! The `chorus` binary under test.
//!
//! Integration tests of this package cannot name chorus-cli's binary with
//! `CARGO_BIN_EXE_chorus` (Cargo sets that only for the package that owns
//! the binary), so the harness asks Cargo for it: the first use in a test
//! process runs `cargo build -p chorus-cli --bin chorus` in this workspace,
//! with the profile the tests were built with, and takes the executable's
//! path from Cargo's own report of the build. Cargo decides whether it is
//! fresh, so a binary older than its sources is never used, and the same
//! command works under `cargo test --workspace` and
//! `cargo test -p chorus-system-tests` alike. (Cargo holds its build
//! directory's lock while it compiles, not while it runs the tests, so the
//! inner build does not wait on the outer one; it may wait on a build of
//! someone else, as any cargo command does, and says so on stderr.)
//!
//! `CHORUS_TEST_BIN=/path/to/chorus` skips the build and tests that binary
//! instead (a release build, say).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Environment variable naming a prebuilt `chorus` binary to test instead
/// of building one.
pub const BIN_ENV: &str = "CHORUS_TEST_BIN";

/// The `chorus` executable, built (or found fresh) once per test process.
///
/// Panics with Cargo's exit status when the build fails (its diagnostics are
/// on stderr), or when `CHORUS_TEST_BIN` names no file.
pub fn chorus_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os(BIN_ENV).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "{BIN_ENV}={} is not a file", path.display());
            return path;
        }
        build()
    })
}

/// The workspace's root manifest (this package is its `tests/` member).
fn workspace_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").join("Cargo.toml")
}

/// The Cargo profile the running test binary was built with, read from its
/// path (`<target>/<dir>/deps/<test>-<hash>`, where `debug` is the `dev`
/// profile's directory); `dev` when the path says nothing.
fn profile() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    match dir {
        None | Some("debug") => "dev".to_string(),
        Some(name) => name.to_string(),
    }
}

fn build() -> PathBuf {
    // Cargo sets CARGO for the processes it runs; a plain `cargo` otherwise.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = workspace_manifest();
    let profile = profile();
    let output = Command::new(&cargo)
        .args(["build", "-p", "chorus-cli", "--bin", "chorus", "--message-format=json-render-diagnostics"])
        .args(["--profile", &profile])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} to build the chorus binary: {e}", Path::new(&cargo).display()));
    assert!(
        output.status.success(),
        "`cargo build -p chorus-cli --bin chorus --profile {profile}` failed ({}); its errors are above",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    executable(&stdout)
        .unwrap_or_else(|| panic!("cargo built chorus-cli but reported no `chorus` executable:\n{stdout}"))
}

/// The `chorus` executable in Cargo's JSON messages.
fn executable(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "chorus")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executable_is_read_from_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"chorus_node"},"executable":null}
not json
{"reason":"compiler-artifact","target":{"name":"chorus"},"executable":"/t/debug/chorus"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(executable(messages), Some(PathBuf::from("/t/debug/chorus")));
        assert_eq!(executable(r#"{"reason":"build-finished","success":true}"#), None);
    }

    #[test]
    fn the_workspace_manifest_is_the_root_one() {
        let text = std::fs::read_to_string(workspace_manifest()).unwrap();
        assert!(text.contains("[workspace]"), "{text}");
    }
}

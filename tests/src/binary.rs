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
    let mut command = Command::new(&cargo);
    // What Cargo sets for the test process describes this package; passed
    // on, it would differ from the outer build's environment and make Cargo
    // rebuild crates that read it (ring reads CARGO_MANIFEST_DIR), then the
    // outer build rebuild them back.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_this_package) {
            command.env_remove(name);
        }
    }
    let output = command
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

/// Whether Cargo sets the variable `name` for the test process to describe
/// this package or this test (and not to configure Cargo).
fn set_by_cargo_for_this_package(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
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
    fn cargo_configuration_is_passed_on_and_this_package_s_description_is_not() {
        for name in ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "CARGO_CRATE_NAME", "OUT_DIR"] {
            assert!(set_by_cargo_for_this_package(name), "{name}");
        }
        for name in ["CARGO", "CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_PROFILE_DEV_DEBUG", "CHORUS_NO_WASM"] {
            assert!(!set_by_cargo_for_this_package(name), "{name}");
        }
    }

    #[test]
    fn the_workspace_manifest_is_the_root_one() {
        let text = std::fs::read_to_string(workspace_manifest()).unwrap();
        assert!(text.contains("[workspace]"), "{text}");
    }
}

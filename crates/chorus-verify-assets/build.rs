//! Builds `crates/chorus-wasm` for `wasm32-unknown-unknown` (release, LTO)
//! with a nested cargo and leaves in `OUT_DIR`:
//!
//! * `chorus_verify.wasm`: the module, or an empty file when it could not be
//!   built (the target is not installed, or the nested build failed: then a
//!   `cargo:warning` says so and how to get it; the build itself never fails
//!   for this, so a fresh machine still builds and runs everything else);
//! * `chorus-verify-wasm.js`: the script that hands the module to
//!   `assets/verify.js`, `window.CHORUS_VERIFY_WASM = "<base64>";`.
//!
//! The nested build has a target directory of its own under `OUT_DIR`, so
//! it never waits for the outer build's lock, and none of the outer build's
//! flags, wrappers or target settings.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "src/base64.rs"]
mod base64;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let crates = manifest.parent().expect("crates/").to_path_buf();
    let root = crates.parent().expect("the workspace").to_path_buf();

    // What the module is built from. A directory is scanned as a whole.
    for p in [
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
        root.join("proto"),
        crates.join("chorus-core/Cargo.toml"),
        crates.join("chorus-core/src"),
        crates.join("chorus-proto/Cargo.toml"),
        crates.join("chorus-proto/build.rs"),
        crates.join("chorus-proto/src"),
        crates.join("chorus-wasm/Cargo.toml"),
        crates.join("chorus-wasm/src"),
        manifest.join("build.rs"),
    ] {
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    println!("cargo:rerun-if-env-changed=CHORUS_NO_WASM");

    let wasm = match build(&root, &out) {
        Ok(bytes) => bytes,
        Err(why) => {
            println!(
                "cargo:warning=in-browser certificate verification is not built: {why}. \
                 Position pages will say that their certificate cannot be verified in the browser \
                 (`chorus verify` still verifies it). To build it: \
                 `rustup target add {TARGET}`, then build again."
            );
            Vec::new()
        }
    };
    write_if_changed(&out.join("chorus_verify.wasm"), &wasm);
    let script = format!("window.CHORUS_VERIFY_WASM = \"{}\";\n", base64::encode(&wasm));
    write_if_changed(&out.join("chorus-verify-wasm.js"), script.as_bytes());
}

/// The module's bytes, or why there are none.
fn build(root: &Path, out: &Path) -> Result<Vec<u8>, String> {
    if std::env::var_os("CHORUS_NO_WASM").is_some_and(|v| !v.is_empty()) {
        return Err("CHORUS_NO_WASM is set".into());
    }
    // A nested build never builds this crate, but guard anyway.
    if std::env::var_os("CHORUS_VERIFY_ASSETS_NESTED").is_some() {
        return Err("nested build".into());
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .ok_or("`rustc --print sysroot` failed")?;
    let rustlib = sysroot.join("lib/rustlib");
    if !rustlib.join(TARGET).is_dir() {
        // Installing the target adds a directory here: build again then.
        if rustlib.is_dir() {
            println!("cargo:rerun-if-changed={}", rustlib.display());
        }
        return Err(format!("the {TARGET} target is not installed for {}", sysroot.display()));
    }
    println!("cargo:rerun-if-changed={}", rustlib.join(TARGET).display());

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = out.join("wasm-target");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--locked", "--release", "-p", "chorus-wasm", "--lib", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if inherited_but_not_for_us(key) {
            cmd.env_remove(key);
        }
    }
    // Paths that end up in the module (panic locations) made independent of
    // this machine, so that the same sources and toolchain give the same
    // module, and the same file name, anywhere.
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut remaps = vec![format!("--remap-path-prefix={}=/chorus", root.display())];
    if let Some(home) = cargo_home {
        remaps.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", remaps.join("\x1f"));
    cmd.env("CHORUS_VERIFY_ASSETS_NESTED", "1")
        // Speed over size: verification is all arithmetic. Measured on a
        // 3,000-endorsement certificate under Node 20: opt-level 3, 745 KB,
        // 562 ms; "s", 489 KB, 738 ms; "z", 419 KB, 888 ms. (Forcing
        // curve25519-dalek's 64-bit backend doubles the time: wasm32 has no
        // 64x64->128 multiply.) The workspace's release profile keeps line
        // tables (debug = 1); a module does not.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false")
        .env("CARGO_TERM_COLOR", "never");
    let started = Instant::now();
    let result = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    let log = out.join("chorus-wasm-build.log");
    let _ = std::fs::write(&log, [&result.stdout[..], &result.stderr[..]].concat());
    if !result.status.success() {
        let stderr = String::from_utf8_lossy(&result.stderr);
        let first = stderr.lines().find(|l| l.starts_with("error")).unwrap_or("no error line").trim().to_owned();
        return Err(format!("the nested build of chorus-wasm failed ({first}; full output in {})", log.display()));
    }
    let module = target_dir.join(TARGET).join("release/chorus_wasm.wasm");
    let bytes = std::fs::read(&module).map_err(|e| format!("cannot read {}: {e}", module.display()))?;
    if !bytes.starts_with(b"\0asm") {
        return Err(format!("{} is not a WebAssembly module", module.display()));
    }
    let _ = std::fs::write(
        out.join("chorus-wasm-build.txt"),
        format!("{} bytes in {:.1} s\n", bytes.len(), started.elapsed().as_secs_f64()),
    );
    Ok(bytes)
}

/// Environment a build script inherits that would change the nested build:
/// the outer build's flags, wrappers (clippy's among them), target and
/// profile settings and the variables cargo sets for this script alone.
/// Kept: paths, toolchain selection (`RUSTC`, `RUSTUP_*`), network and
/// registry settings, the jobserver.
fn inherited_but_not_for_us(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_LINKER",
        "RUSTDOC",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "TARGET",
        "HOST",
        "OUT_DIR",
        "OPT_LEVEL",
        "PROFILE",
        "DEBUG",
        "NUM_JOBS",
        "CARGO",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_BUILD_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_RUSTDOCFLAGS",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
        "CARGO_INCREMENTAL",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_CRATE_NAME",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_TARGET_",
        "CARGO_PROFILE_",
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_BIN_",
        "DEP_",
        "__CARGO",
    ];
    EXACT.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).ok().as_deref() != Some(bytes) {
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

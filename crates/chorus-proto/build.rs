//! Compiles `proto/chorus/v1/*.proto` with protox (pure Rust, no protoc binary).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../../proto");
    let dir = root.join("chorus/v1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    println!("cargo:rerun-if-changed={}", dir.display());
    let descriptors = protox::compile(&files, [&root]).unwrap_or_else(|e| panic!("protox: {e}"));
    prost_build::Config::new().compile_fds(descriptors).unwrap_or_else(|e| panic!("prost-build: {e}"));
}

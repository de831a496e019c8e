//! The site's fixed assets: its stylesheet, and the in-browser verifier from
//! `chorus-verify-assets` (the script that defines the WebAssembly module,
//! under a name that carries its content hash, and `verify.js`, which runs
//! it).

use std::sync::OnceLock;

/// The stylesheet, `assets/style.css`.
pub const STYLE_CSS: &str = include_str!("style.css");

/// `assets/verify.js`.
pub fn verify_js() -> &'static str {
    chorus_verify_assets::VERIFY_JS
}

struct Verifier {
    name: String,
    script: String,
}

// Built once per process: the name is needed by every page that verifies,
// and the script is a pure function of constants.
fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier {
        name: chorus_verify_assets::wasm_script_name(),
        script: chorus_verify_assets::wasm_script(),
    })
}

/// The file name, under `assets/`, of the script that defines the verifier's
/// WebAssembly module. It carries a hash of the content.
pub fn wasm_script_name() -> &'static str {
    &verifier().name
}

/// The content of `assets/<wasm_script_name()>`.
pub fn wasm_script() -> &'static str {
    &verifier().script
}

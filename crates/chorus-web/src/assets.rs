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
    VERIFIER.get_or_init(|| Verifier { name: verifier_shim::wasm_script_name(), script: verifier_shim::wasm_script() })
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

/// Stand-in for `chorus_verify_assets::{wasm_script, wasm_script_name}`
/// until that crate has them, with the same contract: the script is
/// `window.CHORUS_VERIFY_WASM = "<base64 of WASM>";` and its name
/// `chorus-verify-<first 16 hex digits of SHA-256 of WASM>.js`. The site's
/// API does not change when the shim goes.
mod verifier_shim {
    use sha2::{Digest, Sha256};

    pub fn wasm_script() -> String {
        use base64::Engine as _;
        format!(
            "window.CHORUS_VERIFY_WASM = \"{}\";\n",
            base64::engine::general_purpose::STANDARD.encode(chorus_verify_assets::WASM)
        )
    }

    pub fn wasm_script_name() -> String {
        let hash = Sha256::digest(chorus_verify_assets::WASM);
        format!("chorus-verify-{}.js", &hex::encode(hash)[..16])
    }
}

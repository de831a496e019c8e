//! The in-browser certificate verifier: chorus-core's certificate
//! verification compiled to WebAssembly (`crates/chorus-wasm`, built by this
//! crate's build script), and the script that runs it in a page.
//!
//! # What a site publishes
//!
//! * [`wasm_script`] as `assets/`[`wasm_script_name`]: the module in base64,
//!   `window.CHORUS_VERIFY_WASM = "...";` (a script, not a `.wasm` file, so
//!   that it also loads from `file://`).
//! * [`VERIFY_JS`] (say as `assets/`[`verify_js_name`]), included after it.
//! * Per certificate, `<id>.cert` (the bytes, fetched over http(s)) and
//!   `<id>.cert.js` ([`certificate_script`], loaded from `file://`).
//!
//! A position page holds
//!
//! ```html
//! <div id="verification" data-certificate="../certificates/<id>.cert"
//!      data-certificate-script="../certificates/<id>.cert.js"
//!      data-certificate-id="<id>" data-coalition="<coalition id>">
//!   <p id="verdict" class="verdict pending">(text for readers without JavaScript)</p>
//! </div>
//! ```
//!
//! and the verify page an `<input type="file" id="certificate-file"
//! accept=".cert">`, a `#drop-zone`, and `#verdict` inside `#verification`
//! (whose `data-coalition` may be empty). The script sets `#verdict`'s class
//! to `verdict valid`, `verdict invalid` or `verdict unavailable` and its text
//! to a sentence starting `Verified in your browser: `, `Verification failed
//! in your browser: ` (then the reason `chorus verify` gives) or `Could not
//! verify in your browser: `; see `assets/verify.js`. For a coalition that
//! uses member attributes, a valid verdict goes on with the breadth the
//! certificate proves and each breadth rule, a line each (`<br>`, then
//! `<span class="verdict-breadth">`): `Breadth proven: endorsed by 3 of 4
//! member trusts, from 3 of 9 regions, running 41 schools with 19,200
//! pupils.` and `Breadth rule: from at least 2 of 9 regions: 3, met.`, in
//! the words of `chorus verify` (the module's `breadth_text`). When the page
//! also holds a list `<ul id="verdict-dissent">` (beside `#verdict`, never
//! inside it), a valid verdict fills it with a `<li>` a line: each objector
//! with its reason, each abstainer, the members who did not respond and the
//! seal line ("Dissent known to <trust>'s node." or "Dissent not recorded:
//! this certificate carries no seal."), in the module's words
//! (`dissent_text`); any other verdict empties it. A certificate whose seal
//! no longer matches the stances it carries fails like any other, with the
//! reason `chorus verify` gives. Text from a certificate is only ever
//! inserted as text.
//!
//! When the WebAssembly target was not installed at build time, [`WASM`] is
//! empty and [`WASM_BUILT`] false (the build warned); the script then says the
//! certificate could not be verified in the browser.

use sha2::{Digest, Sha256};

mod base64;

/// The WebAssembly module (`chorus_wasm.wasm`), empty when it was not built.
pub const WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/chorus_verify.wasm"));

/// True when [`WASM`] holds a real module.
pub const WASM_BUILT: bool = !WASM.is_empty();

/// The script that loads [`WASM`] and verifies certificates in a page
/// (`assets/verify.js`, dependency-free; in Node its pure part is
/// `module.exports`).
pub const VERIFY_JS: &str = include_str!("../assets/verify.js");

/// The global through which the module reaches [`VERIFY_JS`].
pub const WASM_GLOBAL: &str = "CHORUS_VERIFY_WASM";

/// The global table of certificates loaded by script (from `file://`).
pub const CERTIFICATES_GLOBAL: &str = "chorusCertificates";

/// [`wasm_script`], made by the build script.
const WASM_SCRIPT: &str = include_str!(concat!(env!("OUT_DIR"), "/chorus-verify-wasm.js"));

/// The text of `assets/chorus-verify-<hash>.js`:
/// `window.CHORUS_VERIFY_WASM = "<base64 of WASM>";` and a newline.
pub fn wasm_script() -> String {
    WASM_SCRIPT.to_owned()
}

/// `chorus-verify-<first 16 hex digits of SHA-256 of WASM>.js`: the module
/// script's file name, which changes whenever the module does, so it can be
/// cached for ever.
pub fn wasm_script_name() -> String {
    format!("chorus-verify-{}.js", short_hash(WASM))
}

/// `verify-<first 16 hex digits of SHA-256 of VERIFY_JS>.js`, a file name
/// for [`VERIFY_JS`] that changes whenever it does.
pub fn verify_js_name() -> String {
    format!("verify-{}.js", short_hash(VERIFY_JS.as_bytes()))
}

/// The text of `<id>.cert.js`, the certificate for pages read from
/// `file://`, one line: `window.chorusCertificates =
/// window.chorusCertificates || {}; window.chorusCertificates["<id hex>"] =
/// "<base64>";` and a newline.
/// `id_hex` is the certificate's id as the page names it in
/// `data-certificate-id`; only hex digits are kept of it.
pub fn certificate_script(id_hex: &str, certificate: &[u8]) -> String {
    let id: String = id_hex.chars().filter(char::is_ascii_hexdigit).collect();
    format!(
        "window.{g} = window.{g} || {{}}; window.{g}[\"{id}\"] = \"{}\";\n",
        base64::encode(certificate),
        g = CERTIFICATES_GLOBAL,
    )
}

fn short_hash(bytes: &[u8]) -> String {
    let mut h = hex::encode(Sha256::digest(bytes));
    h.truncate(16);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes padded standard base64, as `atob` does.
    fn decode(s: &str) -> Vec<u8> {
        let value = |c: u8| -> u32 {
            match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'+' => 62,
                b'/' => 63,
                _ => panic!("not base64: {c}"),
            }
        };
        assert_eq!(s.len() % 4, 0);
        let mut out = Vec::new();
        for q in s.as_bytes().chunks(4) {
            let pad = q.iter().filter(|&&c| c == b'=').count();
            let n = q.iter().take(4 - pad).enumerate().fold(0u32, |n, (i, &c)| n | (value(c) << (18 - 6 * i)));
            out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
        }
        out
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64::encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        assert_eq!(decode(&base64::encode(&all)), all);
    }

    #[test]
    fn wasm_script_carries_the_module() {
        let s = wasm_script();
        let b64 = s
            .strip_prefix("window.CHORUS_VERIFY_WASM = \"")
            .and_then(|r| r.strip_suffix("\";\n"))
            .expect("the script's one statement");
        assert_eq!(decode(b64), WASM);
        let name = wasm_script_name();
        assert_eq!(name.len(), "chorus-verify-".len() + 16 + ".js".len());
        assert_eq!(name, format!("chorus-verify-{}.js", &hex::encode(Sha256::digest(WASM))[..16]));
        assert!(verify_js_name().starts_with("verify-") && verify_js_name().ends_with(".js"));
    }

    #[test]
    fn module_when_built_exports_what_verify_js_calls() {
        if !WASM_BUILT {
            println!("skipped: the WebAssembly module was not built (rustup target add wasm32-unknown-unknown)");
            return;
        }
        assert!(WASM.starts_with(b"\0asm\x01\0\0\0"));
        for export in [
            "memory",
            "chorus_alloc",
            "chorus_free",
            "chorus_verify",
            "chorus_verify_file",
            "chorus_report_len",
            "chorus_report_free",
            "chorus_max_certificate_bytes",
        ] {
            assert!(WASM.windows(export.len()).any(|w| w == export.as_bytes()), "{export}");
            assert!(export == "memory" || VERIFY_JS.contains(export), "verify.js calls {export}");
        }
    }

    #[test]
    fn verify_js_keeps_to_the_content_security_policy() {
        assert!(VERIFY_JS.contains("function chorusVerifyBytes("));
        for banned in ["eval(", "new Function", "setTimeout(\"", "innerHTML", "onclick=", "document.write"] {
            assert!(!VERIFY_JS.contains(banned), "{banned}");
        }
        for text in [
            "Verified in your browser: ",
            "Verification failed in your browser: ",
            "Could not verify in your browser: ",
            "data-verify-ms",
            "cache: \"no-cache\"",
            "verdict-dissent",
            "dissent_text",
            WASM_GLOBAL,
            CERTIFICATES_GLOBAL,
        ] {
            assert!(VERIFY_JS.contains(text), "{text}");
        }
    }

    #[test]
    fn certificate_script_defines_the_certificate() {
        let s = certificate_script("ab12", &[1, 2, 3, 250]);
        assert_eq!(
            s,
            "window.chorusCertificates = window.chorusCertificates || {}; window.chorusCertificates[\"ab12\"] = \"AQID+g==\";\n"
        );
        assert!(certificate_script("ab\"</script>", b"").contains("[\"abc\"] = \"\""));
    }
}

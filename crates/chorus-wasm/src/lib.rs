//! Certificate verification for readers' browsers: chorus-core's
//! [`certificate::verify_with_threads`] on one thread (a browser gives a
//! WebAssembly module no threads), behind plain C-ABI exports. No
//! wasm-bindgen and no generated glue: the page's script
//! (`crates/chorus-verify-assets/assets/verify.js`) drives the exports
//! directly. `crates/chorus-verify-assets/build.rs` builds this crate for
//! `wasm32-unknown-unknown` and embeds the module.
//!
//! # The report
//!
//! Every verification yields one JSON object, exactly what
//! `chorus verify --json` prints (here on one line):
//!
//! * valid: `serde_json::to_value(&VerifiedAdoption)` with `"valid": true`
//!   added, and, only when the coalition uses attributes
//!   ([`Breakdown::uses_attributes`]), `"breadth_text": {"endorsed": <the
//!   sentence>, "rules": [<one line per breadth rule>]}`: the lines
//!   `chorus verify` prints after `breadth` and `breadth rule`
//!   ([`Breakdown::endorsed_line`], [`Breakdown::rule_lines`]), so that the
//!   page shows them without wording them again; and always
//!   `"dissent_text"` ([`dissent_text`]): the objectors with their reasons,
//!   the abstainers, the members with no stance carried (who "did not
//!   respond" only when the certificate is sealed) and the seal line, a
//!   sentence each. Without these two keys a report is exactly what
//!   `chorus verify --json` prints;
//! * invalid: `{"valid": false, "code": <CertificateError::name()>,
//!   "error": <its message, newlines replaced by spaces>}`.
//!
//! # The exports
//!
//! Pointers and lengths are `usize`, an `i32` in wasm32 (read them in
//! JavaScript with `>>> 0`). Every buffer handed across is owned by this
//! module and recorded by its address, so no export ever dereferences a
//! pointer it did not give out: an unknown pointer or a length that does not
//! match is refused (a `0` result), never read.
//!
//! * `chorus_alloc(len) -> ptr`: a zeroed buffer of `len` bytes for the
//!   caller to fill (the certificate, the expected coalition id). Growing
//!   memory may move `memory.buffer`: take a fresh view after each call.
//! * `chorus_free(ptr, len)`: gives a buffer back.
//! * `chorus_verify(cert_ptr, cert_len, coalition_ptr, coalition_len) ->
//!   report_ptr`: verifies; `coalition_len` 0 means no expected coalition,
//!   otherwise it must be 32. A length of 0 needs no buffer (pointer
//!   ignored). Returns the report's address, or 0 when a buffer is unknown
//!   or a length is wrong (a caller's mistake, not a verdict).
//! * `chorus_verify_file(cert_ptr, cert_len, coalition_ptr, coalition_len,
//!   file_size) -> report_ptr`: the same for a file of `file_size` bytes
//!   (an `f64`) of which at most [`MAX_CERTIFICATE_BYTES`] + 1 were read, as
//!   `chorus verify` reads a file: an oversized file is reported with its own
//!   size without being read whole.
//! * `chorus_report_len(report_ptr) -> len` and `chorus_report_free(report_ptr)`:
//!   the report's length in bytes (UTF-8 JSON) and its release.
//! * `chorus_max_certificate_bytes() -> len`: [`MAX_CERTIFICATE_BYTES`].

use std::cell::RefCell;
use std::collections::BTreeMap;

use chorus_core::certificate;
use chorus_core::limits::MAX_CERTIFICATE_BYTES;
use chorus_core::{Breakdown, CertificateError, ObjectId, VerifiedAdoption};

/// The report of verifying `cert` (against `expected`, when given), as
/// `chorus verify --json` makes it, with the breadth lines of
/// [`breadth_text`] for a coalition that uses attributes. `file_size` is the size of the file
/// `cert` was read from when the caller read at most
/// [`MAX_CERTIFICATE_BYTES`] + 1 bytes of it; then a certificate over the
/// limit is reported with the file's size, as the CLI does.
pub fn report(cert: &[u8], expected: Option<ObjectId>, file_size: Option<u64>) -> serde_json::Value {
    let limit = MAX_CERTIFICATE_BYTES;
    let result = match file_size {
        Some(size) if cert.len() > limit => {
            Err(CertificateError::TooLarge { size: usize::try_from(size).unwrap_or(usize::MAX), limit })
        }
        _ => certificate::verify_with_threads(cert, expected, 1),
    };
    match result {
        Ok(v) => {
            let mut j = serde_json::to_value(&v).unwrap_or_default();
            if let Some(o) = j.as_object_mut() {
                o.insert("valid".into(), true.into());
                if let Some(t) = breadth_text(&v.breakdown) {
                    o.insert("breadth_text".into(), t);
                }
                o.insert("dissent_text".into(), dissent_text(&v));
            }
            j
        }
        Err(e) => {
            let line = e.to_string().replace('\n', " ");
            serde_json::json!({ "valid": false, "code": e.name(), "error": line })
        }
    }
}

/// The breadth a certificate proves, in the words of `chorus verify`:
/// `{"endorsed": "endorsed by 3 of 4 member trusts, from 3 of 9 regions,
/// running 41 schools with 19,200 pupils", "rules": ["from at least 2 of 9
/// regions: 3, met"]}`. `None` for a coalition that uses no attributes
/// (no value set, breadth rule or declared value), whose certificates read
/// as they did before breadth.
pub fn breadth_text(b: &Breakdown) -> Option<serde_json::Value> {
    b.uses_attributes().then(|| serde_json::json!({ "endorsed": b.endorsed_line(), "rules": b.rule_lines() }))
}

/// The dissent a valid certificate records, a sentence each, for the page
/// to show as text:
///
/// ```json
/// {"objectors": ["Objected: Elm Trust, saying \"Too costly.\""],
///  "abstainers": ["Abstained: Ash Trust"],
///  "silent": "Did not respond: 1 of 3 member trusts (Birch Trust).",
///  "seal": "Dissent known to Oak Trust's node."}
/// ```
///
/// An objector or abstainer without a comment reads "Objected: Elm Trust
/// (no reason given)" / "Abstained: Ash Trust"; when every member
/// responded, `silent` is "Every member trust responded.". Only a seal
/// vouches that the certificate carries every stance, so an unsealed
/// certificate's `silent` says "No stance carried: 1 of 3 member trusts
/// (Birch Trust)." or "Every member trust has a stance carried."; `seal` is
/// [`VerifiedAdoption::dissent_note`] as a sentence, so "Dissent not
/// recorded: this certificate carries no seal." for a certificate without
/// one (every certificate made before dissent was recorded). Names and
/// reasons are the certificate's, as signed.
pub fn dissent_text(v: &VerifiedAdoption) -> serde_json::Value {
    let said = |comment: &Option<String>| match comment.as_deref() {
        Some(c) if !c.is_empty() => format!(", saying {}", quoted(c)),
        _ => String::new(),
    };
    let objectors: Vec<String> = v
        .objectors
        .iter()
        .map(|d| match d.comment.as_deref() {
            Some(c) if !c.is_empty() => format!("Objected: {}, saying {}", visible(&d.name), quoted(c)),
            _ => format!("Objected: {} (no reason given)", visible(&d.name)),
        })
        .collect();
    let abstainers: Vec<String> =
        v.abstainers.iter().map(|d| format!("Abstained: {}{}", visible(&d.name), said(&d.comment))).collect();
    let sealed = v.seal.is_some();
    let silent = if v.silent.is_empty() {
        if sealed { "Every member trust responded." } else { "Every member trust has a stance carried." }.to_owned()
    } else {
        let names: Vec<String> = v.silent.iter().map(|(_, n)| visible(n)).collect();
        format!(
            "{}: {} of {} member trust{} ({}).",
            if sealed { "Did not respond" } else { "No stance carried" },
            v.silent.len(),
            v.members,
            if v.members == 1 { "" } else { "s" },
            names.join(", ")
        )
    };
    // The core's own words (`chorus verify` prints them), as a sentence.
    let note = v.dissent_note();
    let mut chars = note.chars();
    let seal = match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    };
    serde_json::json!({ "objectors": objectors, "abstainers": abstainers, "silent": silent, "seal": seal })
}

/// A member's text in double quotes, on one line (line breaks become
/// spaces), its invisible characters made visible ([`visible`]).
fn quoted(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect();
    format!("\"{}\"", visible(one_line.trim()))
}

/// Makes the explicit bidirectional formatting characters (U+061C,
/// U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069) and the zero-width
/// ones (U+200B to U+200D, U+2060, U+FEFF) visible as `[U+202E]`, as the
/// website shows members' text, so a name or a reason cannot reorder or
/// hide the words around it. Everything else is unchanged.
fn visible(s: &str) -> String {
    let hidden = |c: char| {
        matches!(
            c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if hidden(c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// [`report`] as one line of JSON.
pub fn report_json(cert: &[u8], expected: Option<ObjectId>, file_size: Option<u64>) -> String {
    report(cert, expected, file_size).to_string()
}

thread_local! {
    /// Buffers given out, by address. A wasm32-unknown-unknown module has
    /// one thread; on a host (tests) each thread has its own.
    static BUFFERS: RefCell<BTreeMap<usize, Vec<u8>>> = const { RefCell::new(BTreeMap::new()) };
}

/// Records `v` and returns its address. Buffers always own an allocation
/// (capacity at least 1), so addresses are unique and never 0.
fn keep(mut v: Vec<u8>) -> usize {
    if v.capacity() == 0 {
        v.reserve_exact(1);
    }
    let ptr = v.as_mut_ptr() as usize;
    BUFFERS.with(|b| b.borrow_mut().insert(ptr, v));
    ptr
}

/// A zeroed buffer of `len` bytes; its address.
pub fn alloc(len: usize) -> usize {
    let mut v = Vec::with_capacity(len.max(1));
    v.resize(len, 0);
    keep(v)
}

/// Releases the buffer at `ptr` (a no-op for an unknown address).
pub fn free(ptr: usize) {
    BUFFERS.with(|b| b.borrow_mut().remove(&ptr));
}

/// Copies `bytes` into the buffer at `ptr`, which must be exactly that long:
/// what a host does through the module's memory, for tests and host callers.
pub fn write(ptr: usize, bytes: &[u8]) -> bool {
    BUFFERS.with(|b| match b.borrow_mut().get_mut(&ptr) {
        Some(v) if v.len() == bytes.len() => {
            v.copy_from_slice(bytes);
            true
        }
        _ => false,
    })
}

/// A copy of the buffer at `ptr` (a report, say), if there is one.
pub fn read(ptr: usize) -> Option<Vec<u8>> {
    BUFFERS.with(|b| b.borrow().get(&ptr).cloned())
}

/// Length of the buffer at `ptr`; 0 for an unknown address.
pub fn len(ptr: usize) -> usize {
    BUFFERS.with(|b| b.borrow().get(&ptr).map_or(0, Vec::len))
}

/// Verifies the certificate in the buffer at `cert_ptr` against the
/// coalition id in the buffer at `coalition_ptr` (none when
/// `coalition_len` is 0) and keeps the report in a new buffer: its address,
/// or 0 when a buffer is unknown or a length wrong.
pub fn verify_buffers(
    cert_ptr: usize,
    cert_len: usize,
    coalition_ptr: usize,
    coalition_len: usize,
    file_size: Option<u64>,
) -> usize {
    let json = BUFFERS.with(|b| {
        let b = b.borrow();
        let get = |ptr: usize, len: usize| -> Option<&[u8]> {
            if len == 0 {
                return Some(&[]);
            }
            b.get(&ptr).filter(|v| v.len() == len).map(Vec::as_slice)
        };
        let expected = match coalition_len {
            0 => None,
            32 => Some(ObjectId::from_slice(get(coalition_ptr, 32)?)?),
            _ => return None,
        };
        Some(report_json(get(cert_ptr, cert_len)?, expected, file_size))
    });
    json.map_or(0, |j| keep(j.into_bytes()))
}

/// A file size passed as an `f64` (JavaScript's number), whole and
/// non-negative, or `None`.
fn file_size(size: f64) -> Option<u64> {
    // `as` saturates; NaN and negatives are not sizes.
    (size >= 0.0).then_some(size as u64)
}

/// The C-ABI exports of the module; see the crate documentation.
#[allow(unsafe_code)] // `#[no_mangle]` only: no pointer is dereferenced here.
pub mod exports {
    use super::*;

    /// See the crate documentation.
    #[no_mangle]
    pub extern "C" fn chorus_alloc(len: usize) -> usize {
        alloc(len)
    }

    /// See the crate documentation.
    #[no_mangle]
    pub extern "C" fn chorus_free(ptr: usize, _len: usize) {
        free(ptr)
    }

    /// See the crate documentation.
    #[no_mangle]
    pub extern "C" fn chorus_verify(
        cert_ptr: usize,
        cert_len: usize,
        coalition_ptr: usize,
        coalition_len: usize,
    ) -> usize {
        verify_buffers(cert_ptr, cert_len, coalition_ptr, coalition_len, None)
    }

    /// See the crate documentation.
    #[no_mangle]
    pub extern "C" fn chorus_verify_file(
        cert_ptr: usize,
        cert_len: usize,
        coalition_ptr: usize,
        coalition_len: usize,
        size: f64,
    ) -> usize {
        verify_buffers(cert_ptr, cert_len, coalition_ptr, coalition_len, file_size(size))
    }

    /// See the crate documentation.
    #[no_mangle]
    pub extern "C" fn chorus_report_len(report_ptr: usize) -> usize {
        len(report_ptr)
    }

    /// See the crate documentation.
    #[no_mangle]
    pub extern "C" fn chorus_report_free(report_ptr: usize) {
        free(report_ptr)
    }

    /// See the crate documentation.
    #[no_mangle]
    pub extern "C" fn chorus_max_certificate_bytes() -> usize {
        MAX_CERTIFICATE_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::exports::*;
    use super::*;
    use chorus_core::testkit::Fixture;
    use serde_json::{json, Value};

    /// The coalition of PROTOCOL.md's test vectors (section 11.2).
    const VECTOR_COALITION: &str = "f7829ab691ed8e3e41b534a520d0417becb9906bc6924419195289e265d3eb49";

    fn vector(dir: &str, name: &str) -> Vec<u8> {
        let path = format!("{}/../chorus-core/tests/data/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn coalition() -> ObjectId {
        VECTOR_COALITION.parse().expect("a coalition id")
    }

    /// What `chorus verify --json` prints for a valid certificate, with the
    /// dissent worded ([`dissent_text`], checked word for word below).
    fn cli_valid(cert: &[u8]) -> Value {
        let v = certificate::verify_with_threads(cert, None, 1).expect("valid");
        let mut j = serde_json::to_value(&v).expect("serialises");
        let o = j.as_object_mut().expect("an object");
        o.insert("valid".into(), true.into());
        o.insert("dissent_text".into(), dissent_text(&v));
        j
    }

    /// Through the exports, as the page's script does it.
    fn via_exports(cert: &[u8], coalition: Option<&[u8]>) -> Value {
        let cert_ptr = chorus_alloc(cert.len());
        assert!(write(cert_ptr, cert));
        let (coalition_ptr, coalition_len) = match coalition {
            Some(c) => {
                let p = chorus_alloc(c.len());
                assert!(write(p, c));
                (p, c.len())
            }
            None => (0, 0),
        };
        let r = chorus_verify(cert_ptr, cert.len(), coalition_ptr, coalition_len);
        assert_ne!(r, 0);
        let bytes = read(r).expect("a report");
        assert_eq!(bytes.len(), chorus_report_len(r));
        chorus_report_free(r);
        assert_eq!(chorus_report_len(r), 0);
        chorus_free(cert_ptr, cert.len());
        if coalition_len > 0 {
            chorus_free(coalition_ptr, coalition_len);
        }
        let text = String::from_utf8(bytes).expect("UTF-8");
        assert!(!text.contains('\n'), "{text}");
        serde_json::from_str(&text).expect("JSON")
    }

    #[test]
    fn valid_vector_certificate_reports_what_the_cli_prints() {
        let cert = vector("earlier", "vector-valid-8589824.cert");
        let want = cli_valid(&cert);
        assert_eq!(want["valid"], json!(true));
        assert_eq!(want["decision"], json!("position"));
        assert_eq!(report(&cert, None, None), want);
        assert_eq!(report(&cert, Some(coalition()), None), want);
        assert_eq!(via_exports(&cert, None), want);
        assert_eq!(via_exports(&cert, Some(coalition().as_bytes())), want);
    }

    #[test]
    fn governance_vector_and_real_certificates_verify() {
        let cert = vector("earlier", "vector-gov_valid-8589824.cert");
        assert_eq!(via_exports(&cert, Some(coalition().as_bytes())), cli_valid(&cert));
        let real = vector("real", "governance-admission.cert");
        let id: ObjectId = String::from_utf8(vector("real", "governance.coalition")).unwrap().parse().unwrap();
        let r = via_exports(&real, Some(id.as_bytes()));
        assert_eq!(r, cli_valid(&real));
        assert_eq!(r["decision"], json!("admission"));
        assert_eq!(r["rule"]["kind"], json!("membership"));
    }

    #[test]
    fn tampered_certificates_report_the_cli_error() {
        let cert = vector("earlier", "vector-valid-8589824.cert");
        let mut flipped = 0;
        for i in (0..cert.len()).step_by(37) {
            let mut bad = cert.clone();
            bad[i] ^= 0x01;
            let e = certificate::verify_with_threads(&bad, Some(coalition()), 1)
                .expect_err("a flipped byte never leaves a certificate valid");
            let want = json!({ "valid": false, "code": e.name(), "error": e.to_string().replace('\n', " ") });
            assert_eq!(via_exports(&bad, Some(coalition().as_bytes())), want, "byte {i}");
            flipped += 1;
        }
        assert!(flipped > 30);
        // The last byte is inside the last endorsement's signature.
        let mut bad = cert.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        let r = via_exports(&bad, None);
        assert_eq!(r["code"], json!("BadSignature"), "{r}");
        assert!(r["error"].as_str().unwrap().starts_with("endorsement "), "{r}");
    }

    #[test]
    fn misverified_vector_is_refused_with_its_reason() {
        let cert = vector("misverified", "vector-admit-2of3.cert");
        let r = via_exports(&cert, None);
        assert_eq!(r["valid"], json!(false));
        assert_eq!(r["code"], json!("BelowThreshold"));
    }

    #[test]
    fn fixture_certificates_wrong_coalition_and_empty_input() {
        let f = Fixture::new(3);
        let (cert, _) = f.certificate(2);
        let r = via_exports(&cert, Some(f.id().as_bytes()));
        assert_eq!(r, cli_valid(&cert));
        assert_eq!((r["members"].clone(), r["required"].clone()), (json!(3), json!(2)));
        assert_eq!(r["endorsers"].as_array().unwrap().len(), 2);

        let (short, _) = f.certificate(1);
        assert_eq!(via_exports(&short, None)["code"], json!("BelowThreshold"));

        let r = via_exports(&cert, Some(coalition().as_bytes()));
        assert_eq!(r["code"], json!("WrongCoalition"));
        assert_eq!(
            r["error"],
            json!(format!("certificate is for coalition {}, not the expected {}", f.id(), coalition()))
        );

        assert_eq!(via_exports(&[], None), json!({"valid": false, "code": "Empty", "error": "certificate is empty"}));
    }

    /// Three trusts, two in the East and one in the North, under a
    /// charter whose positions need endorsers from two regions.
    fn regional() -> Fixture {
        use chorus_core::{Attribute, BreadthRule, Charter, MemberAttributes};
        let mut charter = Charter::default();
        charter.attributes.regions = vec!["East".into(), "North".into(), "West".into()];
        charter.breadth.positions =
            vec![BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec![] }];
        let regions = ["East", "East", "North"];
        Fixture::with_charter(3, charter, |i| MemberAttributes {
            region: Some(regions[i].into()),
            schools: Some(12 + i as u32),
            pupils: Some(6_000 + 1_000 * i as u32),
            ..MemberAttributes::default()
        })
    }

    #[test]
    fn a_certificate_with_attributes_reports_its_breadth_in_the_clis_words() {
        let f = regional();
        let (cert, _) = f.certificate(3);
        let r = via_exports(&cert, Some(f.id().as_bytes()));
        let mut without = r.clone();
        let text = without.as_object_mut().unwrap().remove("breadth_text").expect("breadth_text");
        assert_eq!(without, cli_valid(&cert), "otherwise what chorus verify --json prints");
        assert_eq!(
            text,
            json!({
                "endorsed": "endorsed by 3 of 3 member trusts, from 2 of 3 regions, running 39 schools with 21,000 pupils",
                "rules": ["from at least 2 of 3 regions: 2, met"],
            })
        );
        let v = certificate::verify_with_threads(&cert, None, 1).unwrap();
        assert_eq!(text["endorsed"], json!(v.breakdown.endorsed_line()));
        assert_eq!(text["rules"], json!(v.breakdown.rule_lines()));
    }

    #[test]
    fn a_certificate_without_the_breadth_is_invalid_with_the_reason() {
        let f = regional();
        // Enough endorsements (2 of 3), both from the East.
        let (cert, _) = f.certificate(2);
        let e = certificate::verify_with_threads(&cert, None, 1).expect_err("breadth not met");
        let r = via_exports(&cert, Some(f.id().as_bytes()));
        assert_eq!(r, json!({ "valid": false, "code": "Breadth", "error": e.to_string().replace('\n', " ") }));
        let error = r["error"].as_str().unwrap();
        assert!(error.contains("needs endorsers from at least 2 distinct regions, has 1"), "{error}");
    }

    /// A position of three trusts: trusts 0 and 1 endorse, trust 2
    /// objects with `reason` (if given, else abstains); the certificate
    /// carries the dissent, sealed by trust 0's key unless `sealed` is
    /// false. Also the same certificate without its dissent, seal kept.
    fn dissenting(reason: Option<&str>, sealed: bool) -> (Fixture, Vec<u8>, Vec<u8>) {
        use chorus_core::{Endorsement, Envelope, Kind, Stance};
        let f = Fixture::new(3);
        let p = f.proposal(0, "Contested", 1, None);
        let ends: Vec<Envelope> = (0..2).map(|i| f.endorsement(i, p.id(), Stance::Endorse, 2)).collect();
        let e = Endorsement {
            coalition: f.id(),
            proposal: p.id(),
            trust: f.keys[2].public(),
            created_at_ms: chorus_core::testkit::T0 + 3,
            stance: if reason.is_some() { Stance::Object } else { Stance::Abstain },
            comment: reason.map(Into::into),
            delegation: None,
        };
        let dissent = vec![Envelope::sign(Kind::Endorsement, e.to_body(), &[&f.keys[2]])];
        let ids: Vec<ObjectId> = ends.iter().chain(&dissent).map(Envelope::id).collect();
        let seal = sealed.then(|| {
            let body = certificate::seal_body(&f.id(), &p.id(), &f.keys[0].public(), None, &ids);
            certificate::Seal::sign(body, &f.keys[0])
        });
        let g = f.coalition.genesis_envelope();
        let whole = certificate::assemble_full(g, &p, &ends, &dissent, &[], seal.clone());
        let cut = certificate::assemble_full(g, &p, &ends, &[], &[], seal);
        (f, whole, cut)
    }

    #[test]
    fn a_sealed_certificate_reports_its_dissent_in_words() {
        let (f, cert, _) = dissenting(Some("Too costly\nfor small schools."), true);
        let r = via_exports(&cert, Some(f.id().as_bytes()));
        assert_eq!(r, cli_valid(&cert));
        assert_eq!(r["objectors"][0]["name"], json!("Trust 2"));
        assert_eq!(
            r["dissent_text"],
            json!({
                "objectors": ["Objected: Trust 2, saying \"Too costly for small schools.\""],
                "abstainers": [],
                "silent": "Every member trust responded.",
                "seal": "Dissent known to Trust 0's node.",
            })
        );
    }

    #[test]
    fn hidden_characters_in_a_reason_are_made_visible() {
        let (f, cert, _) = dissenting(Some("Fine\u{202E}enod ton\u{200B}."), true);
        let t = &via_exports(&cert, Some(f.id().as_bytes()))["dissent_text"];
        assert_eq!(t["objectors"][0], json!("Objected: Trust 2, saying \"Fine[U+202E]enod ton[U+200B].\""));
        assert_eq!(visible("a\u{2066}b\u{FEFF}c\u{061C}"), "a[U+2066]b[U+FEFF]c[U+061C]");
        assert_eq!(visible("plain \u{05D0}"), "plain \u{05D0}");
    }

    #[test]
    fn an_unsealed_certificate_says_dissent_is_not_recorded() {
        let (f, cert, _) = dissenting(None, false);
        let r = via_exports(&cert, Some(f.id().as_bytes()));
        assert_eq!(r["seal"], json!(null));
        assert_eq!(
            r["dissent_text"],
            json!({
                "objectors": [],
                "abstainers": ["Abstained: Trust 2"],
                "silent": "Every member trust has a stance carried.",
                "seal": "Dissent not recorded: this certificate carries no seal.",
            })
        );
        // Before dissent existed: no dissent, no seal, one member silent.
        let (one_short, _) = f.certificate(2);
        let t = &via_exports(&one_short, None)["dissent_text"];
        assert_eq!(t["silent"], json!("No stance carried: 1 of 3 member trusts (Trust 2)."));
        assert_eq!(t["seal"], json!("Dissent not recorded: this certificate carries no seal."));
        let t = &via_exports(&vector("earlier", "vector-valid-8589824.cert"), None)["dissent_text"];
        assert_eq!(t["seal"], json!("Dissent not recorded: this certificate carries no seal."));
    }

    #[test]
    fn a_certificate_whose_objection_was_removed_fails_with_the_seal_mismatch() {
        let (f, _, cut) = dissenting(Some("No."), true);
        let e = certificate::verify_with_threads(&cut, None, 1).expect_err("a stance removed after sealing");
        assert_eq!(e.name(), "SealMismatch");
        let r = via_exports(&cut, Some(f.id().as_bytes()));
        assert_eq!(r, json!({ "valid": false, "code": "SealMismatch", "error": e.to_string().replace('\n', " ") }));
        assert!(r["error"].as_str().unwrap().contains("a stance was removed after the certificate was sealed"), "{r}");
    }

    #[test]
    fn oversized_file_is_reported_with_its_own_size() {
        let limit = chorus_max_certificate_bytes();
        assert_eq!(limit, MAX_CERTIFICATE_BYTES);
        let read_part = vec![0u8; limit + 1];
        let want = json!({
            "valid": false,
            "code": "TooLarge",
            "error": format!("certificate is 20000000 bytes, over the limit of {limit} bytes"),
        });
        assert_eq!(report(&read_part, None, Some(20_000_000)), want);
        let p = chorus_alloc(read_part.len());
        let r = chorus_verify_file(p, read_part.len(), 0, 0, 20_000_000.0);
        assert_eq!(serde_json::from_slice::<Value>(&read(r).unwrap()).unwrap(), want);
        chorus_report_free(r);
        chorus_free(p, read_part.len());
        // A file within the limit is verified as it is, whatever its size.
        let cert = vector("earlier", "vector-valid-8589824.cert");
        assert_eq!(report(&cert, None, Some(cert.len() as u64)), cli_valid(&cert));
        assert_eq!(file_size(f64::NAN), None);
        assert_eq!(file_size(-1.0), None);
        assert_eq!(file_size(1e30), Some(u64::MAX));
    }

    #[test]
    fn unknown_buffers_and_wrong_lengths_are_refused_not_read() {
        let cert = vector("earlier", "vector-valid-8589824.cert");
        let p = chorus_alloc(cert.len());
        assert!(write(p, &cert));
        assert!(!write(p, &cert[1..]));
        assert_eq!(chorus_verify(p + 1, cert.len(), 0, 0), 0);
        assert_eq!(chorus_verify(p, cert.len() - 1, 0, 0), 0);
        assert_eq!(chorus_verify(p, cert.len(), p, 31), 0);
        assert_eq!(chorus_verify(p, cert.len(), 12345, 32), 0);
        let c = chorus_alloc(32);
        assert!(write(c, coalition().as_bytes()));
        let r = chorus_verify(p, cert.len(), c, 32);
        assert_ne!(r, 0);
        chorus_report_free(r);
        chorus_free(p, cert.len());
        assert_eq!(chorus_verify(p, cert.len(), c, 32), 0, "a freed buffer is unknown");
        chorus_free(c, 32);
        // Zero-length buffers are real, distinct allocations.
        let (a, b) = (chorus_alloc(0), chorus_alloc(0));
        assert!(a != 0 && b != 0 && a != b);
        chorus_free(a, 0);
        chorus_free(b, 0);
        BUFFERS.with(|b| assert!(b.borrow().is_empty(), "every buffer given back"));
    }
}

//! The test vectors of `docs/PROTOCOL.md`, section 11, regenerated from the
//! code and compared with the document byte for byte.
//!
//! Every vector comes from fixed seeds (the RFC 8032 test keys) and fixed
//! times, so the code and the document must agree exactly; if they do not,
//! either the code changed the protocol or the document is stale. The signing
//! prefix and the id are also recomputed here with `sha2` and
//! `ed25519-dalek` directly, independently of `chorus_core`'s own helpers.
//!
//! To print the vector blocks (e.g. after a deliberate protocol change):
//! `cargo test -p chorus-core --test protocol_vectors -- --ignored --nocapture print_vectors`

use std::collections::BTreeMap;

use chorus_core::{
    certificate, AdoptionRule, CertificateError, Charter, Coalition, Endorsement, Envelope, Genesis, Keypair, Kind,
    Ledger, Member, ObjectId, Proposal, Rejection, Stance,
};
use chorus_proto::v1 as pb;
use prost::Message;
use sha2::{Digest, Sha256};

const DOC: &str = "../../docs/PROTOCOL.md";
const REGENERATE: &str = "cargo test -p chorus-core --test protocol_vectors -- --ignored --nocapture print_vectors";

/// 2026-01-01T00:00:00Z in milliseconds.
const T: u64 = 1_767_225_600_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

/// Secret keys (seeds) of RFC 8032 section 7.1, TEST 1, 2 and 3, and their
/// public keys as the RFC gives them.
const RFC8032: [(&str, &str); 3] = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    ),
];

/// The group order l = 2^252 + 27742317777372353535851937790883648493,
/// little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// One group of vectors, printed as one fenced block.
struct Group {
    title: &'static str,
    lines: Vec<(String, String)>,
}

impl Group {
    fn new(title: &'static str) -> Self {
        Group { title, lines: Vec::new() }
    }
    fn put(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.lines.push((name.into(), value.into()));
    }
    fn envelope(&mut self, name: &str, env: &Envelope) {
        self.put(format!("{name}.body"), hex::encode(env.body()));
        self.put(format!("{name}.envelope"), hex::encode(env.bytes()));
        self.put(format!("{name}.id"), env.id().to_hex());
    }
}

/// Everything the vectors are made of, kept for the semantic checks.
struct Objects {
    keys: [Keypair; 3],
    genesis: Envelope,
    proposal: Envelope,
    a: Envelope,
    b: Envelope,
    c_object: Envelope,
    c_late: Envelope,
    closes_at_ms: u64,
}

fn seed(hex_seed: &str) -> [u8; 32] {
    let mut s = [0u8; 32];
    hex::decode_to_slice(hex_seed, &mut s).expect("RFC 8032 seeds are 64 hex characters");
    s
}

fn objects() -> Objects {
    let keys = RFC8032.map(|(s, _)| Keypair::from_seed(&seed(s)));
    let [a, b, c] = &keys;
    let genesis = Genesis {
        name: "Vector Coalition".into(),
        charter: Charter::with_positions(AdoptionRule::new(3, 5).expect("3/5 is a valid rule")),
        founders: vec![
            Member { key: a.public(), name: "Northfield Learning Trust".into(), external_id: Some("08123456".into()) },
            Member { key: b.public(), name: "Riverside Academies".into(), external_id: None },
            Member { key: c.public(), name: "Hillcrest Schools Partnership".into(), external_id: None },
        ],
        created_at_ms: T,
        nonce: b"vectors1".to_vec(),
    };
    let genesis = Envelope::sign(Kind::Genesis, genesis.to_body(), &[a, b, c]);
    let coalition = genesis.id();
    let closes_at_ms = T + 7 * DAY;
    let proposal = Proposal {
        coalition,
        roster: coalition,
        author: a.public(),
        created_at_ms: T + HOUR,
        closes_at_ms: Some(closes_at_ms),
        title: "Adopt the shared attendance policy".into(),
        body: "The member trusts adopt the attendance policy in annex A.\n\nReview in one year.".into(),
        link: None,
        action: None,
        roster_heads: vec![],
    };
    let proposal = Envelope::sign(Kind::Proposal, proposal.to_body(), &[a]);
    let endorse = |key: &Keypair, at: u64, stance: Stance, comment: Option<&str>| {
        let e = Endorsement {
            coalition,
            proposal: proposal.id(),
            trust: key.public(),
            created_at_ms: at,
            stance,
            comment: comment.map(str::to_owned),
            delegation: None,
        };
        Envelope::sign(Kind::Endorsement, e.to_body(), &[key])
    };
    let ea = endorse(a, T + 2 * HOUR, Stance::Endorse, Some("Agreed by the board on 1 January."));
    let eb = endorse(b, T + 3 * HOUR, Stance::Endorse, None);
    let c_object = endorse(c, T + 4 * HOUR, Stance::Object, Some("We need more time to consult parents."));
    let c_late = endorse(c, closes_at_ms + 1, Stance::Endorse, None);
    Objects { keys, genesis, proposal, a: ea, b: eb, c_object, c_late, closes_at_ms }
}

/// A certificate with the given endorsements in exactly the given order
/// (unlike `certificate::assemble`, which sorts them).
fn raw_certificate(o: &Objects, endorsements: Vec<pb::Envelope>) -> Vec<u8> {
    let nested = |e: &Envelope| pb::Envelope::decode(e.bytes()).expect("vector envelopes decode");
    pb::Certificate {
        version: 1,
        genesis: Some(nested(&o.genesis)),
        proposal: Some(nested(&o.proposal)),
        endorsements,
        chain: vec![],
    }
    .encode_to_vec()
}

/// `s + l` for a canonical `s`: the same point equation holds, but `s` is no
/// longer canonical, so the strict rule must refuse it.
fn add_l(sig: &mut [u8]) {
    let mut carry = 0u16;
    for (byte, l) in sig[32..].iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "s + l fits in 32 bytes because s < l < 2^253");
}

/// The stable name of a certificate error, as the table in PROTOCOL.md
/// section 9 gives it: the error, and for a part that is invalid as a signed
/// object, the ingest rejection after a slash.
fn error_code(e: &CertificateError) -> String {
    let rejection = |r: &Rejection| -> &'static str {
        match r {
            Rejection::TooLarge { .. } => "TooLarge",
            Rejection::Malformed { .. } => "Malformed",
            Rejection::NonCanonical { .. } => "NonCanonical",
            Rejection::UnknownKind(_) => "UnknownKind",
            Rejection::SignatureCount { .. } => "SignatureCount",
            Rejection::SignaturesNotSorted { .. } => "SignaturesNotSorted",
            Rejection::SignatureLength { .. } => "SignatureLength",
            Rejection::BadKey { .. } => "BadKey",
            Rejection::BadSignature { .. } => "BadSignature",
            Rejection::InvalidField { .. } => "InvalidField",
            Rejection::WrongCoalition { .. } => "WrongCoalition",
            Rejection::NotAMember { .. } => "NotAMember",
            Rejection::SignerMismatch { .. } => "SignerMismatch",
            Rejection::UnknownRoster(_) => "UnknownRoster",
            Rejection::UnknownSigner { .. } => "UnknownSigner",
            Rejection::FromTheFuture { .. } => "FromTheFuture",
            Rejection::ForeignGenesis(_) => "ForeignGenesis",
        }
    };
    match e {
        CertificateError::Empty => "Empty".into(),
        CertificateError::TooLarge { .. } => "TooLarge".into(),
        CertificateError::Malformed(_) => "Malformed".into(),
        CertificateError::NonCanonical => "NonCanonical".into(),
        CertificateError::UnsupportedVersion(_) => "UnsupportedVersion".into(),
        CertificateError::Missing(_) => "Missing".into(),
        CertificateError::Genesis(r) => format!("Genesis/{}", rejection(r)),
        CertificateError::WrongCoalition { .. } => "WrongCoalition".into(),
        CertificateError::Proposal(r) => format!("Proposal/{}", rejection(r)),
        CertificateError::Endorsement { reason, .. } => format!("Endorsement/{}", rejection(reason)),
        CertificateError::BadSignature { .. } => "BadSignature".into(),
        CertificateError::WrongProposal { .. } => "WrongProposal".into(),
        CertificateError::NotAnEndorsement { .. } => "NotAnEndorsement".into(),
        CertificateError::AfterClosing { .. } => "AfterClosing".into(),
        CertificateError::DuplicateTrust { .. } => "DuplicateTrust".into(),
        CertificateError::NotSorted { .. } => "NotSorted".into(),
        CertificateError::BelowThreshold { .. } => "BelowThreshold".into(),
        CertificateError::Chain { reason, .. } => format!("Chain/{}", rejection(reason)),
        CertificateError::ChainNotSorted { .. } => "ChainNotSorted".into(),
        CertificateError::MissingLink(_) => "MissingLink".into(),
        CertificateError::ChainNotAdopted(_) => "ChainNotAdopted".into(),
        CertificateError::ProposalVoid(_) => "ProposalVoid".into(),
        CertificateError::Unauthorised { .. } => "Unauthorised".into(),
    }
}

/// The certificates of the vectors: one valid, the rest each failing one
/// rule. The valid one is what `certificate::assemble` makes from the
/// endorsements the ledger picks.
fn certificates(o: &Objects) -> Vec<(&'static str, Vec<u8>)> {
    let nested = |e: &Envelope| pb::Envelope::decode(e.bytes()).expect("vector envelopes decode");
    let valid = certificate::assemble(&o.genesis, &o.proposal, &[o.a.clone(), o.b.clone()]);
    let mut malleated = nested(&o.b);
    add_l(&mut malleated.signatures[0].signature);
    let mut noncanonical = valid.clone();
    noncanonical.extend_from_slice(&[0x78, 0x01]); // field 15 (reserved), varint 1
    vec![
        ("valid", valid),
        ("below_threshold", certificate::assemble(&o.genesis, &o.proposal, std::slice::from_ref(&o.a))),
        ("unsorted", raw_certificate(o, vec![nested(&o.a), nested(&o.b)])),
        ("late", certificate::assemble(&o.genesis, &o.proposal, &[o.b.clone(), o.c_late.clone()])),
        ("objection", certificate::assemble(&o.genesis, &o.proposal, &[o.b.clone(), o.c_object.clone()])),
        ("non_canonical_s", raw_certificate(o, vec![malleated, nested(&o.a)])),
        ("reserved_field", noncanonical),
    ]
}

fn generate() -> Vec<Group> {
    let o = objects();
    let mut keys = Group::new("keys");
    for (name, key) in ["a", "b", "c"].iter().zip(&o.keys) {
        keys.put(format!("key.{name}.seed"), hex::encode(key.seed()));
        keys.put(format!("key.{name}.public"), key.public().to_hex());
    }
    let mut genesis = Group::new("genesis");
    genesis.envelope("genesis", &o.genesis);
    let mut proposal = Group::new("proposal");
    proposal.envelope("proposal", &o.proposal);
    let mut endorsements = Group::new("endorsements");
    endorsements.envelope("endorsement.a", &o.a);
    endorsements.envelope("endorsement.b", &o.b);
    endorsements.envelope("endorsement.c_object", &o.c_object);
    endorsements.envelope("endorsement.c_late", &o.c_late);

    let mut ledger = Group::new("ledger");
    let (tally, picked) = ledger_outcome(&o);
    ledger.put("ledger.tally", tally);
    ledger.put("ledger.certificate_endorsements", picked);

    let mut certs = Group::new("certificates");
    for (name, bytes) in certificates(&o) {
        certs.put(format!("certificate.{name}"), hex::encode(&bytes));
        match certificate::verify_with_threads(&bytes, Some(o.genesis.id()), 1) {
            Ok(pos) => {
                let endorsers: Vec<String> = pos.endorsers.iter().map(|e| e.trust.to_hex()).collect();
                certs.put(
                    format!("certificate.{name}.result"),
                    format!(
                        "ok coalition={} proposal={} members={} required={} endorsers={}",
                        pos.coalition,
                        pos.proposal_id,
                        pos.members,
                        pos.required,
                        endorsers.join(",")
                    ),
                );
            }
            Err(e) => {
                certs.put(format!("certificate.{name}.error"), error_code(&e));
                certs.put(format!("certificate.{name}.message"), e.to_string());
            }
        }
    }
    vec![keys, genesis, proposal, endorsements, ledger, certs]
}

/// Feeds every object through ingest and the ledger, as a node would.
fn ledger_outcome(o: &Objects) -> (String, String) {
    let coalition = Coalition::from_genesis(o.genesis.bytes(), 1).expect("vector genesis is valid");
    let mut ledger = Ledger::new(coalition.clone());
    let now = o.closes_at_ms + HOUR;
    for env in [&o.c_late, &o.b, &o.c_object, &o.proposal, &o.a] {
        let v = coalition.validate(env.bytes(), now).expect("vector objects pass ingest");
        ledger.apply(&v);
    }
    let id = o.proposal.id();
    let t = ledger.tally(&id).expect("the proposal is known");
    let tally = format!(
        "members={} required={} endorse={} object={} abstain={} equivocations={} late={}",
        t.members, t.required, t.endorse, t.object, t.abstain, t.equivocations, t.late
    );
    let picked = ledger.certificate_endorsements(&id).expect("the proposal is adopted");
    (tally, picked.iter().map(ObjectId::to_hex).collect::<Vec<_>>().join(","))
}

fn render(groups: &[Group]) -> String {
    let mut out = String::new();
    for g in groups {
        out.push_str("```vectors\n");
        out.push_str(&format!("# {}\n", g.title));
        for (name, value) in &g.lines {
            out.push_str(&format!("{name}: {value}\n"));
        }
        out.push_str("```\n\n");
    }
    out
}

/// Every `name: value` line of every ```` ```vectors ```` block of the document.
fn parse_doc(doc: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for (n, line) in doc.lines().enumerate() {
        let trimmed = line.trim_end();
        if !inside {
            inside = trimmed == "```vectors";
            continue;
        }
        if trimmed == "```" {
            inside = false;
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (name, value) = trimmed
            .split_once(": ")
            .ok_or_else(|| format!("line {}: expected `name: value`, got {trimmed:?}", n + 1))?;
        if out.insert(name.to_owned(), value.to_owned()).is_some() {
            return Err(format!("line {}: vector {name} appears twice", n + 1));
        }
    }
    Ok(out)
}

fn read_doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
#[ignore = "prints the vector blocks for docs/PROTOCOL.md; run with --ignored --nocapture"]
fn print_vectors() {
    print!("{}", render(&generate()));
}

#[test]
fn document_vectors_match_the_code() {
    let generated = generate();
    let doc = parse_doc(&read_doc()).unwrap_or_else(|e| panic!("docs/PROTOCOL.md: {e}"));
    let mut problems = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (name, value) in generated.iter().flat_map(|g| &g.lines) {
        names.insert(name.clone());
        match doc.get(name) {
            None => problems.push(format!("missing: {name}")),
            Some(v) if v != value => problems.push(format!("differs: {name}\n  doc:  {v}\n  code: {value}")),
            Some(_) => {}
        }
    }
    for name in doc.keys().filter(|n| !names.contains(*n)) {
        problems.push(format!("in the document but not generated: {name}"));
    }
    assert!(
        problems.is_empty(),
        "docs/PROTOCOL.md test vectors do not match the code:\n{}\n\nIf the protocol change is deliberate, print the \
         blocks with\n  {REGENERATE}\nand replace the ```vectors blocks of section 11 with them.",
        problems.join("\n")
    );
}

/// The signing input and the id, recomputed from the document's hex with
/// nothing but SHA-256 and ed25519: what an auditor would do.
#[test]
fn ids_and_signatures_check_independently() {
    let doc = parse_doc(&read_doc()).expect("vector blocks parse");
    let get = |name: &str| -> Vec<u8> {
        let v = doc.get(name).unwrap_or_else(|| panic!("vector {name} is missing; regenerate with {REGENERATE}"));
        hex::decode(v).unwrap_or_else(|e| panic!("vector {name} is not hex: {e}"))
    };
    for ((_, public), name) in RFC8032.iter().zip(["a", "b", "c"]) {
        assert_eq!(hex::encode(get(&format!("key.{name}.public"))), *public, "key.{name} is RFC 8032's");
    }
    let objects = [
        ("genesis", "genesis"),
        ("proposal", "proposal"),
        ("endorsement.a", "endorsement"),
        ("endorsement.b", "endorsement"),
        ("endorsement.c_object", "endorsement"),
        ("endorsement.c_late", "endorsement"),
    ];
    for (name, kind) in objects {
        let body = get(&format!("{name}.body"));
        let mut input = format!("chorus/v1/{kind}\n").into_bytes();
        input.extend_from_slice(&body);
        let id: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(id.to_vec(), get(&format!("{name}.id")), "{name}.id is SHA-256 of the prefixed body");
        if kind == "genesis" {
            // Founders sign the genesis-id prefix and the id, not the body.
            input = b"chorus/v1/genesis-id\n".to_vec();
            input.extend_from_slice(&id);
        }

        let env = pb::Envelope::decode(get(&format!("{name}.envelope")).as_slice()).expect("envelope decodes");
        assert_eq!(env.body, body, "{name}.envelope carries {name}.body verbatim");
        assert_eq!(env.encode_to_vec(), get(&format!("{name}.envelope")), "{name}.envelope is canonical");
        assert!(!env.signatures.is_empty());
        for s in &env.signatures {
            let key = ed25519_dalek::VerifyingKey::from_bytes(&s.signer.as_slice().try_into().expect("32 bytes"))
                .expect("signer is a point");
            let sig = ed25519_dalek::Signature::from_slice(&s.signature).expect("64 bytes");
            key.verify_strict(&input, &sig).unwrap_or_else(|e| panic!("{name}: signature does not verify: {e}"));
        }
        if kind == "genesis" {
            assert_eq!(env.kind, 1);
            assert_eq!(env.signatures.len(), 3, "every founder countersigns");
        }
    }
    for kind in Kind::ALL {
        assert_eq!(kind.signing_prefix(), format!("chorus/v1/{}\n", kind.name()).as_bytes());
    }
}

/// The certificates in the document verify, or fail, exactly as documented.
#[test]
fn document_certificates_verify_as_documented() {
    let doc = parse_doc(&read_doc()).expect("vector blocks parse");
    let coalition: ObjectId = doc["genesis.id"].parse().expect("genesis.id is an id");
    let names: Vec<&str> =
        doc.keys().filter_map(|k| k.strip_prefix("certificate.")).filter(|k| !k.contains('.')).collect();
    assert!(names.contains(&"valid") && names.len() >= 2, "a valid and an invalid certificate are documented");
    for name in names {
        let bytes = hex::decode(&doc[&format!("certificate.{name}")]).expect("certificate is hex");
        for threads in [1, 4] {
            match certificate::verify_with_threads(&bytes, Some(coalition), threads) {
                Ok(pos) => {
                    let result = doc.get(&format!("certificate.{name}.result"));
                    assert!(
                        result.is_some_and(|r| r.starts_with("ok ")),
                        "{name} verifies but is documented as {result:?}"
                    );
                    assert_eq!(pos.coalition, coalition);
                }
                Err(e) => {
                    assert_eq!(doc.get(&format!("certificate.{name}.error")), Some(&error_code(&e)), "{name}");
                    assert_eq!(doc.get(&format!("certificate.{name}.message")), Some(&e.to_string()), "{name}");
                }
            }
        }
    }
}

#[test]
fn the_ledger_picks_the_certificate_endorsements() {
    let o = objects();
    let (_, picked) = ledger_outcome(&o);
    // b's key sorts before a's, so b's endorsement comes first.
    assert_eq!(picked, format!("{},{}", o.b.id(), o.a.id()));
    let valid = certificate::assemble(&o.genesis, &o.proposal, &[o.a.clone(), o.b.clone()]);
    assert_eq!(
        valid,
        raw_certificate(
            &o,
            vec![pb::Envelope::decode(o.b.bytes()).unwrap(), pb::Envelope::decode(o.a.bytes()).unwrap()]
        )
    );
}

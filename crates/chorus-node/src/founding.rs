//! Founding a coalition offline, over files.
//!
//! 1. One founder writes a [`DraftSpec`] (name, charter rule, founding
//!    members with their trust keys) and runs [`draft`]: the result is a
//!    genesis envelope carrying that founder's signature.
//! 2. The draft file travels to each other founder, who inspects it
//!    ([`load`] shows every founder and who has signed) and adds a signature
//!    with [`sign`]. Founders may sign copies in parallel.
//! 3. Anyone runs [`finalize`] on the signed file(s): signatures over the
//!    same body are merged, and the result is written only when every
//!    founder's signature verifies ([`chorus_core::Coalition::from_genesis`]).
//!
//! A draft file is the protobuf `Envelope` of kind genesis with the
//! signatures gathered so far; a final genesis is the same with all of them.
//! Every signature already present is verified whenever a draft is read, so a
//! tampered draft is caught by the next founder, not at the end.

use std::path::Path;

use chorus_core::limits::MAX_GENESIS_ENVELOPE_BYTES;
use chorus_core::{
    AdoptionRule, Charter, Coalition, Envelope, Genesis, Keypair, Kind, Member, ObjectId, PublicKey, RawSignature,
};
use rand_core::RngCore;

use crate::error::{NodeError, Result};

/// What a coalition is founded as: the input of [`draft`], usually read from
/// a TOML file.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftSpec {
    /// Coalition display name.
    pub name: String,
    /// Adoption rule "n/d": a proposal is adopted when more than n/d of the
    /// members endorse it. Default "1/2" (a majority).
    #[serde(default)]
    pub rule: Option<String>,
    /// Founding members.
    #[serde(rename = "member", default)]
    pub members: Vec<MemberSpec>,
}

/// One founding member in a [`DraftSpec`].
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// Display name.
    pub name: String,
    /// Trust public key, 64 hex characters (as printed by `chorus init`).
    pub key: String,
    /// External identifier such as a company number.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// Parses an adoption rule written "n/d".
pub fn parse_rule(s: &str) -> Result<AdoptionRule> {
    let bad = || NodeError::Founding(format!("adoption rule {s:?} must be written n/d, e.g. 1/2 for a majority"));
    let (n, d) = s.trim().split_once('/').ok_or_else(bad)?;
    let n = n.trim().parse().map_err(|_| bad())?;
    let d = d.trim().parse().map_err(|_| bad())?;
    AdoptionRule::new(n, d).map_err(|e| NodeError::Founding(format!("adoption rule {s:?}: {e}")))
}

impl DraftSpec {
    /// Parses the TOML form.
    pub fn parse(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| NodeError::Founding(format!("members file: {}", e.to_string().trim())))
    }

    /// The genesis this spec describes, created at `now_ms`.
    pub fn to_genesis(&self, now_ms: u64) -> Result<Genesis> {
        let rule = match &self.rule {
            Some(r) => parse_rule(r)?,
            None => AdoptionRule::default(),
        };
        if self.members.is_empty() {
            return Err(NodeError::Founding("a coalition needs at least one founding member".into()));
        }
        let mut founders: Vec<Member> = Vec::with_capacity(self.members.len());
        for m in &self.members {
            let key = parse_key(&m.key).map_err(|e| NodeError::Founding(format!("member {:?}: {e}", m.name)))?;
            if founders.iter().any(|f| f.key == key) {
                return Err(NodeError::Founding(format!("trust key {key} is listed twice")));
            }
            founders.push(Member {
                key,
                name: m.name.clone(),
                external_id: m.external_id.clone(),
                attributes: Default::default(),
            });
        }
        founders.sort_by_key(|m| *m.key.as_bytes());
        let mut nonce = vec![0u8; 16];
        rand_core::OsRng.fill_bytes(&mut nonce);
        let genesis = Genesis {
            name: self.name.clone(),
            charter: Charter::with_positions(rule),
            founders,
            created_at_ms: now_ms,
            nonce,
        };
        // Round-trip through the protocol's own parser so every field rule
        // (lengths, control characters) is checked before anyone signs.
        Genesis::from_body(&genesis.to_body()).map_err(|e| NodeError::Founding(format!("invalid genesis: {e}")))
    }
}

/// Parses a trust public key from hex.
pub fn parse_key(s: &str) -> std::result::Result<PublicKey, String> {
    let bytes = hex::decode(s.trim()).map_err(|_| format!("key {s:?} is not 64 hex characters"))?;
    PublicKey::from_bytes(&bytes).map_err(|e| format!("key {s:?}: {e}"))
}

/// A draft (or final) genesis as read from a file, every signature checked.
#[derive(Clone, Debug)]
pub struct Draft {
    /// The envelope with the signatures gathered so far.
    pub envelope: Envelope,
    /// Its decoded body.
    pub genesis: Genesis,
}

/// Founder and signing state of a draft, for display.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DraftInfo {
    /// The coalition id this genesis founds (its object id).
    pub coalition: ObjectId,
    /// Coalition name.
    pub name: String,
    /// Adoption rule as "n/d".
    pub rule: String,
    /// Endorsements needed for adoption with the founding roster.
    pub required: usize,
    /// Creation time, ms since 1970.
    pub created_at_ms: u64,
    /// Founders with their signing state, sorted by key.
    pub founders: Vec<FounderInfo>,
    /// True when every founder has signed: the genesis is final.
    pub complete: bool,
}

/// One founder of a draft.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FounderInfo {
    /// Display name.
    pub name: String,
    /// Trust key, hex.
    pub key: String,
    /// External identifier.
    pub external_id: Option<String>,
    /// True when this founder's signature is present (and verified).
    pub signed: bool,
}

impl Draft {
    /// Decodes a draft and verifies every signature it carries.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        let envelope = Envelope::decode(bytes).map_err(|e| format!("not a genesis draft: {e}"))?;
        if envelope.kind() != Kind::Genesis {
            return Err(format!("not a genesis draft: it is a {}", envelope.kind()));
        }
        let genesis = Genesis::from_body(envelope.body()).map_err(|e| format!("invalid genesis: {e}"))?;
        let input = envelope.signing_input();
        for s in envelope.signatures() {
            let Some(f) = genesis.founders.iter().find(|f| f.key.as_bytes() == &s.signer) else {
                return Err(format!("signed by {}, who is not a founder", hex::encode(s.signer)));
            };
            if !f.key.verify(&input, &s.signature) {
                return Err(format!("the signature of {} ({}) does not verify; the draft was altered", f.name, f.key));
            }
        }
        Ok(Draft { envelope, genesis })
    }

    /// True when `key` has signed.
    pub fn signed_by(&self, key: &PublicKey) -> bool {
        self.envelope.signatures().iter().any(|s| &s.signer == key.as_bytes())
    }

    /// Display form.
    pub fn info(&self) -> DraftInfo {
        let rule = self.genesis.charter.positions;
        let founders: Vec<FounderInfo> = self
            .genesis
            .founders
            .iter()
            .map(|f| FounderInfo {
                name: f.name.clone(),
                key: f.key.to_hex(),
                external_id: f.external_id.clone(),
                signed: self.signed_by(&f.key),
            })
            .collect();
        DraftInfo {
            coalition: self.envelope.id(),
            name: self.genesis.name.clone(),
            rule: format!("{}/{}", rule.numerator, rule.denominator),
            required: rule.required(founders.len()),
            created_at_ms: self.genesis.created_at_ms,
            complete: founders.iter().all(|f| f.signed),
            founders,
        }
    }

    fn with_signatures(&self, extra: impl IntoIterator<Item = RawSignature>) -> Draft {
        let mut sigs = self.envelope.signatures().to_vec();
        sigs.extend(extra);
        let envelope = Envelope::assemble(Kind::Genesis, self.envelope.body().to_vec(), sigs);
        Draft { envelope, genesis: self.genesis.clone() }
    }
}

/// Reads and checks a draft file.
pub fn load(path: &Path) -> Result<Draft> {
    let bytes = crate::datadir::read_bounded(path, MAX_GENESIS_ENVELOPE_BYTES)?;
    Draft::from_bytes(&bytes).map_err(|reason| NodeError::Genesis { path: path.to_path_buf(), reason })
}

/// Drafts a genesis from `spec`, signed by `founder`, who must be listed.
pub fn draft(spec: &DraftSpec, founder: &Keypair, now_ms: u64) -> Result<Draft> {
    let genesis = spec.to_genesis(now_ms)?;
    if !genesis.founders.iter().any(|f| f.key == founder.public()) {
        return Err(NodeError::Founding(format!(
            "your trust key {} is not among the founding members; add yourself to the members list",
            founder.public()
        )));
    }
    let envelope = Envelope::sign(Kind::Genesis, genesis.to_body(), &[founder]);
    Ok(Draft { envelope, genesis })
}

/// Adds `founder`'s signature. Fails if the key is not a founder; a draft
/// already signed by it is returned unchanged.
pub fn sign(draft: &Draft, founder: &Keypair) -> Result<Draft> {
    let key = founder.public();
    if !draft.genesis.founders.iter().any(|f| f.key == key) {
        return Err(NodeError::Founding(format!(
            "your trust key {key} is not a founder of {:?}; only founders sign the genesis",
            draft.genesis.name
        )));
    }
    if draft.signed_by(&key) {
        return Ok(draft.clone());
    }
    let signature = founder.sign(&draft.envelope.signing_input());
    Ok(draft.with_signatures([RawSignature { signer: *key.as_bytes(), signature }]))
}

/// Merges the signatures of drafts of the same genesis and returns the final
/// coalition if every founder has signed.
pub fn finalize(drafts: &[Draft]) -> Result<(Draft, Coalition)> {
    let first = drafts.first().ok_or_else(|| NodeError::Founding("no draft given".into()))?;
    for d in &drafts[1..] {
        if d.envelope.id() != first.envelope.id() {
            return Err(NodeError::Founding(format!(
                "drafts are of different geneses ({} and {}); merge only copies of the same draft",
                first.envelope.id().short(12),
                d.envelope.id().short(12)
            )));
        }
    }
    let merged = first.with_signatures(drafts[1..].iter().flat_map(|d| d.envelope.signatures().iter().cloned()));
    let missing: Vec<String> = merged
        .genesis
        .founders
        .iter()
        .filter(|f| !merged.signed_by(&f.key))
        .map(|f| format!("{} ({})", f.name, f.key.short(12)))
        .collect();
    if !missing.is_empty() {
        return Err(NodeError::Founding(format!(
            "not every founder has signed; still missing: {}. Send them the draft to run `chorus coalition sign`",
            missing.join(", ")
        )));
    }
    let coalition = Coalition::from_genesis(merged.envelope.bytes(), chorus_core::keys::default_threads())
        .map_err(|e| NodeError::Founding(format!("the merged genesis is invalid: {e}")))?;
    Ok((merged, coalition))
}

/// Reads and fully verifies a final genesis file.
pub fn load_final(path: &Path) -> Result<Coalition> {
    let bytes = crate::datadir::read_bounded(path, MAX_GENESIS_ENVELOPE_BYTES)?;
    Coalition::from_genesis(&bytes, chorus_core::keys::default_threads())
        .map_err(|e| NodeError::Genesis { path: path.to_path_buf(), reason: format!("not a final genesis: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(keys: &[&Keypair]) -> DraftSpec {
        DraftSpec {
            name: "Test coalition".into(),
            rule: Some("1/2".into()),
            members: keys
                .iter()
                .enumerate()
                .map(|(i, k)| MemberSpec { name: format!("Trust {i}"), key: k.public().to_hex(), external_id: None })
                .collect(),
        }
    }

    #[test]
    fn three_founders_sign_in_parallel_and_finalize() {
        let keys: Vec<Keypair> = (0..3).map(|_| Keypair::generate()).collect();
        let refs: Vec<&Keypair> = keys.iter().collect();
        let d = draft(&spec(&refs), &keys[0], 1_767_225_600_000).unwrap();
        let d = Draft::from_bytes(d.envelope.bytes()).unwrap();
        assert!(!d.info().complete);
        let b = sign(&d, &keys[1]).unwrap();
        let c = sign(&d, &keys[2]).unwrap();
        assert!(finalize(std::slice::from_ref(&b)).unwrap_err().to_string().contains("Trust 2"));
        let (fin, coalition) = finalize(&[b, c]).unwrap();
        assert!(fin.info().complete);
        assert_eq!(coalition.id(), d.envelope.id());
        assert!(sign(&fin, &Keypair::generate()).is_err());
    }

    #[test]
    fn tampered_drafts_are_caught_on_read() {
        let k = Keypair::generate();
        let d = draft(&spec(&[&k]), &k, 1_767_225_600_000).unwrap();
        let mut bytes = d.envelope.bytes().to_vec();
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        assert!(Draft::from_bytes(&bytes).unwrap_err().contains("does not verify"));
        assert!(Draft::from_bytes(b"").is_err());
    }

    #[test]
    fn spec_parses_from_toml() {
        let k = Keypair::generate();
        let text = format!("name = \"C\"\nrule = \"2/3\"\n[[member]]\nname = \"A\"\nkey = \"{}\"\n", k.public());
        let s = DraftSpec::parse(&text).unwrap();
        assert_eq!(s.to_genesis(1).unwrap().charter.positions, AdoptionRule::new(2, 3).unwrap());
        assert!(parse_rule("half").is_err());
    }
}

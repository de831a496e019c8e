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

use chorus_core::limits::{MAX_GENESIS_ENVELOPE_BYTES, MAX_PUPILS, MAX_SCHOOLS};
use chorus_core::{
    AdoptionRule, Attribute, AttributeSets, BreadthRule, Charter, Coalition, Envelope, Genesis, Keypair, Kind, Member,
    MemberAttributes, ObjectId, PublicKey, RawSignature, RuleKind,
};

use crate::control::{AttributesInfo, CharterSetsInfo};
use rand_core::RngCore;

use crate::error::{NodeError, Result};

/// What a coalition is founded as: the input of [`draft`], usually read from
/// a TOML file:
///
/// ```toml
/// name = "Northern Schools Coalition"
/// rule = "1/2"
/// regions = ["North East", "North West", "Yorkshire and the Humber"]
/// phases = ["primary", "secondary"]
/// trust_types = ["multi-academy trust", "single-academy trust"]
/// school_bands = [1, 2, 6, 16, 31]           # optional: these are the default
/// breadth = ["positions:region>=2"]
///
/// [[member]]
/// name = "Oak Valley Academy Trust"
/// key = "<64 hex characters>"
/// region = "North East"
/// phase = "secondary"
/// trust_type = "multi-academy trust"
/// schools = 12
/// pupils = 6400
/// labels = ["la:Newcastle upon Tyne"]
/// ```
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftSpec {
    /// Coalition display name.
    pub name: String,
    /// Adoption rule "n/d": a proposal is adopted when more than n/d of the
    /// members endorse it. Default "1/2" (a majority).
    #[serde(default)]
    pub rule: Option<String>,
    /// The charter's regions (any order; sorted when drafted).
    #[serde(default)]
    pub regions: Vec<String>,
    /// The charter's phases.
    #[serde(default)]
    pub phases: Vec<String>,
    /// The charter's trust types.
    #[serde(default)]
    pub trust_types: Vec<String>,
    /// Lower bounds of the size bands by number of schools (empty: the
    /// default bands 1, 2, 6, 16, 31).
    #[serde(default)]
    pub school_bands: Vec<u32>,
    /// Breadth rules, each written as [`parse_breadth`] reads them, e.g.
    /// "positions:region>=6" or "positions:region=London,North East".
    #[serde(default)]
    pub breadth: Vec<String>,
    /// Who may follow the coalition without being a member's node:
    /// "positions" (the default), "everything" or "none" (PROTOCOL.md 14.9).
    #[serde(default)]
    pub observers: Option<String>,
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
    /// Region, one of the charter's `regions`.
    #[serde(default)]
    pub region: Option<String>,
    /// Phase, one of the charter's `phases`.
    #[serde(default)]
    pub phase: Option<String>,
    /// Trust type, one of the charter's `trust_types`.
    #[serde(default)]
    pub trust_type: Option<String>,
    /// Number of schools the trust runs, 1 to 10,000.
    #[serde(default)]
    pub schools: Option<i64>,
    /// Number of pupils, 1 to 10,000,000.
    #[serde(default)]
    pub pupils: Option<i64>,
    /// Free labels such as "la:Leeds".
    #[serde(default)]
    pub labels: Vec<String>,
}

impl MemberSpec {
    /// A member with a name and key and nothing declared.
    pub fn new(name: impl Into<String>, key: impl Into<String>) -> Self {
        MemberSpec {
            name: name.into(),
            key: key.into(),
            external_id: None,
            region: None,
            phase: None,
            trust_type: None,
            schools: None,
            pupils: None,
            labels: Vec::new(),
        }
    }

    /// The attributes this entry declares, each within its bounds (not yet
    /// checked against the charter's sets).
    pub fn attributes(&self) -> std::result::Result<MemberAttributes, String> {
        member_attributes(
            self.region.as_deref(),
            self.phase.as_deref(),
            self.trust_type.as_deref(),
            self.schools,
            self.pupils,
            &self.labels,
        )
    }
}

/// Member attributes from their written values: text values trimmed and
/// not empty, `schools` 1 to 10,000 and `pupils` 1 to 10,000,000 (leave a
/// count out when it is not declared), labels sorted with none twice.
/// Errors are one line naming the value.
pub fn member_attributes(
    region: Option<&str>,
    phase: Option<&str>,
    trust_type: Option<&str>,
    schools: Option<i64>,
    pupils: Option<i64>,
    labels: &[String],
) -> std::result::Result<MemberAttributes, String> {
    let text = |what: &str, v: Option<&str>| -> std::result::Result<Option<String>, String> {
        match v.map(str::trim) {
            None => Ok(None),
            Some("") => Err(format!("{what} is empty; give a value or leave it out")),
            Some(v) => single_value(what, v).map(Some),
        }
    };
    let count = |what: &str, v: Option<i64>, max: u32| -> std::result::Result<Option<u32>, String> {
        match v {
            None => Ok(None),
            Some(n) if n >= 1 && n <= i64::from(max) => Ok(Some(n as u32)),
            Some(n) => Err(format!(
                "{what} {n} is not a number of {what} from 1 to {}; leave it out when not declared",
                thousands(u64::from(max))
            )),
        }
    };
    let mut l = Vec::with_capacity(labels.len());
    for x in labels {
        let x = x.trim();
        if x.is_empty() {
            return Err("a label is empty; give a value such as \"la:Leeds\"".into());
        }
        l.push(single_value("label", x)?);
    }
    l.sort();
    l.dedup();
    if l.len() > chorus_core::limits::MAX_LABELS {
        return Err(format!("{} labels, over the limit of {}", l.len(), chorus_core::limits::MAX_LABELS));
    }
    Ok(MemberAttributes {
        region: text("region", region)?,
        phase: text("phase", phase)?,
        trust_type: text("trust type", trust_type)?,
        schools: count("schools", schools, MAX_SCHOOLS)?,
        pupils: count("pupils", pupils, MAX_PUPILS)?,
        labels: l,
    })
}

/// A count written as text ("12", "11400", "11,400").
pub fn parse_count(what: &str, s: &str) -> std::result::Result<i64, String> {
    let t: String = s.trim().chars().filter(|c| *c != ',' && *c != '_').collect();
    t.parse().map_err(|_| format!("{what} {s:?} is not a whole number"))
}

fn single_value(what: &str, v: &str) -> std::result::Result<String, String> {
    if v.len() > chorus_core::limits::MAX_ATTRIBUTE_VALUE_BYTES || v.chars().any(char::is_control) {
        return Err(format!(
            "{what} {v:?} must be 1 to {} bytes on one line",
            chorus_core::limits::MAX_ATTRIBUTE_VALUE_BYTES
        ));
    }
    Ok(v.to_string())
}

/// A value set of the charter from its values in any order: trimmed, not
/// empty, sorted by bytes, none twice.
pub fn value_set(what: &str, values: &[String]) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let v = v.trim();
        if v.is_empty() {
            return Err(format!("the {what} list has an empty value"));
        }
        out.push(single_value(what, v)?);
    }
    out.sort();
    out.dedup();
    if out.len() > chorus_core::limits::MAX_ATTRIBUTE_VALUES {
        return Err(format!("{} {what}, over the limit of {}", out.len(), chorus_core::limits::MAX_ATTRIBUTE_VALUES));
    }
    Ok(out)
}

/// Size band lower bounds: start at 1, strictly ascending (given in any
/// order, none twice), each at most 10,000, at most 16.
pub fn school_bands(bands: &[u32]) -> std::result::Result<Vec<u32>, String> {
    let mut b = bands.to_vec();
    b.sort_unstable();
    b.dedup();
    if b.is_empty() {
        return Ok(b);
    }
    let shown = b.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    if b[0] != 1 {
        return Err(format!("school bands {shown} must start at 1 (the lower bound of the smallest band)"));
    }
    if let Some(x) = b.iter().find(|&&x| x > MAX_SCHOOLS) {
        return Err(format!("school band bound {x} is over the limit of {}", thousands(u64::from(MAX_SCHOOLS))));
    }
    if b.len() > chorus_core::limits::MAX_SCHOOL_BANDS {
        return Err(format!("{} school bands, over the limit of {}", b.len(), chorus_core::limits::MAX_SCHOOL_BANDS));
    }
    Ok(b)
}

/// The breadth rule syntax, for messages and help.
pub const BREADTH_SYNTAX: &str = "[RULE:]ATTRIBUTE>=N or [RULE:]ATTRIBUTE=VALUE,VALUE,... \
    (RULE: positions, membership or amendments, default positions; ATTRIBUTE: region, phase, trust-type or size-band)";

/// Parses a breadth rule written `[RULE:]ATTRIBUTE>=N` (endorsers from at
/// least N distinct values) or `[RULE:]ATTRIBUTE=V1,V2,...` (at least one
/// endorser with each value), RULE one of positions (the default),
/// membership, amendments; ATTRIBUTE one of region, phase, trust-type,
/// size-band (values of size-band are band labels such as "6-15").
pub fn parse_breadth(s: &str) -> std::result::Result<(RuleKind, BreadthRule), String> {
    let bad = |why: String| format!("breadth rule {s:?}: {why}; write it {BREADTH_SYNTAX}");
    let (kind, rest) = match s.split_once(':') {
        Some((k, rest)) => {
            let kind = match k.trim() {
                "positions" => RuleKind::Positions,
                "membership" => RuleKind::Membership,
                "amendments" => RuleKind::Amendments,
                other => return Err(bad(format!("unknown rule {other:?}"))),
            };
            (kind, rest)
        }
        None => (RuleKind::Positions, s),
    };
    let (name, min, values) = if let Some((a, n)) = rest.split_once(">=") {
        let n: u32 = n.trim().parse().map_err(|_| bad(format!("{:?} is not a whole number", n.trim())))?;
        if n == 0 {
            return Err(bad("at least 0 requires nothing".into()));
        }
        (a, n, Vec::new())
    } else if let Some((a, v)) = rest.split_once('=') {
        let values: Vec<String> = v.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect();
        if values.is_empty() {
            return Err(bad("no values after =".into()));
        }
        let values = value_set("value", &values).map_err(bad)?;
        (a, 0, values)
    } else {
        return Err(bad("no >= or =".into()));
    };
    let attribute = parse_attribute(name).map_err(bad)?;
    Ok((kind, BreadthRule { attribute, min_distinct: min, each_of: values }))
}

/// An attribute's name: region, phase, trust-type (or trust_type, "trust
/// type"), size-band.
pub fn parse_attribute(name: &str) -> std::result::Result<Attribute, String> {
    match name.trim().to_ascii_lowercase().replace(['_', ' '], "-").as_str() {
        "region" => Ok(Attribute::Region),
        "phase" => Ok(Attribute::Phase),
        "trust-type" => Ok(Attribute::TrustType),
        "size-band" | "schools" => Ok(Attribute::SizeBand),
        _ => Err(format!("unknown attribute {:?} (known: region, phase, trust-type, size-band)", name.trim())),
    }
}

/// The values of a set for messages: quoted, or "none defined".
pub fn describe_set(sets: &AttributeSets, a: Attribute) -> String {
    let values = sets.values(a);
    if values.is_empty() {
        return "none defined".into();
    }
    values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
}

/// Every declared region, phase and trust type of `attrs` is in `sets`;
/// else one line naming the value, whose it is and the allowed values.
pub fn check_attributes(
    attrs: &MemberAttributes,
    sets: &AttributeSets,
    whose: &str,
) -> std::result::Result<(), String> {
    for a in [Attribute::Region, Attribute::Phase, Attribute::TrustType] {
        if let Some(v) = attrs.text(a) {
            if !sets.contains(a, v) {
                return Err(format!(
                    "{} {v:?} of {whose} is not one of the charter's {} ({}); use one of them or leave it out",
                    a.name(),
                    a.plural(),
                    describe_set(sets, a)
                ));
            }
        }
    }
    Ok(())
}

/// Every breadth rule of `charter` can be met under its own sets: no more
/// distinct values than the set holds, every named value in the set.
pub fn check_breadth(charter: &Charter) -> std::result::Result<(), String> {
    let sets = &charter.attributes;
    for kind in [RuleKind::Positions, RuleKind::Membership, RuleKind::Amendments] {
        for b in charter.breadth.of(kind) {
            let a = b.attribute;
            if b.min_distinct as usize > sets.len(a) {
                return Err(format!(
                    "the {} breadth rule \"{b}\" needs {} distinct {}, but the charter has {} ({}); lower it or add values",
                    kind.name(),
                    b.min_distinct,
                    a.plural(),
                    sets.len(a),
                    describe_set(sets, a)
                ));
            }
            if let Some(v) = b.each_of.iter().find(|v| !sets.contains(a, v)) {
                return Err(format!(
                    "the {} breadth rule \"{b}\" names {v:?}, which is not one of the charter's {} ({})",
                    kind.name(),
                    a.plural(),
                    describe_set(sets, a)
                ));
            }
        }
    }
    Ok(())
}

/// Adds breadth rules written as [`parse_breadth`] reads them to `charter`.
pub fn add_breadth(charter: &mut Charter, rules: &[String]) -> std::result::Result<(), String> {
    for r in rules {
        let (kind, rule) = parse_breadth(r)?;
        let list = match kind {
            RuleKind::Positions => &mut charter.breadth.positions,
            RuleKind::Membership => &mut charter.breadth.membership,
            RuleKind::Amendments => &mut charter.breadth.amendments,
        };
        if !list.contains(&rule) {
            list.push(rule);
        }
        if list.len() > chorus_core::limits::MAX_BREADTH_RULES {
            return Err(format!(
                "the {} rule has {} breadth rules, over the limit of {}",
                kind.name(),
                list.len(),
                chorus_core::limits::MAX_BREADTH_RULES
            ));
        }
    }
    Ok(())
}

/// `n` with its digits grouped by thousands ("11,400"), as every view writes counts.
pub use chorus_core::thousands;

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

    /// The charter this spec describes: its positions rule, value sets and
    /// breadth rules (checked against the sets).
    pub fn charter(&self) -> Result<Charter> {
        let rule = match &self.rule {
            Some(r) => parse_rule(r)?,
            None => AdoptionRule::default(),
        };
        let founding = NodeError::Founding;
        let mut charter = Charter::with_positions(rule);
        charter.attributes = AttributeSets {
            regions: value_set("regions", &self.regions).map_err(founding)?,
            phases: value_set("phases", &self.phases).map_err(founding)?,
            trust_types: value_set("trust types", &self.trust_types).map_err(founding)?,
            school_bands: school_bands(&self.school_bands).map_err(founding)?,
        };
        add_breadth(&mut charter, &self.breadth).map_err(founding)?;
        check_breadth(&charter).map_err(founding)?;
        if let Some(name) = &self.observers {
            charter.observers = crate::observer::parse_access(name.trim())
                .ok_or_else(|| NodeError::Founding(format!("observers {name:?}: say positions, everything or none")))?;
        }
        Ok(charter)
    }

    /// The genesis this spec describes, created at `now_ms`.
    pub fn to_genesis(&self, now_ms: u64) -> Result<Genesis> {
        let charter = self.charter()?;
        if self.members.is_empty() {
            return Err(NodeError::Founding("a coalition needs at least one founding member".into()));
        }
        let mut founders: Vec<Member> = Vec::with_capacity(self.members.len());
        for m in &self.members {
            let key = parse_key(&m.key).map_err(|e| NodeError::Founding(format!("member {:?}: {e}", m.name)))?;
            if founders.iter().any(|f| f.key == key) {
                return Err(NodeError::Founding(format!("trust key {key} is listed twice")));
            }
            let whose = format!("member {:?}", m.name);
            let attributes = m.attributes().map_err(|e| NodeError::Founding(format!("{whose}: {e}")))?;
            check_attributes(&attributes, &charter.attributes, &whose).map_err(NodeError::Founding)?;
            founders.push(Member { key, name: m.name.clone(), external_id: m.external_id.clone(), attributes });
        }
        founders.sort_by_key(|m| *m.key.as_bytes());
        let mut nonce = vec![0u8; 16];
        rand_core::OsRng.fill_bytes(&mut nonce);
        let genesis = Genesis { name: self.name.clone(), charter, founders, created_at_ms: now_ms, nonce };
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
    /// The charter's value sets and breadth rules.
    pub sets: CharterSetsInfo,
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
    /// What the founder declares about itself.
    #[serde(skip_serializing_if = "AttributesInfo::is_empty")]
    pub attributes: AttributesInfo,
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
                attributes: (&f.attributes).into(),
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
            sets: (&self.genesis.charter).into(),
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
                .map(|(i, k)| MemberSpec::new(format!("Trust {i}"), k.public().to_hex()))
                .collect(),
            regions: Vec::new(),
            phases: Vec::new(),
            trust_types: Vec::new(),
            school_bands: Vec::new(),
            breadth: Vec::new(),
            observers: None,
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

    #[test]
    fn observer_access_from_toml() {
        let k = Keypair::generate();
        let text = |extra: &str| format!("name = \"C\"\n{extra}[[member]]\nname = \"A\"\nkey = \"{}\"\n", k.public());
        let genesis = |extra: &str| DraftSpec::parse(&text(extra)).and_then(|s| s.to_genesis(1));
        assert_eq!(genesis("").unwrap().charter.observers, chorus_core::ObserverAccess::Positions);
        let g = genesis("observers = \"everything\"\n").unwrap();
        assert_eq!(g.charter.observers, chorus_core::ObserverAccess::Everything);
        assert_eq!(CharterSetsInfo::from(&g.charter).observers, "everything");
        assert_eq!(genesis("observers = \"none\"\n").unwrap().charter.observers, chorus_core::ObserverAccess::None);
        let e = genesis("observers = \"all\"\n").unwrap_err().to_string();
        assert!(e.contains("observers \"all\": say positions, everything or none"), "{e}");
    }

    #[test]
    fn attributes_sets_and_breadth_from_toml() {
        let k = Keypair::generate();
        let text = format!(
            "name = \"C\"\nregions = [\"London\", \"North East\"]\nphases = [\"secondary\", \"primary\"]\n\
             breadth = [\"positions:region>=2\", \"membership:phase=primary\"]\n\
             [[member]]\nname = \"A\"\nkey = \"{}\"\nregion = \"London\"\nschools = 12\npupils = 6400\n\
             labels = [\"x\", \"la:Leeds\"]\n",
            k.public()
        );
        let g = DraftSpec::parse(&text).unwrap().to_genesis(1).unwrap();
        assert_eq!(g.charter.attributes.phases, ["primary", "secondary"]);
        assert_eq!(g.charter.breadth.positions[0].min_distinct, 2);
        assert_eq!(g.charter.breadth.membership[0].each_of, ["primary"]);
        let a = &g.founders[0].attributes;
        assert_eq!((a.region.as_deref(), a.schools, a.pupils), (Some("London"), Some(12), Some(6400)));
        assert_eq!(a.labels, ["la:Leeds", "x"]);

        let bad = |from: &str, to: &str| {
            let t = text.replace(from, to);
            DraftSpec::parse(&t).and_then(|s| s.to_genesis(1)).unwrap_err().to_string()
        };
        let e = bad("region = \"London\"", "region = \"Wales\"");
        assert!(e.contains("\"Wales\"") && e.contains("\"London\", \"North East\""), "{e}");
        assert!(bad("schools = 12", "schools = -1").contains("schools -1"));
        assert!(bad("pupils = 6400", "pupils = 10000001").contains("10,000,000"));
        assert!(bad("region>=2", "region>=3").contains("needs 3 distinct regions"));
        assert!(bad("positions:region", "positions:county").contains("unknown attribute \"county\""));
    }

    #[test]
    fn breadth_rules_parse() {
        let (kind, r) = parse_breadth("region>=6").unwrap();
        assert_eq!((kind, r.attribute, r.min_distinct), (RuleKind::Positions, Attribute::Region, 6));
        let (kind, r) = parse_breadth("amendments:trust-type=single-academy trust, diocesan").unwrap();
        assert_eq!((kind, r.attribute), (RuleKind::Amendments, Attribute::TrustType));
        assert_eq!(r.each_of, ["diocesan", "single-academy trust"]);
        assert_eq!(parse_breadth("size-band=31+,6-15").unwrap().1.each_of, ["31+", "6-15"]);
        for bad in ["region", "region>=x", "region>=0", "region=", "votes:region>=1", "county>=1"] {
            let e = parse_breadth(bad).unwrap_err();
            assert!(e.starts_with(&format!("breadth rule {bad:?}")), "{e}");
        }
        assert_eq!(thousands(11_400), "11,400");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000_000), "10,000,000");
    }
}

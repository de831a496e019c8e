//! A coalition as known from its verified genesis, and validation of every
//! object against it.

use std::collections::BTreeMap;

use crate::envelope::Envelope;
use crate::error::Rejection;
use crate::id::{CoalitionId, ObjectId};
use crate::keys::{verify_many, PublicKey, SignatureCheck};
use crate::kind::Kind;
use crate::limits::MAX_CLOCK_SKEW_MS;
use crate::objects::{
    Charter, Comment, Delegation, Endorsement, Genesis, KeyRotation, Member, OpaqueHeader, OpenVoting, Proposal,
    Revocation, Withdrawal,
};

/// The members of a coalition at one roster version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roster {
    version: ObjectId,
    members: BTreeMap<[u8; 32], Member>,
    // Root key of each member whose root key is not its trust id.
    root_keys: BTreeMap<[u8; 32], PublicKey>,
}

impl Roster {
    pub(crate) fn new(
        version: ObjectId,
        members: BTreeMap<[u8; 32], Member>,
        root_keys: BTreeMap<[u8; 32], PublicKey>,
    ) -> Self {
        Roster { version, members, root_keys }
    }

    /// The root key of a member trust at this version: its trust id unless a
    /// key replacement was adopted (PROTOCOL.md 12.3).
    pub fn root_key(&self, trust: &PublicKey) -> Option<PublicKey> {
        let member = self.members.get(trust.as_bytes())?;
        Some(self.root_keys.get(trust.as_bytes()).copied().unwrap_or(member.key))
    }

    /// True when `key` is the trust id or root key of a member.
    pub fn uses_key(&self, key: &PublicKey) -> bool {
        self.members.contains_key(key.as_bytes()) || self.root_keys.values().any(|k| k == key)
    }

    /// The roster version id. For the genesis roster, the coalition id.
    pub fn version(&self) -> ObjectId {
        self.version
    }

    /// Number of member trusts.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when there are no members (never, for a valid coalition).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The member with this trust key, if any.
    pub fn get(&self, key: &[u8]) -> Option<&Member> {
        let key: &[u8; 32] = key.try_into().ok()?;
        self.members.get(key)
    }

    /// True when `key` is a member trust key.
    pub fn contains(&self, key: &PublicKey) -> bool {
        self.members.contains_key(key.as_bytes())
    }

    /// Members sorted by trust key.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }
}

/// A coalition whose genesis has been fully verified: canonical, well-formed,
/// and countersigned by every founding member. Everything that names this
/// coalition is validated through it.
#[derive(Clone, Debug)]
pub struct Coalition {
    id: CoalitionId,
    genesis: Genesis,
    envelope: Envelope,
    roster: Roster,
}

impl PartialEq for Coalition {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for Coalition {}

/// A signed object that passed every ingest rule (PROTOCOL.md 12.8): shape,
/// canonical encoding, bounds, coalition, signature, and a signer the held
/// objects authorise. Made only by [`crate::Ledger::authorise`] (and so
/// [`crate::Ledger::validate`] and [`crate::Ingest`]); it has no public
/// constructor.
///
/// ```compile_fail
/// # fn forge(envelope: chorus_core::Envelope, object: chorus_core::Object) {
/// let forged = chorus_core::VerifiedObject { envelope, object, signer_key: None };
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedObject {
    envelope: Envelope,
    object: Object,
    // The one signer, parsed when its signature was checked, so that the
    // ledger need not decompress the point again (None for a genesis).
    signer_key: Option<PublicKey>,
}

impl VerifiedObject {
    pub(crate) fn new(envelope: Envelope, object: Object, signer_key: Option<PublicKey>) -> Self {
        VerifiedObject { envelope, object, signer_key }
    }

    /// The one signer of a non-genesis object, as a checked key.
    pub(crate) fn signer_key(&self) -> Option<PublicKey> {
        self.signer_key
    }

    /// The envelope as received.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The typed body.
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// The coalition the object belongs to.
    pub fn coalition(&self) -> CoalitionId {
        match &self.object {
            Object::Genesis(_) => self.envelope.id(),
            Object::Proposal(p) => p.coalition,
            Object::Endorsement(e) => e.coalition,
            Object::Delegation(d) => d.coalition,
            Object::Revocation(r) => r.coalition,
            Object::KeyRotation(r) => r.coalition,
            Object::Comment(c) => c.coalition,
            Object::OpenVoting(o) => o.coalition,
            Object::Withdrawal(w) => w.coalition,
            Object::Opaque(h) => h.coalition,
        }
    }

    /// The key that signed the object (for a genesis, its first founder).
    pub fn signer(&self) -> [u8; 32] {
        self.envelope.signatures().first().map(|s| s.signer).unwrap_or_default()
    }

    /// The object id.
    pub fn id(&self) -> ObjectId {
        self.envelope.id()
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.envelope.kind()
    }

    /// The creation time the object declares (ms since 1970).
    pub fn created_at_ms(&self) -> u64 {
        match &self.object {
            Object::Genesis(g) => g.created_at_ms,
            Object::Proposal(p) => p.created_at_ms,
            Object::Endorsement(e) => e.created_at_ms,
            Object::Delegation(d) => d.created_at_ms,
            Object::Revocation(r) => r.created_at_ms,
            Object::KeyRotation(r) => r.created_at_ms,
            Object::Comment(c) => c.created_at_ms,
            Object::OpenVoting(o) => o.created_at_ms,
            Object::Withdrawal(w) => w.created_at_ms,
            Object::Opaque(h) => h.created_at_ms,
        }
    }
}

/// The typed body of a verified object.
// Proposals are the largest variant (keys carry their decompressed points);
// objects are built once per ingest, so boxing would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Object {
    /// This coalition's genesis.
    Genesis(Genesis),
    /// A proposal.
    Proposal(Proposal),
    /// An endorsement (of any stance).
    Endorsement(Endorsement),
    /// A delegation.
    Delegation(Delegation),
    /// A revocation of a delegation.
    Revocation(Revocation),
    /// A key rotation.
    KeyRotation(KeyRotation),
    /// A comment or amendment on a proposal; never changes adoption.
    Comment(Comment),
    /// The author opens voting on a proposal.
    OpenVoting(OpenVoting),
    /// The author withdraws a proposal.
    Withdrawal(Withdrawal),
    /// An object of a reserved kind this version does not define
    /// (PROTOCOL.md 3.4): only its header is read; the rest of its body is
    /// kept, as the envelope's exact bytes, and never interpreted. It
    /// changes nothing the ledger derives.
    Opaque(OpaqueHeader),
}

impl Coalition {
    /// Verifies a genesis envelope completely and returns the coalition it
    /// founds. Uses up to `threads` threads for the founders' signatures.
    pub fn from_genesis(bytes: &[u8], threads: usize) -> Result<Self, Rejection> {
        let envelope = Envelope::decode(bytes)?;
        let (coalition, checks) = Self::precheck_genesis(envelope, threads)?;
        coalition.verify_genesis_signatures(&checks, threads)?;
        Ok(coalition)
    }

    /// Structure of a genesis without its signatures; returns the signing input.
    /// Founder keys are parsed on up to `threads` threads.
    pub(crate) fn precheck_genesis(envelope: Envelope, threads: usize) -> Result<(Self, Vec<u8>), Rejection> {
        if envelope.kind() != Kind::Genesis {
            return Err(Rejection::InvalidField {
                field: "kind",
                reason: format!("expected a genesis, got a {}", envelope.kind()),
            });
        }
        let genesis = Genesis::from_body_with_threads(envelope.body(), threads)?;
        let sigs = envelope.signatures();
        if sigs.len() != genesis.founders.len() {
            return Err(Rejection::SignatureCount {
                kind: Kind::Genesis,
                expected: genesis.founders.len(),
                found: sigs.len(),
            });
        }
        // Both lists are sorted by key, so signer i must be founder i.
        for (i, (s, f)) in sigs.iter().zip(&genesis.founders).enumerate() {
            if &s.signer != f.key.as_bytes() {
                return Err(Rejection::InvalidField {
                    field: "genesis signatures",
                    reason: format!(
                        "signature {i} is by {}, which is not the founder at that place ({})",
                        hex::encode(s.signer),
                        f.key
                    ),
                });
            }
        }
        let id = envelope.id();
        let members = genesis.founders.iter().map(|m| (*m.key.as_bytes(), m.clone())).collect();
        let input = envelope.signing_input();
        Ok((Coalition { id, genesis, envelope, roster: Roster::new(id, members, BTreeMap::new()) }, input))
    }

    /// Index of the first founder signature that fails, given the signing input.
    pub(crate) fn genesis_checks<'a>(&'a self, input: &'a [u8]) -> impl Iterator<Item = SignatureCheck<'a>> {
        self.envelope.signatures().iter().zip(&self.genesis.founders).map(move |(s, f)| SignatureCheck {
            key: &f.key,
            message: input,
            signature: &s.signature,
        })
    }

    fn verify_genesis_signatures(&self, input: &[u8], threads: usize) -> Result<(), Rejection> {
        let checks: Vec<_> = self.genesis_checks(input).collect();
        match verify_many(&checks, threads) {
            None => Ok(()),
            Some(i) => Err(Rejection::BadSignature { signer: checks[i].key.to_hex() }),
        }
    }

    /// The coalition id (id of the genesis).
    pub fn id(&self) -> CoalitionId {
        self.id
    }

    /// Display name.
    pub fn name(&self) -> &str {
        &self.genesis.name
    }

    /// The charter.
    pub fn charter(&self) -> &Charter {
        &self.genesis.charter
    }

    /// The decoded genesis.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The genesis envelope exactly as verified.
    pub fn genesis_envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The roster a proposal names, if this node knows it. Protocol v1 knows
    /// only the genesis roster.
    pub fn roster(&self, version: &ObjectId) -> Option<&Roster> {
        (*version == self.roster.version).then_some(&self.roster)
    }

    /// The current roster.
    pub fn current_roster(&self) -> &Roster {
        &self.roster
    }

    /// True when `key` is a member trust under any roster version this node
    /// knows, i.e. may sign objects at all.
    pub fn is_known_signer(&self, key: &[u8]) -> bool {
        self.roster.get(key).is_some()
    }

    /// Our own genesis as a verified object, for an envelope of kind
    /// genesis offered to us (PROTOCOL.md 7): the envelope verified when this
    /// coalition was founded, never the received copy, whose signatures are
    /// not checked here; any other genesis is `ForeignGenesis`.
    pub(crate) fn own_genesis(&self, envelope: &Envelope) -> Result<VerifiedObject, Rejection> {
        if envelope.id() != self.id {
            return Err(Rejection::ForeignGenesis(envelope.id()));
        }
        Ok(VerifiedObject {
            envelope: self.envelope.clone(),
            object: Object::Genesis(self.genesis.clone()),
            signer_key: None,
        })
    }

    /// The one signer of a non-genesis envelope, as a checked key.
    pub(crate) fn envelope_signer(&self, envelope: &Envelope) -> Result<PublicKey, Rejection> {
        self.parse_key("envelope signer", &envelope.signatures()[0].signer)
    }

    /// Parses a key field, taking a founder's key from the genesis roster
    /// when it is one: decompressing a point costs a sizeable share of a
    /// signature check, and most keys seen are founders'. A founder's key
    /// passed every key rule at founding, so the verdict is the same.
    pub(crate) fn parse_key(&self, field: &'static str, bytes: &[u8]) -> Result<PublicKey, Rejection> {
        match self.roster.get(bytes) {
            Some(member) => Ok(member.key),
            None => PublicKey::from_bytes(bytes).map_err(|error| Rejection::BadKey { field, error }),
        }
    }

    pub(crate) fn check_coalition(&self, found: CoalitionId) -> Result<(), Rejection> {
        if found != self.id {
            return Err(Rejection::WrongCoalition { expected: self.id, found });
        }
        Ok(())
    }

    pub(crate) fn check_time(created_at_ms: u64, now_ms: u64) -> Result<(), Rejection> {
        if created_at_ms > now_ms.saturating_add(MAX_CLOCK_SKEW_MS) {
            return Err(Rejection::FromTheFuture { created_at_ms, now_ms });
        }
        Ok(())
    }
}

/// Parses the body of a delegation, revocation or key rotation and checks
/// what the envelope alone can tell: a rotation's signer is not its new key.
/// Returns the object, its coalition, the trust it names and its time.
pub(crate) fn parse_key_object(envelope: &Envelope) -> Result<(Object, CoalitionId, PublicKey, u64), Rejection> {
    Ok(match envelope.kind() {
        Kind::Delegation => {
            let d = Delegation::from_body(envelope.body())?;
            (d.coalition, d.trust, d.created_at_ms, Object::Delegation(d))
        }
        Kind::Revocation => {
            let r = Revocation::from_body(envelope.body())?;
            (r.coalition, r.trust, r.created_at_ms, Object::Revocation(r))
        }
        Kind::KeyRotation => {
            let r = KeyRotation::from_body(envelope.body())?;
            if envelope.signatures()[0].signer == *r.new_key.as_bytes() {
                return Err(Rejection::InvalidField {
                    field: "new_key",
                    reason: "must differ from the signing key".into(),
                });
            }
            (r.coalition, r.trust, r.created_at_ms, Object::KeyRotation(r))
        }
        other => {
            return Err(Rejection::InvalidField {
                field: "kind",
                reason: format!("expected a delegation, revocation or key rotation, got a {other}"),
            })
        }
    })
    .map(|(c, t, at, o)| (o, c, t, at))
}

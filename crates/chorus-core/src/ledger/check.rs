//! Checking an envelope before it is admitted (PROTOCOL.md 12.8): its form
//! and signature, which need no ledger ([`Ledger::check_signature`]), then
//! whether the held objects authorise its signer ([`Ledger::authorise`]).

use super::Ledger;
use crate::coalition::{parse_key_object, Coalition, Object, VerifiedObject};
use crate::envelope::Envelope;
use crate::error::Rejection;
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::kind::Kind;
use crate::objects::{Action, Comment, Endorsement, OpaqueHeader, OpenVoting, Proposal, Withdrawal};

impl Ledger {
    /// Validates one envelope against every ingest rule with governance
    /// (PROTOCOL.md 12.8): the rules of sections 6–7, the signature checked
    /// against the envelope's signer, then whether the held objects make the
    /// signer a known key of the trust named (else `UnknownSigner`, Ignore)
    /// and the proposal's roster heads held (else `UnknownRoster`, Ignore).
    /// Equal to [`Ledger::check_signature`] followed by [`Ledger::authorise`].
    pub fn validate(&self, bytes: &[u8], now_ms: u64) -> Result<VerifiedObject, Rejection> {
        self.authorise(&Self::check_signature(&self.coalition, bytes)?, now_ms)
    }

    /// As [`Ledger::validate`] for many envelopes, with the signatures
    /// checked on up to `threads` threads. Results are in input order and
    /// equal to calling [`Ledger::validate`] on each.
    pub fn validate_many(
        &self,
        items: &[&[u8]],
        now_ms: u64,
        threads: usize,
    ) -> Vec<Result<VerifiedObject, Rejection>> {
        Self::check_signatures(&self.coalition, items, threads)
            .into_iter()
            .map(|c| c.and_then(|c| self.authorise(&c, now_ms)))
            .collect()
    }

    /// The first stage of [`Ledger::validate`], which needs no ledger: the
    /// envelope's form, its body, the coalition, and its signature against
    /// the key that signed it. A [`SignatureChecked`] may still be refused by
    /// [`Ledger::authorise`]; nothing is admitted without that second stage.
    pub fn check_signature(coalition: &Coalition, bytes: &[u8]) -> Result<SignatureChecked, Rejection> {
        let envelope = Envelope::decode(bytes)?;
        if envelope.kind() == Kind::Genesis {
            // A genesis has no time rule: the clock is irrelevant here.
            return Ok(SignatureChecked(Checked::Genesis(coalition.own_genesis(&envelope)?)));
        }
        let parsed = ParsedObject::parse(coalition, envelope)?;
        let signer = parsed.signer(coalition)?;
        parsed.verified_by(signer)
    }

    /// [`Ledger::check_signature`] for many envelopes on up to `threads`
    /// threads (1 to 64), results in input order. Holds no ledger, so a
    /// caller can verify signatures without holding a lock on its ledger.
    pub fn check_signatures(
        coalition: &Coalition,
        items: &[&[u8]],
        threads: usize,
    ) -> Vec<Result<SignatureChecked, Rejection>> {
        crate::parallel::map_in_threads(items.to_vec(), threads, 64, |b| Self::check_signature(coalition, b))
    }

    /// The second stage of [`Ledger::validate`]: whether the objects this
    /// ledger holds make the signer a known key of the trust named (else
    /// `UnknownSigner`), the proposal's roster heads held (else
    /// `UnknownRoster`), an admission's or member amendment's attribute
    /// values in the sets of the charter of the version it pins (else
    /// `InvalidField`), and the time not too far ahead of `now_ms`. Both
    /// unknowns have verdict Ignore and may pass once more objects are
    /// applied ([`Rejection::awaits_objects`]).
    pub fn authorise(&self, checked: &SignatureChecked, now_ms: u64) -> Result<VerifiedObject, Rejection> {
        let (envelope, object, trust, signer, created_at_ms) = match &checked.0 {
            Checked::Genesis(g) => return Ok(g.clone()),
            // V5a: refused by its kind's body rules, known since parsing.
            Checked::Signed { refused: Some(why), .. } => return Err(why.clone()),
            Checked::Signed { envelope, object, trust, signer, created_at_ms, refused: None } => {
                (envelope, object, *trust, *signer, *created_at_ms)
            }
        };
        let Some(trust) = trust else {
            // An object of a reserved kind names no trust (PROTOCOL.md 3.4,
            // V6): any key the held objects make a key of the coalition
            // may sign one. Such keys only grow with the set held, so the
            // verdict does not depend on arrival order.
            if !self.is_coalition_key(&signer) {
                return Err(Rejection::UnknownSigner { key: signer.to_hex(), trust: String::new() });
            }
            Coalition::check_time(created_at_ms, now_ms)?;
            return Ok(VerifiedObject::new(envelope.clone(), object.clone(), Some(signer)));
        };
        let unknown = || Rejection::UnknownSigner { key: signer.to_hex(), trust: trust.to_hex() };
        // V6 refusals of a kind defined after older nodes forwarded it have
        // verdict Ignore (PROTOCOL.md 3.4); waiting stays waiting.
        let kind = envelope.kind();
        let v6 = |why: Rejection| match why {
            Rejection::UnknownSigner { .. } => why,
            _ if kind.has_common_header() => Rejection::KindRules { kind, reason: Box::new(why) },
            _ => why,
        };
        // A stance or a comment may be signed by a delegate (V6); anything
        // else by a known key of the trust it names (an open-voting or a
        // withdrawal: of the author it names).
        let delegation = match object {
            Object::Endorsement(Endorsement { delegation, .. }) | Object::Comment(Comment { delegation, .. }) => {
                *delegation
            }
            _ => None,
        };
        match delegation {
            Some(d) => {
                let Some((delegation, delegation_signer)) = self.held.delegations.get(&d) else {
                    return Err(unknown());
                };
                if delegation.trust != trust {
                    return Err(v6(Rejection::InvalidField {
                        field: "delegation",
                        reason: format!("is a delegation of trust {}, not {}", delegation.trust, trust),
                    }));
                }
                if delegation.delegate != signer {
                    return Err(v6(Rejection::SignerMismatch {
                        field: "delegate",
                        signer: signer.to_hex(),
                        named: delegation.delegate.to_hex(),
                    }));
                }
                if !self.is_known_key(&trust, delegation_signer) {
                    return Err(unknown());
                }
            }
            None if !self.is_known_key(&trust, &signer) => return Err(unknown()),
            None => {}
        }
        if let Object::Proposal(p) = object {
            if let Some(h) =
                p.roster_heads.iter().find(|h| self.held.proposals.get(h).is_some_and(|g| g.action.is_none()))
            {
                return Err(Rejection::InvalidField {
                    field: "roster heads",
                    reason: format!("{h} is not a governance proposal"),
                });
            }
            let held_head = |h: &ObjectId| {
                self.held.proposals.get(h).is_some_and(|g| g.action.is_some()) && self.derived.closures.contains_key(h)
            };
            if !p.roster_heads.iter().all(held_head) {
                return Err(Rejection::UnknownRoster(p.roster));
            }
            if self.derived.antichain(&p.roster_heads) == Some(false) {
                return Err(Rejection::InvalidField {
                    field: "roster heads",
                    reason: "a head is in the closure of another".into(),
                });
            }
            // Declared attribute values must be in the value sets of the
            // charter of the pinned version, which the held heads fix
            // whatever their adoption (so the verdict is the same on every
            // node that holds them).
            let declared = match &p.action {
                Some(Action::Admit(m)) => Some((&m.key, &m.attributes)),
                Some(Action::AmendMember { trust, attributes }) => Some((trust, attributes)),
                _ => None,
            };
            if let Some((trust, attributes)) = declared.filter(|(_, a)| !a.is_empty()) {
                let charter = self
                    .derived
                    .pinned_charter(&self.coalition, &self.held, &p.roster_heads)
                    .ok_or(Rejection::UnknownRoster(p.roster))?;
                attributes.check_values(&charter.attributes, &format!("trust {trust}"))?;
            }
        }
        Coalition::check_time(created_at_ms, now_ms)?;
        Ok(VerifiedObject::new(envelope.clone(), object.clone(), Some(signer)))
    }
}

/// An envelope whose form, coalition and signature are checked
/// ([`Ledger::check_signature`]) but not yet whether the held objects
/// authorise its signer ([`Ledger::authorise`]). Holding one proves the
/// signature verified against the key in the envelope, nothing more.
/// Made only by [`Ledger::check_signature`] (and by certificate
/// verification, which checks the same signatures in parallel).
///
/// ```compile_fail
/// # fn forge() {
/// let forged = chorus_core::SignatureChecked(todo!());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SignatureChecked(Checked);

// Built once per ingested object, like `Object` (see there).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Checked {
    Genesis(VerifiedObject),
    Signed {
        envelope: Envelope,
        object: Object,
        trust: Option<PublicKey>,
        signer: PublicKey,
        created_at_ms: u64,
        // Why the kind's own rules refuse it (V5a), judged after the
        // signature (PROTOCOL.md 3.4): [`Ledger::authorise`] returns it.
        refused: Option<Rejection>,
    },
}

impl SignatureChecked {
    /// The object id.
    pub fn id(&self) -> ObjectId {
        match &self.0 {
            Checked::Genesis(g) => g.id(),
            Checked::Signed { envelope, .. } => envelope.id(),
        }
    }

    /// The typed body. For a comment, open-voting or withdrawal object
    /// whose body its kind's rules refuse, the common header, as a node
    /// that does not define the kind reads it ([`Ledger::authorise`]
    /// refuses it).
    pub fn object(&self) -> &Object {
        match &self.0 {
            Checked::Genesis(g) => g.object(),
            Checked::Signed { object, .. } => object,
        }
    }

    /// The exact envelope bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.0 {
            Checked::Genesis(g) => g.envelope().bytes(),
            Checked::Signed { envelope, .. } => envelope.bytes(),
        }
    }
}

/// A non-genesis envelope whose body passed the rules of its kind and whose
/// coalition is this one; its signature is not checked yet. The first half
/// of [`Ledger::check_signature`], apart so that a certificate can check the
/// form of everything it carries before any signature (PROTOCOL.md 9.2).
#[derive(Clone, Debug)]
pub(crate) struct ParsedObject {
    pub(crate) envelope: Envelope,
    pub(crate) object: Object,
    /// The trust the body names (author, trust); none for an object of a
    /// reserved kind (PROTOCOL.md 3.4).
    pub(crate) trust: Option<PublicKey>,
    created_at_ms: u64,
    // A comment, open-voting or withdrawal whose body its kind's rules
    // refuse: only its header was judged so far (then `object` is the
    // header, as an older node reads it), and this is the refusal, with
    // verdict Ignore, that authorising it returns after the signature.
    refused: Option<Rejection>,
}

impl ParsedObject {
    /// The body rules of the envelope's kind (trust keys of founders taken
    /// from the genesis roster; for a reserved kind, its header), then the
    /// coalition check. A comment, open-voting or withdrawal object is
    /// judged here as an older node judges it, by its header and coalition;
    /// its own body rules (V5a) refuse it only after its signature.
    pub(crate) fn parse(c: &Coalition, envelope: Envelope) -> Result<Self, Rejection> {
        let kind = envelope.kind();
        if matches!(kind, Kind::Comment | Kind::OpenVoting | Kind::Withdrawal) {
            let h = OpaqueHeader::from_body(envelope.body())?;
            c.check_coalition(h.coalition)?;
            return Ok(match Self::parse_body(c, &envelope) {
                Ok((object, _, trust, created_at_ms)) => {
                    ParsedObject { envelope, object, trust, created_at_ms, refused: None }
                }
                Err(why) => {
                    let refused = Some(Rejection::KindRules { kind, reason: Box::new(why) });
                    let created_at_ms = h.created_at_ms;
                    ParsedObject { envelope, object: Object::Opaque(h), trust: None, created_at_ms, refused }
                }
            });
        }
        let (object, coalition_id, trust, created_at_ms) = Self::parse_body(c, &envelope)?;
        c.check_coalition(coalition_id)?;
        Ok(ParsedObject { envelope, object, trust, created_at_ms, refused: None })
    }

    /// The body rules of the envelope's kind: the object, its coalition,
    /// the trust it names and its time.
    fn parse_body(
        c: &Coalition,
        envelope: &Envelope,
    ) -> Result<(Object, crate::id::CoalitionId, Option<PublicKey>, u64), Rejection> {
        Ok(match envelope.kind() {
            Kind::Proposal => {
                let p = Proposal::from_body(envelope.body())?;
                let (coalition, author, at) = (p.coalition, p.author, p.created_at_ms);
                (Object::Proposal(p), coalition, Some(author), at)
            }
            Kind::Endorsement => {
                let e = Endorsement::from_body_with(envelope.body(), |_, b| c.parse_key("trust", b))?;
                let (coalition, trust, at) = (e.coalition, e.trust, e.created_at_ms);
                (Object::Endorsement(e), coalition, Some(trust), at)
            }
            Kind::Comment => {
                let m = Comment::from_body_with(envelope.body(), |b| c.parse_key("trust", b))?;
                let (coalition, trust, at) = (m.coalition, m.trust, m.created_at_ms);
                (Object::Comment(m), coalition, Some(trust), at)
            }
            Kind::OpenVoting => {
                let o = OpenVoting::from_body(envelope.body())?;
                let (coalition, author, at) = (o.coalition, o.author, o.created_at_ms);
                (Object::OpenVoting(o), coalition, Some(author), at)
            }
            Kind::Withdrawal => {
                let w = Withdrawal::from_body(envelope.body())?;
                let (coalition, author, at) = (w.coalition, w.author, w.created_at_ms);
                (Object::Withdrawal(w), coalition, Some(author), at)
            }
            Kind::Opaque(_) => {
                let h = OpaqueHeader::from_body(envelope.body())?;
                (Object::Opaque(h), h.coalition, None, h.created_at_ms)
            }
            _ => {
                let (object, coalition, trust, at) = parse_key_object(envelope)?;
                (object, coalition, Some(trust), at)
            }
        })
    }

    /// The envelope's one signer under the key rule (`BadKey` "envelope
    /// signer").
    pub(crate) fn signer(&self, c: &Coalition) -> Result<PublicKey, Rejection> {
        c.envelope_signer(&self.envelope)
    }

    /// The signature checked against `signer` (which [`ParsedObject::signer`]
    /// returned).
    pub(crate) fn verified_by(self, signer: PublicKey) -> Result<SignatureChecked, Rejection> {
        if !signer.verify(&self.envelope.signing_input(), &self.envelope.signatures()[0].signature) {
            return Err(Rejection::BadSignature { signer: signer.to_hex() });
        }
        Ok(self.into_checked(signer))
    }

    /// [`ParsedObject::verified_by`] for a signature verified already.
    pub(crate) fn into_checked(self, signer: PublicKey) -> SignatureChecked {
        let ParsedObject { envelope, object, trust, created_at_ms, refused } = self;
        SignatureChecked(Checked::Signed { envelope, object, trust, signer, created_at_ms, refused })
    }
}

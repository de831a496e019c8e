//! Deterministic fixtures for tests of this and other crates (feature
//! `test`): keys from fixed seeds, a coalition of any size, and signed
//! proposals and endorsements.

use crate::{
    certificate, version_id, Action, AdoptionRule, Amendment, Charter, Coalition, Comment, Delegation, Endorsement,
    Envelope, Genesis, KeyRotation, Keypair, Kind, Member, MemberAttributes, ObjectId, OpaqueHeader, OpenVoting,
    Proposal, PublicKey, Revocation, Stance, Withdrawal,
};

/// Fixed time used by fixtures: 2026-01-01T00:00:00Z in ms.
pub const T0: u64 = 1_767_225_600_000;

/// The key of member `i`, from a fixed seed.
pub fn member_key(i: u32) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    seed[4..16].copy_from_slice(b"chorus-tests");
    Keypair::from_seed(&seed)
}

/// A coalition of `n` members with the given rule, and its members' keys
/// (sorted by public key, as the roster is).
pub struct Fixture {
    /// The verified coalition.
    pub coalition: Coalition,
    /// Member keys, sorted by public key.
    pub keys: Vec<Keypair>,
}

impl Fixture {
    /// `n` members, majority rule.
    pub fn new(n: u32) -> Self {
        Self::with_rule(n, AdoptionRule::default())
    }

    /// `n` members and `rule`.
    pub fn with_rule(n: u32, rule: AdoptionRule) -> Self {
        Self::with_charter(n, Charter::with_positions(rule), |_| MemberAttributes::default())
    }

    /// `n` members under `charter`; member `i` (in key order, as
    /// [`Fixture::keys`]) declares `attributes(i)`, which must fit the
    /// charter's sets.
    pub fn with_charter(n: u32, charter: Charter, attributes: impl Fn(usize) -> MemberAttributes) -> Self {
        let mut keys: Vec<Keypair> = (0..n).map(member_key).collect();
        keys.sort_by_key(|k| *k.public().as_bytes());
        let genesis = Genesis {
            name: format!("Test coalition of {n}"),
            charter,
            founders: keys
                .iter()
                .enumerate()
                .map(|(i, k)| Member {
                    key: k.public(),
                    name: format!("Trust {i}"),
                    external_id: None,
                    attributes: attributes(i),
                })
                .collect(),
            created_at_ms: T0,
            nonce: vec![],
        };
        let refs: Vec<&Keypair> = keys.iter().collect();
        let env = Envelope::sign(Kind::Genesis, genesis.to_body(), &refs);
        let coalition = Coalition::from_genesis(env.bytes(), 2).expect("fixture genesis is valid");
        Fixture { coalition, keys }
    }

    /// The coalition id.
    pub fn id(&self) -> ObjectId {
        self.coalition.id()
    }

    /// A proposal by member `author`, created at `T0 + offset_ms`.
    pub fn proposal(&self, author: usize, title: &str, offset_ms: u64, closes_at_ms: Option<u64>) -> Envelope {
        let key = &self.keys[author];
        let p = Proposal {
            coalition: self.id(),
            roster: self.id(),
            author: key.public(),
            created_at_ms: T0 + offset_ms,
            closes_at_ms,
            title: title.to_owned(),
            body: format!("Body of {title}.\n\nWe resolve to agree."),
            link: None,
            action: None,
            roster_heads: vec![],
            voting_opens_at_ms: None,
            draft: false,
            amendments: vec![],
        };
        Envelope::sign(Kind::Proposal, p.to_body(), &[key])
    }

    /// An endorsement by member `member` on `proposal`.
    pub fn endorsement(&self, member: usize, proposal: ObjectId, stance: Stance, offset_ms: u64) -> Envelope {
        let key = &self.keys[member];
        let e = Endorsement {
            coalition: self.id(),
            proposal,
            trust: key.public(),
            created_at_ms: T0 + offset_ms,
            stance,
            comment: None,
            delegation: None,
        };
        Envelope::sign(Kind::Endorsement, e.to_body(), &[key])
    }

    /// A proposal by trust `author`, signed by `signer`, under the roster
    /// version with `heads`, with an optional governance action.
    pub fn proposal_under(
        &self,
        signer: &Keypair,
        author: PublicKey,
        title: &str,
        heads: &[ObjectId],
        action: Option<Action>,
        offset_ms: u64,
    ) -> Envelope {
        let mut roster_heads = heads.to_vec();
        roster_heads.sort();
        roster_heads.dedup();
        let p = Proposal {
            coalition: self.id(),
            roster: version_id(&self.id(), &roster_heads),
            author,
            created_at_ms: T0 + offset_ms,
            closes_at_ms: None,
            title: title.to_owned(),
            body: String::new(),
            link: None,
            action,
            roster_heads,
            voting_opens_at_ms: None,
            draft: false,
            amendments: vec![],
        };
        Envelope::sign(Kind::Proposal, p.to_body(), &[signer])
    }

    /// A stance of trust `trust` signed by `signer`, under `delegation` if
    /// given.
    pub fn stance_by(
        &self,
        signer: &Keypair,
        trust: PublicKey,
        proposal: ObjectId,
        stance: Stance,
        offset_ms: u64,
        delegation: Option<ObjectId>,
    ) -> Envelope {
        let e = Endorsement {
            coalition: self.id(),
            proposal,
            trust,
            created_at_ms: T0 + offset_ms,
            stance,
            comment: None,
            delegation,
        };
        Envelope::sign(Kind::Endorsement, e.to_body(), &[signer])
    }

    /// A draft by member `author` created at `T0 + offset_ms`: voting
    /// opens at `T0 + opens` if given, or by an open-voting.
    pub fn draft(
        &self,
        author: usize,
        title: &str,
        offset_ms: u64,
        opens: Option<u64>,
        closes_at_ms: Option<u64>,
    ) -> Envelope {
        let p = self.draft_proposal(author, title, offset_ms, opens, closes_at_ms);
        Envelope::sign(Kind::Proposal, p.to_body(), &[&self.keys[author]])
    }

    /// The body of [`Fixture::draft`], to change before signing.
    pub fn draft_proposal(
        &self,
        author: usize,
        title: &str,
        offset_ms: u64,
        opens: Option<u64>,
        closes_at_ms: Option<u64>,
    ) -> Proposal {
        Proposal {
            coalition: self.id(),
            roster: self.id(),
            author: self.keys[author].public(),
            created_at_ms: T0 + offset_ms,
            closes_at_ms,
            title: title.to_owned(),
            body: format!("Draft of {title}."),
            link: None,
            action: None,
            roster_heads: vec![],
            voting_opens_at_ms: opens.map(|o| T0 + o),
            draft: true,
            amendments: vec![],
        }
    }

    /// A comment by member `member` on `proposal`, signed by its own key.
    pub fn comment(
        &self,
        member: usize,
        proposal: ObjectId,
        text: &str,
        reply_to: Option<ObjectId>,
        offset_ms: u64,
    ) -> Envelope {
        let key = &self.keys[member];
        self.comment_by(key, key.public(), proposal, text, reply_to, None, offset_ms, None)
    }

    /// A comment of trust `trust` signed by `signer` (under `delegation`
    /// if given), with an amendment if given.
    #[allow(clippy::too_many_arguments)]
    pub fn comment_by(
        &self,
        signer: &Keypair,
        trust: PublicKey,
        proposal: ObjectId,
        text: &str,
        reply_to: Option<ObjectId>,
        amendment: Option<Amendment>,
        offset_ms: u64,
        delegation: Option<ObjectId>,
    ) -> Envelope {
        let c = Comment {
            coalition: self.id(),
            created_at_ms: T0 + offset_ms,
            proposal,
            trust,
            delegation,
            text: text.to_owned(),
            reply_to,
            amendment,
        };
        Envelope::sign(Kind::Comment, c.to_body(), &[signer])
    }

    /// An open-voting of `proposal` naming `author` (member index), signed
    /// by that member's key, at `T0 + offset_ms`.
    pub fn open_voting(&self, author: usize, proposal: ObjectId, offset_ms: u64) -> Envelope {
        let key = &self.keys[author];
        let o = OpenVoting { coalition: self.id(), created_at_ms: T0 + offset_ms, proposal, author: key.public() };
        Envelope::sign(Kind::OpenVoting, o.to_body(), &[key])
    }

    /// A withdrawal of `proposal` naming `author` (member index), signed
    /// by that member's key, at `T0 + offset_ms`.
    pub fn withdrawal(&self, author: usize, proposal: ObjectId, reason: Option<&str>, offset_ms: u64) -> Envelope {
        let key = &self.keys[author];
        let w = Withdrawal {
            coalition: self.id(),
            created_at_ms: T0 + offset_ms,
            proposal,
            author: key.public(),
            reason: reason.map(str::to_owned),
        };
        Envelope::sign(Kind::Withdrawal, w.to_body(), &[key])
    }

    /// An object of kind `kind` with the common header (4, 8 to 31, the
    /// defined 10, 13 and 14 included, as an older node built one) signed
    /// by `signer`:
    /// the common header (this coalition, `T0 + offset_ms`) followed by
    /// `tail`, which a node that does not define the kind never reads.
    pub fn opaque(&self, kind: i32, signer: &Keypair, offset_ms: u64, tail: &[u8]) -> Envelope {
        let kind = Kind::from_wire(kind).filter(|k| k.has_common_header()).expect("a reserved kind");
        let mut body = OpaqueHeader { coalition: self.id(), created_at_ms: T0 + offset_ms }.to_bytes();
        body.extend_from_slice(tail);
        Envelope::sign(kind, body, &[signer])
    }

    /// A delegation of stances (and node, if `node`) by `trust`, signed by
    /// `signer`, valid from `T0` for `valid_ms` (or without end).
    pub fn delegation(
        &self,
        signer: &Keypair,
        trust: PublicKey,
        delegate: PublicKey,
        valid_ms: Option<u64>,
        offset_ms: u64,
    ) -> Envelope {
        let d = Delegation {
            coalition: self.id(),
            trust,
            delegate,
            name: "Leader".into(),
            role: "Chief executive".into(),
            valid_from_ms: T0,
            valid_until_ms: valid_ms.map(|v| T0 + v),
            scope: crate::SCOPE_STANCES,
            created_at_ms: T0 + offset_ms,
        };
        Envelope::sign(Kind::Delegation, d.to_body(), &[signer])
    }

    /// A revocation of `delegation` keeping `keep`.
    pub fn revocation(
        &self,
        signer: &Keypair,
        trust: PublicKey,
        delegation: ObjectId,
        mut keep: Vec<ObjectId>,
        offset_ms: u64,
    ) -> Envelope {
        keep.sort();
        keep.dedup();
        let r = Revocation { coalition: self.id(), trust, delegation, keep, created_at_ms: T0 + offset_ms };
        Envelope::sign(Kind::Revocation, r.to_body(), &[signer])
    }

    /// A rotation of `trust`'s key `signer` to `new_key`, keeping `keep`.
    pub fn rotation(
        &self,
        signer: &Keypair,
        trust: PublicKey,
        new_key: PublicKey,
        mut keep: Vec<ObjectId>,
        offset_ms: u64,
    ) -> Envelope {
        keep.sort();
        keep.dedup();
        let r = KeyRotation { coalition: self.id(), trust, new_key, keep, created_at_ms: T0 + offset_ms };
        Envelope::sign(Kind::KeyRotation, r.to_body(), &[signer])
    }

    /// A certificate for a fresh proposal endorsed by the first `endorsers`
    /// members; its proposal envelope comes too.
    /// The certificate the benchmarks measure: a proposal by member 0
    /// endorsed by every member, each endorsement with a 53-byte comment
    /// (signing inputs of about 200 bytes). Returns the certificate, the
    /// proposal and the endorsements.
    pub fn endorsed_by_all(&self) -> (Vec<u8>, Envelope, Vec<Envelope>) {
        let p = self.proposal(0, "Adopt the coalition's response to the consultation", 1, None);
        let ends: Vec<Envelope> = self
            .keys
            .iter()
            .map(|k| {
                let e = Endorsement {
                    coalition: self.id(),
                    proposal: p.id(),
                    trust: k.public(),
                    created_at_ms: T0 + 2,
                    stance: Stance::Endorse,
                    comment: Some("We endorse this on behalf of our schools and boards.".into()),
                    delegation: None,
                };
                Envelope::sign(Kind::Endorsement, e.to_body(), &[k])
            })
            .collect();
        (certificate::assemble(self.coalition.genesis_envelope(), &p, &ends), p, ends)
    }

    /// A certificate of a proposal by member 0 endorsed by the first
    /// `endorsers` members, and the proposal.
    pub fn certificate(&self, endorsers: usize) -> (Vec<u8>, Envelope) {
        let p = self.proposal(0, "Certified", 1, None);
        let ends: Vec<Envelope> = (0..endorsers).map(|i| self.endorsement(i, p.id(), Stance::Endorse, 2)).collect();
        (certificate::assemble(self.coalition.genesis_envelope(), &p, &ends), p)
    }
}

/// splitmix64: a small, well-mixed, dependency-free generator, so a seeded
/// test (mutations, simulations) judges the same cases on every run.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index below `len` (0 when `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        (self.next() % len.max(1) as u64) as usize
    }

    /// True once in `one_in` times on average.
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

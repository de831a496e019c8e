//! Deterministic fixtures for tests of this and other crates (feature
//! `test`): keys from fixed seeds, a coalition of any size, and signed
//! proposals and endorsements.

use crate::{
    certificate, AdoptionRule, Charter, Coalition, Endorsement, Envelope, Genesis, Keypair, Kind, Member, ObjectId,
    Proposal, Stance,
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
        let mut keys: Vec<Keypair> = (0..n).map(member_key).collect();
        keys.sort_by_key(|k| *k.public().as_bytes());
        let genesis = Genesis {
            name: format!("Test coalition of {n}"),
            charter: Charter { positions: rule },
            founders: keys
                .iter()
                .enumerate()
                .map(|(i, k)| Member { key: k.public(), name: format!("Trust {i}"), external_id: None })
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
        };
        Envelope::sign(Kind::Endorsement, e.to_body(), &[key])
    }

    /// A certificate for a fresh proposal endorsed by the first `endorsers`
    /// members; its proposal envelope comes too.
    pub fn certificate(&self, endorsers: usize) -> (Vec<u8>, Envelope) {
        let p = self.proposal(0, "Certified", 1, None);
        let ends: Vec<Envelope> = (0..endorsers).map(|i| self.endorsement(i, p.id(), Stance::Endorse, 2)).collect();
        (certificate::assemble(self.coalition.genesis_envelope(), &p, &ends), p)
    }
}

//! Object kinds and their domain-separation prefixes.

use chorus_proto::v1::ObjectKind;

/// Prefix of the message founders sign: the genesis id follows it.
pub const GENESIS_ID_PREFIX: &[u8] = b"chorus/v1/genesis-id\n";

/// A kind of signed object known to protocol v1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Founding document of a coalition.
    Genesis,
    /// A text put to the members.
    Proposal,
    /// A member's stance on a proposal.
    Endorsement,
    /// A trust authorises a delegate key.
    Delegation,
    /// A trust withdraws a delegation.
    Revocation,
    /// A trust's key hands over to a new key.
    #[serde(rename = "key-rotation")]
    KeyRotation,
}

impl Kind {
    /// Every v1 kind, in wire-number order.
    pub const ALL: [Kind; 6] =
        [Kind::Genesis, Kind::Proposal, Kind::Endorsement, Kind::Delegation, Kind::Revocation, Kind::KeyRotation];

    /// The number carried in `Envelope.kind`.
    pub fn wire(self) -> i32 {
        match self {
            Kind::Genesis => ObjectKind::Genesis as i32,
            Kind::Proposal => ObjectKind::Proposal as i32,
            Kind::Endorsement => ObjectKind::Endorsement as i32,
            Kind::Delegation => ObjectKind::Delegation as i32,
            Kind::Revocation => ObjectKind::Revocation as i32,
            Kind::KeyRotation => ObjectKind::KeyRotation as i32,
        }
    }

    /// The kind for a wire number, if it is a v1 kind.
    pub fn from_wire(n: i32) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.wire() == n)
    }

    /// Lower-case name used in the signing prefix and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Genesis => "genesis",
            Kind::Proposal => "proposal",
            Kind::Endorsement => "endorsement",
            Kind::Delegation => "delegation",
            Kind::Revocation => "revocation",
            Kind::KeyRotation => "key-rotation",
        }
    }

    /// `"chorus/v1/<kind>\n"`: prepended to the body to form the id preimage
    /// (and, except for a genesis, the signing input), so a signature or id
    /// for one kind, protocol or version can never be read as another.
    pub fn signing_prefix(self) -> &'static [u8] {
        match self {
            Kind::Genesis => b"chorus/v1/genesis\n",
            Kind::Proposal => b"chorus/v1/proposal\n",
            Kind::Endorsement => b"chorus/v1/endorsement\n",
            Kind::Delegation => b"chorus/v1/delegation\n",
            Kind::Revocation => b"chorus/v1/revocation\n",
            Kind::KeyRotation => b"chorus/v1/key-rotation\n",
        }
    }

    /// The exact bytes a signature of this kind covers.
    ///
    /// Proposals and endorsements: `"chorus/v1/<kind>\n" || body`, the id
    /// preimage itself. Genesis: `"chorus/v1/genesis-id\n" || id`, where `id`
    /// is SHA-256 of `"chorus/v1/genesis\n" || body`. A genesis is signed by
    /// every founder, up to 10,000 of them, and ed25519 hashes the whole
    /// message once per check: signing the 32-byte id, which commits to the
    /// exact body bytes, keeps a large genesis from costing
    /// founders × body-size of hashing.
    pub fn signing_input(self, body: &[u8]) -> Vec<u8> {
        if self == Kind::Genesis {
            let id = crate::id::ObjectId::compute(self, body);
            let mut v = Vec::with_capacity(GENESIS_ID_PREFIX.len() + 32);
            v.extend_from_slice(GENESIS_ID_PREFIX);
            v.extend_from_slice(id.as_bytes());
            return v;
        }
        let prefix = self.signing_prefix();
        let mut v = Vec::with_capacity(prefix.len() + body.len());
        v.extend_from_slice(prefix);
        v.extend_from_slice(body);
        v
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

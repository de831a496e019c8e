//! Object kinds and their domain-separation prefixes: the nine kinds this
//! version defines, and the reserved kinds whose name and common header are
//! fixed now so that a node keeps and forwards them before it knows them
//! (PROTOCOL.md 3.4). Kinds 10, 13 and 14 were reserved before they were
//! defined: their names and common header are the ones fixed then, so their
//! ids and signing inputs are the same whether or not a node defines them.

use chorus_proto::v1::ObjectKind;

/// Prefix of the message founders sign: the genesis id follows it.
pub const GENESIS_ID_PREFIX: &[u8] = b"chorus/v1/genesis-id\n";

/// A kind of signed object of protocol v1: one this version defines, or a
/// reserved kind (4, 8, 9, 11, 12, 15 to 31) it admits as an opaque object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    KeyRotation,
    /// A member's comment on a proposal, or an amendment (kind 10).
    Comment,
    /// The author opens voting on a proposal (kind 13).
    OpenVoting,
    /// The author withdraws a proposal (kind 14).
    Withdrawal,
    /// A reserved kind: named, with a common header, body otherwise opaque
    /// to this version (PROTOCOL.md 3.4).
    Opaque(OpaqueKind),
}

/// Number, name and signing prefix of every reserved kind (PROTOCOL.md 3.1,
/// 4). Fixed now, so a node computes the id and signing input of an object
/// of a kind defined after it was built.
const RESERVED: [(u8, &str, &[u8]); 22] = [
    (4, "kind-4", b"chorus/v1/kind-4\n"),
    (8, "kind-8", b"chorus/v1/kind-8\n"),
    (9, "node-certificate", b"chorus/v1/node-certificate\n"),
    (11, "ballot", b"chorus/v1/ballot\n"),
    (12, "roster-head", b"chorus/v1/roster-head\n"),
    (15, "kind-15", b"chorus/v1/kind-15\n"),
    (16, "kind-16", b"chorus/v1/kind-16\n"),
    (17, "kind-17", b"chorus/v1/kind-17\n"),
    (18, "kind-18", b"chorus/v1/kind-18\n"),
    (19, "kind-19", b"chorus/v1/kind-19\n"),
    (20, "kind-20", b"chorus/v1/kind-20\n"),
    (21, "kind-21", b"chorus/v1/kind-21\n"),
    (22, "kind-22", b"chorus/v1/kind-22\n"),
    (23, "kind-23", b"chorus/v1/kind-23\n"),
    (24, "kind-24", b"chorus/v1/kind-24\n"),
    (25, "kind-25", b"chorus/v1/kind-25\n"),
    (26, "kind-26", b"chorus/v1/kind-26\n"),
    (27, "kind-27", b"chorus/v1/kind-27\n"),
    (28, "kind-28", b"chorus/v1/kind-28\n"),
    (29, "kind-29", b"chorus/v1/kind-29\n"),
    (30, "kind-30", b"chorus/v1/kind-30\n"),
    (31, "kind-31", b"chorus/v1/kind-31\n"),
];

/// A reserved kind this version does not define: 4, 8, 9, 11, 12 or 15 to
/// 31. Its objects
/// are kept and forwarded as opaque objects (PROTOCOL.md 3.4); made only by
/// [`OpaqueKind::new`], so the number is always a reserved one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpaqueKind(u8);

impl OpaqueKind {
    /// Every reserved kind this version does not define, in number order.
    pub fn all() -> impl Iterator<Item = OpaqueKind> {
        RESERVED.iter().map(|(n, _, _)| OpaqueKind(*n))
    }

    /// The reserved kind with this wire number, if it is one this version
    /// does not define.
    pub fn new(n: i32) -> Option<OpaqueKind> {
        RESERVED.iter().find(|(r, _, _)| i32::from(*r) == n).map(|(r, _, _)| OpaqueKind(*r))
    }

    /// The wire number.
    pub fn number(self) -> u8 {
        self.0
    }

    fn entry(self) -> &'static (u8, &'static str, &'static [u8]) {
        // `new` admits only numbers of the table.
        RESERVED.iter().find(|(n, _, _)| *n == self.0).unwrap_or(&RESERVED[0])
    }
}

impl Kind {
    /// True for the kinds whose objects carry the common header of
    /// PROTOCOL.md 3.4 (4 and 8 to 31), whether or not this version
    /// defines the kind: older nodes admitted such objects opaquely, so a
    /// version that defines one (comment, open-voting, withdrawal) must
    /// expect stored objects of it that its own rules refuse.
    pub fn has_common_header(self) -> bool {
        matches!(self, Kind::Opaque(_) | Kind::Comment | Kind::OpenVoting | Kind::Withdrawal)
    }

    /// Every kind this version defines, in wire-number order (reserved
    /// kinds: [`OpaqueKind::all`]).
    pub const ALL: [Kind; 9] = [
        Kind::Genesis,
        Kind::Proposal,
        Kind::Endorsement,
        Kind::Delegation,
        Kind::Revocation,
        Kind::KeyRotation,
        Kind::Comment,
        Kind::OpenVoting,
        Kind::Withdrawal,
    ];

    /// The number carried in `Envelope.kind`.
    pub fn wire(self) -> i32 {
        match self {
            Kind::Genesis => ObjectKind::Genesis as i32,
            Kind::Proposal => ObjectKind::Proposal as i32,
            Kind::Endorsement => ObjectKind::Endorsement as i32,
            Kind::Delegation => ObjectKind::Delegation as i32,
            Kind::Revocation => ObjectKind::Revocation as i32,
            Kind::KeyRotation => ObjectKind::KeyRotation as i32,
            Kind::Comment => ObjectKind::Comment as i32,
            Kind::OpenVoting => ObjectKind::OpenVoting as i32,
            Kind::Withdrawal => ObjectKind::Withdrawal as i32,
            Kind::Opaque(k) => i32::from(k.0),
        }
    }

    /// The kind for a wire number: a defined kind, or a reserved one (4, 8
    /// to 31); `None` for any other number (`UnknownKind`).
    pub fn from_wire(n: i32) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.wire() == n).or_else(|| OpaqueKind::new(n).map(Kind::Opaque))
    }

    /// The kind with this name (as [`Kind::name`] spells it).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().chain(OpaqueKind::all().map(Kind::Opaque)).find(|k| k.name() == name)
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
            Kind::Comment => "comment",
            // Names fixed when the kinds were reserved, kept so that ids and
            // signatures made before they were defined stay valid.
            Kind::OpenVoting => "kind-13",
            Kind::Withdrawal => "kind-14",
            Kind::Opaque(k) => k.entry().1,
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
            Kind::Comment => b"chorus/v1/comment\n",
            Kind::OpenVoting => b"chorus/v1/kind-13\n",
            Kind::Withdrawal => b"chorus/v1/kind-14\n",
            Kind::Opaque(k) => k.entry().2,
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

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Kind::from_name(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown object kind {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_from_1_to_31_has_a_name_and_its_prefix() {
        for n in -1..=40 {
            let Some(kind) = Kind::from_wire(n) else {
                assert!(!(1..=31).contains(&n), "{n} has no kind");
                continue;
            };
            assert_eq!(kind.wire(), n);
            assert_eq!(kind.signing_prefix(), format!("chorus/v1/{}\n", kind.name()).as_bytes());
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
            assert_eq!(kind.has_common_header(), n == 4 || n >= 8, "{n}");
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), kind);
        }
        let names: Vec<&str> = [4, 8, 9, 10, 11, 12, 13, 31].map(|n| Kind::from_wire(n).unwrap().name()).to_vec();
        assert_eq!(
            names,
            ["kind-4", "kind-8", "node-certificate", "comment", "ballot", "roster-head", "kind-13", "kind-31"]
        );
        assert_eq!(OpaqueKind::all().count(), 22);
        for n in [10, 13, 14] {
            assert!(OpaqueKind::new(n).is_none(), "{n} is defined now");
        }
        let defined = [Kind::Comment, Kind::OpenVoting, Kind::Withdrawal].map(|k| (k.wire(), k.name()));
        assert_eq!(defined, [(10, "comment"), (13, "kind-13"), (14, "kind-14")]);
    }
}

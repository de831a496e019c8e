//! Object ids: SHA-256 of an object's kind prefix and body (its signing
//! input, for every kind but the genesis).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::kind::Kind;

/// The id of a signed object: SHA-256 over `"chorus/v1/<kind>\n" || body`,
/// the same bytes the signatures cover (a genesis's founders sign
/// `"chorus/v1/genesis-id\n" || id` instead, which commits to the same
/// bytes). Two envelopes with the same kind and
/// body have the same id whatever their signatures, so a re-signed or
/// malleated copy never becomes a second object.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub [u8; 32]);

/// A coalition is identified by the id of its genesis.
pub type CoalitionId = ObjectId;

impl ObjectId {
    /// Computes the id of a body of the given kind.
    pub fn compute(kind: Kind, body: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(kind.signing_prefix());
        h.update(body);
        ObjectId(h.finalize().into())
    }

    /// Builds an id from a byte slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(ObjectId)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first `n` hex characters, for display.
    pub fn short(&self, n: usize) -> String {
        let mut s = self.to_hex();
        s.truncate(n.min(64));
        s
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.short(16))
    }
}

/// Why a string is not an object id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an object id: expected 64 hex characters, got {0:?}")]
pub struct ParseIdError(pub String);

impl FromStr for ObjectId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| ParseIdError(s.chars().take(80).collect()))?;
        Ok(ObjectId(out))
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

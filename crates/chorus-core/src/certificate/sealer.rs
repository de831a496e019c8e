//! Who seals a certificate and with which key (PROTOCOL.md 9.2 step 22):
//! the one choice every path that exports a certificate makes, so a node
//! gives the same bytes everywhere.

use crate::certificate::seal::{seal_body, Seal};
use crate::id::ObjectId;
use crate::keys::{Keypair, PublicKey};
use crate::ledger::Ledger;

/// Who seals certificates: a member trust and the keys its node holds,
/// preferred first (its trust key, then its node key). A certificate is
/// sealed with the first key that may seal it under the ledger
/// ([`Ledger::seal_choice`]): a current key of the trust (no delegation),
/// else the delegate of the lowest-id node-scope delegation of the trust
/// the ledger holds ([`Ledger::seal_delegation`]). The seal carries no time
/// and ed25519 is deterministic, so the same ledger and sealer give the
/// same bytes.
#[derive(Clone, Copy)]
pub struct Sealer<'a> {
    /// The sealing member trust.
    pub trust: PublicKey,
    /// Keys to seal with, preferred first.
    pub keys: &'a [Keypair],
}

impl std::fmt::Debug for Sealer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys' secrets.
        let keys: Vec<PublicKey> = self.keys.iter().map(Keypair::public).collect();
        f.debug_struct("Sealer").field("trust", &self.trust).field("keys", &keys).finish()
    }
}

/// The key chosen to seal a certificate, from [`Ledger::seal_choice`].
#[derive(Clone, Copy)]
pub struct SealChoice<'a> {
    /// The key that signs the seal.
    pub key: &'a Keypair,
    /// The node-scope delegation the seal names, when `key` is not a key of
    /// the trust.
    pub delegation: Option<ObjectId>,
}

impl std::fmt::Debug for SealChoice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key's secret.
        f.debug_struct("SealChoice").field("key", &self.key.public()).field("delegation", &self.delegation).finish()
    }
}

impl<'a> Sealer<'a> {
    /// The seal on the certificate of held proposal `id` carrying the
    /// stance ids `stances` (sorted), by the key [`Ledger::seal_choice`]
    /// picks, with that choice and the ids the certificate's chain must
    /// also carry for it ([`Ledger::seal_proof`]). `None` when `stances` is
    /// empty (nothing to attest) or none of the keys may seal.
    pub fn seal(
        &self,
        l: &Ledger,
        id: &ObjectId,
        stances: &[ObjectId],
    ) -> Option<(Seal, SealChoice<'a>, Vec<ObjectId>)> {
        if stances.is_empty() {
            return None;
        }
        let (choice, proof) = l.seal_choice(id, &self.trust, self.keys)?;
        let body = seal_body(&l.coalition().id(), id, &self.trust, choice.delegation.as_ref(), stances);
        Some((Seal::sign(body, choice.key), choice, proof))
    }
}

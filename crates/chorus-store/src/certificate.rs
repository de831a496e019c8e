//! Certificates assembled from the exact stored envelopes, sealed when the
//! caller holds a key that may seal them (PROTOCOL.md 9.2 step 22).

use chorus_core::certificate::{self, Seal, Sealer};
use chorus_core::{Envelope, Ledger, ObjectId, PublicKey};

use crate::error::StoreError;
use crate::record::object_key;
use crate::store::Store;

/// How a certificate is sealed.
// Keys carry their decompressed points; one value is built per
// certificate, so boxing would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealState {
    /// Sealed by `signer` for `trust`, under node-scope `delegation` when
    /// the signer is not a key of the trust.
    Sealed {
        /// The sealing trust.
        trust: PublicKey,
        /// The key that signed the seal.
        signer: PublicKey,
        /// The delegation the seal names, if any.
        delegation: Option<ObjectId>,
    },
    /// Not sealed, and why (one line): no sealer was given, or none of its
    /// keys may seal under the held objects.
    Unsealed(String),
}

/// A certificate as the store assembled it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssembledCertificate {
    /// The certificate bytes.
    pub bytes: Vec<u8>,
    /// Whether and by whom it is sealed.
    pub seal: SealState,
}

/// The ids the ledger chose, read under one lock.
struct Chosen {
    endorsements: Vec<ObjectId>,
    dissent: Vec<ObjectId>,
    chain: Vec<ObjectId>,
    seal: Option<(Seal, SealState)>,
    unsealed: String,
}

impl Store {
    /// The certificate of an adopted proposal, unsealed: the exact stored
    /// envelopes chosen by [`Ledger::certificate_endorsements`] and
    /// [`Ledger::certificate_dissent`], with the proof chain of
    /// [`Ledger::certificate_chain`], assembled by
    /// [`chorus_core::certificate::assemble_full`], so it verifies offline.
    /// With no dissent it is the certificate of
    /// [`chorus_core::certificate::assemble_with_chain`]. `Ok(None)` when the
    /// proposal is unknown or not adopted.
    pub fn certificate(&self, proposal: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.sealed_certificate(proposal, None)?.map(|c| c.bytes))
    }

    /// [`Store::certificate`], sealed by `sealer` when one of its keys may
    /// seal it ([`Sealer`]); the chain then also carries what the seal's
    /// signer needs ([`Ledger::seal_proof`]). The seal lists every
    /// endorsement and dissent entry carried, carries no time, and ed25519
    /// is deterministic: the same objects and sealer give the same bytes.
    /// Everything is chosen from one state of the ledger. `Ok(None)` when
    /// the proposal is unknown or not adopted.
    pub fn sealed_certificate(
        &self,
        proposal: &ObjectId,
        sealer: Option<&Sealer>,
    ) -> Result<Option<AssembledCertificate>, StoreError> {
        let Some(chosen) = self.with_ledger(|l| choose(l, proposal, sealer)) else {
            return Ok(None);
        };
        let Some(proposal_envelope) = self.get_envelope(proposal)? else {
            return Ok(None);
        };
        let (Some(ends), Some(dissent), Some(links)) = (
            self.get_envelopes(&chosen.endorsements)?,
            self.get_envelopes(&chosen.dissent)?,
            self.get_envelopes(&chosen.chain)?,
        ) else {
            return Ok(None);
        };
        let mut state = SealState::Unsealed(chosen.unsealed);
        let mut seal = None;
        if let Some((s, sealed)) = chosen.seal {
            seal = Some(s);
            state = sealed;
        }
        // The seal's proof objects are part of `chain` already (see
        // `choose`); a certificate whose chain could not be read is not
        // assembled at all, so a seal is never carried without its proof.
        let bytes = certificate::assemble_full(
            self.inner.coalition.genesis_envelope(),
            &proposal_envelope,
            &ends,
            &dissent,
            &links,
            seal,
        );
        Ok(Some(AssembledCertificate { bytes, seal: state }))
    }

    fn get_envelopes(&self, ids: &[ObjectId]) -> Result<Option<Vec<Envelope>>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.get_envelope(id)? {
                Some(e) => out.push(e),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    pub(crate) fn get_envelope(&self, id: &ObjectId) -> Result<Option<Envelope>, StoreError> {
        let Some(bytes) = self.get(id)? else { return Ok(None) };
        // get() already decoded these bytes once; a failure here would be a
        // bug, reported as corruption rather than a panic.
        Envelope::decode(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt { key: hex::encode(object_key(id)), detail: e.to_string() })
    }
}

/// The parts of the certificate of `id` and its seal, from one ledger
/// state; `None` when `id` is not an adopted proposal.
fn choose(l: &Ledger, id: &ObjectId, sealer: Option<&Sealer>) -> Option<Chosen> {
    let endorsements = l.certificate_endorsements(id)?;
    let dissent = l.certificate_dissent(id)?;
    let mut chain = l.certificate_chain(id)?;
    let mut stances: Vec<ObjectId> = endorsements.iter().chain(&dissent).copied().collect();
    stances.sort();
    let (seal, unsealed) = match sealer {
        None => (None, "no sealer was given".to_string()),
        Some(sealer) => match sealer.seal(l, id, &stances) {
            Some((s, choice, proof)) => {
                chain.extend(proof);
                chain.sort();
                chain.dedup();
                let state = SealState::Sealed {
                    trust: sealer.trust,
                    signer: choice.key.public(),
                    delegation: choice.delegation,
                };
                (Some((s, state)), String::new())
            }
            None => (None, why_unsealed(l, id, sealer)),
        },
    };
    Some(Chosen { endorsements, dissent, chain, seal, unsealed })
}

/// Why `sealer` cannot seal the certificate of `id`, one line.
fn why_unsealed(l: &Ledger, id: &ObjectId, sealer: &Sealer) -> String {
    let member = l.proposal(id).and_then(|p| l.roster(&p.roster)).is_some_and(|r| r.contains(&sealer.trust));
    if !member {
        return format!(
            "trust {} is not a member of the proposal's roster version, so its node cannot seal",
            sealer.trust.short(12)
        );
    }
    format!(
        "none of the node's keys ({}) is a key of trust {} or the delegate of a node-scope delegation of it that this \
         node holds; `chorus delegate --key <node key> --scope node` signs one",
        sealer.keys.iter().map(|k| k.public().short(12)).collect::<Vec<_>>().join(", "),
        sealer.trust.short(12)
    )
}

//! Certificates assembled from the exact stored envelopes.

use chorus_core::{certificate, Envelope, ObjectId};

use crate::error::StoreError;
use crate::record::object_key;
use crate::store::Store;

impl Store {
    /// The certificate of an adopted proposal, assembled with
    /// [`chorus_core::certificate::assemble_with_chain`] from the exact
    /// stored envelopes chosen by [`chorus_core::Ledger::certificate_endorsements`] and
    /// the proof chain of [`chorus_core::Ledger::certificate_chain`] (empty under the
    /// genesis roster with stances signed by trust ids, which gives the
    /// certificate of [`chorus_core::certificate::assemble`]), so it
    /// verifies offline. `Ok(None)` when the proposal is unknown or not
    /// adopted.
    pub fn certificate(&self, proposal: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((endorsements, chain)) =
            self.with_ledger(|l| Some((l.certificate_endorsements(proposal)?, l.certificate_chain(proposal)?)))
        else {
            return Ok(None);
        };
        let mut links = Vec::with_capacity(chain.len());
        for id in &chain {
            match self.get_envelope(id)? {
                Some(e) => links.push(e),
                None => return Ok(None),
            }
        }
        let Some(proposal) = self.get_envelope(proposal)? else {
            return Ok(None);
        };
        let mut ends = Vec::with_capacity(endorsements.len());
        for id in &endorsements {
            match self.get_envelope(id)? {
                Some(e) => ends.push(e),
                None => return Ok(None),
            }
        }
        Ok(Some(certificate::assemble_with_chain(self.inner.coalition.genesis_envelope(), &proposal, &ends, &links)))
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

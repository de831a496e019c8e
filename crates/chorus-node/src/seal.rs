//! Sealing the certificates the node exports (PROTOCOL.md 9.2 steps 13b
//! and 22): every path that produces a certificate (the control socket's
//! `certificate`, the website and `chorus publish`) seals it with the same
//! keys and the same choice, so the node gives the same bytes everywhere.
//!
//! The choice, certificate by certificate: the trust key when the node holds
//! it and it is a key of the trust (the seal names no delegation); else the
//! node key, under the lowest-id node-scope delegation of it by the trust
//! that the ledger holds; else the certificate is exported unsealed and the
//! node logs one warning line saying why.

use chorus_core::certificate::Sealer;
use chorus_core::{Envelope, Keypair, Ledger, ObjectId, PublicKey};
use chorus_store::{SealState, Store};

/// The member trust a node seals for and the keys it holds, preferred
/// first (the trust key, when the node holds it, then the node key).
#[derive(Clone)]
pub struct SealKeys {
    /// The node's trust.
    pub trust: PublicKey,
    /// Keys to seal with, preferred first.
    pub keys: Vec<Keypair>,
}

impl std::fmt::Debug for SealKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The sealer's, which never prints the keys' secrets.
        self.sealer().fmt(f)
    }
}

impl SealKeys {
    /// The keys as the store and the website take them (one type,
    /// [`chorus_core::certificate::Sealer`]).
    pub fn sealer(&self) -> Sealer<'_> {
        Sealer { trust: self.trust, keys: &self.keys }
    }

    /// True when one of the keys may seal the certificate of adopted
    /// proposal `id` under `l` (the choice of [`Ledger::seal_choice`], which
    /// the store and the website make): a key of the trust, or the delegate
    /// of a node-scope delegation of it, with the objects that prove it held.
    pub fn can_seal(&self, l: &Ledger, id: &ObjectId) -> bool {
        l.seal_choice(id, &self.trust, &self.keys).is_some()
    }

    /// The positions whose certificates these keys cannot seal under `l`.
    pub fn unsealable(&self, l: &Ledger) -> usize {
        l.positions().iter().filter(|p| !self.can_seal(l, p)).count()
    }

    /// Logs one warning line when some positions' certificates are
    /// exported unsealed; `what` names the export (the website, a
    /// publish). Returns how many are ([`SealKeys::unsealable`]).
    pub fn warn_unsealable(&self, l: &Ledger, what: &str) -> usize {
        let n = self.unsealable(l);
        if n > 0 {
            tracing::warn!(
                unsealed = n,
                trust = %self.trust,
                "{what}: {n} certificates are exported unsealed (their dissent is not attested): this node holds \
                 neither a key of its trust nor a node-scope delegation of its node key (`chorus delegate --key <node \
                 key> --scope node`), or its trust is not a member of the proposals' roster versions"
            );
        }
        n
    }
}

/// A certificate as the node exports it, and whether it is sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    /// The certificate bytes.
    pub bytes: Vec<u8>,
    /// True when it carries a seal.
    pub sealed: bool,
    /// The trust whose node sealed it, when it is sealed.
    pub sealed_by: Option<PublicKey>,
    /// Why it carries none, when it does not (asked for unsealed, or no
    /// key of the node may seal it).
    pub unsealed_reason: Option<String>,
}

/// Why a certificate exported with `--no-seal` is unsealed.
pub const NOT_SEALED_ON_REQUEST: &str = "a certificate without dissent and seal was asked for";

/// Why a certificate is unsealed when the objects that authorise its seal
/// are not all stored.
const PROOF_MISSING: &str = "the objects that authorise the seal's key are not all stored here";

/// The certificate of adopted proposal `id` as every path of the node
/// exports it (the control socket, the website, `chorus publish`): sealed
/// by `keys` when one of them may seal it and what authorises the seal is
/// stored, else unsealed with the reason. Nothing is logged. `Ok(None)`
/// when the proposal is unknown or not adopted.
pub fn assemble(store: &Store, id: &ObjectId, keys: Option<&SealKeys>) -> Result<Option<Exported>, String> {
    let sealer = keys.map(SealKeys::sealer);
    let cert = match store.sealed_certificate(id, sealer.as_ref()).map_err(|e| e.to_string())? {
        Some(c) => c,
        // The store assembles nothing when an object the seal's proof
        // names is missing: export it unsealed, as when no key may seal.
        None if sealer.is_some() => match store.sealed_certificate(id, None).map_err(|e| e.to_string())? {
            Some(mut c) => {
                c.seal = SealState::Unsealed(PROOF_MISSING.into());
                c
            }
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    Ok(Some(match cert.seal {
        SealState::Sealed { trust, .. } => {
            Exported { bytes: cert.bytes, sealed: true, sealed_by: Some(trust), unsealed_reason: None }
        }
        SealState::Unsealed(why) => {
            let why = if keys.is_none() { "this node has no key to seal certificates with".to_string() } else { why };
            Exported { bytes: cert.bytes, sealed: false, sealed_by: None, unsealed_reason: Some(why) }
        }
    }))
}

/// [`assemble`] with `keys`, logging one warning line when the certificate
/// is exported unsealed.
pub fn certificate(store: &Store, id: &ObjectId, keys: &SealKeys) -> Result<Option<Exported>, String> {
    let cert = assemble(store, id, Some(keys))?;
    match &cert {
        Some(Exported { sealed_by: Some(trust), .. }) => tracing::debug!(proposal = %id, %trust, "certificate sealed"),
        Some(Exported { unsealed_reason: Some(why), .. }) => {
            tracing::warn!(proposal = %id, "certificate exported unsealed (its dissent is not attested): {why}")
        }
        _ => {}
    }
    Ok(cert)
}

/// The certificate of adopted proposal `id` in the form made before
/// dissent was recorded: its proposal, endorsements and proof chain, with
/// neither dissent entries (field 6) nor a seal (field 7), so that a
/// verifier of an earlier version, which refuses those fields, accepts it
/// (during a rolling upgrade). The current verifier reports "dissent not
/// recorded". `Ok(None)` when the proposal is unknown or not adopted.
pub fn unsealed_certificate(store: &Store, id: &ObjectId) -> Result<Option<Vec<u8>>, String> {
    let Some((endorsements, chain)) =
        store.with_ledger(|l| Some((l.certificate_endorsements(id)?, l.certificate_chain(id)?)))
    else {
        return Ok(None);
    };
    let envelope = |i: &ObjectId| -> Result<Envelope, String> {
        let bytes = store
            .get(i)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("object {i}, which the certificate of {id} carries, is not stored"))?;
        Envelope::decode(&bytes).map_err(|e| format!("stored object {i} does not decode: {e}"))
    };
    let proposal = envelope(id)?;
    let endorsements = endorsements.iter().map(envelope).collect::<Result<Vec<_>, _>>()?;
    let chain = chain.iter().map(envelope).collect::<Result<Vec<_>, _>>()?;
    let genesis = store.coalition().genesis_envelope();
    Ok(Some(chorus_core::certificate::assemble_with_chain(genesis, &proposal, &endorsements, &chain)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::testkit::{Fixture, T0};
    use chorus_core::{Delegation, Envelope, Kind, Stance, SCOPE_NODE};

    fn store_with(f: &Fixture, objects: &[&Envelope]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let config = chorus_store::StoreConfig { fsync: false, ..Default::default() };
        let store = Store::create(&dir.path().join("s"), f.coalition.genesis_envelope().bytes(), config).unwrap();
        let bytes: Vec<&[u8]> = objects.iter().map(|e| e.bytes()).collect();
        store.ingest(&bytes, T0 + 1_000_000).unwrap();
        (dir, store)
    }

    /// The node's choice agrees with the store's: the trust key first, the
    /// node key only under a node-scope delegation, else unsealed.
    #[test]
    fn a_certificate_is_sealed_by_the_first_key_that_may_seal() {
        let f = Fixture::new(3);
        let p = f.proposal(0, "Sealed", 1, None);
        let e0 = f.endorsement(0, p.id(), Stance::Endorse, 2);
        let e1 = f.endorsement(1, p.id(), Stance::Endorse, 3);
        let node = Keypair::from_seed(&[3; 32]);
        let d = Delegation {
            coalition: f.id(),
            trust: f.keys[2].public(),
            delegate: node.public(),
            name: "node".into(),
            role: "node".into(),
            valid_from_ms: T0,
            valid_until_ms: None,
            scope: SCOPE_NODE,
            created_at_ms: T0 + 4,
        };
        let delegation = Envelope::sign(Kind::Delegation, d.to_body(), &[&f.keys[2]]);
        let (_dir, store) = store_with(&f, &[&p, &e0, &e1]);
        let id = p.id();

        let with_trust_key = SealKeys { trust: f.keys[1].public(), keys: vec![f.keys[1].clone(), node.clone()] };
        let only_node = SealKeys { trust: f.keys[2].public(), keys: vec![node.clone()] };
        store.with_ledger(|l| {
            assert!(with_trust_key.can_seal(l, &id));
            assert!(!only_node.can_seal(l, &id), "no delegation yet");
            assert_eq!(only_node.unsealable(l), 1);
        });
        let sealed = certificate(&store, &id, &with_trust_key).unwrap().unwrap();
        assert!(sealed.sealed && sealed.unsealed_reason.is_none());
        let report = chorus_core::certificate::verify(&sealed.bytes, Some(f.id())).unwrap();
        assert_eq!(report.seal.map(|s| (s.signer, s.delegation)), Some((f.keys[1].public(), None)));
        let unsealed = certificate(&store, &id, &only_node).unwrap().unwrap();
        assert!(!unsealed.sealed && unsealed.unsealed_reason.as_ref().is_some_and(|r| !r.is_empty()));
        assert!(chorus_core::certificate::verify(&unsealed.bytes, Some(f.id())).unwrap().seal.is_none());

        store.ingest(&[delegation.bytes()], T0 + 1_000_000).unwrap();
        store.with_ledger(|l| assert!(only_node.can_seal(l, &id)));
        let sealed = certificate(&store, &id, &only_node).unwrap().unwrap();
        let seal = chorus_core::certificate::verify(&sealed.bytes, Some(f.id())).unwrap().seal.unwrap();
        assert_eq!(
            (seal.trust, seal.signer, seal.delegation),
            (f.keys[2].public(), node.public(), Some(delegation.id()))
        );
        assert!(!format!("{only_node:?}").contains(&hex::encode(node.seed())), "a secret never shows");
    }

    /// `--no-seal`: the form made before dissent was recorded, no dissent
    /// and no seal, which still verifies.
    #[test]
    fn an_unsealed_certificate_carries_neither_dissent_nor_seal() {
        let f = Fixture::new(3);
        let p = f.proposal(0, "Adopted over an objection", 1, None);
        let e0 = f.endorsement(0, p.id(), Stance::Endorse, 2);
        let e1 = f.endorsement(1, p.id(), Stance::Endorse, 3);
        let o2 = f.endorsement(2, p.id(), Stance::Object, 4);
        let (_dir, store) = store_with(&f, &[&p, &e0, &e1, &o2]);
        let id = p.id();
        let keys = SealKeys { trust: f.keys[1].public(), keys: vec![f.keys[1].clone()] };
        let full = certificate(&store, &id, &keys).unwrap().unwrap();
        let full = chorus_core::certificate::verify(&full.bytes, Some(f.id())).unwrap();
        assert_eq!(full.objectors.len(), 1);
        let plain = unsealed_certificate(&store, &id).unwrap().unwrap();
        let report = chorus_core::certificate::verify(&plain, Some(f.id())).unwrap();
        assert!(report.seal.is_none() && report.objectors.is_empty());
        // Exactly the earlier form: what assemble_with_chain gives.
        let env = |i: &ObjectId| Envelope::decode(&store.get(i).unwrap().unwrap()).unwrap();
        let chain: Vec<Envelope> = store.with_ledger(|l| l.certificate_chain(&id)).unwrap().iter().map(env).collect();
        let again =
            chorus_core::certificate::assemble_with_chain(f.coalition.genesis_envelope(), &p, &[e0, e1], &chain);
        assert_eq!(plain, again);
        assert!(unsealed_certificate(&store, &ObjectId([9; 32])).unwrap().is_none());
    }
}

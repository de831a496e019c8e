//! End-to-end flow through the core: coalition, proposal, endorsements,
//! ledger adoption, certificate export and offline verification.

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{certificate, Applied, CertificateError, Envelope, Ledger, Stance};

#[test]
fn proposal_is_adopted_and_certificate_verifies() {
    let f = Fixture::new(5);
    let mut ledger = Ledger::new(f.coalition.clone());
    let now = T0 + 10_000;
    let p = f.proposal(0, "Fund school meals", 1, None);
    let v = ledger.validate(p.bytes(), now).unwrap();
    assert_eq!(ledger.apply(&v), Applied::New { adopted: None });
    assert_eq!(ledger.apply(&v), Applied::Duplicate);
    let mut store = std::collections::HashMap::new();
    store.insert(p.id(), p.clone());
    let mut adopted_at = None;
    for i in 0..3 {
        let e = f.endorsement(i, p.id(), Stance::Endorse, 5);
        store.insert(e.id(), e.clone());
        let v = ledger.validate(e.bytes(), now).unwrap();
        if let Applied::New { adopted: Some(id) } = ledger.apply(&v) {
            adopted_at = Some((i, id));
        }
    }
    assert_eq!(adopted_at, Some((2, p.id())));
    assert_eq!(ledger.positions(), vec![p.id()]);
    let ids = ledger.certificate_endorsements(&p.id()).unwrap();
    let ends: Vec<Envelope> = ids.iter().map(|id| store[id].clone()).collect();
    let cert = certificate::assemble(f.coalition.genesis_envelope(), &p, &ends);
    let pos = certificate::verify(&cert, Some(f.id())).unwrap();
    assert_eq!(pos.proposal_id, p.id());
    assert_eq!(pos.endorsers.len(), 3);
    assert_eq!(pos.required, 3);

    let other = Fixture::new(4);
    assert!(matches!(certificate::verify(&cert, Some(other.id())), Err(CertificateError::WrongCoalition { .. })));
}

#[test]
fn certificate_verdict_does_not_depend_on_threads() {
    let f = Fixture::new(200);
    let (cert, _) = f.certificate(150);
    let one = certificate::verify_with_threads(&cert, None, 1);
    let two = certificate::verify_with_threads(&cert, None, 2);
    assert_eq!(one, two);
    assert!(one.is_ok());
    let mut bad = cert.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x40; // inside the last endorsement's signature
    let one = certificate::verify_with_threads(&bad, None, 1);
    let two = certificate::verify_with_threads(&bad, None, 4);
    assert_eq!(one, two);
    assert!(matches!(one, Err(CertificateError::BadSignature { index: 149, .. })), "{one:?}");
}

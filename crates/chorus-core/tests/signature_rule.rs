//! The one signature rule (`PublicKey::from_bytes` then `PublicKey::verify`)
//! on the edge cases of "Taming the many EdDSAs" (Chalkias, Garillot,
//! Nikolaenko, 2020) and on signatures an attacker can derive from honest
//! ones. The rule must give libsodium's verdicts: of the 12 speccheck
//! vectors, only vector 3 is accepted.

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Applied, Envelope, Genesis, KeyError, Keypair, Kind, Ledger, Member, PublicKey, Rejection, Stance};
use chorus_proto::v1 as pb;
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use prost::Message;
use sha2::{Digest, Sha512};

/// The group order l, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

#[derive(serde::Deserialize)]
struct Vector {
    message: String,
    pub_key: String,
    signature: String,
}

/// The rule as every node applies it: parse the key, then verify.
fn rule(key: &[u8], message: &[u8], signature: &[u8; 64]) -> bool {
    PublicKey::from_bytes(key).is_ok_and(|k| k.verify(message, signature))
}

fn sig64(bytes: &[u8]) -> [u8; 64] {
    bytes.try_into().expect("64-byte signature")
}

#[test]
fn speccheck_vectors_get_libsodium_verdicts() {
    let vectors: Vec<Vector> =
        serde_json::from_str(include_str!("data/ed25519-speccheck-cases.json")).expect("vector file parses");
    assert_eq!(vectors.len(), 12);
    let verdicts: Vec<bool> = vectors
        .iter()
        .map(|v| {
            let msg = hex::decode(&v.message).unwrap();
            let key = hex::decode(&v.pub_key).unwrap();
            let sig = sig64(&hex::decode(&v.signature).unwrap());
            rule(&key, &msg, &sig)
        })
        .collect();
    let expected: Vec<bool> = (0..12).map(|i| i == 3).collect();
    assert_eq!(verdicts, expected);
}

#[test]
fn speccheck_refusals_have_the_expected_causes() {
    let vectors: Vec<Vector> = serde_json::from_str(include_str!("data/ed25519-speccheck-cases.json")).unwrap();
    let key_error = |i: usize| PublicKey::from_bytes(&hex::decode(&vectors[i].pub_key).unwrap()).err();
    // Vectors 0-2: small-order A (0, 1) or R (2); 0 and 1 fail at the key.
    assert!(matches!(key_error(0), Some(KeyError::SmallOrder(_))));
    assert!(matches!(key_error(1), Some(KeyError::SmallOrder(_))));
    // Vectors 4-5: cofactored-only equation; 6-7: s >= l; 8-9: non-canonical
    // R that is small order; 10-11: non-canonical A (small order).
    for i in [10, 11] {
        assert!(key_error(i).is_some(), "vector {i} key must be refused");
    }
    for i in 2..10 {
        assert_eq!(key_error(i), None, "vector {i} key is an ordinary point");
    }
}

#[test]
fn every_small_order_key_is_refused_with_the_trivial_forgery() {
    // R = identity, s = 0 satisfies [s]B = R + [k]A for A of small order
    // whenever [k]A = 0: the classic forgery that works for any message.
    let mut identity_r = [0u8; 64];
    identity_r[0] = 1;
    for (i, point) in EIGHT_TORSION.iter().enumerate() {
        let key = point.compress().to_bytes();
        let e = PublicKey::from_bytes(&key).unwrap_err();
        assert!(matches!(e, KeyError::SmallOrder(_)), "torsion point {i}: {e:?}");
        for msg in [&b""[..], b"anything", b"chorus/v1/endorsement\n"] {
            assert!(!rule(&key, msg, &identity_r));
        }
        if i == 0 {
            // Why the rule matters: dalek's lenient `verify` takes the
            // forgery under the identity key, for any message.
            use ed25519_dalek::Verifier;
            let lenient = ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap();
            let forged = ed25519_dalek::Signature::from_bytes(&identity_r);
            assert!(lenient.verify(b"anything", &forged).is_ok());
            assert!(lenient.verify_strict(b"anything", &forged).is_err());
        }
    }
    // Non-canonical encodings of small-order points (y = p, y = p + 1):
    // refused as non-canonical.
    for low in [0xed, 0xee] {
        let mut key = [0xffu8; 32];
        key[0] = low;
        key[31] = 0x7f;
        assert!(matches!(PublicKey::from_bytes(&key), Err(KeyError::NonCanonical(_))));
        key[31] = 0xff;
        assert!(matches!(PublicKey::from_bytes(&key), Err(KeyError::NonCanonical(_))));
    }
}

#[test]
fn the_identity_cannot_be_a_founder() {
    let honest = Keypair::from_seed(&[3; 32]);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let g = pb::Genesis {
        name: "Weak".into(),
        charter: None,
        founders: [identity.to_vec(), honest.public().as_bytes().to_vec()]
            .into_iter()
            .map(|k| pb::Member { trust_key: k, name: "t".into(), external_id: String::new(), attributes: None })
            .collect(),
        created_at_ms: T0,
        nonce: vec![],
    };
    let body = g.encode_to_vec();
    // The identity "countersigns" with R = identity, s = 0.
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let input = Kind::Genesis.signing_input(&body);
    let sigs = vec![
        chorus_core::RawSignature { signer: identity, signature: forged },
        chorus_core::RawSignature { signer: *honest.public().as_bytes(), signature: honest.sign(&input) },
    ];
    let env = Envelope::assemble(Kind::Genesis, body.clone(), sigs);
    let want = Rejection::BadKey { field: "member trust key", error: KeyError::SmallOrder(hex::encode(identity)) };
    assert_eq!(Genesis::from_body(&body), Err(want.clone()));
    assert_eq!(chorus_core::Coalition::from_genesis(env.bytes(), 1).unwrap_err(), want);
    // Nor can a typed genesis hold it: Member needs a PublicKey, which the
    // identity never becomes.
    let _: fn(Member) -> PublicKey = |m| m.key;
}

#[test]
fn non_canonical_s_is_refused() {
    let k = Keypair::from_seed(&[9; 32]);
    let msg = b"chorus/v1/endorsement\nbody";
    let sig = k.sign(msg);
    assert!(k.public().verify(msg, &sig));
    // s + l: the same residue, so a cofactorless check without the s < l test
    // would accept it.
    let s = &sig[32..];
    let mut sum = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(s[i]) + u16::from(L[i]) + carry;
        sum[i] = t as u8;
        carry = t >> 8;
    }
    assert_eq!(carry, 0, "s + l fits in 256 bits");
    let mut malleated = sig;
    malleated[32..].copy_from_slice(&sum);
    assert_ne!(malleated, sig);
    assert!(!k.public().verify(msg, &malleated));
    // s = l itself (the residue 0) is also non-canonical.
    let mut s_is_l = sig;
    s_is_l[32..].copy_from_slice(&L);
    assert!(!k.public().verify(msg, &s_is_l));
}

#[test]
fn adding_a_torsion_point_to_r_is_refused() {
    let k = Keypair::from_seed(&[11; 32]);
    let msg = b"chorus/v1/proposal\nsomething";
    let sig = k.sign(msg);
    let r = CompressedEdwardsY(sig[..32].try_into().unwrap()).decompress().expect("honest R decompresses");
    // EIGHT_TORSION[4] is (0, -1), the point of order 2.
    let order2 = EIGHT_TORSION[4];
    assert!(order2.is_small_order() && order2 != EdwardsPoint::default());
    for t in EIGHT_TORSION.iter().skip(1) {
        let mut bad = sig;
        bad[..32].copy_from_slice(&(r + t).compress().to_bytes());
        assert!(!k.public().verify(msg, &bad));
    }
    // And for a public key with a torsion component, the owner's honest
    // signatures do not verify under it (the strict rule is cofactorless).
    let a = k.public();
    let mixed = (CompressedEdwardsY(*a.as_bytes()).decompress().unwrap() + order2).compress().to_bytes();
    let mixed = PublicKey::from_bytes(&mixed).expect("mixed-order keys are not small order");
    let _ = mixed.verify(msg, &sig); // either verdict; must not panic
}

/// A second valid signature by `k` on `msg`, with a nonce of our choosing:
/// the signer can always make one, and a relay can not tell them apart.
fn resign(k: &Keypair, msg: &[u8], nonce_seed: u8) -> [u8; 64] {
    let a = ed25519_dalek::SigningKey::from_bytes(&k.seed()).to_scalar();
    let r = Scalar::from_bytes_mod_order_wide(&Sha512::digest([nonce_seed; 40]).into());
    let big_r = (ED25519_BASEPOINT_POINT * r).compress();
    let mut h = Sha512::new();
    h.update(big_r.as_bytes());
    h.update(k.public().as_bytes());
    h.update(msg);
    let kk = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let s = r + kk * a;
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(big_r.as_bytes());
    out[32..].copy_from_slice(s.as_bytes());
    out
}

#[test]
fn malleated_endorsements_neither_verify_nor_count_twice() {
    let f = Fixture::new(3);
    let now = T0 + 10_000;
    let p = f.proposal(0, "Meals", 1, None);
    let honest = f.endorsement(1, p.id(), Stance::Endorse, 2);
    let input = honest.signing_input();
    let sig = honest.signatures()[0].clone();
    let tweak = |signature: [u8; 64]| {
        Envelope::assemble(
            Kind::Endorsement,
            honest.body().to_vec(),
            vec![chorus_core::RawSignature { signer: sig.signer, signature }],
        )
    };

    // Third-party malleations of the signature bytes.
    let mut flipped = sig.signature;
    flipped[17] ^= 0x80;
    let mut s_plus_l = sig.signature;
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(s_plus_l[32 + i]) + u16::from(L[i]) + carry;
        s_plus_l[32 + i] = t as u8;
        carry = t >> 8;
    }
    let mut r_torsion = sig.signature;
    let r = CompressedEdwardsY(sig.signature[..32].try_into().unwrap()).decompress().unwrap();
    r_torsion[..32].copy_from_slice(&(r + EIGHT_TORSION[4]).compress().to_bytes());

    for bad in [flipped, s_plus_l, r_torsion] {
        let env = tweak(bad);
        assert_ne!(env.bytes(), honest.bytes());
        let decoded = Envelope::decode(env.bytes()).expect("shape is fine");
        assert_eq!(decoded.id(), honest.id(), "the id covers the body only");
        assert_eq!(
            Ledger::new(f.coalition.clone()).validate(env.bytes(), now),
            Err(Rejection::BadSignature { signer: hex::encode(sig.signer) })
        );
    }

    // A second valid signature by the same trust: verifies, same id, and the
    // ledger counts it once whichever arrives first.
    let resigned = tweak(resign(&f.keys[1], &input, 1));
    assert_ne!(resigned.bytes(), honest.bytes());
    let v_honest = Ledger::new(f.coalition.clone()).validate(honest.bytes(), now).unwrap();
    let v_resigned = Ledger::new(f.coalition.clone()).validate(resigned.bytes(), now).unwrap();
    assert_eq!(v_resigned.id(), v_honest.id());
    let vp = Ledger::new(f.coalition.clone()).validate(p.bytes(), now).unwrap();
    let mut ledgers = vec![];
    for order in [[&v_honest, &v_resigned], [&v_resigned, &v_honest]] {
        let mut l = Ledger::new(f.coalition.clone());
        l.apply(&vp);
        assert_eq!(l.apply(order[0]), Applied::New { adopted: None });
        assert_eq!(l.apply(order[1]), Applied::Duplicate);
        assert_eq!(l.tally(&p.id()).unwrap().endorse, 1);
        ledgers.push(l);
    }
    assert_eq!(ledgers[0], ledgers[1]);
    assert_eq!(ledgers[0].digest(), ledgers[1].digest());
}

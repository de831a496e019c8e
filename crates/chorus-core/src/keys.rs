//! Keys, signing and the one signature rule every node and auditor applies.
//!
//! The rule (PROTOCOL.md, "Signature rule") is ed25519 with strict
//! verification: `R` and `A` must be canonical encodings of points that are
//! not of small order, `s` must be canonical (`s < l`), and the cofactorless
//! equation `[s]B = R + [k]A` must hold with `R` compared byte for byte. This
//! is ed25519-dalek's `verify_strict` plus a canonical-`A` check, and agrees
//! with libsodium's `crypto_sign_verify_detached` (e.g. PyNaCl).
//!
//! Batch verification is deliberately not used: dalek's `verify_batch`
//! accepts signatures that `verify_strict` rejects. Speed comes from
//! verifying one by one on several cores ([`verify_many`]).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

/// A member's or node's ed25519 public key, known to be a canonical encoding
/// of a point that is not of small order. Keys that fail this are rejected
/// wherever they appear, so no weak key can ever sign for anyone.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    bytes: [u8; 32],
    point: VerifyingKey,
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

/// Why 32 bytes are not an acceptable public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 32 bytes.
    #[error("a public key is 32 bytes, got {0}")]
    Length(usize),
    /// The y coordinate is not reduced modulo 2^255-19.
    #[error("public key {0} is not a canonical point encoding")]
    NonCanonical(String),
    /// No curve point has this encoding.
    #[error("public key {0} is not a point on the curve")]
    NotOnCurve(String),
    /// The point has small order; it would verify forged signatures.
    #[error("public key {0} is a small-order (weak) point")]
    SmallOrder(String),
    /// Not valid hex.
    #[error("not a public key: expected 64 hex characters")]
    Hex,
}

impl PublicKey {
    /// Parses and checks a key: canonical, on the curve, not small order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length(bytes.len()))?;
        if !is_canonical_point_encoding(&bytes) {
            return Err(KeyError::NonCanonical(hex::encode(bytes)));
        }
        let point = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotOnCurve(hex::encode(bytes)))?;
        if point.is_weak() {
            return Err(KeyError::SmallOrder(hex::encode(bytes)));
        }
        Ok(PublicKey { bytes, point })
    }

    /// The 32-byte encoding.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Lower-case hex of the encoding.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    /// The first `n` hex characters, for display.
    pub fn short(&self, n: usize) -> String {
        let mut s = self.to_hex();
        s.truncate(n.min(64));
        s
    }

    /// Applies the protocol's signature rule to `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        // verify_strict compares R byte for byte with a canonical encoding,
        // so a non-canonical R is rejected there; s < l is checked by the
        // signature parser inside it.
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.point.verify_strict(message, &sig).is_ok()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.short(16))
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut b).map_err(|_| KeyError::Hex)?;
        PublicKey::from_bytes(&b)
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// True when the 255-bit y coordinate in `bytes` is below p = 2^255 - 19.
/// The top bit is the sign of x and is not part of y.
pub fn is_canonical_point_encoding(bytes: &[u8; 32]) -> bool {
    // y >= p only when bits 8..255 of y are all ones and the low byte >= 0xed.
    if bytes[31] & 0x7f != 0x7f || bytes[1..31].iter().any(|&b| b != 0xff) {
        return true;
    }
    bytes[0] < 0xed
}

/// An ed25519 key pair held in memory. Its secret never appears in `Debug`
/// output.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
    public: PublicKey,
}

impl Keypair {
    /// A new key pair from the operating system's random source (feature
    /// `os-rng`, on by default).
    #[cfg(feature = "os-rng")]
    pub fn generate() -> Self {
        let signing = SigningKey::generate(&mut rand_core::OsRng);
        Self::from_signing(signing)
    }

    /// The key pair whose secret seed is `seed` (RFC 8032 secret key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self::from_signing(SigningKey::from_bytes(seed))
    }

    fn from_signing(signing: SigningKey) -> Self {
        let bytes = signing.verifying_key().to_bytes();
        // A key derived from a seed is a clamped multiple of the base point:
        // canonical and of prime order, so parsing cannot fail.
        let public = PublicKey::from_bytes(&bytes).expect("derived ed25519 keys are never weak");
        Keypair { signing, public }
    }

    /// The 32-byte secret seed; handle with care.
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// Signs `message` (RFC 8032, deterministic).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.public.short(16))
    }
}

/// One signature to check: key, message and signature.
#[derive(Clone, Copy, Debug)]
pub struct SignatureCheck<'a> {
    /// Claimed signer.
    pub key: &'a PublicKey,
    /// The exact signed bytes.
    pub message: &'a [u8],
    /// The 64-byte signature.
    pub signature: &'a [u8; 64],
}

/// Below this many checks, threads cost more than they save.
const PARALLEL_THRESHOLD: usize = 64;

/// Checks handed to a thread at a time. Small, because checks differ widely
/// in cost: a genesis countersignature hashes the whole genesis body, an
/// endorsement signature a few hundred bytes.
const BLOCK: usize = 8;

/// Checks every signature with [`PublicKey::verify`], spreading the work over
/// up to `threads` OS threads. Returns the index of the first failing check,
/// or `None` when all pass. The verdict is exactly that of checking one by one
/// in order; only the time differs.
pub fn verify_many(checks: &[SignatureCheck<'_>], threads: usize) -> Option<usize> {
    let threads = threads.clamp(1, 64).min(checks.len().div_ceil(BLOCK));
    if threads <= 1 || checks.len() < PARALLEL_THRESHOLD {
        return checks.iter().position(|c| !c.key.verify(c.message, c.signature));
    }
    // Threads take blocks in index order from a shared counter, so a thread
    // that drew cheap checks takes more of them instead of idling while
    // another works through expensive ones. Every index below the lowest
    // failure found so far is still checked, so the lowest failing index
    // overall is the one reported.
    let next = AtomicUsize::new(0);
    let first_failure = AtomicUsize::new(usize::MAX);
    let work = || loop {
        let start = next.fetch_add(BLOCK, Ordering::Relaxed);
        if start >= checks.len() || start > first_failure.load(Ordering::Relaxed) {
            return;
        }
        for (i, c) in checks.iter().enumerate().take(start + BLOCK).skip(start) {
            if i > first_failure.load(Ordering::Relaxed) {
                break;
            }
            if !c.key.verify(c.message, c.signature) {
                first_failure.fetch_min(i, Ordering::Relaxed);
                break;
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    let first = first_failure.into_inner();
    (first != usize::MAX).then_some(first)
}

/// Threads to use for signature checks by default: the machine's cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_encoding_boundary() {
        let mut p = [0xffu8; 32];
        p[31] = 0x7f;
        p[0] = 0xed; // y = p
        assert!(!is_canonical_point_encoding(&p));
        p[0] = 0xec; // y = p - 1
        assert!(is_canonical_point_encoding(&p));
        p[31] = 0xff; // sign bit set, y = p - 1
        assert!(is_canonical_point_encoding(&p));
        p[0] = 0xee;
        assert!(!is_canonical_point_encoding(&p));
        assert!(is_canonical_point_encoding(&[0u8; 32]));
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let k = Keypair::from_seed(&[7; 32]);
        let sig = k.sign(b"hello");
        assert!(k.public().verify(b"hello", &sig));
        assert!(!k.public().verify(b"hellp", &sig));
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(!k.public().verify(b"hello", &bad));
    }

    #[test]
    fn identity_and_small_order_keys_are_refused() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(PublicKey::from_bytes(&identity), Err(KeyError::SmallOrder(_))));
        assert!(matches!(PublicKey::from_bytes(&[1; 31]), Err(KeyError::Length(31))));
    }

    #[test]
    fn verify_many_reports_first_failure_in_parallel() {
        let keys: Vec<Keypair> = (0..200u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
        let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
        let msgs: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut sigs: Vec<[u8; 64]> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        let checks = |sigs: &[[u8; 64]]| -> Option<usize> {
            let c: Vec<SignatureCheck<'_>> =
                (0..200).map(|i| SignatureCheck { key: &publics[i], message: &msgs[i], signature: &sigs[i] }).collect();
            verify_many(&c, 2)
        };
        assert_eq!(checks(&sigs), None);
        sigs[150][3] ^= 1;
        sigs[170][3] ^= 1;
        assert_eq!(checks(&sigs), Some(150));
        sigs[20][3] ^= 1;
        assert_eq!(checks(&sigs), Some(20));
    }

    #[test]
    fn verify_many_agrees_with_sequential_for_any_failures_and_threads() {
        let keys: Vec<Keypair> = (0..40u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
        let publics: Vec<PublicKey> = keys.iter().map(|k| k.public()).collect();
        // Mixed costs: a few long messages among short ones, like a genesis
        // followed by endorsements.
        let msgs: Vec<Vec<u8>> = (0..300usize).map(|i| vec![i as u8; if i % 50 < 3 { 20_000 } else { 100 }]).collect();
        let sigs: Vec<[u8; 64]> = msgs.iter().enumerate().map(|(i, m)| keys[i % 40].sign(m)).collect();
        let patterns: [&[usize]; 7] = [&[], &[0], &[299], &[7, 8], &[150, 3], &[64, 63, 250], &[1, 2, 3, 4, 5, 290]];
        for bad in patterns {
            let mut sigs = sigs.clone();
            for &i in bad {
                sigs[i][10] ^= 1;
            }
            let checks: Vec<SignatureCheck<'_>> = (0..300)
                .map(|i| SignatureCheck { key: &publics[i % 40], message: &msgs[i], signature: &sigs[i] })
                .collect();
            let want = bad.iter().copied().min();
            for threads in [1, 2, 3, 5, 64, 1000] {
                assert_eq!(verify_many(&checks, threads), want, "bad {bad:?}, {threads} threads");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

        /// Any set of failing checks, any thread count: the first failure in
        /// order is the one reported, as when checking one by one.
        #[test]
        fn verify_many_reports_the_sequential_first_failure(
            bad in proptest::collection::btree_set(0usize..150, 0..6),
            threads in 2usize..9,
        ) {
            use std::sync::OnceLock;
            type Fixture = (Vec<PublicKey>, Vec<Vec<u8>>, Vec<[u8; 64]>);
            static FIXTURE: OnceLock<Fixture> = OnceLock::new();
            let (publics, msgs, sigs) = FIXTURE.get_or_init(|| {
                let keys: Vec<Keypair> = (0..150u8).map(|i| Keypair::from_seed(&[i; 32])).collect();
                let msgs: Vec<Vec<u8>> =
                    (0..150usize).map(|i| vec![i as u8; if i % 40 == 0 { 30_000 } else { 150 }]).collect();
                let sigs = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
                (keys.iter().map(|k| k.public()).collect(), msgs, sigs)
            });
            let mut sigs = sigs.clone();
            for &i in &bad {
                sigs[i][33] ^= 0x20;
            }
            let checks: Vec<SignatureCheck<'_>> = (0..150)
                .map(|i| SignatureCheck { key: &publics[i], message: &msgs[i], signature: &sigs[i] })
                .collect();
            proptest::prop_assert_eq!(verify_many(&checks, threads), bad.iter().next().copied());
        }
    }
}

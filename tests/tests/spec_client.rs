//! An independent client, written from `docs/PROTOCOL.md` section 14 alone
//! (see `support/spec_peer.rs`: libp2p, the generated protobuf types and the
//! document's constants, no `chorus-net`), follows a real `chorus node run`
//! process as an observer (14.9): it dials the node over TCP (Noise,
//! Yamux), completes the hello as an observer (`Hello.observe` = the
//! coalition id, also its answer to the node's hello request), verifies the
//! member's attestation as 14.3 says, subscribes to the topic with
//! gossipsub configured as 14.4 and 14.9 require (anonymous, message id =
//! SHA-256 of the data, 114,688-byte RPCs, no grafting), pulls the back
//! catalogue by 14.5's simplest client, and receives, under the message id
//! rule, an object a member publishes afterwards; it is still connected
//! past the strangers' 10 s limit and receives the next one too.
//!
//! What the document did not give and this client assumes: the genesis
//! file an observer is started with is the genesis envelope's exact bytes
//! (PROTOCOL.md says a genesis is configured, not in what form); and 14.3's
//! check 6 (the trust is a member of the newest roster version) is made
//! against the genesis founders, all an observer holds before its first
//! sync.

#[path = "support/spec_peer.rs"]
mod spec_peer;

use std::time::{Duration, Instant};

use chorus_proto::v1::{
    range_query, range_reply, Envelope, Genesis, Hello, NodeAttestationBody, RangePull, RangeQuery, SyncBound,
    SyncRequest, SyncResponse,
};
use chorus_system_tests::{chorus, found_with, Nodes};
use libp2p::identity::ed25519;
use libp2p::PeerId;
use prost::Message as _;
use spec_peer::{sha256, Seen, SpecPeer, ATTESTATION_PREFIX, MAX_HELLO_BYTES};

/// 3.2 / 4: the genesis kind (1) and its id prefix.
const KIND_GENESIS: i32 = 1;
const KIND_PROPOSAL: i32 = 2;
const GENESIS_PREFIX: &[u8] = b"chorus/v1/genesis\n";
const PROPOSAL_PREFIX: &[u8] = b"chorus/v1/proposal\n";

/// The coalition id (section 4: SHA-256 of the genesis preimage) and the
/// founders' trust keys, from the genesis file's envelope.
fn read_genesis(bytes: &[u8]) -> ([u8; 32], Vec<Vec<u8>>) {
    let env = Envelope::decode(bytes).expect("the genesis file is one envelope (3.2)");
    assert_eq!(env.kind, KIND_GENESIS);
    let id = sha256(&[GENESIS_PREFIX, env.body.as_slice()].concat());
    let genesis = Genesis::decode(env.body.as_slice()).expect("a genesis body");
    (id, genesis.founders.into_iter().map(|m| m.trust_key).collect())
}

/// 14.3's verification of a hello frame, as far as an observer holding the
/// genesis alone can check it (members: the founders).
fn verify_hello(frame: &[u8], coalition: &[u8; 32], members: &[Vec<u8>], peer: &PeerId) -> Result<(), String> {
    // 1, 2.
    if frame.len() > MAX_HELLO_BYTES {
        return Err("TooLarge".into());
    }
    let hello = Hello::decode(frame).map_err(|e| format!("Malformed: {e}"))?;
    let att = hello.attestation.ok_or("NoAttestation")?;
    // 3: 64-byte signature, canonical body.
    if att.signature.len() != 64 {
        return Err("Malformed: signature length".into());
    }
    let body = NodeAttestationBody::decode(att.body.as_slice()).map_err(|e| format!("Malformed: {e}"))?;
    if body.encode_to_vec() != att.body {
        return Err("Malformed: body not canonical".into());
    }
    // 4.
    if body.coalition != coalition {
        return Err("WrongCoalition".into());
    }
    // 5, 6.
    let trust = ed25519::PublicKey::try_from_bytes(&body.trust_key).map_err(|e| format!("BadKey: {e}"))?;
    if !members.contains(&body.trust_key) {
        return Err("NotAMember".into());
    }
    // 7.
    let node = ed25519::PublicKey::try_from_bytes(&body.node_key).map_err(|e| format!("BadKey: {e}"))?;
    // 8: section 5's rule over "chorus/v1/node-attestation\n" || body
    // (libp2p's ed25519 verification is ed25519-dalek's strict one).
    if !trust.verify(&[ATTESTATION_PREFIX, att.body.as_slice()].concat(), &att.signature) {
        return Err("BadSignature".into());
    }
    // 9.
    if body.expires_at_ms != 0 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        if body.expires_at_ms < body.issued_at_ms {
            return Err("Inverted".into());
        }
        if now > body.expires_at_ms {
            return Err("Expired".into());
        }
    }
    // 10: the peer id of node_key (14.1) is the authenticated one.
    let node_peer = PeerId::from_public_key(&libp2p::identity::PublicKey::from(node));
    if &node_peer != peer {
        return Err("WrongNode".into());
    }
    // 11 (revocations) needs objects an observer fetches by sync; a new
    // coalition has none.
    Ok(())
}

fn propose(dir: &std::path::Path, title: &str) -> String {
    let body = dir.with_file_name(format!("{title}.md"));
    std::fs::write(&body, format!("{title}.\n")).unwrap();
    let id = chorus(dir, &["propose", "--title", title, "--body-file", body.to_str().unwrap()]).ok().stdout;
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "propose prints the id: {id}");
    id
}

/// Waits for the gossip message carrying the proposal `id` and checks it as
/// 14.4 says: data is one envelope, the message id is SHA-256 of the data.
fn receive_proposal(peer: &SpecPeer, node: PeerId, id: &str) {
    peer.wait_for(&format!("proposal {id} by gossip"), Duration::from_secs(20), |s| {
        let Seen::Message(source, message_id, data) = s else { return None };
        let env = Envelope::decode(data.as_slice()).expect("a message's data is one envelope (14.4)");
        if env.kind != KIND_PROPOSAL {
            return None;
        }
        let object_id = sha256(&[PROPOSAL_PREFIX, env.body.as_slice()].concat());
        if spec_peer::hex(&object_id) != id {
            return None;
        }
        assert_eq!(message_id.as_slice(), sha256(data).as_slice(), "message id = SHA-256(data)");
        assert_eq!(*source, node, "forwarded by the node we follow");
        Some(())
    })
}

/// 14.5's simplest correct client: pull the whole key space, following
/// continuations; every envelope received, in order.
fn pull_everything(peer: &SpecPeer, node: PeerId) -> Vec<Vec<u8>> {
    let mut lower: Option<SyncBound> = None;
    let mut envelopes = Vec::new();
    for round in 0..64 {
        let request = SyncRequest {
            queries: vec![RangeQuery {
                lower: lower.clone(),
                upper: None,
                query: Some(range_query::Query::Pull(RangePull {})),
            }],
            want_head: round == 0,
        };
        peer.sync(node, request.encode_to_vec());
        let frame = peer.wait_for("the node's sync answer", Duration::from_secs(30), |s| match s {
            Seen::SyncAnswer(p, frame) if *p == node => Some(frame.clone()),
            Seen::SyncUnanswered(p, why) if *p == node => panic!("the node left our sync request unanswered: {why}"),
            _ => None,
        });
        let response = SyncResponse::decode(frame.as_slice()).expect("a SyncResponse");
        // 13.1 / 14.5: the first response of a session carries the head
        // (a pull is not a matching whole-space fingerprint query).
        assert_eq!(response.head.is_some(), round == 0, "a head on the first response only");
        assert_eq!(response.replies.len(), 1, "one reply per answered query");
        let Some(range_reply::Reply::Items(items)) = &response.replies[0].reply else {
            panic!("a pull query is answered with items: {:?}", response.replies[0])
        };
        envelopes.extend(items.envelopes.iter().cloned());
        match &items.continuation {
            Some(c) => lower = Some(c.clone()),
            None => return envelopes,
        }
    }
    panic!("more than 64 continuations for a handful of objects")
}

#[test]
fn a_client_written_from_the_document_follows_a_coalition_as_an_observer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (dirs, genesis) = found_with(root, &["Oak Trust"], &["--observers", "everything"]);
    let oak = &dirs[0];
    let mut nodes = Nodes::new();
    nodes.start(oak, &[]);
    let addrs = nodes.wait_listening(oak);
    let status = chorus(oak, &["status", "--json"]).ok().json();
    // Before the observer connects: the back catalogue.
    let before = propose(oak, "Before the observer");

    let (coalition, founders) = read_genesis(&std::fs::read(&genesis).unwrap());
    assert_eq!(status["coalition"].as_str(), Some(spec_peer::hex(&coalition).as_str()), "{status}");
    let addr = addrs.iter().find(|a| a.contains("/tcp/")).expect("a TCP address").clone();
    let node: PeerId = status["node_id"].as_str().and_then(|p| p.parse().ok()).expect("status names the peer id");

    let peer = SpecPeer::observer(coalition);
    let started = Instant::now();
    peer.dial(&addr);
    // 14.3: the node answers our hello with its own attestation; 14.4: it
    // tells us its subscription to the topic.
    let answer = peer.joined(node, &coalition);
    verify_hello(&answer, &coalition, &founders, &node).unwrap_or_else(|e| panic!("the node's hello refused: {e}"));

    // The back catalogue by sync: the genesis and the earlier proposal.
    let held: Vec<String> = pull_everything(&peer, node)
        .iter()
        .map(|bytes| {
            let env = Envelope::decode(bytes.as_slice()).expect("an envelope");
            let prefix = match env.kind {
                KIND_GENESIS => GENESIS_PREFIX,
                KIND_PROPOSAL => PROPOSAL_PREFIX,
                k => panic!("a kind this coalition has not used yet: {k}"),
            };
            spec_peer::hex(&sha256(&[prefix, env.body.as_slice()].concat()))
        })
        .collect();
    assert!(held.contains(&spec_peer::hex(&coalition)) && held.contains(&before), "{held:?}");

    // A new object, published by the member after we joined.
    let first = propose(oak, "Published while observed");
    receive_proposal(&peer, node, &first);

    // Still followed past the 10 s a stranger gets (14.3, 14.8).
    let past = Duration::from_secs(12);
    std::thread::sleep(past.saturating_sub(started.elapsed()));
    let second = propose(oak, "Still observed");
    receive_proposal(&peer, node, &second);
    while let Some(s) = peer.next(Duration::ZERO) {
        assert!(!matches!(s, Seen::Closed(p) if p == node), "the node disconnected the observer");
    }
}

//! The sync frame decoders on arbitrary bytes, shared by the cargo-fuzz
//! target `fuzz/fuzz_targets/sync_frames.rs` and the seed test
//! `crates/chorus-net/tests/sync_fuzz_seeds.rs`, so both run exactly this.
//!
//! Input: one selector byte, then a frame. Selector 0 hands the frame to a
//! responder as a request; 1 to 4 hand it as a response to a client with
//! one pull, one ids, one fingerprint or many mixed queries in flight.
//! Checked: no panic; every error blames the peer; every frame produced is
//! within its bound; a responder's frame decodes; and every request a
//! client produces after any response is one an honest responder accepts.

use std::collections::HashMap;
use std::sync::OnceLock;

use chorus_core::{Envelope, Kind, ObjectId, RawSignature};
use chorus_net::sync::{
    ClientStep, SyncClient, SyncLimits, SyncServer, SyncSnapshot, MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES,
};
use chorus_proto::v1 as pb;
use chorus_proto::Message;

/// Number of selectors [`run`] understands.
pub const SELECTORS: u8 = 5;

/// Small requests and a small response budget keep inputs short (libFuzzer
/// works best on a few kilobytes) and put cut replies among the seeds.
const LIMITS: SyncLimits =
    SyncLimits { max_queries_per_request: 8, max_ids_per_query: 32, response_bytes: 4096, max_round_trips: 1024 };

struct World {
    server: SyncServer,
    objects: HashMap<ObjectId, Vec<u8>>,
    /// Client snapshots of 0, 10, 300 and 3,000 items.
    clients: [SyncSnapshot; 4],
    /// The responder's answer to the 3,000-item client's first request.
    first_answer: Vec<u8>,
}

fn item(i: u64) -> (u64, Envelope) {
    let mut body = i.to_be_bytes().to_vec();
    body.resize(24 + (i as usize % 64), 0x5a);
    let e = Envelope::assemble(Kind::Proposal, body, vec![RawSignature { signer: [3; 32], signature: [4; 64] }]);
    // Shared timestamps every few items exercise bounds with id prefixes.
    (1_000 + i / 3, e)
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let pool: Vec<(u64, Envelope)> = (0..4_000).map(item).collect();
        // The responder holds 2,000 of them, interleaved with the clients'.
        let held: Vec<&(u64, Envelope)> = pool.iter().filter(|(_, e)| e.id().0[0] % 2 == 0).take(2_000).collect();
        let objects = held.iter().map(|(_, e)| (e.id(), e.bytes().to_vec())).collect();
        let server =
            SyncServer::new(SyncSnapshot::new(held.iter().map(|(t, e)| (*t, e.id()))), LIMITS).expect("valid limits");
        let snap = |n: usize| SyncSnapshot::new(pool.iter().take(n).map(|(t, e)| (*t, e.id())));
        let clients = [snap(0), snap(10), snap(300), snap(3_000)];
        let mut c = SyncClient::new(&clients[3], LIMITS).expect("valid limits");
        let request = c.initiate().expect("initiate");
        let first_answer = server.handle_request(&request, |_| None).expect("own request");
        World { server, objects, clients, first_answer }
    })
}

/// A client of `state` (0 to 3) with its queries in flight.
fn client(w: &World, state: usize) -> SyncClient {
    let mut c = SyncClient::new(&w.clients[state], LIMITS).expect("valid limits");
    c.initiate().expect("initiate");
    if state == 3 {
        let progress = c.handle_response(&w.first_answer).expect("honest answer");
        assert!(matches!(progress.next, ClientStep::Request(_)), "many ranges are due");
    }
    c
}

/// Runs one input (see the module docs).
pub fn run(data: &[u8]) {
    let Some((&selector, frame)) = data.split_first() else { return };
    let w = world();
    let lookup = |id: &ObjectId| w.objects.get(id).cloned();
    match selector % SELECTORS {
        0 => match w.server.handle_request(frame, lookup) {
            Ok(response) => {
                assert!(response.len() <= MAX_SYNC_RESPONSE_BYTES);
                assert!(pb::SyncResponse::decode(response.as_slice()).is_ok());
            }
            Err(e) => assert!(e.is_peer_fault(), "request refused without blame: {e}"),
        },
        state => {
            let mut c = client(w, usize::from(state - 1));
            match c.handle_response(frame) {
                Ok(progress) => {
                    if let ClientStep::Request(next) = progress.next {
                        assert!(next.len() <= MAX_SYNC_REQUEST_BYTES);
                        if let Err(e) = w.server.handle_request(&next, lookup) {
                            panic!("an honest responder refuses the client's request: {e}");
                        }
                    }
                }
                Err(e) => assert!(e.is_peer_fault(), "response refused without blame: {e}"),
            }
        }
    }
}

/// Inputs that reach past the decoders: a request of each kind and
/// honest responses to every client state, each with its selector.
pub fn seeds() -> Vec<Vec<u8>> {
    let w = world();
    let lookup = |id: &ObjectId| w.objects.get(id).cloned();
    let mut out = Vec::new();
    for state in 0..4 {
        let mut c = SyncClient::new(&w.clients[state], LIMITS).expect("valid limits");
        let mut request = c.initiate().expect("initiate");
        // Follow the session a few rounds: requests and responses of every
        // kind, cut replies included.
        for _ in 0..3 {
            out.push([&[0u8][..], &request].concat());
            let response = w.server.handle_request(&request, lookup).expect("own request");
            if state == 3 {
                out.push([&[4u8][..], &response].concat());
            } else {
                out.push([&[state as u8 + 1][..], &response].concat());
            }
            match c.handle_response(&response).expect("honest response").next {
                ClientStep::Request(next) => request = next,
                ClientStep::Done => break,
            }
        }
    }
    out
}

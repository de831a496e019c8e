//! Shared helpers for the in-process sync tests: cheap envelopes, one side's
//! items and objects, and a whole session run between two sides.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};

use chorus_core::testkit::T0;
use chorus_core::{Envelope, Kind, ObjectId, RawSignature};
use chorus_net::sync::{ClientStep, SyncClient, SyncError, SyncLimits, SyncServer, SyncSnapshot, SyncStats};

/// A shape-valid envelope (decodes; its signature is not a real one, which
/// sync never checks) with a body of `body_len` bytes unique to `i`.
pub fn envelope(i: u64, body_len: usize) -> Envelope {
    let mut body = i.to_be_bytes().to_vec();
    body.resize(body_len.max(8), 0xa5);
    Envelope::assemble(Kind::Proposal, body, vec![RawSignature { signer: [7; 32], signature: [9; 64] }])
}

/// One side of a session: its items and, for a responder, its objects.
#[derive(Default, Clone)]
pub struct Side {
    pub items: Vec<(u64, ObjectId)>,
    pub objects: HashMap<ObjectId, Vec<u8>>,
}

impl Side {
    pub fn insert(&mut self, t: u64, e: &Envelope) {
        self.items.push((t, e.id()));
        self.objects.insert(e.id(), e.bytes().to_vec());
    }

    pub fn ids(&self) -> BTreeSet<ObjectId> {
        self.items.iter().map(|(_, id)| *id).collect()
    }

    pub fn snapshot(&self) -> SyncSnapshot {
        SyncSnapshot::new(self.items.iter().copied())
    }
}

/// `n` objects with distinct times `T0 + first ..`, bodies of 100 to 300
/// bytes.
pub fn objects(first: u64, n: u64) -> Vec<(u64, Envelope)> {
    (first..first + n).map(|i| (T0 + i, envelope(i, 100 + (i as usize * 37) % 200))).collect()
}

/// What a finished session gave the client.
pub struct Outcome {
    pub received: Vec<Envelope>,
    pub have: Vec<ObjectId>,
    pub stats: SyncStats,
    pub largest_request: usize,
    pub largest_response: usize,
}

impl Outcome {
    pub fn received_ids(&self) -> BTreeSet<ObjectId> {
        self.received.iter().map(|e| e.id()).collect()
    }

    pub fn total_bytes(&self) -> u64 {
        self.stats.bytes_sent + self.stats.bytes_received
    }
}

/// Runs a whole session of `client` (initiator) against `server`, the
/// server reading envelopes from its objects.
pub fn run(client: &Side, server: &Side, limits: SyncLimits) -> Result<Outcome, SyncError> {
    let responder = SyncServer::new(server.snapshot(), limits)?;
    run_with(client, &responder, limits, |id| server.objects.get(id).cloned())
}

/// Runs a whole session against `responder` with its own `lookup`.
pub fn run_with(
    client: &Side,
    responder: &SyncServer,
    limits: SyncLimits,
    mut lookup: impl FnMut(&ObjectId) -> Option<Vec<u8>>,
) -> Result<Outcome, SyncError> {
    let mut session = SyncClient::new(&client.snapshot(), limits)?;
    let mut request = session.initiate()?;
    let mut received = Vec::new();
    let mut largest_request = request.len();
    let mut largest_response = 0;
    loop {
        let response = responder.handle_request(&request, &mut lookup)?;
        largest_response = largest_response.max(response.len());
        let progress = session.handle_response(&response)?;
        received.extend(progress.envelopes);
        match progress.next {
            ClientStep::Request(next) => {
                largest_request = largest_request.max(next.len());
                request = next;
            }
            ClientStep::Done => break,
        }
    }
    assert!(session.is_done());
    let stats = session.stats();
    Ok(Outcome { received, have: session.into_have(), stats, largest_request, largest_response })
}

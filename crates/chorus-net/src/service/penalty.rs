//! The one table of consequences: what a peer did, what gossip should do
//! with the message (if any), and what the peer pays for it.
//!
//! Every decision to punish a peer goes through [`judge`]; the service
//! applies the [`Penalty`] it returns and nothing else in the crate counts
//! strikes, rejects or bans. chorus-core decides whether an object is
//! invalid for everyone ([`Verdict::Reject`]) or only not yet acceptable
//! here ([`Verdict::Ignore`]); this table only translates that verdict, and
//! adds the network's own offences (frames, rates, strangers, hellos).

use std::fmt;

use chorus_core::{Admission, ObjectId, PublicKey, Verdict};

use crate::error::{AttestationError, HelloRefusal};
use crate::sync::SyncError;

/// What to tell gossip about a message, so it forwards it or not and scores
/// its sender (gossipsub's `MessageAcceptance`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acceptance {
    /// Valid: forward it.
    Accept,
    /// Drop it without penalty.
    Ignore,
    /// Invalid for everyone: drop it and penalise every peer that sent it.
    Reject,
}

/// What a peer pays, beyond gossip's own scoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Penalty {
    /// Nothing: honest, or not the peer's fault.
    Nothing,
    /// One strike; `NetLimits::max_strikes` of them ban the peer.
    Strike,
    /// One invalid object; `NetLimits::max_rejects` of them ban the peer.
    Reject,
    /// Banned at once for `NetLimits::ban_duration`.
    Ban,
}

/// The consequence of one [`Conduct`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// For a gossiped message; for anything else it is [`Acceptance::Ignore`]
    /// and unused.
    pub acceptance: Acceptance,
    /// What the peer pays.
    pub penalty: Penalty,
}

/// Something a peer did (or that happened to what it sent) that may cost it.
#[derive(Clone, Copy, Debug)]
pub enum Conduct<'a> {
    /// The store's answer to an object the peer sent, by gossip or sync.
    Admission(&'a Admission),
    /// A gossiped copy of an object already held, valid but in other bytes
    /// than the copy held: not forwarded (peers get the object from the
    /// copy held), and not the sender's fault.
    OtherCopy(&'a ObjectId),
    /// A stranger's gossiped object refused by the store: not forwarded, and
    /// no penalty whatever the verdict. What a stranger may cost us is
    /// bounded by its budget and strikes ([`Conduct::StrangerGossip`]).
    RefusedFromStranger(&'a chorus_core::Rejection),
    /// The store failed on an object the peer sent: our fault, never the
    /// peer's.
    StoreFailed(&'a str),
    /// Gossip from a peer with no connection state (it just left).
    GossipFromUnknown,
    /// Gossip from a stranger; `over_budget` once it has sent more than
    /// `NetLimits::stranger_gossip_budget` messages. About the peer only:
    /// the message itself is judged by its content, like a member's, and
    /// the acceptance here is unused.
    StrangerGossip {
        /// Past the budget.
        over_budget: bool,
    },
    /// Gossip published by an admitted observer: ignored, never validated
    /// or stored, and no penalty. Once the observer is classified, gossipsub
    /// drops its messages unread (it is on gossipsub's blacklist); only a
    /// message already on its way to the service comes here.
    ObserverGossip,
    /// An observer's hello refused by this node's state, not the peer's
    /// doing: the charter admits no observers, every observer place is
    /// taken, or this node is an observer itself. Left unanswered, and the
    /// peer disconnected without a ban.
    ObserverNotAdmitted,
    /// A member's gossip beyond its token bucket.
    GossipRateExceeded,
    /// Gossip that arrived while the ingest queue was full.
    IngestQueueFull,
    /// A hello that was refused.
    HelloRefused(&'a HelloRefusal),
    /// A sync request from a peer that has not proved membership.
    SyncFromStranger,
    /// A member's sync request beyond its token bucket.
    SyncRateExceeded,
    /// A sync request refused because every serving slot is busy.
    ServeBusy,
    /// A sync request the codec could not read (over its bound, or broken).
    UnreadableSyncRequest(&'a str),
    /// A sync request that failed while being answered.
    BadSyncRequest(&'a SyncError),
    /// A sync response that failed the client's checks.
    BadSyncResponse(&'a SyncError),
    /// The peer's gossip score fell below gossipsub's graylist threshold.
    Graylisted {
        /// The score.
        score: f64,
    },
    /// The node key the peer proved at its hello was revoked since.
    NodeKeyRevoked {
        /// The trust.
        trust: &'a PublicKey,
        /// The revoked node key.
        node_key: &'a PublicKey,
    },
}

/// The table. Exhaustive on purpose: a new rejection verdict, sync error or
/// attestation error does not compile until someone decides its cost here.
pub fn judge(conduct: &Conduct<'_>) -> Judgement {
    use Acceptance as A;
    use Penalty as P;
    let (acceptance, penalty) = match conduct {
        Conduct::Admission(Admission::Stored { .. }) => (A::Accept, P::Nothing),
        // Valid, and held already (by sync, or published here): forwarded,
        // since peers behind us may lack it whoever sent it to us first.
        Conduct::Admission(Admission::Duplicate { .. }) => (A::Accept, P::Nothing),
        Conduct::OtherCopy(_) | Conduct::RefusedFromStranger(_) => (A::Ignore, P::Nothing),
        Conduct::Admission(Admission::Refused(rejection)) => match rejection.verdict() {
            Verdict::Reject => (A::Reject, P::Reject),
            Verdict::Ignore => (A::Ignore, P::Nothing),
        },
        Conduct::StoreFailed(_) => (A::Ignore, P::Nothing),
        // Possibly a member whose hello has not arrived yet: no penalty
        // within the budget. Its message is judged by content separately.
        Conduct::StrangerGossip { over_budget: false } => (A::Ignore, P::Nothing),
        Conduct::StrangerGossip { over_budget: true } => (A::Ignore, P::Strike),
        Conduct::ObserverGossip | Conduct::ObserverNotAdmitted => (A::Ignore, P::Nothing),
        Conduct::GossipFromUnknown | Conduct::GossipRateExceeded | Conduct::IngestQueueFull => (A::Ignore, P::Nothing),
        Conduct::HelloRefused(refusal) => (A::Ignore, hello_penalty(refusal)),
        Conduct::SyncFromStranger | Conduct::SyncRateExceeded | Conduct::UnreadableSyncRequest(_) => {
            (A::Ignore, P::Strike)
        }
        // Busy is our state, not the peer's doing: it retries later.
        Conduct::ServeBusy => (A::Ignore, P::Nothing),
        Conduct::BadSyncRequest(e) | Conduct::BadSyncResponse(e) => (A::Ignore, sync_penalty(e)),
        Conduct::Graylisted { .. } | Conduct::NodeKeyRevoked { .. } => (A::Ignore, P::Ban),
    };
    Judgement { acceptance, penalty }
}

/// Every refused hello bans: a peer either is a member node of this
/// coalition or has no business here, and a member whose attestation
/// expired is banned only until its trust issues a new one and the ban ends.
fn hello_penalty(refusal: &HelloRefusal) -> Penalty {
    match refusal {
        HelloRefusal::TooLarge { .. } | HelloRefusal::Malformed(_) | HelloRefusal::NoAttestation => Penalty::Ban,
        HelloRefusal::Revoked { .. } | HelloRefusal::BadObserve { .. } => Penalty::Ban,
        HelloRefusal::Attestation(e) => match e {
            AttestationError::TooLarge { .. }
            | AttestationError::Malformed(_)
            | AttestationError::WrongCoalition { .. }
            | AttestationError::NotAMember(_)
            | AttestationError::BadKey { .. }
            | AttestationError::BadSignature(_)
            | AttestationError::WrongNode { .. }
            | AttestationError::Expired { .. }
            | AttestationError::Inverted { .. } => Penalty::Ban,
        },
    }
}

/// A frame or behaviour that breaks the sync protocol is a strike; our own
/// misuse, misconfiguration or failure costs the peer nothing.
fn sync_penalty(error: &SyncError) -> Penalty {
    match error {
        SyncError::FrameTooLarge { .. }
        | SyncError::Malformed { .. }
        | SyncError::TooManyQueries { .. }
        | SyncError::BadBound { .. }
        | SyncError::EmptyRange { .. }
        | SyncError::BadFingerprint { .. }
        | SyncError::BadIdList { .. }
        | SyncError::TooManyIds { .. }
        | SyncError::DuplicateId(_)
        | SyncError::ReplyCount { .. }
        | SyncError::WrongReply { .. }
        | SyncError::BadSplit(_)
        | SyncError::BadContinuation(_)
        | SyncError::BadLacking { .. }
        | SyncError::Unrequested(_)
        | SyncError::DuplicateObject(_)
        | SyncError::BadEnvelope(_)
        | SyncError::TooManyRoundTrips { .. }
        | SyncError::TooManyRanges { .. }
        | SyncError::BadHead(_) => Penalty::Strike,
        SyncError::OutOfTurn(_) | SyncError::BadLimit { .. } | SyncError::Local(_) => Penalty::Nothing,
    }
}

/// The reason logged and reported with a penalty.
impl fmt::Display for Conduct<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conduct::Admission(Admission::Stored { id, .. }) => write!(f, "stored object {id}"),
            Conduct::Admission(Admission::Duplicate { id }) => write!(f, "duplicate object {id}"),
            Conduct::Admission(Admission::Refused(rejection)) => write!(f, "{rejection}"),
            Conduct::OtherCopy(id) => write!(f, "another copy of held object {id}"),
            Conduct::RefusedFromStranger(rejection) => write!(f, "{rejection} (from a stranger)"),
            Conduct::StoreFailed(e) => write!(f, "store failed: {e}"),
            Conduct::GossipFromUnknown => f.write_str("gossip from a peer that is not connected"),
            Conduct::StrangerGossip { .. } => f.write_str("gossip from a peer that has not proved membership"),
            Conduct::ObserverGossip => f.write_str("gossip published by an observer"),
            Conduct::ObserverNotAdmitted => f.write_str("observer not admitted"),
            Conduct::GossipRateExceeded => f.write_str("gossip rate exceeded"),
            Conduct::IngestQueueFull => f.write_str("gossip arrived while the ingest queue was full"),
            Conduct::HelloRefused(refusal) => write!(f, "attestation refused: {refusal}"),
            Conduct::SyncFromStranger => f.write_str("sync requested by a peer that has not proved membership"),
            Conduct::SyncRateExceeded => f.write_str("sync request rate exceeded"),
            Conduct::ServeBusy => f.write_str("every sync serving slot is busy"),
            Conduct::UnreadableSyncRequest(e) => write!(f, "unreadable sync request: {e}"),
            Conduct::BadSyncRequest(e) => write!(f, "bad sync request: {e}"),
            Conduct::BadSyncResponse(e) => write!(f, "bad sync response: {e}"),
            Conduct::Graylisted { score } => write!(f, "gossip score {score:.1} fell below the graylist threshold"),
            Conduct::NodeKeyRevoked { trust, node_key } => write!(f, "node key {node_key} of trust {trust} is revoked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chorus_core::Rejection;

    fn penalty(c: Conduct<'_>) -> Penalty {
        judge(&c).penalty
    }

    #[test]
    fn admissions_follow_the_core_verdict() {
        let id = ObjectId([1; 32]);
        let stored = Admission::Stored { id, adopted: None };
        assert_eq!(judge(&Conduct::Admission(&stored)).acceptance, Acceptance::Accept);
        let dup = Admission::Duplicate { id };
        assert_eq!(
            judge(&Conduct::Admission(&dup)),
            Judgement { acceptance: Acceptance::Accept, penalty: Penalty::Nothing }
        );
        assert_eq!(
            judge(&Conduct::OtherCopy(&id)),
            Judgement { acceptance: Acceptance::Ignore, penalty: Penalty::Nothing }
        );
        let reject = Admission::Refused(Rejection::BadSignature { signer: "k".into() });
        assert_eq!(reject_verdict(&reject), Verdict::Reject);
        assert_eq!(
            judge(&Conduct::Admission(&reject)),
            Judgement { acceptance: Acceptance::Reject, penalty: Penalty::Reject }
        );
    }

    fn reject_verdict(a: &Admission) -> Verdict {
        match a {
            Admission::Refused(r) => r.verdict(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn our_failures_never_cost_the_peer() {
        assert_eq!(penalty(Conduct::StoreFailed("disk full")), Penalty::Nothing);
        assert_eq!(penalty(Conduct::ServeBusy), Penalty::Nothing);
        assert_eq!(penalty(Conduct::IngestQueueFull), Penalty::Nothing);
        assert_eq!(penalty(Conduct::BadSyncResponse(&SyncError::Local("task".into()))), Penalty::Nothing);
        assert_eq!(penalty(Conduct::BadSyncRequest(&SyncError::OutOfTurn("x"))), Penalty::Nothing);
        assert_eq!(judge(&Conduct::StoreFailed("x")).acceptance, Acceptance::Ignore);
    }

    #[test]
    fn protocol_abuse_strikes_and_refused_hellos_ban() {
        assert_eq!(penalty(Conduct::StrangerGossip { over_budget: false }), Penalty::Nothing);
        assert_eq!(penalty(Conduct::StrangerGossip { over_budget: true }), Penalty::Strike);
        assert_eq!(penalty(Conduct::SyncRateExceeded), Penalty::Strike);
        let bad = SyncError::BadBound { len: 40 };
        assert_eq!(penalty(Conduct::BadSyncResponse(&bad)), Penalty::Strike);
        assert_eq!(penalty(Conduct::HelloRefused(&HelloRefusal::NoAttestation)), Penalty::Ban);
        let expired = HelloRefusal::Attestation(AttestationError::Expired { expires_at_ms: 1, now_ms: 2 });
        assert_eq!(penalty(Conduct::HelloRefused(&expired)), Penalty::Ban);
        assert_eq!(penalty(Conduct::Graylisted { score: -90.0 }), Penalty::Ban);
    }

    #[test]
    fn reasons_keep_their_wording() {
        let r = HelloRefusal::NoAttestation;
        assert!(Conduct::HelloRefused(&r).to_string().starts_with("attestation refused: "));
        assert!(Conduct::Graylisted { score: -81.0 }.to_string().contains("graylist"));
    }
}

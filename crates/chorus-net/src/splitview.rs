//! Split views: telling when a peer shows this node a different history
//! from the one it announces (normative: `docs/PROTOCOL.md` 13).
//!
//! Sans-IO. [`judge_session`] turns what one finished catch-up session
//! showed (the responder's signed head, what the [`SyncClient`] accounted,
//! what the store then adopted) into a [`SessionOutcome`];
//! [`SplitViews`] remembers the outcomes per peer and says when evidence
//! has repeated in [`REPORT_AFTER_SESSIONS`] consecutive sessions, which is
//! when the node reports a split view (a warning, an event, a line in the
//! status). A clean session clears it; a session that did not complete
//! proves nothing either way and changes nothing.
//!
//! [`SyncClient`]: crate::sync::SyncClient

use std::collections::HashMap;
use std::fmt;

use chorus_core::{CoalitionId, ObjectId, PublicKey};
use libp2p::PeerId;

use crate::sync::{Head, Withheld, FINGERPRINT_BYTES};

/// Consecutive sessions with evidence before a split view is reported. One
/// session can mislead an honest node (a responder's store that failed to
/// read an object, our own store catching up); two in a row, with the
/// peer's periodic sessions between them, rarely do.
pub const REPORT_AFTER_SESSIONS: u32 = 2;

/// Peers whose evidence is remembered; past this, the peer seen longest
/// ago is forgotten (its evidence starts again from nothing).
pub const MAX_TRACKED_PEERS: usize = 1024;

/// What a session showed that contradicts the peer's head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SplitEvidence {
    /// The session showed fewer objects than the peer announced (by its
    /// head for the whole set, or by a split for one range of it).
    Withheld {
        /// Objects announced.
        announced: u64,
        /// Objects the session showed.
        showed: u64,
        /// True when `announced` is the head's count of the whole set.
        whole_set: bool,
    },
    /// The head names another coalition.
    OtherCoalition {
        /// The coalition it names.
        coalition: CoalitionId,
    },
    /// The head claims a roster version whose head proposal this node's
    /// objects do not adopt, after a session that left both sides holding
    /// the same objects: the peer's objects do not support its roster.
    UnsupportedRoster {
        /// The version claimed.
        version: ObjectId,
        /// A head of it that is not adopted here.
        head: ObjectId,
    },
    /// The head claims a roster version with too many heads to list, for a
    /// set equal to this node's after the session, and this node's copy of
    /// that set defines another version.
    UnsupportedRosterVersion {
        /// The version claimed.
        version: ObjectId,
        /// The version the same set defines here.
        ours: ObjectId,
    },
}

/// Every [`SplitEvidence::reason`], for metrics that list them all.
pub const SPLIT_VIEW_REASONS: [&str; 3] = ["withheld", "other_coalition", "unsupported_roster"];

impl SplitEvidence {
    /// A short stable name, for metric labels: one of
    /// [`SPLIT_VIEW_REASONS`].
    pub fn reason(&self) -> &'static str {
        match self {
            SplitEvidence::Withheld { .. } => "withheld",
            SplitEvidence::OtherCoalition { .. } => "other_coalition",
            SplitEvidence::UnsupportedRoster { .. } | SplitEvidence::UnsupportedRosterVersion { .. } => {
                "unsupported_roster"
            }
        }
    }
}

impl fmt::Display for SplitEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitEvidence::Withheld { announced, showed, whole_set: true } => {
                write!(f, "withholds objects: announced {announced}, showed {showed}")
            }
            SplitEvidence::Withheld { announced, showed, whole_set: false } => {
                write!(f, "withholds objects: announced {announced} in a range, showed {showed}")
            }
            SplitEvidence::OtherCoalition { coalition } => {
                write!(f, "announces another coalition, {}", coalition.short(16))
            }
            SplitEvidence::UnsupportedRoster { version, head } => write!(
                f,
                "claims roster version {} whose head {} its objects do not adopt",
                version.short(16),
                head.short(16)
            ),
            SplitEvidence::UnsupportedRosterVersion { version, ours } => {
                write!(f, "claims roster version {} for a set whose version is {}", version.short(16), ours.short(16))
            }
        }
    }
}

/// What one session tells about its peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionOutcome {
    /// Complete, with a head, and nothing contradicts it.
    Clean,
    /// Complete, and this contradicts the head.
    Evidence(SplitEvidence),
    /// Not complete, no head asked for, or none given (a node of an
    /// earlier release): proves nothing.
    Inconclusive,
}

/// What a finished session showed, for [`judge_session`].
#[derive(Clone, Debug)]
pub struct SessionView<'a> {
    /// Our coalition.
    pub coalition: CoalitionId,
    /// The session ran to [`ClientStep::Done`](crate::sync::ClientStep::Done)
    /// and its objects were ingested.
    pub completed: bool,
    /// We asked the responder for its head.
    pub asked_head: bool,
    /// Its head, verified.
    pub head: Option<&'a Head>,
    /// The first response found the whole set equal, so no head came
    /// ([`SyncClient::same_set`](crate::sync::SyncClient::same_set)).
    pub same_set: bool,
    /// [`SyncClient::withheld`](crate::sync::SyncClient::withheld).
    pub withheld: Option<Withheld>,
    /// Every object received was stored or already held (none refused).
    pub all_stored: bool,
    /// The peer lacked none of our objects (`have` was empty).
    pub peer_lacked_nothing: bool,
}

/// This node's whole set and roster version, read from one state of its
/// store, for [`judge_session`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnSet {
    /// Items held.
    pub object_count: u64,
    /// Sync fingerprint of all of them.
    pub set_fingerprint: [u8; FINGERPRINT_BYTES],
    /// The newest roster version they define.
    pub roster_version: ObjectId,
}

/// Judges one session (PROTOCOL.md 13.2). `adopted` answers whether our
/// ledger, after the session, adopts a governance proposal; it is asked
/// only when the session left both sides with the same objects. `own_set`
/// reads our set after the session; it is called only for a head whose
/// roster version has too many heads to list.
pub fn judge_session(
    view: &SessionView<'_>,
    adopted: impl Fn(&ObjectId) -> bool,
    own_set: impl FnOnce() -> Option<OwnSet>,
) -> SessionOutcome {
    if !view.completed || !view.asked_head {
        return SessionOutcome::Inconclusive;
    }
    let Some(head) = view.head else {
        // Equal sets carry no head: nothing was withheld. Otherwise the
        // peer may be an honest node of an earlier release, which ignores
        // `want_head`: only what its splits announced can be checked.
        return match view.withheld {
            _ if view.same_set => SessionOutcome::Clean,
            Some(w) => SessionOutcome::Evidence(SplitEvidence::Withheld {
                announced: w.announced,
                showed: w.showed,
                whole_set: w.whole_set,
            }),
            None => SessionOutcome::Inconclusive,
        };
    };
    if head.coalition != view.coalition {
        return SessionOutcome::Evidence(SplitEvidence::OtherCoalition { coalition: head.coalition });
    }
    if let Some(w) = view.withheld {
        return SessionOutcome::Evidence(SplitEvidence::Withheld {
            announced: w.announced,
            showed: w.showed,
            whole_set: w.whole_set,
        });
    }
    if view.all_stored && view.peer_lacked_nothing {
        if let Some(h) = head.roster_heads.iter().find(|h| !adopted(h)) {
            return SessionOutcome::Evidence(SplitEvidence::UnsupportedRoster {
                version: head.roster_version,
                head: *h,
            });
        }
        // Heads not listed (more than MAX_ROSTER_HEADS): the version is a
        // function of the set, so when our set is now exactly the one the
        // head describes, it must be ours.
        let unlisted = head.roster_heads.is_empty() && head.roster_version != head.coalition;
        if let Some(own) = if unlisted { own_set() } else { None } {
            let same_set = own.object_count == head.object_count && own.set_fingerprint == head.set_fingerprint;
            if same_set && own.roster_version != head.roster_version {
                return SessionOutcome::Evidence(SplitEvidence::UnsupportedRosterVersion {
                    version: head.roster_version,
                    ours: own.roster_version,
                });
            }
        }
    }
    SessionOutcome::Clean
}

/// A reported split view: a peer whose sessions contradicted its head
/// [`REPORT_AFTER_SESSIONS`] or more times in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitView {
    /// The peer.
    pub peer: PeerId,
    /// The trust it proved to speak for, if it did.
    pub trust: Option<PublicKey>,
    /// The newest evidence.
    pub evidence: SplitEvidence,
    /// Consecutive sessions with evidence.
    pub sessions: u32,
}

#[derive(Clone, Debug)]
struct Track {
    trust: Option<PublicKey>,
    evidence: SplitEvidence,
    sessions: u32,
    /// Order of the last update, for forgetting the oldest.
    seen: u64,
}

/// What changed with one session's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing to report.
    None,
    /// The peer's evidence reached [`REPORT_AFTER_SESSIONS`], or its
    /// reason changed while reported: say so.
    Reported(Box<SplitView>),
    /// A clean session ended a reported split view.
    Cleared {
        /// The peer.
        peer: PeerId,
    },
}

/// Split-view evidence per peer.
#[derive(Debug, Default)]
pub struct SplitViews {
    peers: HashMap<PeerId, Track>,
    counter: u64,
}

impl SplitViews {
    /// Records one session's outcome with `peer`.
    pub fn observe(&mut self, peer: PeerId, trust: Option<PublicKey>, outcome: SessionOutcome) -> Change {
        self.counter += 1;
        match outcome {
            SessionOutcome::Inconclusive => Change::None,
            SessionOutcome::Clean => match self.peers.remove(&peer) {
                Some(t) if t.sessions >= REPORT_AFTER_SESSIONS => Change::Cleared { peer },
                _ => Change::None,
            },
            SessionOutcome::Evidence(evidence) => {
                if !self.peers.contains_key(&peer) && self.peers.len() >= MAX_TRACKED_PEERS {
                    if let Some(oldest) = self.peers.iter().min_by_key(|(_, t)| t.seen).map(|(p, _)| *p) {
                        self.peers.remove(&oldest);
                    }
                }
                let seen = self.counter;
                let track =
                    self.peers.entry(peer).or_insert(Track { trust, evidence: evidence.clone(), sessions: 0, seen });
                // Only a new reason is news: a withholder's counts change
                // as its set grows, and must not re-report every session.
                let changed = track.evidence.reason() != evidence.reason();
                track.sessions += 1;
                track.seen = seen;
                track.trust = trust.or(track.trust);
                track.evidence = evidence;
                let reportable =
                    track.sessions == REPORT_AFTER_SESSIONS || (changed && track.sessions > REPORT_AFTER_SESSIONS);
                if reportable {
                    Change::Reported(Box::new(SplitView {
                        peer,
                        trust: track.trust,
                        evidence: track.evidence.clone(),
                        sessions: track.sessions,
                    }))
                } else {
                    Change::None
                }
            }
        }
    }

    /// The split views reported now (evidence in at least
    /// [`REPORT_AFTER_SESSIONS`] consecutive sessions), sorted by peer.
    pub fn reported(&self) -> Vec<SplitView> {
        let mut out: Vec<SplitView> = self
            .peers
            .iter()
            .filter(|(_, t)| t.sessions >= REPORT_AFTER_SESSIONS)
            .map(|(peer, t)| SplitView {
                peer: *peer,
                trust: t.trust,
                evidence: t.evidence.clone(),
                sessions: t.sessions,
            })
            .collect();
        out.sort_by_key(|v| v.peer);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COALITION: ObjectId = ObjectId([7; 32]);

    fn head(roster_heads: Vec<ObjectId>) -> Head {
        Head {
            coalition: COALITION,
            roster_version: chorus_core::version_id(&COALITION, &roster_heads),
            roster_heads,
            object_count: 10,
            set_fingerprint: [0; FINGERPRINT_BYTES],
            issued_at_ms: 0,
        }
    }

    fn view(head: Option<&Head>) -> SessionView<'_> {
        SessionView {
            coalition: COALITION,
            completed: true,
            asked_head: true,
            head,
            same_set: false,
            withheld: None,
            all_stored: true,
            peer_lacked_nothing: true,
        }
    }

    #[test]
    fn a_session_is_judged_by_its_head() {
        let governance = ObjectId([1; 32]);
        let h = head(vec![governance]);
        let adopted = |id: &ObjectId| *id == governance;
        let no_set = || None;
        assert_eq!(judge_session(&view(Some(&h)), adopted, no_set), SessionOutcome::Clean);
        // No head, as from a node of an earlier release: inconclusive,
        // unless a split it announced showed short.
        assert_eq!(judge_session(&view(None), adopted, no_set), SessionOutcome::Inconclusive);
        let headless_short =
            SessionView { withheld: Some(Withheld { announced: 4, showed: 3, whole_set: false }), ..view(None) };
        assert_eq!(
            judge_session(&headless_short, adopted, no_set),
            SessionOutcome::Evidence(SplitEvidence::Withheld { announced: 4, showed: 3, whole_set: false })
        );
        let same = SessionView { same_set: true, ..view(None) };
        assert_eq!(judge_session(&same, adopted, no_set), SessionOutcome::Clean);
        let unfinished = SessionView { completed: false, ..view(None) };
        assert_eq!(judge_session(&unfinished, adopted, no_set), SessionOutcome::Inconclusive);
        let withheld =
            SessionView { withheld: Some(Withheld { announced: 10, showed: 9, whole_set: true }), ..view(Some(&h)) };
        assert_eq!(
            judge_session(&withheld, adopted, no_set),
            SessionOutcome::Evidence(SplitEvidence::Withheld { announced: 10, showed: 9, whole_set: true })
        );
        let mut other = h.clone();
        other.coalition = ObjectId([8; 32]);
        assert_eq!(
            judge_session(&view(Some(&other)), adopted, no_set),
            SessionOutcome::Evidence(SplitEvidence::OtherCoalition { coalition: ObjectId([8; 32]) })
        );
        // A roster whose head our copy of the same objects does not adopt.
        let claimed = head(vec![ObjectId([2; 32])]);
        assert_eq!(
            judge_session(&view(Some(&claimed)), adopted, no_set),
            SessionOutcome::Evidence(SplitEvidence::UnsupportedRoster {
                version: claimed.roster_version,
                head: ObjectId([2; 32])
            })
        );
        // Unless the sides did not end with the same objects: we may hold
        // a revocation it lacks, which withdraws a stance it counts.
        let diverged = SessionView { peer_lacked_nothing: false, ..view(Some(&claimed)) };
        assert_eq!(judge_session(&diverged, adopted, no_set), SessionOutcome::Clean);
    }

    #[test]
    fn an_unlisted_roster_version_is_checked_against_the_same_set_here() {
        // More heads than a head lists: only the version id is announced.
        let mut h = head(vec![]);
        h.roster_version = ObjectId([5; 32]);
        let own =
            |version| OwnSet { object_count: 10, set_fingerprint: [0; FINGERPRINT_BYTES], roster_version: version };
        let adopted = |_: &ObjectId| true;
        let v = view(Some(&h));
        assert_eq!(judge_session(&v, adopted, || Some(own(ObjectId([5; 32])))), SessionOutcome::Clean);
        assert_eq!(
            judge_session(&v, adopted, || Some(own(ObjectId([6; 32])))),
            SessionOutcome::Evidence(SplitEvidence::UnsupportedRosterVersion {
                version: ObjectId([5; 32]),
                ours: ObjectId([6; 32])
            })
        );
        // Our set is not the one the head describes: nothing to compare.
        let grown = OwnSet { object_count: 11, ..own(ObjectId([6; 32])) };
        assert_eq!(judge_session(&v, adopted, || Some(grown)), SessionOutcome::Clean);
        // Sides that differ, or a listed version: our set is not read.
        let diverged = SessionView { peer_lacked_nothing: false, ..view(Some(&h)) };
        assert_eq!(judge_session(&diverged, adopted, || panic!("not read")), SessionOutcome::Clean);
        let listed = head(vec![ObjectId([1; 32])]);
        assert_eq!(judge_session(&view(Some(&listed)), adopted, || panic!("not read")), SessionOutcome::Clean);
    }

    #[test]
    fn every_reason_is_listed() {
        let all = [
            SplitEvidence::Withheld { announced: 1, showed: 0, whole_set: true },
            SplitEvidence::OtherCoalition { coalition: COALITION },
            SplitEvidence::UnsupportedRoster { version: COALITION, head: COALITION },
        ];
        assert_eq!(all.map(|e| e.reason()), SPLIT_VIEW_REASONS);
        let unlisted = SplitEvidence::UnsupportedRosterVersion { version: COALITION, ours: COALITION };
        assert!(SPLIT_VIEW_REASONS.contains(&unlisted.reason()));
    }

    #[test]
    fn evidence_is_reported_after_two_sessions_in_a_row_and_cleared_by_a_clean_one() {
        let mut views = SplitViews::default();
        let peer = PeerId::random();
        let trust = Some(chorus_core::Keypair::from_seed(&[1; 32]).public());
        let withheld =
            |showed| SessionOutcome::Evidence(SplitEvidence::Withheld { announced: 10, showed, whole_set: true });
        assert_eq!(views.observe(peer, trust, withheld(9)), Change::None);
        // A failed session neither counts nor clears.
        assert_eq!(views.observe(peer, trust, SessionOutcome::Inconclusive), Change::None);
        let Change::Reported(report) = views.observe(peer, trust, withheld(9)) else { panic!("reported") };
        assert_eq!((report.peer, report.sessions), (peer, 2));
        assert_eq!(report.evidence.to_string(), "withholds objects: announced 10, showed 9");
        // Repeated, or with other counts (a withholder's set grows): counted
        // and kept for the status, not reported again.
        assert_eq!(views.observe(peer, trust, withheld(9)), Change::None);
        assert_eq!(views.observe(peer, trust, withheld(8)), Change::None);
        let now = views.reported();
        assert_eq!((now.len(), now[0].sessions), (1, 4));
        assert_eq!(now[0].evidence.to_string(), "withholds objects: announced 10, showed 8");
        // Another reason: reported again.
        let other = SessionOutcome::Evidence(SplitEvidence::OtherCoalition { coalition: ObjectId([8; 32]) });
        assert!(matches!(views.observe(peer, trust, other), Change::Reported(v) if v.sessions == 5));
        assert_eq!(views.reported().len(), 1);
        assert_eq!(views.observe(peer, trust, SessionOutcome::Clean), Change::Cleared { peer });
        assert!(views.reported().is_empty());
        // One session of evidence between clean ones is never reported.
        assert_eq!(views.observe(peer, trust, withheld(9)), Change::None);
        assert_eq!(views.observe(peer, trust, SessionOutcome::Clean), Change::None);
        assert_eq!(views.observe(peer, trust, withheld(9)), Change::None);
        assert!(views.reported().is_empty());
    }
}

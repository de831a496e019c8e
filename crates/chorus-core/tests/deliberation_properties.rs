//! Deliberation is a function of the set of objects (PROTOCOL.md 8): for
//! random histories of drafts (with and without a fixed opening), a
//! revision taking up an amendment, open-votings (the author's and
//! another member's, which never counts), comments and replies, stances of
//! every kind at and around the edges of the voting windows, withdrawals,
//! and a key rotation that decides which of the author's notices count,
//! every order of arrival, with repeats, gives the same digest, statuses,
//! tallies, counted stances, adoption, windows, comments, notices,
//! revisions and certificate contents.

use std::sync::OnceLock;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{
    Action, Amendment, Envelope, Ingest, Keypair, Kind, Ledger, Member, ObjectId, OpenVoting, ProposalLink, Relation,
    Stance,
};
use proptest::prelude::*;

const NOW: u64 = T0 + 10_000;
const MEMBERS: u32 = 5;
/// Times (offsets from T0) at which stances are signed: on and around
/// every edge of the windows below.
const TIMES: [u64; 12] = [9, 10, 49, 50, 51, 99, 100, 120, 121, 150, 300, 301];
/// Clocks at which statuses are compared.
const CLOCKS: [u64; 6] = [T0 + 5, T0 + 60, T0 + 100, T0 + 130, T0 + 305, NOW];

struct Pool {
    f: Fixture,
    /// Proposals, comments, notices, the rotation and what it enables.
    structure: Vec<Envelope>,
    /// Stances on the proposals, at the times of `TIMES`.
    stances: Vec<Envelope>,
    /// Every proposal id of the pool, and one that is never held.
    proposals: Vec<ObjectId>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(build)
}

fn build() -> Pool {
    let f = Fixture::new(MEMBERS);
    let mut s = Vec::new();
    // A draft opened by its author only; a draft with a fixed opening that
    // closes; a plain proposal; a governance draft.
    let d1 = f.draft(0, "Draft without opening", 1, None, Some(T0 + 300));
    let d2 = f.draft(1, "Draft opening at 100", 2, Some(100), Some(T0 + 300));
    let plain = f.proposal(2, "Plain", 3, None);
    let x = Keypair::from_seed(&[0x58; 32]);
    let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
    let mut gov = chorus_core::Proposal::from_body(
        f.proposal_under(&f.keys[3], f.keys[3].public(), "Admit X", &[], Some(Action::Admit(member)), 4).body(),
    )
    .expect("a fixture proposal");
    gov.draft = true;
    let gov = Envelope::sign(Kind::Proposal, gov.to_body(), &[&f.keys[3]]);
    // Comments, a reply, an amendment, and a comment on a proposal never held.
    let c1 = f.comment(4, d1.id(), "Agreed.", None, 5);
    let reply = f.comment(2, d1.id(), "Not quite.", Some(c1.id()), 6);
    let key = &f.keys[3];
    let amendment = Amendment { body: "A better text.".into(), title: Some("Better".into()) };
    let amend = f.comment_by(key, key.public(), d1.id(), "See the amendment.", None, Some(amendment), 7, None);
    let orphan = f.comment(4, ObjectId([0x0f; 32]), "On nothing held.", None, 8);
    // A revision of d1 taking up the amendment, opening at 120.
    let mut revised = f.draft_proposal(0, "Draft revised", 9, Some(120), None);
    revised.link = Some(ProposalLink { target: d1.id(), relation: Relation::Amends });
    revised.amendments = vec![amend.id()];
    let revised = Envelope::sign(Kind::Proposal, revised.to_body(), &[&f.keys[0]]);
    // Openings: the author's twice, another member's, one on the
    // governance draft; withdrawals: the author's of d1 (at 120, when the
    // revision opens) and of the revision, a non-author's of the plain
    // proposal.
    let notices = [
        f.open_voting(0, d1.id(), 50),
        f.open_voting(0, d1.id(), 99),
        f.open_voting(2, d1.id(), 10),
        f.open_voting(3, gov.id(), 50),
        f.withdrawal(0, d1.id(), Some("Revised."), 120),
        f.withdrawal(0, revised.id(), None, 301),
        f.withdrawal(4, plain.id(), Some("Not mine to withdraw."), 100),
        f.open_voting(1, d2.id(), 49),
    ];
    // Member 1 rotates its key, keeping its draft but not its opening at
    // 49; its new key opens d2 at 51. Which opening counts depends on
    // whether the rotation is held.
    let rotated = Keypair::from_seed(&[0x52; 32]);
    let trust1 = f.keys[1].public();
    let rotation = f.rotation(&f.keys[1], trust1, rotated.public(), vec![d2.id()], 30);
    let by_new_key = OpenVoting { coalition: f.id(), created_at_ms: T0 + 51, proposal: d2.id(), author: trust1 };
    let by_new_key = Envelope::sign(Kind::OpenVoting, by_new_key.to_body(), &[&rotated]);
    s.extend([d1.clone(), d2.clone(), plain.clone(), gov.clone(), revised.clone()]);
    s.extend([c1, reply, amend, orphan]);
    s.extend(notices);
    s.extend([rotation, by_new_key]);
    let proposals = vec![d1.id(), d2.id(), plain.id(), gov.id(), revised.id(), ObjectId([0x0f; 32])];
    let mut stances = Vec::new();
    for p in &proposals[..5] {
        for m in 0..MEMBERS as usize {
            for stance in [Stance::Endorse, Stance::Object, Stance::Abstain] {
                for t in TIMES {
                    stances.push(f.endorsement(m, *p, stance, t));
                }
            }
        }
    }
    Pool { f, structure: s, stances, proposals }
}

/// Everything compared between two ledgers.
fn view(ledger: &Ledger, proposals: &[ObjectId]) -> String {
    let mut out = format!("digest {}\n", hex::encode(ledger.digest()));
    for id in proposals {
        let statuses: Vec<_> = CLOCKS.iter().map(|now| ledger.status(id, *now)).collect();
        assert_eq!(ledger.tally(id), ledger.recount(id), "incremental tally of {id} equals its recount");
        out += &format!(
            "{id}: {statuses:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n",
            ledger.proposal_state(id),
            ledger.is_adopted(id),
            ledger.voting_window(id),
            ledger.comments(id),
            ledger.notices(id),
            ledger.revisions(id),
            ledger.certificate_endorsements(id),
            ledger.certificate_dissent(id),
            ledger.certificate_chain(id),
        );
    }
    out
}

/// Admits `objects` one at a time, in order (waiting ones are admitted
/// once what they wait for is).
fn one_by_one(f: &Fixture, objects: &[&Envelope]) -> Ledger {
    let mut ingest = Ingest::new(f.coalition.clone(), 4096);
    for e in objects {
        ingest.admit([Ledger::check_signature(&f.coalition, e.bytes())], NOW);
    }
    ingest.into_ledger()
}

/// Admits `objects` in one group commit.
fn at_once(f: &Fixture, objects: &[&Envelope]) -> Ledger {
    let mut ingest = Ingest::new(f.coalition.clone(), 4096);
    ingest.admit(objects.iter().map(|e| Ledger::check_signature(&f.coalition, e.bytes())), NOW);
    ingest.into_ledger()
}

fn history() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>, u64)> {
    let p = pool();
    (
        proptest::sample::subsequence((0..p.structure.len()).collect::<Vec<_>>(), 0..=p.structure.len()),
        proptest::sample::subsequence((0..p.stances.len()).collect::<Vec<_>>(), 0..=160),
        proptest::collection::vec(0..1000usize, 0..6),
        any::<u64>(),
    )
}

/// A permutation of `items` from `seed` (Fisher-Yates over splitmix).
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut rng = chorus_core::testkit::SplitMix(seed);
    let mut v = items.to_vec();
    for i in (1..v.len()).rev() {
        v.swap(i, rng.index(i + 1));
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn deliberation_depends_only_on_the_set_of_objects((structure, stances, repeats, seed) in history()) {
        let p = pool();
        let mut chosen: Vec<&Envelope> = structure.iter().map(|i| &p.structure[*i]).collect();
        chosen.extend(stances.iter().map(|i| &p.stances[*i]));
        let reference = view(&at_once(&p.f, &chosen), &p.proposals);
        // Another order, with some objects offered again.
        let mut again = shuffled(&chosen, seed);
        for r in &repeats {
            if !chosen.is_empty() {
                again.insert(r % again.len().max(1), chosen[r % chosen.len()]);
            }
        }
        prop_assert_eq!(&view(&one_by_one(&p.f, &again), &p.proposals), &reference);
        // And the reverse of the first order, at once.
        let reversed: Vec<&Envelope> = chosen.iter().rev().copied().collect();
        prop_assert_eq!(&view(&at_once(&p.f, &reversed), &p.proposals), &reference);
        // More open-votings only open earlier; more withdrawals only end
        // earlier.
        let ledger = at_once(&p.f, &chosen);
        let with = |kind: Kind| {
            let mut more = chosen.clone();
            more.extend(p.structure.iter().filter(|e| e.kind() == kind));
            at_once(&p.f, &more)
        };
        let (opened, withdrawn) = (with(Kind::OpenVoting), with(Kind::Withdrawal));
        let never = |t: Option<u64>| t.unwrap_or(u64::MAX);
        for id in &p.proposals {
            let (Some(w), Some(o), Some(x)) =
                (ledger.voting_window(id), opened.voting_window(id), withdrawn.voting_window(id))
            else {
                continue;
            };
            prop_assert!(never(o.opens_at_ms) <= never(w.opens_at_ms));
            prop_assert!(never(x.withdrawn_at_ms) <= never(w.withdrawn_at_ms));
            prop_assert_eq!((o.closes_at_ms, o.withdrawn_at_ms), (w.closes_at_ms, w.withdrawn_at_ms));
            prop_assert_eq!(x.opens_at_ms, w.opens_at_ms);
        }
    }
}

/// The pool itself: every object is admitted once what it relies on is,
/// and the windows come out as the comments in `build` say.
#[test]
fn the_whole_pool_gives_the_windows_it_is_built_for() {
    let p = pool();
    let all: Vec<&Envelope> = p.structure.iter().chain(&p.stances).collect();
    let ledger = at_once(&p.f, &all);
    assert_eq!(ledger.object_count(), 1 + all.len());
    let [d1, d2, plain, gov, revised, _] = p.proposals[..] else { unreachable!() };
    let w = |id| ledger.voting_window(&id).unwrap();
    assert_eq!((w(d1).opens_at_ms, w(d1).withdrawn_at_ms), (Some(T0 + 50), Some(T0 + 120)));
    // The rotation keeps d2 but not the opening at 49; the new key opens it at 51.
    assert_eq!(w(d2).opens_at_ms, Some(T0 + 51));
    assert_eq!(w(plain).withdrawn_at_ms, None);
    assert_eq!(w(gov).opens_at_ms, Some(T0 + 50));
    assert_eq!((w(revised).opens_at_ms, w(revised).withdrawn_at_ms), (Some(T0 + 120), Some(T0 + 301)));
    assert_eq!(ledger.revisions(&d1), [revised]);
    assert!(ledger.comments(&d1).iter().all(|c| c.counted));
    assert!(!ledger.comments(&ObjectId([0x0f; 32]))[0].counted);
    // Without the rotation, the author's own opening at 49 counts.
    let without: Vec<&Envelope> = all.iter().copied().filter(|e| e.kind() != Kind::KeyRotation).collect();
    assert_eq!(at_once(&p.f, &without).voting_window(&d2).unwrap().opens_at_ms, Some(T0 + 49));
}

//! Deliberation (PROTOCOL.md 6.7, 6.8, 8): drafts, comments and
//! amendments, open-voting and withdrawal objects, and the voting window
//! they give a proposal. One rule per test.

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{
    Admission, Amendment, Envelope, Ingest, Keypair, Kind, Ledger, NoticeKind, ObjectId, Proposal, ProposalLink,
    Rejection, Relation, Stance, Status, Timing, Verdict, VotingWindow,
};
use chorus_proto::v1 as pb;
use prost::Message;

const NOW: u64 = T0 + 1_000_000;

/// A ledger holding `objects`, each validated and applied in order.
fn ledger_of(f: &Fixture, objects: &[&Envelope]) -> Ledger {
    let mut ledger = Ledger::new(f.coalition.clone());
    for e in objects {
        let v = ledger.validate(e.bytes(), NOW).unwrap_or_else(|why| panic!("{:?} refused: {why}", e.kind()));
        ledger.apply(&v);
    }
    ledger
}

fn refusal(ledger: &Ledger, e: &Envelope) -> Rejection {
    ledger.validate(e.bytes(), NOW).expect_err("refused")
}

/// The rule's own error behind a refusal of a kind defined after older
/// nodes kept it, which must have verdict Ignore.
fn kind_rule(e: Rejection) -> Rejection {
    assert_eq!(e.verdict(), Verdict::Ignore, "{e}");
    match e {
        Rejection::KindRules { reason, .. } => *reason,
        other => panic!("not a kind rule: {other:?}"),
    }
}

fn signed(kind: Kind, body: Vec<u8>, key: &Keypair) -> Envelope {
    Envelope::sign(kind, body, &[key])
}

#[test]
fn a_draft_its_discussion_and_the_authors_notices_are_admitted_and_shown() {
    let f = Fixture::new(3);
    let draft = f.draft(0, "Attendance policy", 1, None, None);
    let c1 = f.comment(1, draft.id(), "Agreed in principle.", None, 2);
    let reply = f.comment(2, draft.id(), "What about rural schools?", Some(c1.id()), 3);
    let amendment = Amendment { body: "A revised text.".into(), title: Some("Attendance policy (rev.)".into()) };
    let key = &f.keys[2];
    let amend = f.comment_by(key, key.public(), draft.id(), "", None, Some(amendment.clone()), 4, None);
    let open = f.open_voting(0, draft.id(), 10);
    let withdrawal = f.withdrawal(0, draft.id(), Some("Superseded."), 20);
    let ledger = ledger_of(&f, &[&draft, &c1, &reply, &amend, &open, &withdrawal]);
    let comments = ledger.comments(&draft.id());
    assert_eq!(comments.iter().map(|c| c.id).collect::<Vec<_>>(), [c1.id(), reply.id(), amend.id()]);
    assert!(comments.iter().all(|c| c.counted));
    assert_eq!(comments[1].reply_to, Some(c1.id()));
    assert_eq!(comments[2].amendment, Some(amendment));
    assert_eq!((comments[0].trust, comments[0].signer), (f.keys[1].public(), f.keys[1].public()));
    let notices = ledger.notices(&draft.id());
    assert_eq!(
        notices.iter().map(|n| (n.kind, n.counted)).collect::<Vec<_>>(),
        [(NoticeKind::OpenVoting, true), (NoticeKind::Withdrawal, true)]
    );
    assert_eq!(notices[1].reason.as_deref(), Some("Superseded."));
    let w = ledger.voting_window(&draft.id()).unwrap();
    assert_eq!(
        w,
        VotingWindow {
            opens_at_ms: Some(T0 + 10),
            opened_by: Some(open.id()),
            closes_at_ms: None,
            withdrawn_at_ms: Some(T0 + 20),
            withdrawn_by: Some(withdrawal.id()),
        }
    );
    assert_eq!(ledger.proposal_state(&draft.id()).unwrap().window, w);
    // Comments never change a tally.
    let t = ledger.tally(&draft.id()).unwrap();
    assert_eq!((t.endorse, t.object, t.abstain, t.early, t.late), (0, 0, 0, 0, 0));
}

#[test]
fn p5a_and_p5b_refuse_bad_openings_and_amendment_lists_with_their_messages() {
    let f = Fixture::new(3);
    let base = f.draft_proposal(0, "Draft", 100, None, Some(T0 + 1000));
    let message = |p: &Proposal| {
        let e = refusal(&Ledger::new(f.coalition.clone()), &signed(Kind::Proposal, p.to_body(), &f.keys[0]));
        assert_eq!(e.verdict(), Verdict::Reject);
        e.to_string()
    };
    let before = Proposal { voting_opens_at_ms: Some(T0 + 99), ..base.clone() };
    assert_eq!(message(&before), "voting_opens_at_ms: is before created_at_ms");
    let after = Proposal { voting_opens_at_ms: Some(T0 + 1001), ..base.clone() };
    assert_eq!(message(&after), "voting_opens_at_ms: is after closes_at_ms");
    for at in [T0 + 100, T0 + 1000] {
        let edge = Proposal { voting_opens_at_ms: Some(at), ..base.clone() };
        ledger_of(&f, &[&signed(Kind::Proposal, edge.to_body(), &f.keys[0])]);
    }
    let unlinked = Proposal { amendments: vec![ObjectId([1; 32])], ..base.clone() };
    assert_eq!(message(&unlinked), "amendments: a text that takes up amendments must link to the draft it revises");
    let link = Some(ProposalLink { target: ObjectId([9; 32]), relation: Relation::Amends });
    let linked = Proposal { link, amendments: vec![ObjectId([1; 32]), ObjectId([2; 32])], ..base.clone() };
    ledger_of(&f, &[&signed(Kind::Proposal, linked.to_body(), &f.keys[0])]);
    let raw = |amendments: Vec<Vec<u8>>| {
        let mut p = pb::Proposal::decode(linked.to_body().as_slice()).unwrap();
        p.amendments = amendments;
        message_of(&f, p.encode_to_vec())
    };
    assert_eq!(raw((0..65u8).map(|i| vec![i; 32]).collect()), "amendments: lists 65 ids, more than 64");
    assert_eq!(raw(vec![vec![1; 32], vec![2; 31]]), "amendments: entry 1 is 31 bytes, an id is 32");
    assert_eq!(raw(vec![vec![2; 32], vec![1; 32]]), "amendments: not sorted or an id twice (entry 1)");
    assert_eq!(raw(vec![vec![2; 32], vec![2; 32]]), "amendments: not sorted or an id twice (entry 1)");
}

fn message_of(f: &Fixture, proposal_body: Vec<u8>) -> String {
    let e = refusal(&Ledger::new(f.coalition.clone()), &signed(Kind::Proposal, proposal_body, &f.keys[0]));
    e.to_string()
}

#[test]
fn each_comment_body_rule_is_refused_after_the_signature_with_verdict_ignore() {
    let f = Fixture::new(3);
    let ledger = Ledger::new(f.coalition.clone());
    let key = &f.keys[1];
    let good = pb::Comment::decode(f.comment(1, ObjectId([5; 32]), "Text", None, 2).body()).unwrap();
    let refused = |c: pb::Comment| kind_rule(refusal(&ledger, &signed(Kind::Comment, c.encode_to_vec(), key)));
    let cases: Vec<(pb::Comment, &str)> = vec![
        (
            pb::Comment { text: String::new(), ..good.clone() },
            "text: a comment must say something (only an amendment may leave it empty)",
        ),
        (pb::Comment { text: "x".repeat(8193), ..good.clone() }, "text: is 8193 bytes, over the limit of 8192"),
        (pb::Comment { text: "a\u{7}".into(), ..good.clone() }, "text: contains control character U+0007"),
        (pb::Comment { proposal: vec![1; 31], ..good.clone() }, "proposal: must be 32 bytes, is 31"),
        (pb::Comment { delegation: vec![1; 33], ..good.clone() }, "delegation: must be 32 bytes, is 33"),
        (pb::Comment { reply_to: vec![1; 3], ..good.clone() }, "reply_to: must be 32 bytes, is 3"),
        (
            pb::Comment {
                amendment: Some(pb::Amendment { body: String::new(), title: String::new() }),
                ..good.clone()
            },
            "amendment body: must not be empty",
        ),
        (
            pb::Comment { amendment: Some(pb::Amendment { body: "b".into(), title: "x".repeat(201) }), ..good.clone() },
            "amendment title: is 201 bytes, over the limit of 200",
        ),
    ];
    for (c, message) in cases {
        assert_eq!(refused(c).to_string(), message);
    }
    let e = refused(pb::Comment { trust: vec![0; 32], ..good.clone() });
    assert!(matches!(e, Rejection::BadKey { field: "trust", .. }), "{e:?}");
    // Not canonical: an unknown field after the header.
    let mut body = good.encode_to_vec();
    body.extend_from_slice(&[0x78, 0x01]);
    assert_eq!(refused_bytes(&ledger, Kind::Comment, body, key), Rejection::NonCanonical { what: "comment body" });
    // The header is judged before the signature, as by an older node: a
    // header without a time is rejected outright.
    let e = refusal(&ledger, &signed(Kind::Comment, good.encode_to_vec()[..34].to_vec(), key));
    assert_eq!(e.verdict(), Verdict::Reject);
    assert!(e.to_string().starts_with("header created_at_ms"), "{e}");
    // A forged signature is rejected whatever the body says.
    let env = signed(Kind::Comment, pb::Comment { text: String::new(), ..good }.encode_to_vec(), key);
    let mut sigs = env.signatures().to_vec();
    sigs[0].signature[3] ^= 1;
    let forged = Envelope::assemble(Kind::Comment, env.body().to_vec(), sigs);
    assert!(matches!(refusal(&ledger, &forged), Rejection::BadSignature { .. }));
}

fn refused_bytes(ledger: &Ledger, kind: Kind, body: Vec<u8>, key: &Keypair) -> Rejection {
    kind_rule(refusal(ledger, &signed(kind, body, key)))
}

#[test]
fn each_notice_body_rule_is_refused_with_its_message() {
    let f = Fixture::new(3);
    let ledger = Ledger::new(f.coalition.clone());
    let key = &f.keys[0];
    let open = pb::OpenVoting::decode(f.open_voting(0, ObjectId([5; 32]), 2).body()).unwrap();
    let e = refused_bytes(
        &ledger,
        Kind::OpenVoting,
        pb::OpenVoting { proposal: vec![], ..open.clone() }.encode_to_vec(),
        key,
    );
    assert_eq!(e.to_string(), "proposal: must be 32 bytes, is 0");
    let e =
        refused_bytes(&ledger, Kind::OpenVoting, pb::OpenVoting { author: vec![1; 5], ..open }.encode_to_vec(), key);
    assert!(matches!(e, Rejection::BadKey { field: "author", .. }), "{e:?}");
    let w = pb::Withdrawal::decode(f.withdrawal(0, ObjectId([5; 32]), None, 2).body()).unwrap();
    let long = pb::Withdrawal { reason: "r".repeat(1001), ..w.clone() }.encode_to_vec();
    assert_eq!(
        refused_bytes(&ledger, Kind::Withdrawal, long, key).to_string(),
        "reason: is 1001 bytes, over the limit of 1000"
    );
    let mut body = w.encode_to_vec();
    body.extend_from_slice(&[0x30, 0x01]);
    assert_eq!(
        refused_bytes(&ledger, Kind::Withdrawal, body, key),
        Rejection::NonCanonical { what: "withdrawal body" }
    );
}

#[test]
fn a_notice_is_signed_by_a_key_of_the_author_it_names() {
    let f = Fixture::new(3);
    let p = f.proposal(0, "P", 1, None);
    let ledger = ledger_of(&f, &[&p]);
    // Member 1 signing for member 0: not a key of the trust named.
    let o = chorus_core::OpenVoting {
        coalition: f.id(),
        created_at_ms: T0 + 2,
        proposal: p.id(),
        author: f.keys[0].public(),
    };
    let e = refusal(&ledger, &signed(Kind::OpenVoting, o.to_body(), &f.keys[1]));
    assert!(matches!(e, Rejection::UnknownSigner { .. }), "{e:?}");
    assert!(e.awaits_objects());
    // Member 1 naming itself: admitted, but it is not the author's.
    let by_other = f.open_voting(1, p.id(), 2);
    let withdrawn_by_other = f.withdrawal(1, p.id(), None, 3);
    let ledger = ledger_of(&f, &[&p, &by_other, &withdrawn_by_other]);
    assert!(ledger.notices(&p.id()).iter().all(|n| !n.counted));
    assert_eq!(ledger.voting_window(&p.id()), Some(VotingWindow::open_from_start(None)));
}

#[test]
fn a_comment_under_a_delegation_waits_for_it_and_is_refused_for_another_trust() {
    let f = Fixture::new(3);
    let p = f.proposal(0, "P", 1, None);
    let leader = Keypair::from_seed(&[42; 32]);
    let trust = f.keys[1].public();
    let d = f.delegation(&f.keys[1], trust, leader.public(), None, 2);
    let c = f.comment_by(&leader, trust, p.id(), "For the trust.", None, None, 3, Some(d.id()));
    let mut ingest = Ingest::new(f.coalition.clone(), 16);
    let checked = |e: &Envelope| Ledger::check_signature(&f.coalition, e.bytes());
    let first = ingest.admit([checked(&p), checked(&c)], NOW);
    assert!(matches!(&first.admissions[1], Admission::Refused(Rejection::UnknownSigner { .. })));
    assert!(ingest.waiting().contains(&c.id()));
    let second = ingest.admit([checked(&d)], NOW);
    assert_eq!(second.applied.iter().map(|(o, _)| o.id()).collect::<Vec<_>>(), [d.id(), c.id()]);
    let comments = ingest.ledger().comments(&p.id());
    assert_eq!(
        (comments[0].delegation, comments[0].signer, comments[0].counted),
        (Some(d.id()), leader.public(), true)
    );
    // The same delegation named for another trust.
    let other = f.comment_by(&leader, f.keys[2].public(), p.id(), "Wrong trust.", None, None, 4, Some(d.id()));
    let e = kind_rule(refusal(ingest.ledger(), &other));
    assert!(e.to_string().starts_with("delegation: is a delegation of trust"), "{e}");
    // Revoked without keeping it: kept, shown, not counted.
    let r = f.revocation(&f.keys[1], trust, d.id(), vec![], 5);
    ingest.admit([checked(&r)], NOW);
    assert!(!ingest.ledger().comments(&p.id())[0].counted);
}

#[test]
fn a_comment_of_a_trust_admitted_later_waits_for_its_admission() {
    let f = Fixture::new(3);
    let p = f.proposal(0, "P", 1, None);
    let x = Keypair::from_seed(&[7; 32]);
    let member =
        chorus_core::Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
    let admit =
        f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(chorus_core::Action::Admit(member)), 1);
    let c = f.comment_by(&x, x.public(), p.id(), "Hello from X.", None, None, 5, None);
    let mut ingest = Ingest::new(f.coalition.clone(), 16);
    let checked = |e: &Envelope| Ledger::check_signature(&f.coalition, e.bytes());
    let out = ingest.admit([checked(&p), checked(&c)], NOW);
    assert!(matches!(&out.admissions[1], Admission::Refused(Rejection::UnknownSigner { .. })));
    ingest.admit([checked(&admit)], NOW);
    assert!(ingest.ledger().contains(&c.id()));
    // X is not a member of the genesis roster the proposal is voted under.
    assert!(!ingest.ledger().comments(&p.id())[0].counted);
}

#[test]
fn comments_and_notices_held_before_their_proposal_take_effect_when_it_arrives() {
    let f = Fixture::new(3);
    let draft = f.draft(0, "Draft", 1, None, None);
    let c = f.comment(1, draft.id(), "Early word.", None, 2);
    let open = f.open_voting(0, draft.id(), 3);
    let e = f.endorsement(1, draft.id(), Stance::Endorse, 4);
    let before = ledger_of(&f, &[&c, &open, &e]);
    assert!(!before.comments(&draft.id())[0].counted);
    assert!(!before.notices(&draft.id())[0].counted);
    assert_eq!(before.voting_window(&draft.id()), None);
    let mut after = before.clone();
    after.apply(&after.validate(draft.bytes(), NOW).unwrap());
    assert!(after.comments(&draft.id())[0].counted);
    assert!(after.notices(&draft.id())[0].counted);
    assert_eq!(after.tally(&draft.id()).unwrap().endorse, 1);
    assert_eq!(after.digest(), ledger_of(&f, &[&draft, &open, &e, &c]).digest());
}

/// A draft of member 0 in a coalition of five (three endorsements adopt).
fn five() -> (Fixture, Envelope) {
    let f = Fixture::new(5);
    let draft = f.draft(0, "Draft", 1, None, Some(T0 + 1000));
    (f, draft)
}

#[test]
fn a_stance_before_voting_opens_is_early_and_does_not_count() {
    let (f, draft) = five();
    let early = f.endorsement(1, draft.id(), Stance::Endorse, 5);
    let ledger = ledger_of(&f, &[&draft, &early]);
    let t = ledger.tally(&draft.id()).unwrap();
    assert_eq!((t.endorse, t.early, t.late), (0, 1, 0));
    assert_eq!(ledger.voting_window(&draft.id()).unwrap().timing(T0 + 5), Timing::Early);
    assert_eq!(ledger.status(&draft.id(), NOW.min(T0 + 500)), Some(Status::Draft));
    let state = ledger.proposal_state(&draft.id()).unwrap();
    assert_eq!(state.stances[0].stance, None);
    assert_eq!(state.stances[0].records.len(), 1);
    // Opened after the stance: still early.
    let open = f.open_voting(0, draft.id(), 6);
    let ledger = ledger_of(&f, &[&draft, &early, &open]);
    assert_eq!(ledger.tally(&draft.id()).unwrap().early, 1);
    assert_eq!(ledger.tally(&draft.id()), ledger.recount(&draft.id()));
}

#[test]
fn the_opening_and_the_end_are_inclusive() {
    let (f, draft) = five();
    let open = f.open_voting(0, draft.id(), 10);
    let withdrawal = f.withdrawal(0, draft.id(), None, 20);
    let at_open = f.endorsement(1, draft.id(), Stance::Endorse, 10);
    let at_end = f.endorsement(2, draft.id(), Stance::Object, 20);
    let after = f.endorsement(3, draft.id(), Stance::Endorse, 21);
    let ledger = ledger_of(&f, &[&draft, &open, &withdrawal, &at_open, &at_end, &after]);
    let t = ledger.tally(&draft.id()).unwrap();
    assert_eq!((t.endorse, t.object, t.early, t.late), (1, 1, 0, 1));
    assert_eq!(ledger.status(&draft.id(), T0 + 15), Some(Status::Withdrawn));
    // At the closing time, inclusive too.
    let fixed = f.draft(0, "Fixed", 1, Some(100), Some(T0 + 1000));
    let at_closing = f.endorsement(1, fixed.id(), Stance::Endorse, 1000);
    let past = f.endorsement(2, fixed.id(), Stance::Endorse, 1001);
    let at_fixed = f.endorsement(3, fixed.id(), Stance::Abstain, 100);
    let ledger = ledger_of(&f, &[&fixed, &at_closing, &past, &at_fixed]);
    let t = ledger.tally(&fixed.id()).unwrap();
    assert_eq!((t.endorse, t.abstain, t.late), (1, 1, 1));
    let statuses: Vec<Status> =
        [99, 100, 1000, 1001].iter().map(|at| ledger.status(&fixed.id(), T0 + at).unwrap()).collect();
    assert_eq!(statuses, [Status::Draft, Status::Open, Status::Open, Status::Closed]);
}

#[test]
fn a_stance_after_a_withdrawal_is_late_and_a_withdrawal_after_adoption_leaves_it_adopted() {
    let (f, draft) = five();
    let open = f.open_voting(0, draft.id(), 10);
    let stances: Vec<Envelope> = (1..4).map(|i| f.endorsement(i, draft.id(), Stance::Endorse, 30 + i as u64)).collect();
    // Withdrawn before the third endorsement: not adopted.
    let early_withdrawal = f.withdrawal(0, draft.id(), Some("Changed our mind."), 32);
    let mut objects: Vec<&Envelope> = vec![&draft, &open];
    objects.extend(&stances);
    let mut ledger = ledger_of(&f, &objects);
    assert!(ledger.is_adopted(&draft.id()));
    // A withdrawal signed after the stances that adopted it leaves it adopted.
    let late_withdrawal = f.withdrawal(0, draft.id(), None, 40);
    ledger.apply(&ledger.validate(late_withdrawal.bytes(), NOW).unwrap());
    assert!(ledger.is_adopted(&draft.id()));
    assert_eq!(ledger.status(&draft.id(), NOW), Some(Status::Adopted));
    // One signed before the last of them ends the vote before it: the
    // third endorsement is late, and the proposal is withdrawn.
    ledger.apply(&ledger.validate(early_withdrawal.bytes(), NOW).unwrap());
    assert!(!ledger.is_adopted(&draft.id()));
    let t = ledger.tally(&draft.id()).unwrap();
    assert_eq!((t.endorse, t.late), (2, 1));
    assert_eq!(ledger.status(&draft.id(), NOW), Some(Status::Withdrawn));
    assert_eq!(ledger.voting_window(&draft.id()).unwrap().withdrawn_by, Some(early_withdrawal.id()));
}

#[test]
fn an_opening_by_anyone_but_the_author_is_ignored() {
    let (f, draft) = five();
    let by_member = f.open_voting(1, draft.id(), 10);
    let e = f.endorsement(2, draft.id(), Stance::Endorse, 11);
    let ledger = ledger_of(&f, &[&draft, &by_member, &e]);
    assert_eq!(ledger.voting_window(&draft.id()).unwrap().opens_at_ms, None);
    assert_eq!(ledger.tally(&draft.id()).unwrap().early, 1);
    assert_eq!(ledger.status(&draft.id(), T0 + 500), Some(Status::Draft));
    assert_eq!(ledger.status(&draft.id(), T0 + 1001), Some(Status::Closed));
}

#[test]
fn the_earliest_opening_wins() {
    let (f, draft) = five();
    let later = f.open_voting(0, draft.id(), 20);
    let earlier = f.open_voting(0, draft.id(), 10);
    let ledger = ledger_of(&f, &[&draft, &later, &earlier]);
    let w = ledger.voting_window(&draft.id()).unwrap();
    assert_eq!((w.opens_at_ms, w.opened_by), (Some(T0 + 10), Some(earlier.id())));
    // A fixed opening before any open-voting sets it alone.
    let fixed = f.draft(0, "Fixed", 1, Some(5), None);
    let open = f.open_voting(0, fixed.id(), 10);
    let w = ledger_of(&f, &[&fixed, &open]).voting_window(&fixed.id()).unwrap();
    assert_eq!((w.opens_at_ms, w.opened_by), (Some(T0 + 5), None));
    // An open-voting before the fixed opening opens it earlier.
    let fixed_late = f.draft(0, "Fixed later", 1, Some(50), None);
    let open = f.open_voting(0, fixed_late.id(), 10);
    let w = ledger_of(&f, &[&fixed_late, &open]).voting_window(&fixed_late.id()).unwrap();
    assert_eq!((w.opens_at_ms, w.opened_by), (Some(T0 + 10), Some(open.id())));
}

#[test]
fn a_proposal_that_is_no_draft_is_open_from_the_start_unless_it_fixes_an_opening() {
    let (f, _) = five();
    let plain = f.proposal(0, "Plain", 1, None);
    let e = f.endorsement(1, plain.id(), Stance::Endorse, 1);
    let ledger = ledger_of(&f, &[&plain, &e]);
    assert_eq!(ledger.voting_window(&plain.id()), Some(VotingWindow::open_from_start(None)));
    assert_eq!(ledger.tally(&plain.id()).unwrap().endorse, 1);
    assert_eq!(ledger.status(&plain.id(), T0), Some(Status::Open));
    let fixed = Proposal { draft: false, ..f.draft_proposal(0, "Not a draft", 1, Some(10), None) };
    let fixed = signed(Kind::Proposal, fixed.to_body(), &f.keys[0]);
    let e = f.endorsement(1, fixed.id(), Stance::Endorse, 9);
    let ledger = ledger_of(&f, &[&fixed, &e]);
    assert_eq!(ledger.voting_window(&fixed.id()).unwrap().opens_at_ms, Some(T0 + 10));
    assert_eq!(ledger.tally(&fixed.id()).unwrap().early, 1);
}

#[test]
fn a_revision_lists_the_amendments_it_takes_up_and_is_found_from_its_draft() {
    let (f, draft) = five();
    let key = &f.keys[1];
    let amendment = Amendment { body: "Better text.".into(), title: None };
    let amend = f.comment_by(key, key.public(), draft.id(), "", None, Some(amendment), 3, None);
    let mut revised = f.draft_proposal(0, "Draft (revised)", 5, None, None);
    revised.link = Some(ProposalLink { target: draft.id(), relation: Relation::Amends });
    revised.amendments = vec![amend.id()];
    let revised = signed(Kind::Proposal, revised.to_body(), &f.keys[0]);
    let withdrawal = f.withdrawal(0, draft.id(), Some("Revised."), 5);
    let ledger = ledger_of(&f, &[&draft, &amend, &revised, &withdrawal]);
    assert_eq!(ledger.revisions(&draft.id()), [revised.id()]);
    assert_eq!(ledger.proposal(&revised.id()).unwrap().amendments, [amend.id()]);
    assert_eq!(ledger.status(&draft.id(), NOW), Some(Status::Withdrawn));
    assert_eq!(ledger.status(&revised.id(), NOW), Some(Status::Draft));
}

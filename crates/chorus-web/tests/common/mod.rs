//! A small coalition with everything a site shows: hostile names, titles,
//! bodies and comments; positions and proposals that are not adopted; an
//! equivocation and a late record; an admission under the membership rule;
//! a stance signed by a delegate; a position that amends a proposal that is
//! not adopted; a proposal void under its roster version.

#![allow(dead_code)]

pub mod html;

#[allow(unused_imports)]
pub use html::{check_page, unescape};

use std::collections::BTreeMap;

use chorus_core::testkit::{member_key, T0};
use chorus_core::{
    version_id, Action, Charter, Coalition, Delegation, Endorsement, Envelope, Genesis, Ingest, Keypair, Kind, Ledger,
    Member, ObjectId, Proposal, ProposalLink, PublicKey, Relation, Replay, Stance, SCOPE_STANCES,
};

pub const HOSTILE_TITLE: &str = "<script>alert(1)</script> \"><svg onload=alert(1)> & 'quotes'";
pub const HOSTILE_BODY: &str = "# Heading <img src=x onerror=alert(1)>\n\n\
Read [the guidance](https://www.gov.uk/guidance \"t\\\" onmouseover=\\\"alert(1)\") and \
[this](javascript:alert(1)) and <javascript:alert(2)> and [data](data:text/html,<script>alert(3)</script>).\n\n\
<div onclick=\"alert(4)\">raw *block*</div>\n\n\
Inline <b onmouseover=alert(5)>html</b> and ![chart\" onerror=\"alert(6)](https://example.org/c.png).\n\n\
[ref]: javascript:alert(7)\n";
pub const HOSTILE_COMMENT: &str = "We object: <img src=x onerror=alert(1)> \"><svg onload=alert(1)>\nSecond line.";
pub const HOSTILE_NAMES: [&str; 2] = ["\"><svg onload=alert(1)>", "<img src=x onerror=alert(1)> Trust"];
pub const ADMITTED_NAME: &str = "New <script>alert('admitted')</script> Trust";
/// Every title of a proposal that is never adopted contains this.
pub const SECRET: &str = "SECRET-unadopted";

pub const NOW: u64 = T0 + 30 * 86_400_000;

pub struct World {
    pub coalition: Coalition,
    /// Every object but the genesis.
    pub objects: Vec<Envelope>,
    /// Ids of proposals that are adopted, and of those that are not.
    pub adopted: Vec<ObjectId>,
    pub unadopted: Vec<ObjectId>,
    /// The position with an objection, an abstention and hostile text.
    pub hostile: ObjectId,
    /// Founders' keys sorted as the roster is, then the admitted trust's.
    keys: Vec<Keypair>,
}

struct Builder {
    coalition: ObjectId,
    keys: Vec<Keypair>,
    objects: Vec<Envelope>,
}

impl Builder {
    fn key(&self, i: usize) -> &Keypair {
        &self.keys[i]
    }

    #[allow(clippy::too_many_arguments)]
    fn proposal(
        &mut self,
        author: usize,
        title: &str,
        body: &str,
        offset: u64,
        closes: Option<u64>,
        heads: &[ObjectId],
        action: Option<Action>,
        link: Option<ProposalLink>,
    ) -> ObjectId {
        let key = &self.keys[author];
        let p = Proposal {
            coalition: self.coalition,
            roster: version_id(&self.coalition, heads),
            author: key.public(),
            created_at_ms: T0 + offset,
            closes_at_ms: closes.map(|c| T0 + c),
            title: title.into(),
            body: body.into(),
            link,
            action,
            roster_heads: heads.to_vec(),
            voting_opens_at_ms: None,
            draft: false,
            amendments: vec![],
        };
        let env = Envelope::sign(Kind::Proposal, p.to_body(), &[key]);
        let id = env.id();
        self.objects.push(env);
        id
    }

    fn stance(&mut self, member: usize, proposal: ObjectId, stance: Stance, offset: u64, comment: Option<&str>) {
        let key = &self.keys[member];
        let e = Endorsement {
            coalition: self.coalition,
            proposal,
            trust: key.public(),
            created_at_ms: T0 + offset,
            stance,
            comment: comment.map(Into::into),
            delegation: None,
        };
        self.objects.push(Envelope::sign(Kind::Endorsement, e.to_body(), &[key]));
    }

    fn stance_as(&mut self, signer: &Keypair, trust: PublicKey, proposal: ObjectId, delegation: ObjectId, offset: u64) {
        let e = Endorsement {
            coalition: self.coalition,
            proposal,
            trust,
            created_at_ms: T0 + offset,
            stance: Stance::Endorse,
            comment: Some("Signed by our chief executive.".into()),
            delegation: Some(delegation),
        };
        self.objects.push(Envelope::sign(Kind::Endorsement, e.to_body(), &[signer]));
    }
}

const HOUR: u64 = 3_600_000;

/// Five founders (two with hostile names); majority rule for positions,
/// 2/3 for membership.
pub fn world() -> World {
    let mut keys: Vec<Keypair> = (0..5).map(member_key).collect();
    keys.sort_by_key(|k| *k.public().as_bytes());
    let names = ["Alder Trust", HOSTILE_NAMES[0], HOSTILE_NAMES[1], "Delta Academies", "Elm Learning"];
    let genesis = Genesis {
        name: "Northern <Schools> & \"Coalition\"".into(),
        charter: Charter::default(),
        founders: keys
            .iter()
            .zip(names)
            .map(|(k, n)| Member {
                key: k.public(),
                name: n.into(),
                external_id: (n == "Alder Trust").then(|| "08123456".into()),
                attributes: Default::default(),
            })
            .collect(),
        created_at_ms: T0,
        nonce: vec![7],
    };
    let refs: Vec<&Keypair> = keys.iter().collect();
    let env = Envelope::sign(Kind::Genesis, genesis.to_body(), &refs);
    let coalition = Coalition::from_genesis(env.bytes(), 1).expect("valid genesis");
    let mut b = Builder { coalition: coalition.id(), keys, objects: vec![] };
    let mut adopted = vec![];
    let mut unadopted = vec![];

    // A position with hostile text, an objection with a hostile reason and
    // an abstention (3 of 5 required).
    let hostile = b.proposal(1, HOSTILE_TITLE, HOSTILE_BODY, HOUR, None, &[], None, None);
    b.stance(0, hostile, Stance::Endorse, 2 * HOUR, Some("Agreed."));
    b.stance(1, hostile, Stance::Endorse, 2 * HOUR, Some(HOSTILE_COMMENT));
    b.stance(2, hostile, Stance::Endorse, 3 * HOUR, None);
    b.stance(3, hostile, Stance::Object, 3 * HOUR, Some(HOSTILE_COMMENT));
    b.stance(4, hostile, Stance::Abstain, 4 * HOUR, Some("We abstain."));
    adopted.push(hostile);

    // Not adopted, with a closing date: one endorsement, two objections.
    let closed =
        b.proposal(0, &format!("{SECRET}-alpha"), "Not *this* one.", 5 * HOUR, Some(6 * HOUR), &[], None, None);
    b.stance(0, closed, Stance::Endorse, 5 * HOUR, None);
    b.stance(1, closed, Stance::Object, 5 * HOUR, Some(&format!("{SECRET} reason")));
    b.stance(2, closed, Stance::Object, 5 * HOUR, None);
    unadopted.push(closed);

    // Not adopted, no closing date, no stance.
    let quiet = b.proposal(4, &format!("{SECRET}-beta"), "", 6 * HOUR, None, &[], None, None);
    unadopted.push(quiet);

    // Adopted, amending the proposal that was not: an equivocation, and a
    // record after the closing date.
    let amend = Some(ProposalLink { target: closed, relation: Relation::Amends });
    let revised = b.proposal(0, "Revised text", "A *revised* text.", 7 * HOUR, Some(9 * HOUR), &[], None, amend);
    b.stance(0, revised, Stance::Endorse, 8 * HOUR, None);
    b.stance(1, revised, Stance::Endorse, 8 * HOUR, Some("Yes."));
    b.stance(1, revised, Stance::Object, 8 * HOUR + 1, Some("No, on reflection."));
    b.stance(2, revised, Stance::Endorse, 8 * HOUR, None);
    b.stance(3, revised, Stance::Endorse, 10 * HOUR, Some("Too late."));
    adopted.push(revised);

    // An admission under the membership rule (2/3 of 5: 4 required).
    let newcomer = member_key(100);
    let admit = Action::Admit(Member {
        key: newcomer.public(),
        name: ADMITTED_NAME.into(),
        external_id: None,
        attributes: Default::default(),
    });
    let admission = b.proposal(2, "Admit a new trust", "", 11 * HOUR, None, &[], Some(admit), None);
    for m in 0..4 {
        b.stance(m, admission, Stance::Endorse, 12 * HOUR, None);
    }
    b.stance(4, admission, Stance::Object, 12 * HOUR, Some("Not yet."));
    adopted.push(admission);

    // A position under the new roster (6 members, 4 required), with the
    // newcomer's endorsement and one signed by a delegate.
    b.keys.push(newcomer);
    let leader = member_key(200);
    let d = Delegation {
        coalition: b.coalition,
        trust: b.key(3).public(),
        delegate: leader.public(),
        name: "Dr <b>Rowan</b>".into(),
        role: "Chief executive".into(),
        valid_from_ms: T0,
        valid_until_ms: None,
        scope: SCOPE_STANCES,
        created_at_ms: T0 + 13 * HOUR,
    };
    let delegation = Envelope::sign(Kind::Delegation, d.to_body(), &[b.key(3)]);
    let did = delegation.id();
    b.objects.push(delegation);
    let later = b.proposal(5, "A position of six", "Under the new roster.", 14 * HOUR, None, &[admission], None, None);
    b.stance(5, later, Stance::Endorse, 15 * HOUR, Some("Glad to join."));
    b.stance(0, later, Stance::Endorse, 15 * HOUR, None);
    b.stance(2, later, Stance::Endorse, 15 * HOUR, None);
    let trust3 = b.key(3).public();
    b.stance_as(&leader, trust3, later, did, 15 * HOUR);
    b.stance(4, later, Stance::Object, 16 * HOUR, Some(HOSTILE_COMMENT));
    adopted.push(later);

    // Not adopted under the new roster.
    let pending = b.proposal(5, &format!("{SECRET}-gamma"), "Pending.", 17 * HOUR, None, &[admission], None, None);
    b.stance(5, pending, Stance::Endorse, 17 * HOUR, None);
    unadopted.push(pending);

    // Void: the newcomer proposes under the genesis roster, where it is not
    // a member; its page says so and shows no tally.
    let void = b.proposal(5, &format!("{SECRET}-void"), "", 18 * HOUR, None, &[], None, None);
    b.stance(0, void, Stance::Endorse, 18 * HOUR, None);
    unadopted.push(void);

    World { coalition, objects: b.objects, adopted, unadopted, hostile, keys: b.keys }
}

impl World {
    /// A world of other objects (`adopted`, `unadopted` and `hostile` left
    /// empty and zero): for tests with their own coalition, to reuse the
    /// ledger and source helpers.
    pub fn of(coalition: Coalition, objects: Vec<Envelope>, keys: Vec<Keypair>) -> Self {
        World { coalition, objects, adopted: vec![], unadopted: vec![], hostile: ObjectId([0; 32]), keys }
    }

    /// A further stance of member `member` (index as in the fixture),
    /// signed by its trust key, not among `objects`.
    pub fn stance(&self, member: usize, proposal: ObjectId, stance: Stance, offset: u64) -> Envelope {
        let mut b = Builder { coalition: self.coalition.id(), keys: self.keys.clone(), objects: vec![] };
        b.stance(member, proposal, stance, offset, None);
        b.objects.pop().expect("one stance")
    }

    /// A ledger of the objects in this order, through chorus-core's
    /// admission machine replaying them (what waits for others is retried
    /// after every pass that admitted something). Every object must end up
    /// applied.
    pub fn ledger_in_order(&self, order: &[usize]) -> Ledger {
        let mut ingest = Ingest::new(self.coalition.clone(), 0);
        let mut replay = Replay::new(NOW);
        let items = order.iter().map(|&i| (i, Ledger::check_signature(&self.coalition, self.objects[i].bytes())));
        let out = ingest.replay(&mut replay, items);
        assert!(out.refused.is_empty(), "fixture objects refused: {:?}", out.refused);
        let never = replay.finish();
        assert!(never.is_empty(), "objects never admitted: {never:?}");
        ingest.into_ledger()
    }

    pub fn ledger(&self) -> Ledger {
        self.ledger_in_order(&(0..self.objects.len()).collect::<Vec<_>>())
    }

    /// The exact envelopes, genesis included.
    pub fn source(&self) -> BTreeMap<ObjectId, Envelope> {
        let mut m: BTreeMap<ObjectId, Envelope> = self.objects.iter().map(|e| (e.id(), e.clone())).collect();
        let g = self.coalition.genesis_envelope();
        m.insert(g.id(), g.clone());
        m
    }
}

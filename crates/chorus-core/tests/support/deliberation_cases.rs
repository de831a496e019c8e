//! Certificates of deliberation (PROTOCOL.md 9.2 steps 11-22: drafts,
//! voting windows, open-votings, withdrawals, comments, dissent and seals)
//! for the comparison with the independent verifier: the ones its own
//! tests build (`tools/tests/cases.py`, one per rule and error, and random
//! ones), and random histories that a node of this crate holds and exports
//! as its ledger chooses, sealed by a member or by a node-scope delegate.

use std::collections::BTreeMap;
use std::process::Command;

use chorus_core::certificate::{self, assemble_full, seal_body, Seal};
use chorus_core::testkit::{member_key, Fixture, SplitMix, T0};
use chorus_core::{
    version_id, Action, Delegation, Endorsement, Envelope, Keypair, Kind, Ledger, Member, MemberAttributes, ObjectId,
    OpenVoting, PublicKey, Stance, Withdrawal, SCOPE_NODE, SCOPE_STANCES,
};

use chorus_proto::v1 as pb;
use prost::Message;

use super::{root, support, Case};

/// Random certificates `tools/tests/cases.py` draws after its fixed cases.
const SCRIPT_RANDOM: usize = 300;

/// Random histories exported by a ledger of this crate.
const RANDOM_DELIBERATIONS: usize = 400;

/// The clock of the ledgers that hold the histories: long after every
/// object of them.
const NOW: u64 = T0 + 10_000_000;

/// This crate's verdict as the independent verifier's tests name it: "ok"
/// or the error's name.
fn verdict_name(bytes: &[u8], coalition: Option<ObjectId>) -> String {
    let line = support::verdict_line(&certificate::verify_with_threads(bytes, coalition, 1));
    if line.starts_with("ok ") {
        "ok".into()
    } else {
        line.split(':').next().unwrap_or_default().to_owned()
    }
}

/// Every certificate `tools/tests/cases.py --random 300 1` prints, after
/// checking that this crate gives each fixed one the verdict the script
/// expects of it (the random ones, expected "-", are compared with the
/// independent verifier only).
pub fn script_cases() -> Vec<Case> {
    let out = Command::new("python3")
        .arg(root().join("tools/tests/cases.py"))
        .args(["--random", &SCRIPT_RANDOM.to_string(), "1"])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "tools/tests/cases.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut cases = Vec::new();
    let mut differences = Vec::new();
    for line in String::from_utf8(out.stdout).expect("UTF-8").lines() {
        let [hex_bytes, coalition, name, expected] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("tools/tests/cases.py printed an unreadable line: {line}")
        };
        let bytes = hex::decode(hex_bytes).expect("certificates are hex");
        let coalition = (coalition != "-").then(|| coalition.parse().expect("a coalition id"));
        if expected != "-" {
            let ours = verdict_name(&bytes, coalition);
            if ours != expected {
                differences.push(format!("{name}: the script expects {expected}, this crate says {ours}"));
            }
        }
        cases.push(Case { name: format!("cases.py {name}"), bytes, coalition });
    }
    assert!(cases.len() >= SCRIPT_RANDOM + 50, "only {} lines from tools/tests/cases.py", cases.len());
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    cases
}

/// Seven members for the random histories, made once.
fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| Fixture::new(7))
}

/// A stance of `trust` signed by `signer` (under `delegation`, if any).
#[allow(clippy::too_many_arguments)] // every field of a stance is drawn
fn stance(
    f: &Fixture,
    signer: &Keypair,
    trust: PublicKey,
    p: ObjectId,
    stance: Stance,
    at: u64,
    comment: Option<&str>,
    delegation: Option<ObjectId>,
) -> Envelope {
    let e = Endorsement {
        coalition: f.id(),
        proposal: p,
        trust,
        created_at_ms: T0 + at,
        stance,
        comment: comment.map(str::to_owned),
        delegation,
    };
    Envelope::sign(Kind::Endorsement, e.to_body(), &[signer])
}

/// A delegation of member `member` to `delegate` with `scope`, valid from
/// `T0` until `T0 + until` (or without end).
fn delegation(f: &Fixture, member: usize, delegate: PublicKey, scope: u32, until: Option<u64>, at: u64) -> Envelope {
    let d = Delegation {
        coalition: f.id(),
        trust: f.keys[member].public(),
        delegate,
        name: "Delegate".into(),
        role: "Node of the trust".into(),
        valid_from_ms: T0,
        valid_until_ms: until.map(|u| T0 + u),
        scope,
        created_at_ms: T0 + at,
    };
    Envelope::sign(Kind::Delegation, d.to_body(), &[&f.keys[member]])
}

/// Applies `objects` to a fresh ledger in their order, retrying those that
/// wait for others until nothing changes; returns the ledger and the
/// objects it refused or never took.
fn ledger_of(f: &Fixture, objects: &[Envelope]) -> (Ledger, Vec<Envelope>) {
    let mut l = Ledger::new(f.coalition.clone());
    let mut pending: Vec<&Envelope> = objects.iter().collect();
    let mut refused = Vec::new();
    loop {
        let before = pending.len();
        pending.retain(|e| match l.validate(e.bytes(), NOW) {
            Ok(v) => {
                l.apply(&v);
                false
            }
            Err(r) if r.awaits_objects() => true,
            Err(_) => {
                refused.push((*e).clone());
                false
            }
        });
        if pending.len() == before {
            break;
        }
    }
    refused.extend(pending.into_iter().cloned());
    (l, refused)
}

/// Stance times: on and around the edges of the windows drawn below
/// (openings at 50, 100, 150; closing at 300; withdrawals at 200, 400;
/// delegations ending at 60 and 150).
const TIMES: [u64; 16] = [2, 49, 50, 51, 99, 100, 101, 150, 151, 199, 200, 201, 299, 300, 301, 401];

/// Who signs for the members of a history: members 0 to 6 of the fixture,
/// member `rotated` (if any) with its own key or the key it rotates to,
/// and member 7, the newcomer a governance draft may admit.
struct Signers<'a> {
    f: &'a Fixture,
    rotated: Option<usize>,
    new_key: Keypair,
    newcomer: Keypair,
}

impl Signers<'_> {
    fn trust(&self, i: usize) -> PublicKey {
        if i == 7 {
            self.newcomer.public()
        } else {
            self.f.keys[i].public()
        }
    }

    /// A key member `i` signs with: its own, or (half of the time, for the
    /// rotated member) the key it rotates to.
    fn key(&self, i: usize, rng: &mut SplitMix) -> &Keypair {
        match i {
            7 => &self.newcomer,
            _ if self.rotated == Some(i) && rng.chance(2) => &self.new_key,
            _ => &self.f.keys[i],
        }
    }

    fn open_voting(&self, i: usize, p: ObjectId, at: u64, rng: &mut SplitMix) -> Envelope {
        let o = OpenVoting { coalition: self.f.id(), created_at_ms: T0 + at, proposal: p, author: self.trust(i) };
        Envelope::sign(Kind::OpenVoting, o.to_body(), &[self.key(i, rng)])
    }

    fn withdrawal(&self, i: usize, p: ObjectId, at: u64, rng: &mut SplitMix) -> Envelope {
        let w = Withdrawal {
            coalition: self.f.id(),
            created_at_ms: T0 + at,
            proposal: p,
            author: self.trust(i),
            reason: rng.chance(2).then(|| "Superseded".to_owned()),
        };
        Envelope::sign(Kind::Withdrawal, w.to_body(), &[self.key(i, rng)])
    }
}

/// Opening notices for proposal `p` by `author` (another member's now and
/// then, which does not count) at `opens`, and maybe a withdrawal at one
/// of `withdrawn`.
fn notices(
    s: &Signers<'_>,
    author: usize,
    p: ObjectId,
    opens: &[u64],
    withdrawn: &[u64],
    rng: &mut SplitMix,
) -> Vec<Envelope> {
    let by = |rng: &mut SplitMix| if rng.chance(5) { (author + 1 + rng.index(6)) % 7 } else { author };
    let mut out = Vec::new();
    for _ in 0..rng.index(3) {
        let (i, at) = (by(rng), opens[rng.index(opens.len())]);
        out.push(s.open_voting(i, p, at, rng));
    }
    if rng.chance(3) {
        let (i, at) = (by(rng), withdrawn[rng.index(withdrawn.len())]);
        out.push(s.withdrawal(i, p, at, rng));
    }
    out
}

/// A proposal by `author` created at `T0 + 1`: a draft (with a fixed
/// opening or none) or open from the start, maybe closing at 300, under
/// the roster with `heads`.
fn proposal(
    s: &Signers<'_>,
    author: usize,
    title: &str,
    heads: &[ObjectId],
    action: Option<Action>,
    rng: &mut SplitMix,
) -> Envelope {
    let f = s.f;
    let closes = [None, None, Some(T0 + 300)][rng.index(3)];
    let mut p = f.draft_proposal(author, title, 1, None, closes);
    p.author = s.trust(author);
    match rng.index(4) {
        0 => p.voting_opens_at_ms = Some(T0 + [50, 100, 150][rng.index(3)]),
        1 => {}
        _ => p.draft = false,
    }
    p.roster_heads = heads.to_vec();
    p.roster = version_id(&f.id(), heads);
    p.action = action;
    Envelope::sign(Kind::Proposal, p.to_body(), &[s.key(author, rng)])
}

/// Random deliberation histories of seven members held by a ledger of this
/// crate, each exported as a certificate: a draft with or without a fixed
/// opening, or a proposal open from the start, by a random author, maybe
/// closing; open-votings and withdrawals by the author or another member;
/// stances of every kind (some with a reason) at times on and around the
/// window's edges, some by the delegate of a stance delegation that ends
/// inside the window; comments; node-scope delegations, one of them maybe
/// revoked, another of stances only. Now and then the proposal is under
/// a governance draft admitting a newcomer (opened or not, withdrawn or
/// not, endorsed around its own window), and a member rotates its key,
/// keeping some of what its old key signed. When the ledger adopts the
/// proposal the certificate carries what it chooses (endorsements,
/// dissent, chain) and is sealed by a random member's key, by a node-scope
/// delegate (with what `seal_proof` adds to the chain) or not at all, now
/// and then with a part taken away afterwards (a dissent entry, the
/// openings) or with an object the ledger refused added to its chain.
/// Otherwise its parts are picked from the records naively, as a careless
/// exporter would.
pub fn random_deliberation_cases(rng: &mut SplitMix) -> Vec<Case> {
    let f = fixture();
    let genesis = f.coalition.genesis_envelope();
    let stances_of = [Stance::Endorse, Stance::Endorse, Stance::Endorse, Stance::Object, Stance::Abstain];
    let mut cases = Vec::new();
    for n in 0..RANDOM_DELIBERATIONS {
        let author = if rng.chance(2) { 0 } else { rng.index(7) };
        let rotated = rng.chance(3).then(|| if rng.chance(2) { author } else { rng.index(7) });
        let s = Signers { f, rotated, new_key: member_key(700), newcomer: member_key(600) };
        let mut objects = Vec::new();
        // A governance draft by member 0 admitting the newcomer, endorsed
        // by five to seven members around its own window.
        let mut heads = Vec::new();
        if rng.chance(3) {
            let newcomer = Member {
                key: s.newcomer.public(),
                name: "Newcomer Trust".into(),
                external_id: None,
                attributes: MemberAttributes::default(),
            };
            let g = proposal(&s, 0, &format!("Admit {n}"), &[], Some(Action::Admit(newcomer)), rng);
            objects.extend(notices(&s, 0, g.id(), &[20, 30], &[25, 60], rng));
            for i in 0..7 {
                if rng.chance(5) {
                    continue;
                }
                let at = [10, 20, 30, 40, 100, 150, 160][rng.index(7)];
                objects.push(stance(f, s.key(i, rng), s.trust(i), g.id(), Stance::Endorse, at, None, None));
            }
            heads.push(g.id());
            objects.push(g);
        }
        let members = 7 + heads.len();
        let p = proposal(&s, author, &format!("Deliberation {n}"), &heads, None, rng);
        let id = p.id();
        objects.push(p.clone());
        objects.extend(notices(&s, author, id, &[40, 50, 100, 150], &[150, 200, 400], rng));
        // Member 5 (sometimes) votes through a leader whose stance
        // delegation may end at 150; members 1 and 2 have node keys.
        let leader = member_key(500);
        let lead = delegation(f, 5, leader.public(), SCOPE_STANCES, [None, Some(150)][rng.index(2)], 1);
        let nodes: [Keypair; 2] = [member_key(501), member_key(502)];
        let node_scope = [SCOPE_NODE, SCOPE_NODE | SCOPE_STANCES, SCOPE_STANCES][rng.index(3)];
        let node_delegations = [
            delegation(f, 1, nodes[0].public(), node_scope, None, 2),
            delegation(f, 2, nodes[1].public(), SCOPE_NODE, rng.chance(3).then_some(60), 2),
        ];
        objects.push(lead.clone());
        objects.extend(node_delegations.iter().cloned());
        if rng.chance(4) {
            objects.push(f.revocation(&f.keys[2], f.keys[2].public(), node_delegations[1].id(), vec![], 3));
        }
        for member in 0..members {
            for _ in 0..rng.index(4) {
                let stance_of = stances_of[rng.index(stances_of.len())];
                let at = TIMES[rng.index(TIMES.len())];
                let comment = rng.chance(3).then_some("A reason.");
                let record = if member == 5 && rng.chance(2) {
                    stance(f, &leader, s.trust(5), id, stance_of, at, comment, Some(lead.id()))
                } else if member == 1 && node_scope & SCOPE_STANCES != 0 && rng.chance(3) {
                    let d = node_delegations[0].id();
                    stance(f, &nodes[0], s.trust(1), id, stance_of, at, comment, Some(d))
                } else {
                    stance(f, s.key(member, rng), s.trust(member), id, stance_of, at, comment, None)
                };
                objects.push(record);
            }
        }
        let mut comments = Vec::new();
        for k in 0..rng.index(3) {
            let reply = comments.last().map(Envelope::id).filter(|_| rng.chance(2));
            comments.push(f.comment(rng.index(7), id, &format!("Comment {k}"), reply, TIMES[rng.index(TIMES.len())]));
        }
        objects.extend(comments.iter().cloned());
        // The rotation, keeping (mostly) what the old key signed.
        if let Some(r) = rotated {
            let old = f.keys[r].public();
            let keep: Vec<ObjectId> = objects
                .iter()
                .filter(|e| e.signatures().iter().any(|sig| sig.signer == *old.as_bytes()) && !rng.chance(4))
                .map(Envelope::id)
                .collect();
            objects.push(f.rotation(&f.keys[r], old, s.new_key.public(), keep, 5));
        }

        let (l, refused) = ledger_of(f, &objects);
        let by_id: BTreeMap<ObjectId, &Envelope> = objects.iter().map(|e| (e.id(), e)).collect();
        let get = |ids: &[ObjectId]| -> Vec<Envelope> { ids.iter().map(|i| by_id[i].clone()).collect() };
        let (ends, mut dissent, mut chain) =
            match (l.certificate_endorsements(&id), l.certificate_dissent(&id), l.certificate_chain(&id)) {
                (Some(e), Some(d), Some(c)) => (get(&e), get(&d), get(&c)),
                _ => naive_parts(&objects, id, rng),
            };
        if rng.chance(4) {
            chain.extend(comments.iter().cloned());
        }
        // Who seals, and under which delegation.
        let sealer: Option<(&Keypair, PublicKey, Option<ObjectId>)> = match rng.index(5) {
            0 => None,
            1 | 2 => {
                // The newcomer or the rotated member half of the time.
                let i = match (rng.chance(2), rotated) {
                    (true, _) if members == 8 => 7,
                    (true, Some(r)) => r,
                    _ => rng.index(members),
                };
                Some((s.key(i, rng), s.trust(i), None))
            }
            which => {
                let i = which - 3;
                let trust = f.keys[1 + i].public();
                // The lowest delegation the ledger lets the node seal
                // under, else its own (which it may not seal under).
                let d = l.seal_delegation(&id, &trust, &nodes[i].public()).unwrap_or(node_delegations[i].id());
                Some((&nodes[i], trust, Some(d)))
            }
        };
        let seal = sealer.map(|(key, trust, d)| {
            match l.seal_proof(&id, &trust, &key.public(), d.as_ref()) {
                Some(proof) => chain.extend(get(&proof)),
                None => chain.extend(d.iter().filter_map(|d| by_id.get(d)).map(|e| (*e).clone())),
            }
            let stances: Vec<ObjectId> = ends.iter().chain(&dissent).map(Envelope::id).collect();
            Seal::sign(seal_body(&f.id(), &id, &trust, d.as_ref(), &stances), key)
        });
        // Now and then, a part changed after sealing.
        match rng.index(12) {
            0 if !dissent.is_empty() => {
                dissent.remove(rng.index(dissent.len()));
            }
            1 => chain.retain(|e| e.kind() != Kind::OpenVoting),
            2 if !refused.is_empty() => chain.push(refused[rng.index(refused.len())].clone()),
            _ => {}
        }
        cases.push(Case {
            name: format!("random deliberation {n}"),
            bytes: assemble_full(genesis, &p, &ends, &dissent, &chain, seal),
            coalition: Some(f.id()),
        });
    }
    // The histories reach this crate's valid verdicts, sealed and not, as
    // well as its failures.
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    let mut valid: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *verdicts.entry(verdict_name(&c.bytes, c.coalition)).or_default() += 1;
        let Ok(v) = certificate::verify_with_threads(&c.bytes, c.coalition, 1) else { continue };
        let seal = v.seal.as_ref();
        for (what, yes) in [
            ("sealed with objectors", seal.is_some() && !v.objectors.is_empty()),
            ("with abstainers", !v.abstainers.is_empty()),
            ("sealed by a node", seal.is_some_and(|s| s.delegation.is_some())),
            ("sealed by a rotated key", seal.is_some_and(|s| s.delegation.is_none() && s.signer != s.trust)),
            ("sealed by the newcomer", seal.is_some_and(|s| s.name == "Newcomer Trust")),
            ("opened by a notice", v.window.opened_by.is_some()),
            ("withdrawn", v.window.withdrawn_by.is_some()),
            ("under a governance draft", !v.proposal.roster_heads.is_empty()),
        ] {
            *valid.entry(what).or_default() += usize::from(yes);
        }
    }
    eprintln!("random deliberations: {verdicts:?}; valid ones: {valid:?}");
    assert!(verdicts.get("ok").is_some_and(|&ok| ok >= RANDOM_DELIBERATIONS / 5), "{verdicts:?}");
    cases
}

/// The parts of a certificate of proposal `p` the ledger did not adopt,
/// picked from `objects` (its history) without regard to the window: for
/// each member its endorse record with the lowest id, else one of its
/// other stances (now and then none); the chain: every other object but
/// the proposal and comments, and some of the member's remaining stances.
fn naive_parts(objects: &[Envelope], p: ObjectId, rng: &mut SplitMix) -> (Vec<Envelope>, Vec<Envelope>, Vec<Envelope>) {
    let mut records: BTreeMap<PublicKey, Vec<(Stance, &Envelope)>> = BTreeMap::new();
    let mut chain = Vec::new();
    for e in objects.iter().filter(|e| e.id() != p) {
        match e.kind() {
            Kind::Endorsement => match Endorsement::from_body(e.body()).expect("an endorsement") {
                s if s.proposal == p => records.entry(s.trust).or_default().push((s.stance, e)),
                _ => chain.push(e.clone()),
            },
            Kind::Comment => {}
            _ => chain.push(e.clone()),
        }
    }
    let (mut ends, mut dissent) = (Vec::new(), Vec::new());
    for list in records.values() {
        let endorse = list.iter().filter(|(s, _)| *s == Stance::Endorse).map(|(_, e)| *e).min_by_key(|e| e.id());
        let other: Vec<&Envelope> = list.iter().filter(|(s, _)| *s != Stance::Endorse).map(|(_, e)| *e).collect();
        let chosen = match endorse {
            Some(e) if !rng.chance(6) => {
                ends.push(e.clone());
                e.id()
            }
            _ if !other.is_empty() && !rng.chance(6) => {
                let o = other[rng.index(other.len())];
                dissent.push(o.clone());
                o.id()
            }
            _ => continue,
        };
        chain.extend(list.iter().map(|(_, e)| *e).filter(|e| e.id() != chosen && rng.chance(3)).cloned());
    }
    (ends, dissent, chain)
}

/// For each of `cases` that decodes as a certificate, `per` certificates
/// with its parts changed and encoded again, so that they reach the rules
/// past the signatures: an entry of the chain, the dissent or the
/// endorsements taken away, duplicated or moved to another part, two
/// chain entries swapped, and (half of the time) the seal taken away too.
pub fn edits(cases: &[Case], per: usize, rng: &mut SplitMix) -> Vec<Case> {
    let mut out = Vec::new();
    for c in cases {
        let Ok(original) = pb::Certificate::decode(c.bytes.as_slice()) else { continue };
        for k in 0..per {
            let mut cert = original.clone();
            for _ in 0..1 + rng.index(2) {
                edit(&mut cert, rng);
            }
            if rng.chance(2) {
                cert.seal = None;
            }
            out.push(Case {
                name: format!("{} edit {k}", c.name),
                bytes: cert.encode_to_vec(),
                coalition: c.coalition,
            });
        }
    }
    out
}

/// One change of the parts of `cert`.
fn edit(cert: &mut pb::Certificate, rng: &mut SplitMix) {
    fn take(list: &mut Vec<pb::Envelope>, rng: &mut SplitMix) -> Option<pb::Envelope> {
        (!list.is_empty()).then(|| list.remove(rng.index(list.len())))
    }
    fn put(list: &mut Vec<pb::Envelope>, e: pb::Envelope, rng: &mut SplitMix) {
        list.insert(rng.index(list.len() + 1), e);
    }
    match rng.index(8) {
        0 => drop(take(&mut cert.chain, rng)),
        1 => drop(take(&mut cert.dissent, rng)),
        2 => drop(take(&mut cert.endorsements, rng)),
        3 => {
            if let Some(e) = take(&mut cert.endorsements, rng) {
                put(&mut cert.dissent, e, rng);
            }
        }
        4 => {
            if let Some(e) = take(&mut cert.dissent, rng) {
                put(&mut cert.endorsements, e, rng);
            }
        }
        5 => {
            // A stance carried in the chain, counted instead.
            let stances: Vec<usize> =
                (0..cert.chain.len()).filter(|&i| cert.chain[i].kind == Kind::Endorsement.wire()).collect();
            if !stances.is_empty() {
                let e = cert.chain.remove(stances[rng.index(stances.len())]);
                let to = if rng.chance(2) { &mut cert.endorsements } else { &mut cert.dissent };
                put(to, e, rng);
            }
        }
        6 => {
            if !cert.chain.is_empty() {
                let e = cert.chain[rng.index(cert.chain.len())].clone();
                put(&mut cert.chain, e, rng);
            }
        }
        _ => {
            if cert.chain.len() > 1 {
                let (a, b) = (rng.index(cert.chain.len()), rng.index(cert.chain.len()));
                cert.chain.swap(a, b);
            }
        }
    }
}

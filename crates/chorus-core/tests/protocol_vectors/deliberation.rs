//! The deliberation vectors (PROTOCOL.md 11.13): a draft with its
//! discussion, an amendment, a stray opening and a withdrawal; a revision
//! taking the amendment up, opened early by its author, with an early
//! stance, endorsements and an objection; an ordinary proposal withdrawn
//! between two stances; a seal; the ledger lines; and certificates with and
//! without dissent and seal, and failing on the window.

use chorus_core::certificate::{self, seal_body, Seal};
use chorus_core::{
    Amendment, Coalition, Comment, Endorsement, Envelope, Keypair, Kind, Ledger, ObjectId, OpenVoting, Proposal,
    ProposalLink, Relation, Stance, Tally, VotingWindow, Withdrawal,
};
use chorus_proto::v1 as pb;
use prost::Message;

use super::{error_code, support, Group, Objects, DAY, HOUR, T};

/// `T + 20 days`.
pub const D: u64 = T + 20 * DAY;
const CLOSES: u64 = D + 10 * DAY;

/// Every object of 11.13, by vector name, in the order the document lists
/// them, and the seal.
pub struct Deliberation {
    pub objects: Vec<(&'static str, Envelope)>,
    pub seal_body: Vec<u8>,
    pub seal: Seal,
}

impl Deliberation {
    pub fn get(&self, name: &str) -> &Envelope {
        &self.objects.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no vector {name}")).1
    }
}

fn proposal(o: &Objects, author: &Keypair, at: u64, title: &str, body: &str) -> Proposal {
    let coalition = o.genesis.id();
    Proposal {
        coalition,
        roster: coalition,
        author: author.public(),
        created_at_ms: at,
        closes_at_ms: Some(CLOSES),
        title: title.into(),
        body: body.into(),
        link: None,
        action: None,
        roster_heads: vec![],
        voting_opens_at_ms: None,
        draft: false,
        amendments: vec![],
    }
}

fn stance(o: &Objects, key: &Keypair, p: &Envelope, at: u64, stance: Stance, comment: Option<&str>) -> Envelope {
    let e = Endorsement {
        coalition: o.genesis.id(),
        proposal: p.id(),
        trust: key.public(),
        created_at_ms: at,
        stance,
        comment: comment.map(str::to_owned),
        delegation: None,
    };
    Envelope::sign(Kind::Endorsement, e.to_body(), &[key])
}

fn comment(o: &Objects, key: &Keypair, p: &Envelope, at: u64, text: &str, reply_to: Option<ObjectId>) -> Comment {
    Comment {
        coalition: o.genesis.id(),
        created_at_ms: at,
        proposal: p.id(),
        trust: key.public(),
        delegation: None,
        text: text.into(),
        reply_to,
        amendment: None,
    }
}

fn open_voting(o: &Objects, key: &Keypair, p: &Envelope, at: u64) -> Envelope {
    let n = OpenVoting { coalition: o.genesis.id(), created_at_ms: at, proposal: p.id(), author: key.public() };
    Envelope::sign(Kind::OpenVoting, n.to_body(), &[key])
}

fn withdrawal(o: &Objects, key: &Keypair, p: &Envelope, at: u64, reason: Option<&str>) -> Envelope {
    let n = Withdrawal {
        coalition: o.genesis.id(),
        created_at_ms: at,
        proposal: p.id(),
        author: key.public(),
        reason: reason.map(str::to_owned),
    };
    Envelope::sign(Kind::Withdrawal, n.to_body(), &[key])
}

pub fn objects(o: &Objects) -> Deliberation {
    let [a, b, c] = &o.keys;
    let sign = |p: &Proposal, key: &Keypair| Envelope::sign(Kind::Proposal, p.to_body(), &[key]);
    let signed_comment = |m: &Comment, key: &Keypair| Envelope::sign(Kind::Comment, m.to_body(), &[key]);
    let draft = Proposal {
        draft: true,
        ..proposal(o, a, D, "Teacher workload", "The member trusts cap planning time at two hours a week.")
    };
    let draft = sign(&draft, a);
    let first = signed_comment(&comment(o, b, &draft, D + HOUR, "Which schools?", None), b);
    let reply = signed_comment(&comment(o, c, &draft, D + 2 * HOUR, "All of them.", Some(first.id())), c);
    let amendment = Amendment {
        body: "The member trusts cap planning time at two hours a week, costed in annex B.".into(),
        title: Some("Teacher workload, costed".into()),
    };
    let amendment = signed_comment(
        &Comment { amendment: Some(amendment), ..comment(o, c, &draft, D + 3 * HOUR, "Costed.", None) },
        c,
    );
    let draft_a = stance(o, a, &draft, D + 4 * HOUR, Stance::Endorse, None);
    let draft_b = stance(o, b, &draft, D + 4 * HOUR, Stance::Endorse, None);
    let stray = open_voting(o, b, &draft, D + 5 * HOUR);
    let draft_withdrawal = withdrawal(o, a, &draft, D + DAY, Some("Replaced by the revised text."));
    let revision = Proposal {
        draft: true,
        voting_opens_at_ms: Some(D + 3 * DAY),
        link: Some(ProposalLink { target: draft.id(), relation: Relation::Amends }),
        amendments: vec![amendment.id()],
        ..proposal(
            o,
            a,
            D + DAY,
            "Teacher workload, costed",
            "The member trusts cap planning time at two hours a week, costed in annex B.",
        )
    };
    let revision = sign(&revision, a);
    let early_b = stance(o, b, &revision, D + DAY + HOUR, Stance::Endorse, None);
    let open = open_voting(o, a, &revision, D + 2 * DAY);
    let rev_a = stance(o, a, &revision, D + 2 * DAY + HOUR, Stance::Endorse, None);
    let rev_b = stance(o, b, &revision, D + 2 * DAY + HOUR, Stance::Endorse, None);
    let abstention = stance(o, c, &revision, D + 2 * DAY + HOUR, Stance::Abstain, None);
    let objection = stance(
        o,
        c,
        &revision,
        D + 2 * DAY + 2 * HOUR,
        Stance::Object,
        Some("The workload section still needs a costing."),
    );
    let withdrawn = sign(&proposal(o, b, D, "Longer lunch", "The member trusts extend lunch by ten minutes."), b);
    let withdrawn_withdrawal = withdrawal(o, b, &withdrawn, D + 2 * HOUR, None);
    let withdrawn_a = stance(o, a, &withdrawn, D + HOUR, Stance::Endorse, None);
    let withdrawn_c = stance(o, c, &withdrawn, D + 3 * HOUR, Stance::Endorse, None);
    let stances = [rev_a.id(), rev_b.id(), objection.id()];
    let seal_body = seal_body(&o.genesis.id(), &revision.id(), &a.public(), None, &stances);
    let seal = Seal::sign(seal_body.clone(), a);
    let objects = vec![
        ("delib.draft", draft),
        ("delib.comment", first),
        ("delib.reply", reply),
        ("delib.amendment", amendment),
        ("delib.draft.endorsement.a", draft_a),
        ("delib.draft.endorsement.b", draft_b),
        ("delib.stray_open_voting", stray),
        ("delib.draft.withdrawal", draft_withdrawal),
        ("delib.revision", revision),
        ("delib.revision.early.b", early_b),
        ("delib.revision.open_voting", open),
        ("delib.revision.endorsement.a", rev_a),
        ("delib.revision.endorsement.b", rev_b),
        ("delib.revision.abstention.c", abstention),
        ("delib.revision.objection.c", objection),
        ("delib.withdrawn", withdrawn),
        ("delib.withdrawn.withdrawal", withdrawn_withdrawal),
        ("delib.withdrawn.endorsement.a", withdrawn_a),
        ("delib.withdrawn.endorsement.c", withdrawn_c),
    ];
    Deliberation { objects, seal_body, seal }
}

/// `-` for none, section 11.13.
fn dash<T: std::fmt::Display>(x: Option<T>) -> String {
    x.map_or_else(|| "-".into(), |x| x.to_string())
}

pub fn window_line(w: &VotingWindow) -> String {
    format!(
        "opens_at={} opened_by={} closes_at={} withdrawn_at={} withdrawn_by={}",
        dash(w.opens_at_ms),
        dash(w.opened_by),
        dash(w.closes_at_ms),
        dash(w.withdrawn_at_ms),
        dash(w.withdrawn_by)
    )
}

fn tally_line(t: &Tally) -> String {
    format!(
        "members={} required={} endorse={} object={} abstain={} equivocations={} late={} early={}",
        t.members, t.required, t.endorse, t.object, t.abstain, t.equivocations, t.late, t.early
    )
}

fn ids(list: &[ObjectId]) -> String {
    list.iter().map(ObjectId::to_hex).collect::<Vec<_>>().join(",")
}

/// The certificates of 11.13, by name.
pub fn certificates(o: &Objects, d: &Deliberation) -> Vec<(&'static str, Vec<u8>)> {
    let g = &o.genesis;
    let get = |n: &str| d.get(n).clone();
    let revision = get("delib.revision");
    let ends = [get("delib.revision.endorsement.b"), get("delib.revision.endorsement.a")];
    let dissent = [get("delib.revision.objection.c")];
    let chain = [get("delib.revision.open_voting")];
    let valid = certificate::assemble_full(g, &revision, &ends, &dissent, &chain, Some(d.seal.clone()));
    let unsealed = certificate::assemble_full(g, &revision, &ends, &dissent, &chain, None);
    let mut removed = pb::Certificate::decode(valid.as_slice()).expect("the valid certificate decodes");
    removed.dissent.clear();
    let ends_only: Vec<ObjectId> = ends.iter().map(Envelope::id).collect();
    let [a, ..] = &o.keys;
    let seal_of_ends = Seal::sign(seal_body(&g.id(), &revision.id(), &a.public(), None, &ends_only), a);
    let added = certificate::assemble_full(g, &revision, &ends, &dissent, &chain, Some(seal_of_ends));
    let not_opened = certificate::assemble_full(g, &revision, &ends, &[], &[], None);
    let draft_ends = [get("delib.draft.endorsement.b"), get("delib.draft.endorsement.a")];
    let never_opened = certificate::assemble_full(g, &get("delib.draft"), &draft_ends, &[], &[], None);
    let withdrawn_ends = [get("delib.withdrawn.endorsement.a"), get("delib.withdrawn.endorsement.c")];
    let after = certificate::assemble_full(
        g,
        &get("delib.withdrawn"),
        &withdrawn_ends,
        &[],
        &[get("delib.withdrawn.withdrawal")],
        None,
    );
    vec![
        ("delib_valid", valid),
        ("delib_unsealed", unsealed),
        ("delib_objection_removed", removed.encode_to_vec()),
        ("delib_objection_added", added),
        ("delib_not_opened", not_opened),
        ("delib_draft_never_opened", never_opened),
        ("delib_after_withdrawal", after),
    ]
}

pub fn group(o: &Objects) -> Group {
    let d = objects(o);
    let mut group = Group::new("deliberation");
    // The coalition of these vectors is that of 11.2, named again so that
    // the certificates below, which follow 11.12's, are read against it.
    group.put("delib.genesis.id", o.genesis.id().to_hex());
    for (name, env) in &d.objects {
        group.envelope(name, env);
    }
    group.put("delib.seal.body", hex::encode(&d.seal_body));
    let sealed = certificate::assemble_full(&o.genesis, d.get("delib.revision"), &[], &[], &[], Some(d.seal.clone()));
    let proto = pb::Certificate::decode(sealed.as_slice()).expect("a certificate decodes");
    let signature = proto.seal.and_then(|s| s.signature).expect("a sealed certificate carries its signature");
    group.put("delib.seal.signature", hex::encode(signature.signature));
    // The ledger of everything above, read at D + 2 days + 3 h.
    let coalition = Coalition::from_genesis(o.genesis.bytes(), 1).expect("vector genesis is valid");
    let mut ledger = Ledger::new(coalition);
    let now = D + 2 * DAY + 3 * HOUR;
    for (name, env) in &d.objects {
        let v = ledger.validate(env.bytes(), now).unwrap_or_else(|e| panic!("{name} is admitted: {e}"));
        ledger.apply(&v);
    }
    for p in ["draft", "revision", "withdrawn"] {
        let id = d.get(&format!("delib.{p}")).id();
        let prefix = format!("delib.ledger.{p}");
        let window = ledger.voting_window(&id).expect("held");
        group.put(format!("{prefix}.window"), window_line(&window));
        let status = serde_json::to_value(ledger.status(&id, now).expect("tallied")).expect("a status serialises");
        group.put(format!("{prefix}.status"), status.as_str().expect("a status is a word"));
        group.put(format!("{prefix}.tally"), tally_line(&ledger.tally(&id).expect("tallied")));
        if p == "draft" {
            let comments: Vec<String> = ledger
                .comments(&id)
                .iter()
                .map(|c| format!("{}:{}", c.id, if c.counted { "counted" } else { "not_counted" }))
                .collect();
            group.put(format!("{prefix}.comments"), comments.join(","));
            let notices: Vec<String> = ledger
                .notices(&id)
                .iter()
                .map(|n| {
                    let kind = serde_json::to_value(n.kind).expect("a kind serialises");
                    let counted = if n.counted { "counted" } else { "not_counted" };
                    format!("{}:{}:{counted}", n.id, kind.as_str().expect("a kind is a word"))
                })
                .collect();
            group.put(format!("{prefix}.notices"), notices.join(","));
            group.put(format!("{prefix}.revisions"), ids(&ledger.revisions(&id)));
        }
        if p == "revision" {
            let adopted = "the revision is adopted";
            group.put(
                format!("{prefix}.certificate_endorsements"),
                ids(&ledger.certificate_endorsements(&id).expect(adopted)),
            );
            group.put(format!("{prefix}.certificate_dissent"), ids(&ledger.certificate_dissent(&id).expect(adopted)));
            group.put(format!("{prefix}.certificate_chain"), ids(&ledger.certificate_chain(&id).expect(adopted)));
        }
    }
    for (name, bytes) in certificates(o, &d) {
        group.put(format!("certificate.{name}"), hex::encode(&bytes));
        match certificate::verify_with_threads(&bytes, Some(o.genesis.id()), 1) {
            Ok(pos) => {
                group.put(format!("certificate.{name}.result"), support::result_line(&pos));
                group.put(format!("certificate.{name}.dissent"), dissent_line(&pos));
                group.put(format!("certificate.{name}.window"), window_line(&pos.window));
            }
            Err(e) => {
                group.put(format!("certificate.{name}.error"), error_code(&e));
                group.put(format!("certificate.{name}.message"), e.to_string());
            }
        }
    }
    group
}

/// `objectors=<trust>:<stance id>,… abstainers=… silent=<trust>,…
/// seal=<trust>:<delegation or ->:<n>` (`-` for an empty list,
/// `seal=none` without a seal).
fn dissent_line(v: &chorus_core::VerifiedAdoption) -> String {
    let listed = |items: Vec<String>| if items.is_empty() { "-".to_owned() } else { items.join(",") };
    let stances =
        |d: &[chorus_core::Dissenter]| listed(d.iter().map(|d| format!("{}:{}", d.trust, d.stance_id)).collect());
    let silent = listed(v.silent.iter().map(|(t, _)| t.to_hex()).collect());
    let seal = v
        .seal
        .as_ref()
        .map_or_else(|| "none".to_owned(), |s| format!("{}:{}:{}", s.trust, dash(s.delegation), s.stances));
    format!("objectors={} abstainers={} silent={silent} seal={seal}", stances(&v.objectors), stances(&v.abstainers))
}

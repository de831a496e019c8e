//! Proposing and endorsing: the objects are built and signed here, where the
//! trust key is, and submitted to the node as exact envelope bytes.

use anyhow::{anyhow, bail, Context, Result};
use chorus_core::{
    Action, Coalition, Endorsement, Envelope, Keypair, Kind, Ledger, ObjectId, Proposal, ProposalLink, PublicKey,
    Relation, Stance,
};
use chorus_node::control::{Client, CoalitionInfo, ProposalDetail, Request, RosterInfo, SubmitResult};
use chorus_node::daemon::now_ms;
use chorus_node::NodeError;
use sha2::{Digest, Sha256};

use crate::error::{NotCounted, Refused};
use crate::output::Output;

/// The coalition the node serves, verified here from its genesis bytes so
/// that nothing the node says about membership is taken on trust.
pub fn coalition(client: &Client) -> Result<(CoalitionInfo, Coalition)> {
    let info: CoalitionInfo = client.call(&Request::Coalition)?;
    let bytes = hex::decode(&info.genesis).context("the node sent a genesis that is not hex")?;
    let coalition = Coalition::from_genesis(&bytes, chorus_core::keys::default_threads())
        .map_err(|e| anyhow!("the node's genesis does not verify: {e}"))?;
    Ok((info, coalition))
}

/// The newest roster version as the node reports it. The node validates
/// every object it is given, so a wrong answer here only makes a signed
/// object refused, never accepted wrongly.
pub fn roster(client: &Client) -> Result<RosterInfo> {
    Ok(client.call(&Request::Roster)?)
}

/// The name of `trust` in `roster`, if it is a member.
pub fn member_name(roster: &RosterInfo, trust: &PublicKey) -> Option<String> {
    let hex = trust.to_hex();
    roster.members.iter().find(|m| m.key == hex).map(|m| m.name.clone())
}

/// Builds, signs (with `key`, for trust `trust`) and submits a proposal
/// under the newest roster version, with a governance action if given;
/// returns the submit result.
pub fn propose(
    client: &Client,
    key: &Keypair,
    trust: PublicKey,
    title: &str,
    body: &str,
    closes_at_ms: Option<u64>,
    action: Option<Action>,
) -> Result<SubmitResult> {
    let fields = ProposalFields { title, body, closes_at_ms, action, drafting: &Drafting::default() };
    let envelope = propose_envelope(client, key, trust, fields)?;
    submit(client, &envelope)
}

/// How a proposal is put to the coalition for discussion before voting
/// (PROTOCOL.md 6): the default is open for voting from the start, as
/// every proposal was before drafts existed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drafting {
    /// Published as a draft: voting opens at `voting_opens_at_ms` or when
    /// the author opens it.
    pub draft: bool,
    /// A fixed time voting opens, ms since 1970.
    pub voting_opens_at_ms: Option<u64>,
    /// The proposal this one revises (a link `amends`).
    pub revises: Option<ObjectId>,
    /// The amendments (comment ids) this text takes up: sorted, no id
    /// twice; only with `revises`.
    pub amendments: Vec<ObjectId>,
}

/// What the author of a proposal gives: its text, closing time, governance
/// action and drafting; the rest (coalition, roster version, time) is read
/// when it is built.
pub struct ProposalFields<'a> {
    /// The title.
    pub title: &'a str,
    /// The body.
    pub body: &'a str,
    /// When voting closes, if ever.
    pub closes_at_ms: Option<u64>,
    /// The governance action, if any.
    pub action: Option<Action>,
    /// How it is put to the coalition before voting.
    pub drafting: &'a Drafting,
}

/// Builds and signs a proposal as [`propose`] does, without submitting it,
/// under the newest roster version, every field rule checked first.
pub fn propose_envelope(client: &Client, key: &Keypair, trust: PublicKey, fields: ProposalFields) -> Result<Envelope> {
    let (_, coalition) = coalition(client)?;
    let roster = roster(client)?;
    let bytes = proposal_body(&coalition, &roster, trust, fields)?;
    Ok(Envelope::sign(Kind::Proposal, bytes, &[key]))
}

/// The body of a proposal as [`propose_envelope`] signs it, under roster
/// version `roster`, every field rule checked; nothing is signed.
pub fn proposal_body(
    coalition: &Coalition,
    roster: &RosterInfo,
    trust: PublicKey,
    fields: ProposalFields,
) -> Result<Vec<u8>> {
    let ProposalFields { title, body, closes_at_ms, action, drafting } = fields;
    if member_name(roster, &trust).is_none() {
        bail!(
            "your trust ({}) is not a member of coalition {:?} as far as the node knows; only members can propose",
            trust,
            coalition.name()
        );
    }
    let created_at_ms = now_ms();
    let proposal = Proposal {
        coalition: coalition.id(),
        roster: roster.version,
        author: trust,
        created_at_ms,
        closes_at_ms,
        title: title.to_string(),
        body: body.to_string(),
        link: drafting.revises.map(|target| ProposalLink { target, relation: Relation::Amends }),
        action,
        roster_heads: roster.heads.clone(),
        // A time given as "now" (0m) was read a moment before signing.
        voting_opens_at_ms: drafting.voting_opens_at_ms.map(|t| t.max(created_at_ms)),
        draft: drafting.draft,
        amendments: drafting.amendments.clone(),
    };
    crate::deliberation::checked(proposal.to_body(), Proposal::from_body, "proposal")
}

/// The roster as `chorus roster` prints it.
pub fn roster_text(r: &RosterInfo) -> String {
    let mut h = format!(
        "roster version {}{}\ncharter: positions {}, membership {}, amendments {} ({} endorsements adopt a position)\n{}\nmembers ({}):\n",
        r.version,
        if r.heads.is_empty() { " (the genesis roster)".to_string() } else { format!(" ({} heads)", r.heads.len()) },
        r.positions,
        r.membership,
        r.amendments,
        r.required,
        crate::commands::governance::observers_line(&r.sets),
        r.members.len()
    );
    for m in &r.members {
        h.push_str(&format!(
            "  {}  {}{}\n",
            m.key,
            crate::output::safe_line(&m.name),
            m.external_id.as_ref().map(|x| format!(" ({})", crate::output::safe_line(x))).unwrap_or_default()
        ));
        let a = crate::commands::governance::attributes_text(&m.attributes);
        if !a.is_empty() {
            h.push_str(&format!("      {a}\n"));
        }
    }
    let sets = crate::commands::governance::sets_lines(&r.sets);
    if !sets.is_empty() {
        h.push_str("charter sets and breadth rules:\n");
        for line in sets {
            h.push_str(&format!("  {line}\n"));
        }
    }
    h.trim_end().to_string()
}

/// Submits an envelope's exact bytes. The node's refusal of the object is
/// a [`Refused`] error, its other failures stay the client's errors.
pub fn submit(client: &Client, envelope: &Envelope) -> Result<SubmitResult> {
    match client.call(&Request::Submit { envelope: hex::encode(envelope.bytes()) }) {
        Err(NodeError::Remote(m)) if m.starts_with(SubmitResult::REFUSED) => Err(Refused(m).into()),
        r => Ok(r?),
    }
}

/// What a node's view of a proposal says of one stance record of a trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Counted {
    /// The node counts the record, and the trust's effective stance is the
    /// one it carries.
    Yes,
    /// The node counts the record, but the trust's effective stance is
    /// this other one: another record of the trust decides (PROTOCOL.md 8).
    OtherStance(String),
    /// The node does not count the record: it is not among the trust's
    /// counted records, or it is and the trust has no effective stance
    /// (only late records).
    No,
}

/// Whether a node counts record `record` of trust `trust` (hex key) with
/// stance `stance`, from the node's list of `(trust, effective stance,
/// counted records)`, as its proposal view gives it (the control
/// interface's `stances`, the HTTP API's `node_view.stances`).
pub fn counted(
    trust: &str,
    record: &ObjectId,
    stance: Stance,
    stances: &[(String, Option<String>, Vec<ObjectId>)],
) -> Counted {
    let Some((_, effective, records)) = stances.iter().find(|(t, _, _)| t == trust) else {
        return Counted::No;
    };
    match effective {
        _ if !records.contains(record) => Counted::No,
        Some(s) if *s == stance.to_string() => Counted::Yes,
        Some(s) => Counted::OtherStance(s.clone()),
        // Counted but no effective stance: the trust's records are late.
        None => Counted::No,
    }
}

/// Adds to the output of a stance just submitted (record `id`) what the
/// node (`node`, e.g. "your node") says of it: `counted` in the JSON
/// (`true`, `false` when another record decides, `null` when `verdict` is
/// `None`, the view not readable), a note in the text; a [`NotCounted`]
/// error when the node does not count it, the likely reasons depending on
/// whether a leader signed under a delegation.
pub fn report_counted(
    out: &mut Output,
    verdict: Option<Counted>,
    node: &str,
    stance: Stance,
    id: ObjectId,
    delegated: bool,
) -> Result<()> {
    match verdict {
        Some(Counted::Yes) => out.json["counted"] = serde_json::json!(true),
        Some(Counted::OtherStance(effective)) => {
            out.json["counted"] = serde_json::json!(false);
            out.human.push_str(&format!(
                "\nnote: {node} counts your trust's stance as {} (an earlier record of your trust decides, PROTOCOL.md 8)",
                crate::output::safe_line(&effective)
            ));
        }
        Some(Counted::No) if delegated => {
            return Err(NotCounted(format!(
                "{node} holds your {stance} {id} but does not count it: your delegation may have been revoked or have \
                 ended, the proposal may have closed, or your trust is not in the proposal's roster; ask your trust"
            ))
            .into())
        }
        Some(Counted::No) => {
            return Err(NotCounted(format!(
                "{node} holds your {stance} {id} but does not count it: the key that signed it may no longer be your \
                 trust's key (replaced or rotated; install the new one with `chorus trust-key install`), the proposal \
                 may have closed, or your trust is not in the proposal's roster (check `chorus roster`)"
            ))
            .into())
        }
        None => {
            out.json["counted"] = serde_json::Value::Null;
            out.human
                .push_str(&format!("\nnote: could not ask {node} whether it counts the stance; `show` tells later"));
        }
    }
    Ok(())
}

/// A proposal fetched from the node and checked here: its envelope verifies
/// against the coalition and its id and text are recomputed locally.
pub struct CheckedProposal {
    /// The node's view (tally, stances).
    pub detail: ProposalDetail,
    /// The id recomputed from the envelope.
    pub id: ObjectId,
    /// The proposal as signed.
    pub proposal: Proposal,
    /// Author's display name from the roster.
    pub author_name: String,
    /// SHA-256 of the body, computed here.
    pub body_sha256: String,
}

/// Fetches a proposal by id or prefix, with the part of its discussion
/// the node's view carries, and verifies it locally.
pub fn fetch_checked(client: &Client, coalition: &Coalition, id: &str) -> Result<CheckedProposal> {
    fetch_checked_with(client, coalition, id, true)
}

/// [`fetch_checked`]; without `comments` the node leaves the comments out
/// (a stance or a notice needs only the proposal and its window). A node
/// of an earlier version, which does not know that request field, is
/// asked again without it.
pub fn fetch_checked_with(client: &Client, coalition: &Coalition, id: &str, comments: bool) -> Result<CheckedProposal> {
    let brief = Request::Show { id: id.to_string(), comments };
    let detail: ProposalDetail = match client.call(&brief) {
        Err(NodeError::Remote(m)) if !comments && m.contains("unknown field") => {
            client.call(&Request::Show { id: id.to_string(), comments: true })?
        }
        r => r?,
    };
    let bytes = hex::decode(&detail.envelope).context("the node sent an envelope that is not hex")?;
    // The form, coalition and signature are checked here; whether the
    // signer was a key of the author is the node's ledger's answer (the
    // proposal may be by a trust admitted after the genesis).
    let verified = Ledger::check_signature(coalition, &bytes)
        .map_err(|e| anyhow!("the node sent a proposal that does not verify: {e}"))?;
    let chorus_core::Object::Proposal(proposal) = verified.object().clone() else {
        bail!("the node sent an object that is not a proposal for id {}", detail.summary.id);
    };
    if verified.id() != detail.summary.id {
        bail!("the node sent proposal {} for id {}", verified.id(), detail.summary.id);
    }
    let author_name = detail.summary.author_name.clone();
    let body_sha256 = hex::encode(Sha256::digest(proposal.body.as_bytes()));
    Ok(CheckedProposal { id: verified.id(), detail, proposal, author_name, body_sha256 })
}

/// Who signs a stance: the trust's own key, or a leader's key under a
/// delegation of the trust.
pub struct Signer {
    /// The signing key.
    pub key: Keypair,
    /// The trust the stance is for.
    pub trust: PublicKey,
    /// The delegation, when `key` is a delegate's.
    pub delegation: Option<ObjectId>,
}

/// Builds and signs a stance on a checked proposal.
pub fn stance_envelope(
    coalition: &Coalition,
    roster: &RosterInfo,
    signer: &Signer,
    proposal: ObjectId,
    stance: Stance,
    comment: Option<String>,
) -> Result<Envelope> {
    let body = stance_body(coalition, roster, signer, proposal, stance, comment)?;
    Ok(Envelope::sign(Kind::Endorsement, body, &[&signer.key]))
}

/// The body of a stance as [`stance_envelope`] signs it, every field rule
/// checked; nothing is signed.
pub fn stance_body(
    coalition: &Coalition,
    roster: &RosterInfo,
    signer: &Signer,
    proposal: ObjectId,
    stance: Stance,
    comment: Option<String>,
) -> Result<Vec<u8>> {
    if member_name(roster, &signer.trust).is_none() {
        bail!(
            "your trust ({}) is not a member of coalition {:?} as far as the node knows; only members can endorse",
            signer.trust,
            coalition.name()
        );
    }
    let e = Endorsement {
        coalition: coalition.id(),
        proposal,
        trust: signer.trust,
        created_at_ms: now_ms(),
        stance,
        comment: comment.filter(|c| !c.is_empty()),
        delegation: signer.delegation,
    };
    let body = e.to_body();
    Endorsement::from_body(&body).map_err(|e| anyhow!("the endorsement is not valid: {e}"))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> ObjectId {
        ObjectId([b; 32])
    }

    fn view(trust: &str, stance: Option<&str>, records: &[ObjectId]) -> (String, Option<String>, Vec<ObjectId>) {
        (trust.into(), stance.map(str::to_string), records.to_vec())
    }

    #[test]
    fn a_stance_counts_only_when_the_node_lists_its_record() {
        let stances = [view("aa", Some("endorse"), &[id(1), id(2)]), view("bb", Some("object"), &[id(3)])];
        assert_eq!(counted("aa", &id(2), Stance::Endorse, &stances), Counted::Yes);
        // A record the node holds but does not list (a revoked delegation,
        // a replaced key) does not count, even when the trust has an
        // effective stance from other records.
        assert_eq!(counted("aa", &id(9), Stance::Endorse, &stances), Counted::No);
        // A trust the view does not list at all (not in the roster, or no
        // record counted).
        assert_eq!(counted("cc", &id(1), Stance::Endorse, &stances), Counted::No);
        // Another record of the trust decides.
        assert_eq!(counted("aa", &id(1), Stance::Object, &stances), Counted::OtherStance("endorse".into()));
        // Listed, but no effective stance: only late records.
        assert_eq!(counted("dd", &id(4), Stance::Abstain, &[view("dd", None, &[id(4)])]), Counted::No);
    }

    #[test]
    fn the_verdict_is_worded_or_refused() {
        let mut out = Output::new(&serde_json::json!({ "id": "x" }), "endorse recorded: x");
        report_counted(&mut out, Some(Counted::Yes), "your node", Stance::Endorse, id(1), false).unwrap();
        assert_eq!(out.json["counted"], true);
        assert_eq!(out.human, "endorse recorded: x");
        report_counted(
            &mut out,
            Some(Counted::OtherStance("endorse".into())),
            "your node",
            Stance::Object,
            id(1),
            false,
        )
        .unwrap();
        assert_eq!(out.json["counted"], false);
        assert!(out.human.contains("counts your trust's stance as endorse"), "{}", out.human);
        report_counted(&mut out, None, "your node", Stance::Object, id(1), false).unwrap();
        assert!(out.json["counted"].is_null());
        let e = report_counted(&mut out, Some(Counted::No), "your node", Stance::Endorse, id(1), true).unwrap_err();
        assert_eq!(crate::error::code(&e), "not_counted");
        assert!(e.to_string().contains("delegation may have been revoked"), "{e}");
        let e = report_counted(&mut out, Some(Counted::No), "your node", Stance::Endorse, id(1), false).unwrap_err();
        assert!(e.to_string().contains("no longer be your trust's key"), "{e}");
    }
}

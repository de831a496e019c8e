//! Proposing and endorsing: the objects are built and signed here, where the
//! trust key is, and submitted to the node as exact envelope bytes.

use anyhow::{anyhow, bail, Context, Result};
use chorus_core::{Coalition, Endorsement, Envelope, Keypair, Kind, ObjectId, Proposal, Stance};
use chorus_node::control::{Client, CoalitionInfo, ProposalDetail, Request, SubmitResult};
use chorus_node::daemon::now_ms;
use sha2::{Digest, Sha256};

/// The coalition the node serves, verified here from its genesis bytes so
/// that nothing the node says about membership is taken on trust.
pub fn coalition(client: &Client) -> Result<(CoalitionInfo, Coalition)> {
    let info: CoalitionInfo = client.call(&Request::Coalition)?;
    let bytes = hex::decode(&info.genesis).context("the node sent a genesis that is not hex")?;
    let coalition = Coalition::from_genesis(&bytes, chorus_core::keys::default_threads())
        .map_err(|e| anyhow!("the node's genesis does not verify: {e}"))?;
    Ok((info, coalition))
}

/// Builds, signs and submits a proposal; returns the submit result.
pub fn propose(
    client: &Client,
    key: &Keypair,
    title: &str,
    body: &str,
    closes_at_ms: Option<u64>,
) -> Result<SubmitResult> {
    let (_, coalition) = coalition(client)?;
    if !coalition.current_roster().contains(&key.public()) {
        bail!(
            "your trust ({}) is not a member of coalition {:?}; only members can propose",
            key.public(),
            coalition.name()
        );
    }
    let proposal = Proposal {
        coalition: coalition.id(),
        roster: coalition.current_roster().version(),
        author: key.public(),
        created_at_ms: now_ms(),
        closes_at_ms,
        title: title.to_string(),
        body: body.to_string(),
        link: None,
        action: None,
        roster_heads: vec![],
    };
    let bytes = proposal.to_body();
    // Check every field rule before signing, for a precise message.
    Proposal::from_body(&bytes).map_err(|e| anyhow!("the proposal is not valid: {e}"))?;
    let envelope = Envelope::sign(Kind::Proposal, bytes, &[key]);
    submit(client, &envelope)
}

/// Submits an envelope's exact bytes.
pub fn submit(client: &Client, envelope: &Envelope) -> Result<SubmitResult> {
    Ok(client.call(&Request::Submit { envelope: hex::encode(envelope.bytes()) })?)
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

/// Fetches a proposal by id or prefix and verifies it locally.
pub fn fetch_checked(client: &Client, coalition: &Coalition, id: &str) -> Result<CheckedProposal> {
    let detail: ProposalDetail = client.call(&Request::Show { id: id.to_string() })?;
    let bytes = hex::decode(&detail.envelope).context("the node sent an envelope that is not hex")?;
    // Any clock works here: the proposal is already stored, and only its
    // signature and fields matter for what we show.
    let verified = coalition
        .validate(&bytes, u64::MAX / 2)
        .map_err(|e| anyhow!("the node sent a proposal that does not verify: {e}"))?;
    let chorus_core::Object::Proposal(proposal) = verified.object().clone() else {
        bail!("the node sent a {} where a proposal was expected", verified.kind());
    };
    if verified.id() != detail.summary.id {
        bail!("the node sent proposal {} for id {}", verified.id(), detail.summary.id);
    }
    let author_name = coalition
        .current_roster()
        .get(proposal.author.as_bytes())
        .map(|m| m.name.clone())
        .unwrap_or_else(|| proposal.author.to_hex());
    let body_sha256 = hex::encode(Sha256::digest(proposal.body.as_bytes()));
    Ok(CheckedProposal { id: verified.id(), detail, proposal, author_name, body_sha256 })
}

/// Builds and signs a stance on a checked proposal.
pub fn stance_envelope(
    coalition: &Coalition,
    key: &Keypair,
    proposal: ObjectId,
    stance: Stance,
    comment: Option<String>,
) -> Result<Envelope> {
    if !coalition.current_roster().contains(&key.public()) {
        bail!(
            "your trust ({}) is not a member of coalition {:?}; only members can endorse",
            key.public(),
            coalition.name()
        );
    }
    let e = Endorsement {
        coalition: coalition.id(),
        proposal,
        trust: key.public(),
        created_at_ms: now_ms(),
        stance,
        comment: comment.filter(|c| !c.is_empty()),
        delegation: None,
    };
    let body = e.to_body();
    Endorsement::from_body(&body).map_err(|e| anyhow!("the endorsement is not valid: {e}"))?;
    Ok(Envelope::sign(Kind::Endorsement, body, &[key]))
}

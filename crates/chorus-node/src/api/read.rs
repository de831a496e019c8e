//! The read routes: JSON built from the store's exact envelopes and the
//! ledger. Runs on the blocking pool (the ledger and the store take locks).

use bytes::Bytes;
use chorus_core::{Ledger, ObjectId};
use chorus_web::Publish;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde::Serialize;

use super::{error, internal_error, json_response, parse_id, EnvelopeJson};
use crate::control::{BreakdownInfo, RecordTiming, TallyInfo};
use crate::daemon::{
    breakdown_info, deliberation, member_name, now_ms, roster_info, stance_infos, status_name, Deliberation, Inner,
};

/// Content-addressed: an object's bytes never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Follows the store.
const FRESH: &str = "no-cache";

#[derive(Serialize)]
struct CoalitionJson {
    id: String,
    name: String,
    publish: &'static str,
    genesis: EnvelopeJson,
}

#[derive(Serialize)]
struct MemberJson {
    trust: String,
    name: String,
    root_key: String,
    external_id: Option<String>,
    /// Declared attributes (PROTOCOL.md 6.6); absent ones left out.
    attributes: crate::control::AttributesInfo,
}

#[derive(Serialize)]
struct RosterJson {
    coalition: String,
    version: String,
    heads: Vec<String>,
    members: Vec<MemberJson>,
    rules: RulesJson,
    required: usize,
    /// The charter's value sets, size bands and breadth rules.
    sets: crate::control::CharterSetsInfo,
}

#[derive(Serialize)]
struct RulesJson {
    positions: String,
    membership: String,
    amendments: String,
}

#[derive(Serialize)]
struct ProposalItem {
    id: String,
    title: String,
    author: String,
    author_name: String,
    status: String,
    created_at_ms: u64,
    closes_at_ms: Option<u64>,
}

#[derive(Serialize)]
struct ProposalList {
    publish: &'static str,
    proposals: Vec<ProposalItem>,
}

#[derive(Serialize)]
struct StanceView {
    trust: String,
    name: String,
    stance: Option<String>,
    equivocated: bool,
    records: Vec<String>,
    /// The records again, each with its stance, time and timing under
    /// the voting window.
    record_timing: Vec<RecordTiming>,
}

#[derive(Serialize)]
struct NodeView {
    status: String,
    tally: TallyInfo,
    stances: Vec<StanceView>,
    breakdown: Option<BreakdownInfo>,
    /// Its fields, in order, as if written here.
    #[serde(flatten)]
    deliberation: Deliberation,
}

#[derive(Serialize)]
struct ProposalJson {
    id: String,
    proposal: EnvelopeJson,
    stances: Vec<EnvelopeJson>,
    /// The envelopes of `node_view.comments` that are not amendments, in
    /// the same order; an amendment's envelope (with its proposed text) is
    /// fetched by its id (`/api/v1/objects/{id}`).
    comments: Vec<EnvelopeJson>,
    /// The envelopes of `node_view.notices`, in the same order.
    notices: Vec<EnvelopeJson>,
    node_view: NodeView,
}

fn publish_name(p: Publish) -> &'static str {
    match p {
        Publish::Positions => "positions",
        Publish::Everything => "everything",
    }
}

/// True when the publication setting lets the API show proposal `id`.
fn shown(l: &Ledger, publish: Publish, id: &ObjectId) -> bool {
    match publish {
        Publish::Everything => l.proposal(id).is_some(),
        Publish::Positions => l.is_adopted(id),
    }
}

/// The answer to `GET /api/v1/<route>`.
pub(super) fn answer(inner: &Inner, publish: Publish, route: &str) -> Response<Full<Bytes>> {
    let result = match route.split_once('/') {
        None if route == "coalition" => coalition(inner, publish),
        None if route == "roster" => roster(inner),
        None if route == "proposals" => Ok(proposals(inner, publish)),
        Some(("proposals", id)) => proposal(inner, publish, id),
        Some(("objects", id)) => object(inner, publish, id),
        _ => Err(Box::new(error(StatusCode::NOT_FOUND, "not_found", "no such API route"))),
    };
    result.unwrap_or_else(|r| *r)
}

/// An error answer, boxed: it is the rare path.
type Failure = Box<Response<Full<Bytes>>>;
type Answer = std::result::Result<Response<Full<Bytes>>, Failure>;

/// A `500`; `what` is logged, not sent.
fn internal(what: &str) -> Failure {
    Box::new(internal_error("an API read failed", &what))
}

fn coalition(inner: &Inner, publish: Publish) -> Answer {
    let genesis = EnvelopeJson::of(inner.coalition.genesis_envelope().bytes())
        .ok_or_else(|| internal("the genesis does not decode"))?;
    let body = CoalitionJson {
        id: inner.coalition.id().to_hex(),
        name: inner.coalition.name().to_string(),
        publish: publish_name(publish),
        genesis,
    };
    Ok(json_response(StatusCode::OK, &body, FRESH))
}

fn roster(inner: &Inner) -> Answer {
    let r = inner.store.with_ledger(roster_info).map_err(|e| internal(&e))?;
    let body = RosterJson {
        coalition: r.coalition.to_hex(),
        version: r.version.to_hex(),
        heads: r.heads.iter().map(ObjectId::to_hex).collect(),
        members: r
            .members
            .into_iter()
            .map(|m| MemberJson {
                trust: m.key,
                name: m.name,
                root_key: m.root_key,
                external_id: m.external_id,
                attributes: m.attributes,
            })
            .collect(),
        rules: RulesJson { positions: r.positions, membership: r.membership, amendments: r.amendments },
        required: r.required,
        sets: r.sets,
    };
    Ok(json_response(StatusCode::OK, &body, FRESH))
}

fn proposals(inner: &Inner, publish: Publish) -> Response<Full<Bytes>> {
    let now = now_ms();
    let list = inner.store.with_ledger(|l| {
        l.proposals()
            .into_iter()
            .filter(|(id, _)| shown(l, publish, id))
            .map(|(id, p)| ProposalItem {
                id: id.to_hex(),
                title: p.title.clone(),
                author: p.author.to_hex(),
                author_name: member_name(l, &p.author),
                status: status_name(l.status(&id, now)),
                created_at_ms: p.created_at_ms,
                closes_at_ms: p.closes_at_ms,
            })
            .collect()
    });
    json_response(StatusCode::OK, &ProposalList { publish: publish_name(publish), proposals: list }, FRESH)
}

fn not_found() -> Failure {
    Box::new(error(StatusCode::NOT_FOUND, "not_found", "this node serves no such object"))
}

fn bad_id() -> Failure {
    Box::new(error(StatusCode::BAD_REQUEST, "bad_id", "an object id is 64 lower- or upper-case hex digits"))
}

/// The stored bytes of `id` as the API gives them.
fn stored(inner: &Inner, id: &ObjectId) -> std::result::Result<EnvelopeJson, Failure> {
    json_of(&stored_bytes(inner, id)?)
}

fn stored_bytes(inner: &Inner, id: &ObjectId) -> std::result::Result<Vec<u8>, Failure> {
    inner.store.get(id).map_err(|e| internal(&e.to_string()))?.ok_or_else(not_found)
}

fn json_of(bytes: &[u8]) -> std::result::Result<EnvelopeJson, Failure> {
    EnvelopeJson::of(bytes).ok_or_else(|| internal("a stored envelope does not decode"))
}

fn proposal(inner: &Inner, publish: Publish, id: &str) -> Answer {
    let id = parse_id(id).ok_or_else(bad_id)?;
    let state = inner.store.with_ledger(|l| {
        let state = l.proposal_state(&id).filter(|_| shown(l, publish, &id))?;
        // Other proposals (revisions) are listed only where they are shown.
        let d = deliberation(l, &id, |other| shown(l, publish, other), true);
        Some((status_name(l.status(&id, now_ms())), state, breakdown_info(l, &id), d))
    });
    let (status, state, breakdown, d) = state.ok_or_else(not_found)?;
    let mut envelopes = Vec::new();
    for t in &state.stances {
        for r in &t.records {
            envelopes.push(stored(inner, &r.id)?);
        }
    }
    let stances = stance_infos(&state)
        .into_iter()
        .map(|t| StanceView {
            trust: t.trust,
            name: t.name,
            stance: t.stance,
            equivocated: t.equivocated,
            records: t.records.iter().map(ObjectId::to_hex).collect(),
            record_timing: t.record_timing,
        })
        .collect();
    let comment_envelopes =
        d.comments.iter().filter(|c| c.amendment.is_none()).map(|c| stored(inner, &c.id)).collect::<Result<_, _>>()?;
    let notice_envelopes = d.notices.iter().map(|n| stored(inner, &n.id)).collect::<Result<_, _>>()?;
    let body = ProposalJson {
        id: id.to_hex(),
        proposal: stored(inner, &id)?,
        stances: envelopes,
        comments: comment_envelopes,
        notices: notice_envelopes,
        node_view: NodeView { status, tally: state.tally.into(), stances, breakdown, deliberation: d },
    };
    Ok(json_response(StatusCode::OK, &body, FRESH))
}

fn object(inner: &Inner, publish: Publish, id: &str) -> Answer {
    let id = parse_id(id).ok_or_else(bad_id)?;
    let bytes = stored_bytes(inner, &id)?;
    if publish == Publish::Positions && id != inner.coalition.id() {
        // Only what the website shows: adopted proposals with their
        // stances, comments and notices.
        let on = discussed_proposal(&bytes);
        let visible = inner.store.with_ledger(|l| {
            l.is_adopted(&id)
                || on.is_some_and(|p| l.is_adopted(&p))
                || l.positions().iter().any(|p| {
                    l.proposal_state(p).is_some_and(|s| s.stances.iter().any(|t| t.records.iter().any(|r| r.id == id)))
                })
        });
        if !visible {
            return Err(not_found());
        }
    }
    Ok(json_response(StatusCode::OK, &json_of(&bytes)?, IMMUTABLE))
}

/// The proposal a comment, open-voting or withdrawal is about; `None` for
/// any other kind.
fn discussed_proposal(bytes: &[u8]) -> Option<ObjectId> {
    let e = chorus_core::Envelope::decode(bytes).ok()?;
    match e.kind() {
        chorus_core::Kind::Comment => chorus_core::Comment::from_body(e.body()).ok().map(|c| c.proposal),
        chorus_core::Kind::OpenVoting => chorus_core::OpenVoting::from_body(e.body()).ok().map(|o| o.proposal),
        chorus_core::Kind::Withdrawal => chorus_core::Withdrawal::from_body(e.body()).ok().map(|w| w.proposal),
        _ => None,
    }
}

//! Governance as a pure function of the set of held objects (PROTOCOL.md
//! section 12): closures of governance proposals, which of them are
//! adopted, the roster and charter of every roster version, key chains,
//! delegations and revocations.
//!
//! Nothing here depends on the order objects arrived in: every input is a
//! map keyed by ids or keys, and every tie is broken by ids.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::breadth::BreadthCount;
use crate::coalition::{Coalition, Roster};
use crate::decision::RuleKind;
use crate::deliberation::{window, HeldNotice, Timing, VotingWindow};
use crate::error::VoidReason;
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::ledger::Tally;
use crate::objects::{
    version_id, Action, Charter, Comment, Delegation, KeyRotation, Member, Proposal, Revocation, Stance, SCOPE_STANCES,
};

/// One endorsement object as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct StanceRecord {
    /// The endorsement object's id.
    pub id: ObjectId,
    /// Its stance.
    pub stance: Stance,
    /// Its signing time.
    pub created_at_ms: u64,
    /// Its comment.
    pub comment: Option<String>,
}

/// Who signed an endorsement, and under which delegation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Auth {
    pub signer: PublicKey,
    pub delegation: Option<ObjectId>,
}

/// Every held object the derivation reads, keyed so that the order of
/// arrival leaves no trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Held {
    pub proposals: BTreeMap<ObjectId, Proposal>,
    pub proposal_signer: BTreeMap<ObjectId, PublicKey>,
    // Keyed by proposal id, whether or not the proposal is held yet, then
    // by trust id.
    pub records: BTreeMap<ObjectId, BTreeMap<PublicKey, BTreeSet<StanceRecord>>>,
    pub record_auth: BTreeMap<ObjectId, Auth>,
    pub delegations: BTreeMap<ObjectId, (Delegation, PublicKey)>,
    // The delegate key of every held delegation.
    pub delegates: BTreeSet<PublicKey>,
    // delegation id -> revocation id -> (revocation, signer)
    pub revocations: BTreeMap<ObjectId, BTreeMap<ObjectId, (Revocation, PublicKey)>>,
    // (trust, signer) -> rotation id -> rotation
    pub rotations: BTreeMap<(PublicKey, PublicKey), BTreeMap<ObjectId, KeyRotation>>,
    // trust id -> keys named for it by held governance proposals (its id
    // when admitted, new keys of replacements)
    pub named_keys: BTreeMap<PublicKey, BTreeSet<PublicKey>>,
    // proposal id (held or not) -> comment id -> (comment, signer)
    pub comments: BTreeMap<ObjectId, BTreeMap<ObjectId, (Comment, PublicKey)>>,
    // proposal id (held or not) -> open-voting or withdrawal id -> notice
    pub notices: BTreeMap<ObjectId, BTreeMap<ObjectId, HeldNotice>>,
    // link target -> held proposals linking to it
    pub revisions: BTreeMap<ObjectId, BTreeSet<ObjectId>>,
}

/// The roster and charter of one roster version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    pub roster: Roster,
    pub charter: Charter,
}

/// What is derived from [`Held`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Derived {
    /// Closure of every governance proposal whose pins are all held.
    pub closures: BTreeMap<ObjectId, Arc<BTreeSet<ObjectId>>>,
    /// Adopted governance proposals.
    pub adopted: BTreeSet<ObjectId>,
    /// Resolvable versions met so far, by version id.
    pub versions: BTreeMap<ObjectId, Arc<Version>>,
}

/// What one trust's records contribute to a tally.
#[derive(Clone, Copy, Default)]
pub(crate) struct Contribution {
    pub stance: Option<Stance>,
    pub equivocated: bool,
    pub early: usize,
    pub late: usize,
}

/// The state of one key in a trust's chain.
#[derive(Clone, Debug)]
enum KeyState {
    Current,
    /// Rotated away (one rotation) or frozen (several); what it signed
    /// counts only if listed here.
    Kept(BTreeSet<ObjectId>),
}

/// A trust's key chain under one version (PROTOCOL.md 12.6).
#[derive(Clone, Debug)]
pub(crate) struct Chain {
    keys: Vec<(PublicKey, KeyState)>,
    // Ids of the rotations that led from each key to the next.
    rotations: Vec<ObjectId>,
}

impl Chain {
    pub fn build(held: &Held, trust: &PublicKey, root: PublicKey) -> Chain {
        let mut keys: Vec<(PublicKey, KeyState)> = Vec::new();
        let mut path: Vec<ObjectId> = Vec::new();
        let mut k = root;
        loop {
            let rotations = held.rotations.get(&(*trust, k));
            match rotations.map(|r| r.len()).unwrap_or(0) {
                0 => {
                    keys.push((k, KeyState::Current));
                    break;
                }
                1 => {
                    let (rid, r) = rotations.and_then(|r| r.iter().next()).expect("one rotation");
                    keys.push((k, KeyState::Kept(r.keep.iter().copied().collect())));
                    path.push(*rid);
                    if keys.iter().any(|(x, _)| *x == r.new_key) {
                        break;
                    }
                    k = r.new_key;
                }
                _ => {
                    let mut lists = rotations.into_iter().flat_map(|r| r.values());
                    let first: BTreeSet<ObjectId> =
                        lists.next().map(|r| r.keep.iter().copied().collect()).unwrap_or_default();
                    let keep = lists.fold(first, |acc, r| {
                        let other: BTreeSet<ObjectId> = r.keep.iter().copied().collect();
                        acc.intersection(&other).copied().collect()
                    });
                    keys.push((k, KeyState::Kept(keep)));
                    break;
                }
            }
        }
        Chain { keys, rotations: path }
    }

    /// The rotations that lead from the root key to `signer`, if it is in
    /// the chain.
    pub fn path_to(&self, signer: &PublicKey) -> Option<Vec<ObjectId>> {
        let at = self.keys.iter().position(|(k, _)| k == signer)?;
        Some(self.rotations[..at].to_vec())
    }

    /// True when `signer` is in the chain.
    pub fn contains(&self, signer: &PublicKey) -> bool {
        self.keys.iter().any(|(k, _)| k == signer)
    }

    /// True when object `id`, signed by `signer`, is authorised.
    pub fn authorises(&self, signer: &PublicKey, id: &ObjectId) -> bool {
        self.keys.iter().any(|(k, state)| {
            k == signer
                && match state {
                    KeyState::Current => true,
                    KeyState::Kept(keep) => keep.contains(id),
                }
        })
    }
}

/// Why an action does not apply under the roster it is voted under
/// (PROTOCOL.md 12.2, "Applicability"), or `None` when it applies.
pub(crate) fn inapplicable(action: &Action, roster: &Roster) -> Option<String> {
    match action {
        Action::Admit(m) if roster.uses_key(&m.key) => {
            Some(format!("it admits {}, which is already the trust id or root key of a member", m.key))
        }
        Action::Remove(t) if !roster.contains(t) => Some(format!("it removes {t}, which is not a member")),
        Action::Remove(_) if roster.len() < 2 => Some("it removes the only member".into()),
        Action::ReplaceKey { trust, .. } if !roster.contains(trust) => {
            Some(format!("it replaces the key of {trust}, which is not a member"))
        }
        Action::ReplaceKey { new_key, .. } if roster.uses_key(new_key) => {
            Some(format!("its new key {new_key} is already the trust id or root key of a member"))
        }
        Action::AmendMember { trust, .. } if !roster.contains(trust) => {
            Some(format!("it amends the attributes of {trust}, which is not a member"))
        }
        _ => None,
    }
}

/// Why proposal `p` (id `pid`, held) is void under `roster`, the roster of
/// the version it pins (PROTOCOL.md 12.4), or `None` when it counts.
pub(crate) fn void_reason(held: &Held, roster: &Roster, pid: &ObjectId, p: &Proposal) -> Option<VoidReason> {
    let Some(root) = roster.root_key(&p.author) else { return Some(VoidReason::AuthorNotMember(p.author.to_hex())) };
    let authorised =
        held.proposal_signer.get(pid).is_some_and(|signer| Chain::build(held, &p.author, root).authorises(signer, pid));
    if !authorised {
        return Some(VoidReason::SignerNotAuthorised(p.author.to_hex()));
    }
    p.action.as_ref().and_then(|a| inapplicable(a, roster)).map(VoidReason::ActionNotApplicable)
}

/// True when the endorsement `record` of `trust` is authorised under
/// `version` (PROTOCOL.md 12.4, 12.5, 12.7).
pub(crate) fn record_authorised(
    held: &Held,
    roster: &Roster,
    trust: &PublicKey,
    record: &StanceRecord,
    chain: &mut Option<Chain>,
) -> bool {
    let Some(auth) = held.record_auth.get(&record.id) else { return false };
    signed_for(held, roster, trust, &record.id, auth, record.created_at_ms, chain)
}

/// True when object `id` of `trust`, signed at `created_at_ms` as `auth`
/// says, is authorised under `roster` as a stance record is (PROTOCOL.md
/// 12.4, 12.5, 12.7): by a key of the trust's chain that is current or
/// keeps it, or by the delegate of a delegation of stances of the trust,
/// in period, authorised, and not revoked without keeping it. Comments are
/// judged by the same rule.
pub(crate) fn signed_for(
    held: &Held,
    roster: &Roster,
    trust: &PublicKey,
    id: &ObjectId,
    auth: &Auth,
    created_at_ms: u64,
    chain: &mut Option<Chain>,
) -> bool {
    let Some(root) = roster.root_key(trust) else { return false };
    let chain = chain.get_or_insert_with(|| Chain::build(held, trust, root));
    match auth.delegation {
        None => chain.authorises(&auth.signer, id),
        Some(d) => {
            let Some((delegation, delegation_signer)) = held.delegations.get(&d) else { return false };
            if delegation.trust != *trust
                || delegation.delegate != auth.signer
                || delegation.scope & SCOPE_STANCES == 0
                || !delegation.valid_at(created_at_ms)
                || !chain.authorises(delegation_signer, &d)
            {
                return false;
            }
            held.revocations.get(&d).into_iter().flatten().all(|(_, (r, signer))| {
                // A revocation counts if it names the trust and is signed by
                // any key of its chain; then the stance must be kept by it.
                !(r.trust == *trust && chain.contains(signer)) || r.keep.binary_search(id).is_ok()
            })
        }
    }
}

/// Effective stance of one trust from its authorised records on a proposal
/// whose voting window is `window`: the strongest on-time stance. A trust
/// equivocates when its records (on time or not) hold two stances.
pub(crate) fn contribution(window: &VotingWindow, records: &[&StanceRecord]) -> Contribution {
    let timing = |r: &&StanceRecord| window.timing(r.created_at_ms);
    // Stance's Ord is Endorse < Object < Abstain: the minimum is the strongest.
    let stance = records.iter().filter(|r| timing(r) == Timing::OnTime).map(|r| r.stance).min();
    let first = records.first().map(|r| r.stance);
    let equivocated = records.iter().any(|r| Some(r.stance) != first);
    let early = records.iter().filter(|r| timing(r) == Timing::Early).count();
    let late = records.iter().filter(|r| timing(r) == Timing::Late).count();
    Contribution { stance, equivocated, early, late }
}

/// The authorised records of `trust` on proposal `p`, sorted by id.
pub(crate) fn authorised_records<'a>(
    held: &Held,
    roster: &Roster,
    trust: &PublicKey,
    records: &'a BTreeSet<StanceRecord>,
) -> Vec<&'a StanceRecord> {
    let mut chain = None;
    records.iter().filter(|r| record_authorised(held, roster, trust, r, &mut chain)).collect()
}

impl Derived {
    /// Derives everything from the held objects.
    pub fn derive(coalition: &Coalition, held: &Held) -> Derived {
        let mut d = Derived::default();
        for g in topological(held) {
            let p = &held.proposals[&g];
            let mut closure: BTreeSet<ObjectId> = BTreeSet::new();
            closure.insert(g);
            for h in &p.roster_heads {
                closure.extend(d.closures[h].iter().copied());
            }
            d.closures.insert(g, Arc::new(closure));
            let adopted = d
                .resolve(coalition, held, &p.roster_heads)
                .and_then(|version| tally(held, &version, &g, p))
                .is_some_and(|t| t.adopted());
            if adopted {
                d.adopted.insert(g);
            }
        }
        // Every version a held proposal pins, and the newest one, so that
        // the memo is itself a function of the set (queries never add).
        let mut heads: BTreeSet<Vec<ObjectId>> = held.proposals.values().map(|p| p.roster_heads.clone()).collect();
        heads.insert(d.head());
        for h in heads {
            d.resolve(coalition, held, &h);
        }
        d
    }

    /// Heads of the newest version: adopted governance proposals in no
    /// other adopted one's closure, sorted.
    pub fn head(&self) -> Vec<ObjectId> {
        self.adopted
            .iter()
            .filter(|g| !self.adopted.iter().any(|o| o != *g && self.closures[o].contains(g)))
            .copied()
            .collect()
    }

    /// The version with these heads, if it is resolvable: every head an
    /// adopted governance proposal, no head in another's closure.
    pub fn resolve(&mut self, coalition: &Coalition, held: &Held, heads: &[ObjectId]) -> Option<Arc<Version>> {
        let vid = version_id(&coalition.id(), heads);
        if let Some(v) = self.versions.get(&vid) {
            return Some(v.clone());
        }
        if !heads.iter().all(|h| self.adopted.contains(h)) || !self.antichain(heads)? {
            return None;
        }
        let v = Arc::new(self.version_of(coalition, held, vid, heads));
        self.versions.insert(vid, v.clone());
        Some(v)
    }

    /// The version with these heads if it was resolved before.
    pub fn version(&self, coalition: &Coalition, heads: &[ObjectId]) -> Option<&Arc<Version>> {
        self.versions.get(&version_id(&coalition.id(), heads))
    }

    /// `Some(true)` when no head is in another's closure; `None` when a
    /// closure is not known.
    pub fn antichain(&self, heads: &[ObjectId]) -> Option<bool> {
        for h in heads {
            let c = self.closures.get(h)?;
            if heads.iter().any(|o| o != h && c.contains(o)) {
                return Some(false);
            }
        }
        Some(true)
    }

    /// Roster and charter of the version with these heads (PROTOCOL.md
    /// 12.3). Every proposal in their closure is adopted.
    fn version_of(&self, coalition: &Coalition, held: &Held, vid: ObjectId, heads: &[ObjectId]) -> Version {
        let genesis = coalition.current_roster();
        if heads.is_empty() {
            return Version { roster: genesis.clone(), charter: coalition.charter().clone() };
        }
        let closure = self.closure_of(heads).expect("closures of resolvable heads are known");
        let action = |g: &ObjectId| held.proposals[g].action.as_ref().expect("a governance proposal");
        // Events of each trust, in id order.
        let mut events: BTreeMap<PublicKey, Vec<ObjectId>> = BTreeMap::new();
        for g in &closure {
            if let Some(trust) = action(g).trust() {
                events.entry(*trust).or_default().push(*g);
            }
        }
        let maximal = |evs: &[ObjectId]| -> Vec<ObjectId> {
            evs.iter().filter(|e| !evs.iter().any(|o| o != *e && self.closures[o].contains(e))).copied().collect()
        };
        let mut members: BTreeMap<[u8; 32], Member> =
            genesis.members().map(|m| (*m.key.as_bytes(), m.clone())).collect();
        let mut roots: BTreeMap<[u8; 32], PublicKey> = BTreeMap::new();
        for (trust, evs) in &events {
            let removed = maximal(evs).iter().any(|e| matches!(action(e), Action::Remove(_)));
            let admits: Vec<ObjectId> = evs.iter().filter(|e| matches!(action(e), Action::Admit(_))).copied().collect();
            if removed || (!genesis.contains(trust) && admits.is_empty()) {
                members.remove(trust.as_bytes());
                continue;
            }
            if let Some(Action::Admit(m)) = maximal(&admits).first().map(action) {
                members.insert(*trust.as_bytes(), m.clone());
            }
            let key_events: Vec<ObjectId> = evs
                .iter()
                .filter(|e| matches!(action(e), Action::Admit(_) | Action::ReplaceKey { .. }))
                .copied()
                .collect();
            if let Some(Action::ReplaceKey { new_key, .. }) = maximal(&key_events).first().map(action) {
                roots.insert(*trust.as_bytes(), *new_key);
            }
            // Attributes: those of the latest admission or amendment, the
            // first by id among concurrent ones (as for keys above).
            let attribute_events: Vec<ObjectId> = evs
                .iter()
                .filter(|e| matches!(action(e), Action::Admit(_) | Action::AmendMember { .. }))
                .copied()
                .collect();
            if let Some(Action::AmendMember { attributes, .. }) = maximal(&attribute_events).first().map(action) {
                if let Some(m) = members.get_mut(trust.as_bytes()) {
                    m.attributes = attributes.clone();
                }
            }
        }
        let charter = charter_of(coalition, held, self, &closure);
        Version { roster: Roster::new(vid, members, roots), charter }
    }

    /// The union of the closures of `heads`, if every one is known.
    pub fn closure_of(&self, heads: &[ObjectId]) -> Option<BTreeSet<ObjectId>> {
        let mut closure: BTreeSet<ObjectId> = BTreeSet::new();
        for h in heads {
            closure.extend(self.closures.get(h)?.iter().copied());
        }
        Some(closure)
    }

    /// The charter of the roster version with these heads, known as soon
    /// as their closures are (held, whether adopted or not): it follows from
    /// the charter amendments in the closure alone (PROTOCOL.md 12.3), so
    /// checks against it do not depend on which stances are held.
    pub fn pinned_charter(&self, coalition: &Coalition, held: &Held, heads: &[ObjectId]) -> Option<Charter> {
        Some(charter_of(coalition, held, self, &self.closure_of(heads)?))
    }
}

/// The charter after the amendments of `closure`: the last by (closure
/// size, id), else the genesis charter.
fn charter_of(coalition: &Coalition, held: &Held, derived: &Derived, closure: &BTreeSet<ObjectId>) -> Charter {
    closure
        .iter()
        .filter_map(|g| match held.proposals.get(g).and_then(|p| p.action.as_ref()) {
            Some(Action::AmendCharter(c)) => Some(((derived.closures.get(g).map_or(0, |c| c.len()), *g), c)),
            _ => None,
        })
        .max_by_key(|(order, _)| *order)
        .map_or_else(|| coalition.charter().clone(), |(_, c)| c.clone())
}

/// The tally of proposal `p` (id `pid`) under `version`, or `None` when it
/// is void there: its author is not a member, it is not signed by a key
/// authorised for its author, or its action does not apply (PROTOCOL.md
/// 12.2, 12.4).
pub(crate) fn tally(held: &Held, version: &Version, pid: &ObjectId, p: &Proposal) -> Option<Tally> {
    let roster = &version.roster;
    if void_reason(held, roster, pid, p).is_some() {
        return None;
    }
    let kind = RuleKind::of(p.action.as_ref());
    let rule = version.charter.rule(kind);
    let mut t = Tally {
        members: roster.len(),
        required: rule.required(roster.len()),
        breadth: version.charter.breadth.of(kind).iter().cloned().map(BreadthCount::new).collect(),
        ..Tally::default()
    };
    for (_, member, c) in contributions(held, roster, pid, p) {
        t.add(c, 1, member, &version.charter);
    }
    Some(t)
}

/// The voting window of held proposal `p` (id `pid`) under `roster`, the
/// roster of its version.
pub(crate) fn window_of(held: &Held, roster: &Roster, pid: &ObjectId, p: &Proposal) -> VotingWindow {
    window(held, Some(roster), pid, p)
}

/// The contribution of each member of `roster` that holds a record on
/// proposal `p` (id `pid`), from its authorised records, by trust id: what
/// a tally counts (records of non-members are left out).
pub(crate) fn contributions<'a>(
    held: &'a Held,
    roster: &'a Roster,
    pid: &ObjectId,
    p: &'a Proposal,
) -> impl Iterator<Item = (&'a PublicKey, &'a Member, Contribution)> + 'a {
    let window = window_of(held, roster, pid, p);
    held.records.get(pid).into_iter().flatten().filter_map(move |(trust, records)| {
        let member = roster.get(trust.as_bytes())?;
        Some((trust, member, contribution(&window, &authorised_records(held, roster, trust, records))))
    })
}

/// Topological order (heads first) of the governance proposals whose pins
/// are all held governance proposals, recursively. Iterative, so a long
/// chain cannot overflow the stack.
fn topological(held: &Held) -> Vec<ObjectId> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
        Incomplete,
    }
    let mut mark: BTreeMap<ObjectId, Mark> = BTreeMap::new();
    let mut order = Vec::new();
    let is_gov = |id: &ObjectId| held.proposals.get(id).is_some_and(|p| p.action.is_some());
    for (root, p) in &held.proposals {
        if p.action.is_none() || mark.contains_key(root) {
            continue;
        }
        let mut stack: Vec<(ObjectId, usize)> = vec![(*root, 0)];
        mark.insert(*root, Mark::Visiting);
        while let Some((id, next)) = stack.pop() {
            let heads = &held.proposals[&id].roster_heads;
            if next < heads.len() {
                stack.push((id, next + 1));
                let h = heads[next];
                match mark.get(&h) {
                    None if is_gov(&h) => {
                        mark.insert(h, Mark::Visiting);
                        stack.push((h, 0));
                    }
                    None => {
                        mark.insert(id, Mark::Incomplete);
                    }
                    Some(Mark::Visiting) | Some(Mark::Incomplete) => {
                        mark.insert(id, Mark::Incomplete);
                    }
                    Some(Mark::Done) => {}
                }
            } else {
                let complete =
                    mark.get(&id) == Some(&Mark::Visiting) && heads.iter().all(|h| mark.get(h) == Some(&Mark::Done));
                if complete {
                    mark.insert(id, Mark::Done);
                    order.push(id);
                } else {
                    mark.insert(id, Mark::Incomplete);
                }
            }
        }
    }
    order
}

//! The founding document: members, adoption rules, charter, genesis.

use chorus_proto::v1 as pb;
use prost::Message;

use super::attributes::{AttributeSets, BreadthRule, MemberAttributes};
use super::{key, text, time};
use crate::decision::RuleKind;
use crate::envelope::decode_canonical;
use crate::error::Rejection;
use crate::keys::PublicKey;
use crate::limits::*;

/// A member trust of a roster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    /// The trust's root key.
    pub key: PublicKey,
    /// Display name.
    pub name: String,
    /// External identifier such as a company number.
    pub external_id: Option<String>,
    /// What the trust declares about itself (nothing by default).
    pub attributes: MemberAttributes,
}

impl Member {
    pub(super) fn from_proto(m: pb::Member) -> Result<Self, Rejection> {
        text("member name", &m.name, 1, MAX_NAME_BYTES, true)?;
        text("member external id", &m.external_id, 0, MAX_EXTERNAL_ID_BYTES, true)?;
        let key = key("member trust key", &m.trust_key)?;
        Ok(Member {
            key,
            name: m.name,
            external_id: (!m.external_id.is_empty()).then_some(m.external_id),
            attributes: MemberAttributes::from_proto(m.attributes)?,
        })
    }

    pub(super) fn to_proto(&self) -> pb::Member {
        pb::Member {
            trust_key: self.key.as_bytes().to_vec(),
            name: self.name.clone(),
            external_id: self.external_id.clone().unwrap_or_default(),
            attributes: self.attributes.to_proto(),
        }
    }
}

/// The fraction of a charter rule: a proposal needs more than
/// `numerator/denominator` of the roster endorsing it, never more than the
/// whole roster. The rule's breadth rules are kept beside it, in
/// [`Charter::breadth`], so that this stays a small `Copy` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AdoptionRule {
    /// Fraction numerator.
    pub numerator: u32,
    /// Fraction denominator, at least 1.
    pub denominator: u32,
}

impl Default for AdoptionRule {
    /// More than half of the members.
    fn default() -> Self {
        AdoptionRule { numerator: 1, denominator: 2 }
    }
}

impl AdoptionRule {
    /// A checked rule.
    pub fn new(numerator: u32, denominator: u32) -> Result<Self, Rejection> {
        if denominator == 0 || denominator > MAX_RULE_DENOMINATOR {
            return Err(Rejection::InvalidField {
                field: "adoption rule denominator",
                reason: format!("must be between 1 and {MAX_RULE_DENOMINATOR}"),
            });
        }
        if numerator > denominator {
            return Err(Rejection::InvalidField {
                field: "adoption rule numerator",
                reason: "must not exceed the denominator".into(),
            });
        }
        Ok(AdoptionRule { numerator, denominator })
    }

    /// Endorsements needed among `members`: `floor(members * n / d) + 1`,
    /// capped at `members`.
    pub fn required(&self, members: usize) -> usize {
        let m = members as u64;
        let need = m * u64::from(self.numerator) / u64::from(self.denominator) + 1;
        need.min(m) as usize
    }
}

/// The breadth rules of each of the charter's three rules (carried in
/// `AdoptionRule.breadth` on the wire), at most 8 each; empty by default.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BreadthRules {
    /// Breadth rules of the positions rule.
    pub positions: Vec<BreadthRule>,
    /// Breadth rules of the membership rule.
    pub membership: Vec<BreadthRule>,
    /// Breadth rules of the amendments rule.
    pub amendments: Vec<BreadthRule>,
}

impl BreadthRules {
    /// The breadth rules of the rule of this kind.
    pub fn of(&self, kind: RuleKind) -> &[BreadthRule] {
        match kind {
            RuleKind::Positions => &self.positions,
            RuleKind::Membership => &self.membership,
            RuleKind::Amendments => &self.amendments,
        }
    }

    fn of_mut(&mut self, kind: RuleKind) -> &mut Vec<BreadthRule> {
        match kind {
            RuleKind::Positions => &mut self.positions,
            RuleKind::Membership => &mut self.membership,
            RuleKind::Amendments => &mut self.amendments,
        }
    }
}

/// Who may follow the coalition without being a member's node
/// (PROTOCOL.md 14.9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObserverAccess {
    /// The adopted proposals and the objects their certificates carry, by
    /// sync only. The default, and the access of every charter made before
    /// the setting existed.
    #[default]
    Positions,
    /// Everything the coalition holds, by gossip and sync.
    Everything,
    /// No observers: a peer that is not a member's node is refused.
    None,
}

impl ObserverAccess {
    /// The wire value (`Charter.observers`).
    pub fn to_wire(self) -> i32 {
        match self {
            ObserverAccess::Positions => 0,
            ObserverAccess::Everything => 1,
            ObserverAccess::None => 2,
        }
    }

    /// The setting of a wire value, or the refusal naming it.
    pub fn from_wire(v: i32) -> Result<Self, Rejection> {
        match v {
            0 => Ok(ObserverAccess::Positions),
            1 => Ok(ObserverAccess::Everything),
            2 => Ok(ObserverAccess::None),
            n => Err(Rejection::InvalidField {
                field: "observers",
                reason: format!("{n} is not positions (0), everything (1) or none (2)"),
            }),
        }
    }
}

/// The coalition's rules.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Charter {
    /// Rule for ordinary proposals (default: more than 1/2).
    pub positions: AdoptionRule,
    /// Rule for admitting, removing or replacing the key of a member
    /// (default: more than 2/3).
    pub membership: AdoptionRule,
    /// Rule for amending the charter (default: more than 3/4).
    pub amendments: AdoptionRule,
    /// Value sets of member attributes and size bands (default: empty
    /// sets, default bands).
    pub attributes: AttributeSets,
    /// Breadth rules of each rule (default: none). Each names only values
    /// of `attributes` and can be met under them.
    pub breadth: BreadthRules,
    /// Who may follow the coalition without being a member's node
    /// (default: positions only).
    pub observers: ObserverAccess,
}

impl Default for Charter {
    fn default() -> Self {
        Charter {
            positions: AdoptionRule::default(),
            membership: Charter::DEFAULT_MEMBERSHIP,
            amendments: Charter::DEFAULT_AMENDMENTS,
            attributes: AttributeSets::default(),
            breadth: BreadthRules::default(),
            observers: ObserverAccess::default(),
        }
    }
}

/// The field named in refusals of a rule's breadth rules.
fn breadth_field(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Positions => "positions breadth rule",
        RuleKind::Membership => "membership breadth rule",
        RuleKind::Amendments => "amendments breadth rule",
    }
}

fn rule_from_proto(
    kind: RuleKind,
    r: Option<pb::AdoptionRule>,
    default: AdoptionRule,
) -> Result<(AdoptionRule, Vec<BreadthRule>), Rejection> {
    let Some(r) = r else { return Ok((default, Vec::new())) };
    let rule = AdoptionRule::new(r.numerator, r.denominator)?;
    let field = breadth_field(kind);
    if r.breadth.len() > MAX_BREADTH_RULES {
        return Err(Rejection::InvalidField {
            field,
            reason: format!("the rule has {} breadth rules, over the limit of {MAX_BREADTH_RULES}", r.breadth.len()),
        });
    }
    let breadth = r.breadth.into_iter().map(|b| BreadthRule::from_proto(field, b)).collect::<Result<_, _>>()?;
    Ok((rule, breadth))
}

fn rule_to_proto(r: AdoptionRule, breadth: &[BreadthRule], default: AdoptionRule) -> Option<pb::AdoptionRule> {
    (r != default || !breadth.is_empty()).then(|| pb::AdoptionRule {
        numerator: r.numerator,
        denominator: r.denominator,
        breadth: breadth.iter().map(BreadthRule::to_proto).collect(),
    })
}

impl Charter {
    /// Default membership rule: more than two thirds.
    pub const DEFAULT_MEMBERSHIP: AdoptionRule = AdoptionRule { numerator: 2, denominator: 3 };
    /// Default amendment rule: more than three quarters.
    pub const DEFAULT_AMENDMENTS: AdoptionRule = AdoptionRule { numerator: 3, denominator: 4 };

    /// A charter with this positions rule and default governance rules.
    pub fn with_positions(positions: AdoptionRule) -> Self {
        Charter { positions, ..Charter::default() }
    }

    /// The body rules of a charter, then its breadth rules against its own
    /// value sets: every `each_of` value is in the set of its attribute,
    /// and no rule asks for more distinct values than the set holds (a
    /// rule that can never be met would block its rule for good).
    pub(crate) fn from_proto(c: Option<pb::Charter>) -> Result<Self, Rejection> {
        let Some(c) = c else { return Ok(Charter::default()) };
        let mut breadth = BreadthRules::default();
        let mut rule = |kind, r, default| -> Result<AdoptionRule, Rejection> {
            let (rule, rules) = rule_from_proto(kind, r, default)?;
            *breadth.of_mut(kind) = rules;
            Ok(rule)
        };
        let positions = rule(RuleKind::Positions, c.positions, AdoptionRule::default())?;
        let membership = rule(RuleKind::Membership, c.membership, Charter::DEFAULT_MEMBERSHIP)?;
        let amendments = rule(RuleKind::Amendments, c.amendments, Charter::DEFAULT_AMENDMENTS)?;
        let attributes = AttributeSets::from_proto(c.attributes)?;
        let observers = ObserverAccess::from_wire(c.observers)?;
        for kind in [RuleKind::Positions, RuleKind::Membership, RuleKind::Amendments] {
            for b in breadth.of(kind) {
                b.check_against(breadth_field(kind), &attributes)?;
            }
        }
        Ok(Charter { positions, membership, amendments, attributes, breadth, observers })
    }

    /// Only rules that differ from their default are written; a charter
    /// whose rules are all defaults is absent.
    pub(crate) fn to_proto(&self) -> Option<pb::Charter> {
        if *self == Charter::default() {
            return None;
        }
        Some(self.to_proto_present())
    }

    pub(super) fn to_proto_present(&self) -> pb::Charter {
        pb::Charter {
            positions: rule_to_proto(self.positions, &self.breadth.positions, AdoptionRule::default()),
            membership: rule_to_proto(self.membership, &self.breadth.membership, Charter::DEFAULT_MEMBERSHIP),
            amendments: rule_to_proto(self.amendments, &self.breadth.amendments, Charter::DEFAULT_AMENDMENTS),
            attributes: self.attributes.to_proto(),
            observers: self.observers.to_wire(),
        }
    }
}

/// The founding document of a coalition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Genesis {
    /// Coalition display name.
    pub name: String,
    /// Rules.
    pub charter: Charter,
    /// Founding members, sorted by key, no key twice.
    pub founders: Vec<Member>,
    /// Creation time, ms since 1970.
    pub created_at_ms: u64,
    /// Distinguishes otherwise equal geneses.
    pub nonce: Vec<u8>,
}

impl Genesis {
    /// Parses and checks a genesis body.
    pub fn from_body(body: &[u8]) -> Result<Self, Rejection> {
        Self::from_body_with_threads(body, 1)
    }

    /// As [`Genesis::from_body`], parsing founder keys (a point decompression
    /// each) on up to `threads` threads when there are many. The verdict,
    /// including which founder a refusal names, is the sequential one.
    pub(crate) fn from_body_with_threads(body: &[u8], threads: usize) -> Result<Self, Rejection> {
        let g: pb::Genesis = decode_canonical(body, "genesis body")?;
        text("coalition name", &g.name, 1, MAX_NAME_BYTES, true)?;
        if g.founders.is_empty() || g.founders.len() > MAX_MEMBERS {
            return Err(Rejection::InvalidField {
                field: "founders",
                reason: format!("must list 1 to {MAX_MEMBERS} members, lists {}", g.founders.len()),
            });
        }
        if g.nonce.len() > MAX_NONCE_BYTES {
            return Err(Rejection::InvalidField {
                field: "nonce",
                reason: format!("must be at most {MAX_NONCE_BYTES} bytes"),
            });
        }
        let mut founders = Vec::with_capacity(g.founders.len());
        for m in parse_members(g.founders, threads) {
            let m = m?;
            if founders.last().is_some_and(|p: &Member| p.key >= m.key) {
                return Err(Rejection::InvalidField {
                    field: "founders",
                    reason: format!("must be sorted by trust key with no key twice (at {})", m.key),
                });
            }
            founders.push(m);
        }
        let charter = Charter::from_proto(g.charter)?;
        for m in &founders {
            m.attributes.check_values(&charter.attributes, &format!("founder {}", m.key))?;
        }
        Ok(Genesis {
            name: g.name,
            charter,
            founders,
            created_at_ms: time("genesis created_at_ms", g.created_at_ms)?,
            nonce: g.nonce,
        })
    }

    /// The canonical body encoding. Founders are sorted here, so a genesis
    /// built in any order encodes the same way.
    pub fn to_body(&self) -> Vec<u8> {
        let mut founders: Vec<pb::Member> = self.founders.iter().map(Member::to_proto).collect();
        founders.sort_by(|a, b| a.trust_key.cmp(&b.trust_key));
        pb::Genesis {
            name: self.name.clone(),
            charter: self.charter.to_proto(),
            founders,
            created_at_ms: self.created_at_ms,
            nonce: self.nonce.clone(),
        }
        .encode_to_vec()
    }
}

/// Below this many members, threads cost more than they save.
const PARALLEL_MEMBERS: usize = 256;

/// [`Member::from_proto`] of every member, in order. Parses all of them even
/// if an early one fails, so the caller must take the first error in order.
fn parse_members(members: Vec<pb::Member>, threads: usize) -> Vec<Result<Member, Rejection>> {
    crate::parallel::map_in_threads(members, threads, PARALLEL_MEMBERS, Member::from_proto)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adoption_rule_thresholds() {
        let majority = AdoptionRule::default();
        assert_eq!(majority.required(1), 1);
        assert_eq!(majority.required(2), 2);
        assert_eq!(majority.required(3), 2);
        assert_eq!(majority.required(4), 3);
        assert_eq!(majority.required(3000), 1501);
        let all = AdoptionRule::new(1, 1).unwrap();
        assert_eq!(all.required(5), 5);
        let two_thirds = AdoptionRule::new(2, 3).unwrap();
        assert_eq!(two_thirds.required(9), 7);
        let any = AdoptionRule::new(0, 1).unwrap();
        assert_eq!(any.required(9), 1);
        assert!(AdoptionRule::new(3, 2).is_err());
        assert!(AdoptionRule::new(1, 0).is_err());
        assert_eq!(AdoptionRule::new(1, 1).unwrap().required(MAX_MEMBERS), MAX_MEMBERS);
    }

    #[test]
    fn parallel_founder_parsing_names_the_same_founder() {
        let mut keys: Vec<[u8; 32]> = (0..600u32).map(|i| *crate::testkit::member_key(i).public().as_bytes()).collect();
        keys.sort();
        let genesis = |keys: &[[u8; 32]]| pb::Genesis {
            name: "G".into(),
            charter: None,
            founders: keys
                .iter()
                .map(|k| pb::Member {
                    trust_key: k.to_vec(),
                    name: "t".into(),
                    external_id: String::new(),
                    attributes: None,
                })
                .collect(),
            created_at_ms: 1,
            nonce: vec![],
        };
        let ok = genesis(&keys).encode_to_vec();
        let seq = Genesis::from_body_with_threads(&ok, 1).unwrap();
        for threads in [2, 3, 7] {
            assert_eq!(Genesis::from_body_with_threads(&ok, threads).unwrap(), seq);
        }
        // A bad key late and a sort fault early: the early fault is named;
        // a bad name before a bad key: the name.
        let mut g = genesis(&keys);
        g.founders[500].trust_key = vec![0; 32];
        g.founders[500].trust_key[0] = 1; // the identity, small order
        g.founders.swap(10, 11);
        let mut h = genesis(&keys);
        h.founders[450].name.clear();
        h.founders[460].trust_key.truncate(5);
        let mut k = genesis(&keys);
        k.founders[599].trust_key = vec![0xff; 32];
        for bad in [g, h, k] {
            let body = bad.encode_to_vec();
            let want = Genesis::from_body_with_threads(&body, 1).unwrap_err();
            for threads in [2, 3, 7] {
                assert_eq!(Genesis::from_body_with_threads(&body, threads).unwrap_err(), want);
            }
        }
    }
}

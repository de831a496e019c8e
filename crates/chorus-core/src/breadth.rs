//! Breadth: which attribute values a proposal's endorsers show, whether
//! they meet the breadth rules of the charter rule it is adopted under, and
//! the tally broken down by attribute.
//!
//! A member's values are read under the charter of the proposal's roster
//! version ([`AttributeSets::value_of`]): a region, phase or trust type
//! outside that charter's set, and anything undeclared, count as not
//! declared. Both breadth conditions (distinct values, each named value)
//! only grow with the set of endorsers, so adoption stays monotone in the
//! endorsements that count, and everything here is a pure function of its
//! inputs.

use std::collections::BTreeMap;
use std::fmt;

use crate::coalition::Roster;
use crate::decision::RuleKind;
use crate::keys::PublicKey;
use crate::objects::{Attribute, AttributeSets, BreadthRule, Charter, Member, Stance};

/// One breadth rule with the number of endorsers showing each value of its
/// attribute (values with no endorser are left out). Kept up to date in a
/// [`crate::Tally`] as stances arrive.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BreadthCount {
    /// The rule.
    pub rule: BreadthRule,
    /// Declared value (in the charter's set) -> endorsers declaring it;
    /// never zero.
    pub endorsers: BTreeMap<String, usize>,
}

/// Why the endorsers do not meet a breadth rule.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreadthShortfall {
    /// Fewer distinct declared values than the rule needs.
    TooFewDistinct {
        /// The attribute.
        attribute: Attribute,
        /// Distinct values needed.
        need: usize,
        /// Distinct values the endorsers show.
        have: usize,
    },
    /// No endorser declares a value the rule names.
    Missing {
        /// The attribute.
        attribute: Attribute,
        /// The value (first missing one in the rule's order).
        value: String,
    },
}

impl fmt::Display for BreadthShortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreadthShortfall::TooFewDistinct { attribute, need, have } => {
                write!(f, "needs endorsers from at least {need} distinct {}, has {have}", attribute.plural())
            }
            BreadthShortfall::Missing { attribute, value } => {
                write!(f, "needs an endorser with {} {value:?}, has none", attribute.name())
            }
        }
    }
}

impl BreadthCount {
    /// No endorser yet.
    pub fn new(rule: BreadthRule) -> Self {
        BreadthCount { rule, endorsers: BTreeMap::new() }
    }

    /// Counts (`sign` 1) or uncounts (-1) one endorsing member.
    pub(crate) fn add(&mut self, sets: &AttributeSets, member: &Member, sign: isize) {
        let Some(value) = sets.value_of(&member.attributes, self.rule.attribute) else { return };
        let n = self.endorsers.entry(value.clone()).or_default();
        *n = n.wrapping_add_signed(sign);
        if *n == 0 {
            self.endorsers.remove(&value);
        }
    }

    /// The first unmet condition: too few distinct values, then the first
    /// named value with no endorser. `None` when the rule is met.
    pub fn shortfall(&self) -> Option<BreadthShortfall> {
        let mut missing = self.rule.each_of.iter().filter(|v| !self.endorsers.contains_key(*v));
        first_shortfall(&self.rule, self.endorsers.len(), missing.next())
    }

    /// The rule's state for people and views.
    pub fn status(&self) -> BreadthStatus {
        BreadthStatus {
            rule: self.rule.clone(),
            distinct: self.endorsers.len(),
            missing: self.rule.each_of.iter().filter(|v| !self.endorsers.contains_key(*v)).cloned().collect(),
            met: self.shortfall().is_none(),
        }
    }
}

/// One breadth rule and how far the endorsers meet it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BreadthStatus {
    /// The rule.
    pub rule: BreadthRule,
    /// Distinct declared values the endorsers show.
    pub distinct: usize,
    /// Values of `each_of` no endorser declares, in the rule's order.
    pub missing: Vec<String>,
    /// True when the rule is met.
    pub met: bool,
}

impl BreadthStatus {
    /// The first unmet condition, exactly as [`BreadthCount::shortfall`]
    /// gives it for the same endorsers: too few distinct values, then the
    /// first named value with no endorser. `None` when the rule is met.
    pub fn shortfall(&self) -> Option<BreadthShortfall> {
        first_shortfall(&self.rule, self.distinct, self.missing.first())
    }
}

/// The first unmet condition of `rule` for endorsers showing `distinct`
/// declared values, `first_missing` being the first value of `each_of`
/// (in the rule's order) none of them shows.
fn first_shortfall(rule: &BreadthRule, distinct: usize, first_missing: Option<&String>) -> Option<BreadthShortfall> {
    let attribute = rule.attribute;
    let need = rule.min_distinct as usize;
    if distinct < need {
        return Some(BreadthShortfall::TooFewDistinct { attribute, need, have: distinct });
    }
    Some(BreadthShortfall::Missing { attribute, value: first_missing?.clone() })
}

/// Members of one attribute value (or of none declared) by effective stance.
/// Read back as well as written: the control interface and the HTTP API
/// send these rows as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValueTally {
    /// The value; `None` is the bucket "not declared" (always the last row).
    pub value: Option<String>,
    /// Members whose effective stance is endorse.
    pub endorse: usize,
    /// ... object.
    pub object: usize,
    /// ... abstain.
    pub abstain: usize,
    /// Members with no counted stance.
    pub silent: usize,
}

impl ValueTally {
    fn count(&mut self, stance: Option<Stance>) {
        match stance {
            Some(Stance::Endorse) => self.endorse += 1,
            Some(Stance::Object) => self.object += 1,
            Some(Stance::Abstain) => self.abstain += 1,
            None => self.silent += 1,
        }
    }

    /// Members in this bucket.
    pub fn members(&self) -> usize {
        self.endorse + self.object + self.abstain + self.silent
    }
}

/// A proposal's tally broken down by attribute under its roster version:
/// for each attribute, every value of the charter's set in set order (size
/// bands in band order), present even at zero, then "not declared"; the
/// endorsers' schools and pupils; and the breadth rules of the rule the
/// proposal is adopted under.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Breakdown {
    /// The charter rule the proposal is adopted under.
    pub rule: RuleKind,
    /// Members of the roster version.
    pub members: usize,
    /// Members whose effective stance is endorse.
    pub endorsers: usize,
    /// By region.
    pub region: Vec<ValueTally>,
    /// By phase.
    pub phase: Vec<ValueTally>,
    /// By trust type.
    pub trust_type: Vec<ValueTally>,
    /// By size band (label of the band of the declared number of schools).
    pub size_band: Vec<ValueTally>,
    /// Schools run by the endorsers (undeclared count as 0).
    pub endorser_schools: u64,
    /// Endorsers that declare their number of schools.
    pub endorsers_declaring_schools: usize,
    /// Pupils of the endorsers (undeclared count as 0).
    pub endorser_pupils: u64,
    /// Endorsers that declare their number of pupils.
    pub endorsers_declaring_pupils: usize,
    /// Each breadth rule of the rule, in charter order, and whether it is met.
    pub breadth: Vec<BreadthStatus>,
}

impl Breakdown {
    /// The rows of one attribute.
    pub fn by(&self, attribute: Attribute) -> &[ValueTally] {
        match attribute {
            Attribute::Region => &self.region,
            Attribute::Phase => &self.phase,
            Attribute::TrustType => &self.trust_type,
            Attribute::SizeBand => &self.size_band,
        }
    }

    /// True when every breadth rule is met (and when there is none).
    pub fn breadth_met(&self) -> bool {
        self.breadth.iter().all(|b| b.met)
    }

    /// Distinct declared values of `attribute` among the endorsers.
    pub fn endorser_values(&self, attribute: Attribute) -> usize {
        self.by(attribute).iter().filter(|v| v.value.is_some() && v.endorse > 0).count()
    }

    /// Values in the charter's set of `attribute` (its rows but "not
    /// declared").
    pub fn set_size(&self, attribute: Attribute) -> usize {
        self.by(attribute).iter().filter(|v| v.value.is_some()).count()
    }

    /// True when the coalition uses attributes here: a breadth rule, a
    /// region, phase or trust type set, or a member declaring any value
    /// (size bands always exist, so they count only once someone declares
    /// schools). False for a coalition without attributes, whose tallies
    /// and certificates read as they did before breadth.
    pub fn uses_attributes(&self) -> bool {
        let shown = |a: Attribute| {
            let declared = self.by(a).iter().any(|r| r.value.is_some() && r.members() > 0);
            declared || (a != Attribute::SizeBand && self.set_size(a) > 0)
        };
        !self.breadth.is_empty()
            || Attribute::ALL.into_iter().any(shown)
            || self.endorsers_declaring_schools > 0
            || self.endorsers_declaring_pupils > 0
    }

    /// [`endorsed_sentence`] of these endorsers: regions when the charter
    /// has a region set, schools and pupils when an endorser declares them.
    pub fn endorsed_line(&self) -> String {
        let regions = self.set_size(Attribute::Region);
        endorsed_sentence(
            self.endorsers,
            self.members,
            (regions > 0).then(|| (self.endorser_values(Attribute::Region), regions)),
            (self.endorsers_declaring_schools > 0).then_some(self.endorser_schools),
            (self.endorsers_declaring_pupils > 0).then_some(self.endorser_pupils),
        )
    }

    /// [`breadth_rule_sentence`] of each breadth rule, in charter order.
    pub fn rule_lines(&self) -> Vec<String> {
        self.breadth
            .iter()
            .map(|b| {
                let a = b.rule.attribute;
                breadth_rule_sentence(
                    a.plural(),
                    b.rule.min_distinct,
                    &b.rule.each_of,
                    self.set_size(a),
                    b.distinct,
                    &b.missing,
                    b.met,
                )
            })
            .collect()
    }
}

/// `n` with a comma between groups of three digits: "198,000".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The breadth of a set of endorsers in one sentence, as `chorus verify`
/// and the in-browser verifier print it: "endorsed by 34 of 52 member
/// trusts, from 8 of 9 regions, running 412 schools with 198,000 pupils".
/// `regions` is (distinct regions of the endorsers, regions in the
/// charter's set), `schools` and `pupils` the endorsers' totals; each part
/// is left out when `None`.
pub fn endorsed_sentence(
    endorsers: usize,
    members: usize,
    regions: Option<(usize, usize)>,
    schools: Option<u64>,
    pupils: Option<u64>,
) -> String {
    let mut s = format!("endorsed by {endorsers} of {members} member trusts");
    if let Some((have, of)) = regions {
        s.push_str(&format!(", from {have} of {of} regions"));
    }
    if let Some(n) = schools {
        s.push_str(&format!(", running {} schools", thousands(n)));
    }
    if let Some(n) = pupils {
        s.push_str(if schools.is_some() { " with " } else { ", with " });
        s.push_str(&format!("{} pupils", thousands(n)));
    }
    s
}

/// A breadth rule and its state in one line, as `chorus verify`, `chorus
/// show` and the in-browser verifier print it: "from at least 6 of 9
/// regions: 5, not met", "from at least 2 of 3 regions, including
/// "London": 2, missing "London", not met", "an endorser from each of
/// "A", "B" (phases): met". `plural` names the attribute ("regions"),
/// `set` is the size of its set in the charter, `distinct` the distinct
/// values the endorsers show and `missing` the values of `each_of` none of
/// them declares. Values are quoted as Rust's `{:?}` quotes them, so that
/// control and invisible characters show.
pub fn breadth_rule_sentence(
    plural: &str,
    min_distinct: u32,
    each_of: &[String],
    set: usize,
    distinct: usize,
    missing: &[String],
    met: bool,
) -> String {
    let quoted = |values: &[String]| values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ");
    let verdict = if met { "met" } else { "not met" };
    let missing = if missing.is_empty() { String::new() } else { format!("missing {}, ", quoted(missing)) };
    if min_distinct > 0 {
        let including = if each_of.is_empty() { String::new() } else { format!(", including {}", quoted(each_of)) };
        format!("from at least {min_distinct} of {set} {plural}{including}: {distinct}, {missing}{verdict}")
    } else {
        format!("an endorser from each of {} ({plural}): {missing}{verdict}", quoted(each_of))
    }
}

/// The breakdown of a proposal adopted under `rule`, voted under a version
/// with `roster` and `charter`, where `stances` holds the effective stance
/// of each member that has one (entries of non-members are ignored).
pub fn breakdown(
    roster: &Roster,
    charter: &Charter,
    rule: RuleKind,
    stances: &BTreeMap<PublicKey, Stance>,
) -> Breakdown {
    let sets = &charter.attributes;
    let rows = |attribute: Attribute| -> Vec<ValueTally> {
        let mut rows: Vec<ValueTally> = sets
            .values(attribute)
            .into_iter()
            .map(|v| ValueTally { value: Some(v), ..ValueTally::default() })
            .collect();
        rows.push(ValueTally::default());
        rows
    };
    let mut by: Vec<Vec<ValueTally>> = Attribute::ALL.into_iter().map(rows).collect();
    let mut b = Breakdown {
        rule,
        members: roster.len(),
        endorsers: 0,
        region: Vec::new(),
        phase: Vec::new(),
        trust_type: Vec::new(),
        size_band: Vec::new(),
        endorser_schools: 0,
        endorsers_declaring_schools: 0,
        endorser_pupils: 0,
        endorsers_declaring_pupils: 0,
        breadth: Vec::new(),
    };
    for m in roster.members() {
        let stance = stances.get(&m.key).copied();
        for (rows, attribute) in by.iter_mut().zip(Attribute::ALL) {
            let row = match sets.value_of(&m.attributes, attribute) {
                // A value of the set: its row (sets are small).
                Some(v) => rows.iter().position(|r| r.value.as_deref() == Some(v.as_str())),
                None => None,
            };
            let last = rows.len() - 1;
            rows[row.unwrap_or(last)].count(stance);
        }
        if stance == Some(Stance::Endorse) {
            b.endorsers += 1;
            if let Some(s) = m.attributes.schools {
                b.endorser_schools += u64::from(s);
                b.endorsers_declaring_schools += 1;
            }
            if let Some(p) = m.attributes.pupils {
                b.endorser_pupils += u64::from(p);
                b.endorsers_declaring_pupils += 1;
            }
        }
    }
    let mut by = by.into_iter();
    b.region = by.next().unwrap_or_default();
    b.phase = by.next().unwrap_or_default();
    b.trust_type = by.next().unwrap_or_default();
    b.size_band = by.next().unwrap_or_default();
    // A breadth count is the endorse column of its attribute's rows (the
    // rows of declared values, where it is not zero): the same
    // `AttributeSets::value_of` placed each endorser in both, so the
    // verdict here is the one a Tally's counts give.
    b.breadth = charter
        .breadth
        .of(rule)
        .iter()
        .map(|r| {
            let endorsers = b
                .by(r.attribute)
                .iter()
                .filter(|row| row.endorse > 0)
                .filter_map(|row| Some((row.value.clone()?, row.endorse)))
                .collect();
            BreadthCount { rule: r.clone(), endorsers }.status()
        })
        .collect();
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::MemberAttributes;

    fn member(i: u32, region: Option<&str>, schools: Option<u32>) -> Member {
        Member {
            key: crate::testkit::member_key(i).public(),
            name: format!("T{i}"),
            external_id: None,
            attributes: MemberAttributes { region: region.map(Into::into), schools, ..MemberAttributes::default() },
        }
    }

    fn sets() -> AttributeSets {
        AttributeSets { regions: vec!["East".into(), "London".into()], ..AttributeSets::default() }
    }

    #[test]
    fn counts_add_and_remove_symmetrically() {
        let rule = BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec!["London".into()] };
        let mut c = BreadthCount::new(rule);
        let (east, london, mars) =
            (member(1, Some("East"), None), member(2, Some("London"), None), member(3, Some("Mars"), None));
        c.add(&sets(), &east, 1);
        c.add(&sets(), &mars, 1);
        assert_eq!(
            c.shortfall(),
            Some(BreadthShortfall::TooFewDistinct { attribute: Attribute::Region, need: 2, have: 1 })
        );
        assert_eq!(c.status().shortfall(), c.shortfall());
        c.add(&sets(), &london, 1);
        assert_eq!(c.shortfall(), None);
        assert_eq!(c.status().shortfall(), None);
        assert!(c.status().met);
        c.add(&sets(), &london, -1);
        c.add(&sets(), &mars, -1);
        assert_eq!(c.endorsers.len(), 1, "a value with no endorser left is dropped");
        c.add(&sets(), &east, -1);
        assert_eq!(c, BreadthCount::new(c.rule.clone()));
    }

    #[test]
    fn distinct_values_are_reported_before_missing_ones() {
        let rule = BreadthRule { attribute: Attribute::Region, min_distinct: 1, each_of: vec!["London".into()] };
        let mut c = BreadthCount::new(rule);
        assert!(matches!(c.shortfall(), Some(BreadthShortfall::TooFewDistinct { .. })));
        c.add(&sets(), &member(1, Some("East"), None), 1);
        let s = c.shortfall().unwrap();
        assert_eq!(s.to_string(), "needs an endorser with region \"London\", has none");
        assert_eq!(c.status().shortfall(), Some(s), "the status gives the count's shortfall");
        assert_eq!(c.status().missing, ["London"]);
    }

    #[test]
    fn breakdown_lists_every_value_then_not_declared() {
        let members = [member(1, Some("London"), Some(3)), member(2, None, Some(40)), member(3, Some("Mars"), None)];
        let roster = Roster::new(
            crate::id::ObjectId([0; 32]),
            members.iter().map(|m| (*m.key.as_bytes(), m.clone())).collect(),
            BTreeMap::new(),
        );
        let charter = Charter { attributes: sets(), ..Charter::default() };
        let stances: BTreeMap<PublicKey, Stance> =
            [(members[0].key, Stance::Endorse), (members[1].key, Stance::Object)].into_iter().collect();
        let b = breakdown(&roster, &charter, RuleKind::Positions, &stances);
        let region: Vec<(Option<&str>, usize, usize, usize)> =
            b.region.iter().map(|r| (r.value.as_deref(), r.endorse, r.object, r.silent)).collect();
        assert_eq!(region, [(Some("East"), 0, 0, 0), (Some("London"), 1, 0, 0), (None, 0, 1, 1)]);
        let bands: Vec<(Option<&str>, usize)> = b.size_band.iter().map(|r| (r.value.as_deref(), r.members())).collect();
        assert_eq!(
            bands,
            [(Some("1"), 0), (Some("2-5"), 1), (Some("6-15"), 0), (Some("16-30"), 0), (Some("31+"), 1), (None, 1)]
        );
        assert_eq!((b.members, b.endorsers, b.endorser_schools, b.endorsers_declaring_schools), (3, 1, 3, 1));
        assert_eq!((b.endorser_pupils, b.endorsers_declaring_pupils), (0, 0));
        assert!(b.breadth_met());
    }

    #[test]
    fn sentences_read_as_chorus_verify_prints_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(198_000), "198,000");
        assert_eq!(thousands(1_234_567_890), "1,234,567,890");
        assert_eq!(endorsed_sentence(3, 4, None, None, None), "endorsed by 3 of 4 member trusts");
        assert_eq!(
            endorsed_sentence(34, 52, Some((8, 9)), Some(412), Some(198_000)),
            "endorsed by 34 of 52 member trusts, from 8 of 9 regions, running 412 schools with 198,000 pupils"
        );
        assert_eq!(
            endorsed_sentence(1, 2, None, None, Some(1_500)),
            "endorsed by 1 of 2 member trusts, with 1,500 pupils"
        );
        let none: &[String] = &[];
        assert_eq!(
            breadth_rule_sentence("regions", 6, none, 9, 5, none, false),
            "from at least 6 of 9 regions: 5, not met"
        );
        let one = ["1".to_string(), "31+".to_string()];
        assert_eq!(
            breadth_rule_sentence("size bands", 1, &one, 5, 2, &one[..1], false),
            "from at least 1 of 5 size bands, including \"1\", \"31+\": 2, missing \"1\", not met"
        );
        let london = ["London".to_string()];
        assert_eq!(
            breadth_rule_sentence("regions", 0, &london, 3, 2, none, true),
            "an endorser from each of \"London\" (regions): met"
        );
    }

    #[test]
    fn a_breakdown_words_its_breadth_only_when_attributes_are_used() {
        let members = [member(1, Some("London"), Some(3)), member(2, Some("East"), Some(40)), member(3, None, None)];
        let roster = Roster::new(
            crate::id::ObjectId([0; 32]),
            members.iter().map(|m| (*m.key.as_bytes(), m.clone())).collect(),
            BTreeMap::new(),
        );
        let stances: BTreeMap<PublicKey, Stance> =
            [(members[0].key, Stance::Endorse), (members[1].key, Stance::Endorse)].into_iter().collect();
        let mut charter = Charter { attributes: sets(), ..Charter::default() };
        charter.breadth.positions =
            vec![BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec![] }];
        let b = breakdown(&roster, &charter, RuleKind::Positions, &stances);
        assert!(b.uses_attributes());
        assert_eq!(b.endorsed_line(), "endorsed by 2 of 3 member trusts, from 2 of 2 regions, running 43 schools");
        assert_eq!(b.rule_lines(), ["from at least 2 of 2 regions: 2, met"]);

        let plain: Vec<Member> =
            members.iter().map(|m| Member { attributes: MemberAttributes::default(), ..m.clone() }).collect();
        let roster = Roster::new(
            crate::id::ObjectId([0; 32]),
            plain.iter().map(|m| (*m.key.as_bytes(), m.clone())).collect(),
            BTreeMap::new(),
        );
        let b = breakdown(&roster, &Charter::default(), RuleKind::Positions, &stances);
        assert!(!b.uses_attributes());
        assert_eq!(b.endorsed_line(), "endorsed by 2 of 3 member trusts");
        assert!(b.rule_lines().is_empty());
    }
}

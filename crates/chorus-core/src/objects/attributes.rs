//! Member attributes, the charter's value sets, size bands and breadth
//! rules: their body rules and canonical encoding.
//!
//! Body rules need nothing but the object; whether a declared value is in
//! the charter's set is checked where the charter is known (the genesis for
//! founders, the pinned roster version for admissions and amendments,
//! the charter itself for its breadth rules).

use std::fmt;

use chorus_proto::v1 as pb;

use super::text;
use crate::error::Rejection;
use crate::limits::*;

/// An attribute a breadth rule or a tally by attribute is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    /// The member's region, from the charter's `regions`.
    Region,
    /// The member's phase, from the charter's `phases`.
    Phase,
    /// The member's trust type, from the charter's `trust_types`.
    TrustType,
    /// The size band of the member's number of schools, from the charter's
    /// `school_bands`.
    SizeBand,
}

impl Attribute {
    /// Every attribute, in wire-number order.
    pub const ALL: [Attribute; 4] = [Attribute::Region, Attribute::Phase, Attribute::TrustType, Attribute::SizeBand];

    /// The number carried in `BreadthRule.attribute`.
    pub fn number(self) -> u32 {
        match self {
            Attribute::Region => 1,
            Attribute::Phase => 2,
            Attribute::TrustType => 3,
            Attribute::SizeBand => 4,
        }
    }

    /// The attribute with this wire number, if any.
    pub fn from_number(n: u32) -> Option<Self> {
        Attribute::ALL.into_iter().find(|a| a.number() == n)
    }

    /// Name for people: "region", "phase", "trust type", "size band".
    pub fn name(self) -> &'static str {
        match self {
            Attribute::Region => "region",
            Attribute::Phase => "phase",
            Attribute::TrustType => "trust type",
            Attribute::SizeBand => "size band",
        }
    }

    /// Plural name for people: "regions", ..., "size bands".
    pub fn plural(self) -> &'static str {
        match self {
            Attribute::Region => "regions",
            Attribute::Phase => "phases",
            Attribute::TrustType => "trust types",
            Attribute::SizeBand => "size bands",
        }
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection::InvalidField { field, reason: reason.into() }
}

/// A list of attribute values or labels: at most `max`, each 1..=64 bytes
/// on a single line, strictly ascending by bytes.
fn value_list(field: &'static str, list: &[String], max: usize) -> Result<(), Rejection> {
    if list.len() > max {
        return Err(invalid(field, format!("lists {} values, over the limit of {max}", list.len())));
    }
    for (i, v) in list.iter().enumerate() {
        text(field, v, 1, MAX_ATTRIBUTE_VALUE_BYTES, true)?;
        if i > 0 && list[i - 1].as_bytes() >= v.as_bytes() {
            return Err(invalid(
                field,
                format!("must be sorted by bytes with no value twice ({:?} comes after {:?})", v, list[i - 1]),
            ));
        }
    }
    Ok(())
}

/// What a member trust declares about itself. `None` (and an empty label
/// list) means not declared. Parsed values are within bounds: text values
/// 1..=64 bytes on one line, `schools` 1..=10,000, `pupils` 1..=10,000,000,
/// labels sorted with none twice.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemberAttributes {
    /// Region, a value of the charter's `regions`.
    pub region: Option<String>,
    /// Phase, a value of the charter's `phases`.
    pub phase: Option<String>,
    /// Trust type, a value of the charter's `trust_types`.
    pub trust_type: Option<String>,
    /// Number of schools the trust runs.
    pub schools: Option<u32>,
    /// Number of pupils.
    pub pupils: Option<u32>,
    /// Free labels ("la:Leeds"), sorted by bytes, none twice.
    pub labels: Vec<String>,
}

impl MemberAttributes {
    /// True when nothing is declared.
    pub fn is_empty(&self) -> bool {
        *self == MemberAttributes::default()
    }

    /// The declared text value of a set attribute (region, phase, trust
    /// type), whether or not it is in any set; `None` for size band.
    pub fn text(&self, attribute: Attribute) -> Option<&str> {
        match attribute {
            Attribute::Region => self.region.as_deref(),
            Attribute::Phase => self.phase.as_deref(),
            Attribute::TrustType => self.trust_type.as_deref(),
            Attribute::SizeBand => None,
        }
    }

    /// Body rules. Absent attributes are nothing declared; a present
    /// message must declare something, so that one meaning has one encoding.
    pub(crate) fn from_proto(a: Option<pb::MemberAttributes>) -> Result<Self, Rejection> {
        let Some(a) = a else { return Ok(MemberAttributes::default()) };
        if a == pb::MemberAttributes::default() {
            return Err(invalid("member attributes", "are present but declare nothing; leave the field out"));
        }
        let value = |field, s: String| -> Result<Option<String>, Rejection> {
            if s.is_empty() {
                return Ok(None);
            }
            text(field, &s, 1, MAX_ATTRIBUTE_VALUE_BYTES, true)?;
            Ok(Some(s))
        };
        let region = value("member region", a.region)?;
        let phase = value("member phase", a.phase)?;
        let trust_type = value("member trust type", a.trust_type)?;
        if a.schools > MAX_SCHOOLS {
            return Err(invalid(
                "member schools",
                format!("is {}, over the limit of {MAX_SCHOOLS} (0 means not declared)", a.schools),
            ));
        }
        if a.pupils > MAX_PUPILS {
            return Err(invalid(
                "member pupils",
                format!("is {}, over the limit of {MAX_PUPILS} (0 means not declared)", a.pupils),
            ));
        }
        value_list("member labels", &a.labels, MAX_LABELS)?;
        Ok(MemberAttributes {
            region,
            phase,
            trust_type,
            schools: (a.schools != 0).then_some(a.schools),
            pupils: (a.pupils != 0).then_some(a.pupils),
            labels: a.labels,
        })
    }

    /// Absent when nothing is declared.
    pub(crate) fn to_proto(&self) -> Option<pb::MemberAttributes> {
        if self.is_empty() {
            return None;
        }
        Some(pb::MemberAttributes {
            region: self.region.clone().unwrap_or_default(),
            phase: self.phase.clone().unwrap_or_default(),
            trust_type: self.trust_type.clone().unwrap_or_default(),
            schools: self.schools.unwrap_or(0),
            pupils: self.pupils.unwrap_or(0),
            labels: self.labels.clone(),
        })
    }

    /// Every declared region, phase and trust type is a value of `sets`
    /// (else `InvalidField` naming the attribute and the set). `whose`
    /// names the member for the message.
    pub fn check_values(&self, sets: &AttributeSets, whose: &str) -> Result<(), Rejection> {
        for (attribute, field) in [
            (Attribute::Region, "member region"),
            (Attribute::Phase, "member phase"),
            (Attribute::TrustType, "member trust type"),
        ] {
            if let Some(v) = self.text(attribute) {
                if !sets.contains(attribute, v) {
                    return Err(invalid(
                        field,
                        format!(
                            "{whose} declares {v:?}, which is not one of the charter's {} ({}); declare one of them or none",
                            attribute.plural(),
                            sets.describe(attribute)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The coalition's value sets for member attributes, and its size bands.
/// Parsed sets are within bounds: at most 64 values each, each 1..=64 bytes
/// on one line, sorted by bytes, none twice; `school_bands` empty (the
/// default bands) or 1..=16 strictly ascending lower bounds from 1, each at
/// most 10,000.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AttributeSets {
    /// Regions.
    pub regions: Vec<String>,
    /// Phases.
    pub phases: Vec<String>,
    /// Trust types.
    pub trust_types: Vec<String>,
    /// Lower bounds of the size bands by number of schools, as carried;
    /// empty means [`DEFAULT_SCHOOL_BANDS`] (see [`AttributeSets::bands`]).
    pub school_bands: Vec<u32>,
}

impl AttributeSets {
    /// True when every set is empty and the bands are the default ones.
    pub fn is_empty(&self) -> bool {
        *self == AttributeSets::default()
    }

    /// The lower bounds of the size bands in force.
    pub fn bands(&self) -> &[u32] {
        if self.school_bands.is_empty() {
            &DEFAULT_SCHOOL_BANDS
        } else {
            &self.school_bands
        }
    }

    /// The label of every band, in band order: "N" for a band of one
    /// value, "N-M" for a closed band, "N+" for the last.
    pub fn band_labels(&self) -> Vec<String> {
        let b = self.bands();
        (0..b.len()).map(|i| band_label(b, i)).collect()
    }

    /// Index of the band of a member running `schools` schools (`None`
    /// for 0, not declared).
    pub fn band_index(&self, schools: u32) -> Option<usize> {
        if schools == 0 {
            return None;
        }
        // Bands start at 1, so some lower bound is <= schools.
        self.bands().iter().rposition(|&lo| lo <= schools)
    }

    /// Label of the band of a member running `schools` schools.
    pub fn band_of(&self, schools: u32) -> Option<String> {
        self.band_index(schools).map(|i| band_label(self.bands(), i))
    }

    /// The values of an attribute's set, in set order (band labels, in
    /// band order, for size band).
    pub fn values(&self, attribute: Attribute) -> Vec<String> {
        match attribute {
            Attribute::Region => self.regions.clone(),
            Attribute::Phase => self.phases.clone(),
            Attribute::TrustType => self.trust_types.clone(),
            Attribute::SizeBand => self.band_labels(),
        }
    }

    /// Number of values of an attribute's set.
    pub fn len(&self, attribute: Attribute) -> usize {
        match attribute {
            Attribute::Region => self.regions.len(),
            Attribute::Phase => self.phases.len(),
            Attribute::TrustType => self.trust_types.len(),
            Attribute::SizeBand => self.bands().len(),
        }
    }

    /// True when `value` is in the set of `attribute`.
    pub fn contains(&self, attribute: Attribute, value: &str) -> bool {
        let sorted = |set: &[String]| set.binary_search_by(|v| v.as_bytes().cmp(value.as_bytes())).is_ok();
        match attribute {
            Attribute::Region => sorted(&self.regions),
            Attribute::Phase => sorted(&self.phases),
            Attribute::TrustType => sorted(&self.trust_types),
            Attribute::SizeBand => self.band_labels().iter().any(|l| l == value),
        }
    }

    /// The value of `attribute` that `member` declares, as it counts under
    /// these sets: a declared region, phase or type only if it is in the
    /// set (a value that fell out of the set reads as not declared), the
    /// band label of a declared number of schools.
    pub fn value_of(&self, member: &MemberAttributes, attribute: Attribute) -> Option<String> {
        match attribute {
            Attribute::SizeBand => member.schools.and_then(|s| self.band_of(s)),
            _ => member.text(attribute).filter(|v| self.contains(attribute, v)).map(str::to_owned),
        }
    }

    /// The set for messages: its values quoted, or "none defined".
    fn describe(&self, attribute: Attribute) -> String {
        let values = self.values(attribute);
        if values.is_empty() {
            return "none defined".into();
        }
        values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
    }

    /// Body rules. A present message must set something.
    pub(crate) fn from_proto(s: Option<pb::AttributeSets>) -> Result<Self, Rejection> {
        let Some(s) = s else { return Ok(AttributeSets::default()) };
        if s == pb::AttributeSets::default() {
            return Err(invalid("charter attributes", "are present but set nothing; leave the field out"));
        }
        value_list("charter regions", &s.regions, MAX_ATTRIBUTE_VALUES)?;
        value_list("charter phases", &s.phases, MAX_ATTRIBUTE_VALUES)?;
        value_list("charter trust types", &s.trust_types, MAX_ATTRIBUTE_VALUES)?;
        let b = &s.school_bands;
        if !b.is_empty() {
            let bad = |reason: String| Err(invalid("charter school bands", reason));
            if b.len() > MAX_SCHOOL_BANDS {
                return bad(format!("lists {} bands, over the limit of {MAX_SCHOOL_BANDS}", b.len()));
            }
            if b[0] != 1 {
                return bad(format!("must start at 1 (every member with schools has a band), starts at {}", b[0]));
            }
            if let Some(w) = b.windows(2).find(|w| w[0] >= w[1]) {
                return bad(format!("must be strictly ascending ({} comes after {})", w[1], w[0]));
            }
            if let Some(x) = b.iter().find(|&&x| x > MAX_SCHOOLS) {
                return bad(format!("bound {x} is over the limit of {MAX_SCHOOLS}"));
            }
        }
        Ok(AttributeSets {
            regions: s.regions,
            phases: s.phases,
            trust_types: s.trust_types,
            school_bands: s.school_bands,
        })
    }

    /// Absent when every set is empty and the bands are the default.
    pub(crate) fn to_proto(&self) -> Option<pb::AttributeSets> {
        if self.is_empty() {
            return None;
        }
        Some(pb::AttributeSets {
            regions: self.regions.clone(),
            phases: self.phases.clone(),
            trust_types: self.trust_types.clone(),
            school_bands: self.school_bands.clone(),
        })
    }
}

/// Label of band `i` of lower bounds `b`.
fn band_label(b: &[u32], i: usize) -> String {
    match b.get(i + 1) {
        None => format!("{}+", b[i]),
        Some(&next) if next - 1 == b[i] => format!("{}", b[i]),
        Some(&next) => format!("{}-{}", b[i], next - 1),
    }
}

/// A breadth rule of an adoption rule: the endorsing members must show at
/// least `min_distinct` distinct declared values of `attribute`, and every
/// value of `each_of`. Parsed rules require something, name at most 64
/// values sorted by bytes with none twice, and (once checked against their
/// charter) only values of the charter's set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BreadthRule {
    /// The attribute counted.
    pub attribute: Attribute,
    /// Distinct declared values the endorsers must show.
    pub min_distinct: u32,
    /// Values at least one endorser each must declare, sorted by bytes.
    pub each_of: Vec<String>,
}

impl BreadthRule {
    /// Body rules of one breadth rule (`field` names the adoption rule).
    pub(crate) fn from_proto(field: &'static str, r: pb::BreadthRule) -> Result<Self, Rejection> {
        let attribute = Attribute::from_number(r.attribute).ok_or_else(|| {
            invalid(
                field,
                format!("attribute {} is not region (1), phase (2), trust type (3) or size band (4)", r.attribute),
            )
        })?;
        if r.min_distinct > MAX_MIN_DISTINCT {
            return Err(invalid(
                field,
                format!("min_distinct is {}, over the limit of {MAX_MIN_DISTINCT}", r.min_distinct),
            ));
        }
        value_list(field, &r.each_of, MAX_ATTRIBUTE_VALUES)?;
        if r.min_distinct == 0 && r.each_of.is_empty() {
            return Err(invalid(field, "requires nothing (min_distinct 0 and no each_of values); leave it out"));
        }
        Ok(BreadthRule { attribute, min_distinct: r.min_distinct, each_of: r.each_of })
    }

    pub(crate) fn to_proto(&self) -> pb::BreadthRule {
        pb::BreadthRule {
            attribute: self.attribute.number(),
            min_distinct: self.min_distinct,
            each_of: self.each_of.clone(),
        }
    }

    /// The rule can be met under `sets`: `min_distinct` at most the size of
    /// the attribute's set, every `each_of` value in it.
    pub(crate) fn check_against(&self, field: &'static str, sets: &AttributeSets) -> Result<(), Rejection> {
        let a = self.attribute;
        if self.min_distinct as usize > sets.len(a) {
            return Err(invalid(
                field,
                format!(
                    "needs {} distinct {}, but the charter defines only {} ({}); lower min_distinct or add values",
                    self.min_distinct,
                    a.plural(),
                    sets.len(a),
                    sets.describe(a)
                ),
            ));
        }
        if let Some(v) = self.each_of.iter().find(|v| !sets.contains(a, v)) {
            return Err(invalid(
                field,
                format!("each_of names {v:?}, which is not one of the charter's {} ({})", a.plural(), sets.describe(a)),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for BreadthRule {
    /// "endorsers from at least 6 distinct regions, including \"London\"".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.attribute;
        if self.min_distinct > 0 {
            write!(f, "endorsers from at least {} distinct {}", self.min_distinct, a.plural())?;
            if !self.each_of.is_empty() {
                f.write_str(", including ")?;
            }
        } else {
            write!(f, "an endorser with each {} of ", a.name())?;
        }
        let values: Vec<String> = self.each_of.iter().map(|v| format!("{v:?}")).collect();
        f.write_str(&values.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(bands: &[u32]) -> AttributeSets {
        AttributeSets { school_bands: bands.to_vec(), ..AttributeSets::default() }
    }

    #[test]
    fn default_band_labels() {
        let s = AttributeSets::default();
        assert_eq!(s.band_labels(), ["1", "2-5", "6-15", "16-30", "31+"]);
        assert_eq!(s.band_of(0), None);
        assert_eq!(s.band_of(1).as_deref(), Some("1"));
        assert_eq!(s.band_of(2).as_deref(), Some("2-5"));
        assert_eq!(s.band_of(5).as_deref(), Some("2-5"));
        assert_eq!(s.band_of(6).as_deref(), Some("6-15"));
        assert_eq!(s.band_of(30).as_deref(), Some("16-30"));
        assert_eq!(s.band_of(31).as_deref(), Some("31+"));
        assert_eq!(s.band_of(MAX_SCHOOLS).as_deref(), Some("31+"));
        assert!(s.contains(Attribute::SizeBand, "6-15"));
        assert!(!s.contains(Attribute::SizeBand, "6-16"));
    }

    #[test]
    fn custom_band_labels() {
        assert_eq!(sets(&[1]).band_labels(), ["1+"]);
        assert_eq!(sets(&[1, 2, 3, 10]).band_labels(), ["1", "2", "3-9", "10+"]);
        assert_eq!(sets(&[1, 10_000]).band_labels(), ["1-9999", "10000+"]);
    }

    fn pb_sets(bands: &[u32]) -> pb::AttributeSets {
        pb::AttributeSets { school_bands: bands.to_vec(), ..Default::default() }
    }

    #[test]
    fn band_bounds() {
        assert!(AttributeSets::from_proto(Some(pb_sets(&[1, 2, 6]))).is_ok());
        for bad in [&[2u32, 3][..], &[1, 1], &[1, 5, 3], &[1, 10_001]] {
            assert!(AttributeSets::from_proto(Some(pb_sets(bad))).is_err(), "{bad:?}");
        }
        let many: Vec<u32> = (1..=17).collect();
        assert!(AttributeSets::from_proto(Some(pb_sets(&many))).is_err());
        assert!(AttributeSets::from_proto(Some(pb_sets(&many[..16]))).is_ok());
        let e = AttributeSets::from_proto(Some(pb::AttributeSets::default())).unwrap_err();
        assert!(e.to_string().contains("leave the field out"), "{e}");
    }

    #[test]
    fn value_sets_sorted_and_bounded() {
        let with = |regions: &[&str]| pb::AttributeSets {
            regions: regions.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert!(AttributeSets::from_proto(Some(with(&["East", "London"]))).is_ok());
        for bad in [&["London", "East"][..], &["A", "A"], &[""], &["a\nb"]] {
            let e = AttributeSets::from_proto(Some(with(bad))).unwrap_err();
            assert!(e.to_string().starts_with("charter regions:"), "{e}");
        }
        let long = "x".repeat(65);
        assert!(AttributeSets::from_proto(Some(with(&[long.as_str()]))).is_err());
        let names: Vec<String> = (0..65).map(|i| format!("r{i:03}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert!(AttributeSets::from_proto(Some(with(&refs))).is_err());
        assert!(AttributeSets::from_proto(Some(with(&refs[..64]))).is_ok());
    }

    #[test]
    fn member_attribute_bounds() {
        let ok = pb::MemberAttributes { schools: MAX_SCHOOLS, pupils: MAX_PUPILS, ..Default::default() };
        let m = MemberAttributes::from_proto(Some(ok.clone())).unwrap();
        assert_eq!(m.to_proto(), Some(ok.clone()));
        let e = MemberAttributes::from_proto(Some(pb::MemberAttributes { schools: MAX_SCHOOLS + 1, ..ok.clone() }))
            .unwrap_err();
        assert!(e.to_string().starts_with("member schools:"), "{e}");
        let e = MemberAttributes::from_proto(Some(pb::MemberAttributes { pupils: MAX_PUPILS + 1, ..ok.clone() }))
            .unwrap_err();
        assert!(e.to_string().starts_with("member pupils:"), "{e}");
        let labels =
            |l: &[&str]| pb::MemberAttributes { labels: l.iter().map(|s| s.to_string()).collect(), ..ok.clone() };
        assert!(MemberAttributes::from_proto(Some(labels(&["la:Leeds", "x"]))).is_ok());
        assert!(MemberAttributes::from_proto(Some(labels(&["x", "la:Leeds"]))).is_err());
        let many: Vec<String> = (0..17).map(|i| format!("l{i:02}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(MemberAttributes::from_proto(Some(labels(&refs))).is_err());
        assert!(MemberAttributes::from_proto(Some(labels(&refs[..16]))).is_ok());
        assert!(MemberAttributes::from_proto(Some(pb::MemberAttributes::default())).is_err());
        assert_eq!(MemberAttributes::from_proto(None).unwrap(), MemberAttributes::default());
        assert_eq!(MemberAttributes::default().to_proto(), None);
    }

    #[test]
    fn values_outside_the_set_read_as_not_declared() {
        let s = AttributeSets { regions: vec!["East".into(), "London".into()], ..Default::default() };
        let m = MemberAttributes { region: Some("North".into()), schools: Some(7), ..Default::default() };
        assert_eq!(s.value_of(&m, Attribute::Region), None);
        assert_eq!(s.value_of(&m, Attribute::SizeBand).as_deref(), Some("6-15"));
        let e = m.check_values(&s, "trust T").unwrap_err();
        assert!(e.to_string().contains("\"North\", which is not one of the charter's regions"), "{e}");
        let m = MemberAttributes { region: Some("London".into()), ..Default::default() };
        assert_eq!(s.value_of(&m, Attribute::Region).as_deref(), Some("London"));
        assert!(m.check_values(&s, "trust T").is_ok());
    }

    #[test]
    fn breadth_rule_bounds() {
        let rule = |attribute, min_distinct, each_of: &[&str]| pb::BreadthRule {
            attribute,
            min_distinct,
            each_of: each_of.iter().map(|s| s.to_string()).collect(),
        };
        let f = "positions breadth rule";
        assert!(BreadthRule::from_proto(f, rule(1, 6, &[])).is_ok());
        assert!(BreadthRule::from_proto(f, rule(4, 0, &["31+"])).is_ok());
        for bad in [rule(0, 1, &[]), rule(5, 1, &[]), rule(1, 65, &[]), rule(1, 0, &[]), rule(2, 1, &["b", "a"])] {
            let e = BreadthRule::from_proto(f, bad).unwrap_err();
            assert!(e.to_string().starts_with("positions breadth rule:"), "{e}");
        }
        let s = AttributeSets { regions: vec!["East".into(), "London".into()], ..Default::default() };
        let r = BreadthRule::from_proto(f, rule(1, 2, &["London"])).unwrap();
        assert!(r.check_against(f, &s).is_ok());
        assert!(BreadthRule::from_proto(f, rule(1, 3, &[])).unwrap().check_against(f, &s).is_err());
        assert!(BreadthRule::from_proto(f, rule(1, 0, &["North"])).unwrap().check_against(f, &s).is_err());
        assert!(BreadthRule::from_proto(f, rule(4, 5, &["2-5"])).unwrap().check_against(f, &s).is_ok());
        assert_eq!(r.to_string(), "endorsers from at least 2 distinct regions, including \"London\"");
    }
}

//! Tallies by attribute for the control interface, the HTTP API and the
//! `chorus` command: [`BreakdownInfo`] is the core's
//! [`chorus_core::Breakdown`] in a form that is read as well as written
//! (the same JSON), [`BreadthBrief`] its compact form in proposal lists,
//! and both have their lines for people here, so that every command prints
//! them alike.

use chorus_core::{Attribute, Breakdown};

use super::BreadthRuleInfo;

/// Members of one attribute value by effective stance: the core's row,
/// which reads back the JSON it writes.
pub use chorus_core::ValueTally as ValueInfo;

/// One breadth rule and how far the endorsers meet it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BreadthStatusInfo {
    /// The rule.
    pub rule: BreadthRuleInfo,
    /// Distinct declared values the endorsers show.
    pub distinct: usize,
    /// Values of `each_of` no endorser declares.
    #[serde(default)]
    pub missing: Vec<String>,
    /// True when the rule is met.
    pub met: bool,
}

/// A proposal's tally by attribute under its roster version: for region,
/// phase, trust type and size band, every value of the charter's set in set
/// order, then "not declared"; the endorsers' schools and pupils; each
/// breadth rule of the rule the proposal is adopted under.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BreakdownInfo {
    /// The charter rule: `positions`, `membership` or `amendments`.
    pub rule: String,
    /// Members of the roster version.
    pub members: usize,
    /// Members whose effective stance is endorse.
    pub endorsers: usize,
    /// By region.
    #[serde(default)]
    pub region: Vec<ValueInfo>,
    /// By phase.
    #[serde(default)]
    pub phase: Vec<ValueInfo>,
    /// By trust type.
    #[serde(default)]
    pub trust_type: Vec<ValueInfo>,
    /// By size band (number of schools).
    #[serde(default)]
    pub size_band: Vec<ValueInfo>,
    /// Schools run by the endorsers (undeclared count as 0).
    #[serde(default)]
    pub endorser_schools: u64,
    /// Endorsers that declare their number of schools.
    #[serde(default)]
    pub endorsers_declaring_schools: usize,
    /// Pupils of the endorsers (undeclared count as 0).
    #[serde(default)]
    pub endorser_pupils: u64,
    /// Endorsers that declare their number of pupils.
    #[serde(default)]
    pub endorsers_declaring_pupils: usize,
    /// The breadth rules, in charter order.
    #[serde(default)]
    pub breadth: Vec<BreadthStatusInfo>,
}

/// A proposal's breadth in one line of a list: present only when its
/// roster version's charter has breadth rules or value sets.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BreadthBrief {
    /// Breadth rules of the rule the proposal is adopted under.
    pub rules: usize,
    /// Those the endorsers meet.
    pub met: usize,
    /// Distinct regions the endorsers declare.
    pub regions: usize,
    /// Regions in the charter's set.
    pub of_regions: usize,
}

impl BreadthBrief {
    /// "breadth 1/2 met, 5/9 regions" (each part only when it applies).
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        if self.rules > 0 {
            parts.push(format!("breadth {}/{} met", self.met, self.rules));
        }
        if self.of_regions > 0 {
            parts.push(format!("{}/{} regions", self.regions, self.of_regions));
        }
        parts.join(", ")
    }
}

/// The JSON name of an attribute (as the core writes it).
pub fn attribute_key(a: Attribute) -> &'static str {
    match a {
        Attribute::Region => "region",
        Attribute::Phase => "phase",
        Attribute::TrustType => "trust_type",
        Attribute::SizeBand => "size_band",
    }
}

/// The attribute of a JSON name.
pub fn attribute_of(key: &str) -> Option<Attribute> {
    Attribute::ALL.into_iter().find(|a| attribute_key(*a) == key)
}

/// `n` with a comma every three digits: 198,000 (the core's, which the
/// in-browser verifier uses too).
pub use chorus_core::thousands;

impl From<&Breakdown> for BreakdownInfo {
    fn from(b: &Breakdown) -> Self {
        let rows = |a: Attribute| b.by(a).to_vec();
        BreakdownInfo {
            rule: b.rule.name().to_string(),
            members: b.members,
            endorsers: b.endorsers,
            region: rows(Attribute::Region),
            phase: rows(Attribute::Phase),
            trust_type: rows(Attribute::TrustType),
            size_band: rows(Attribute::SizeBand),
            endorser_schools: b.endorser_schools,
            endorsers_declaring_schools: b.endorsers_declaring_schools,
            endorser_pupils: b.endorser_pupils,
            endorsers_declaring_pupils: b.endorsers_declaring_pupils,
            breadth: b
                .breadth
                .iter()
                .map(|s| BreadthStatusInfo {
                    rule: BreadthRuleInfo::from(&s.rule),
                    distinct: s.distinct,
                    missing: s.missing.clone(),
                    met: s.met,
                })
                .collect(),
        }
    }
}

impl BreakdownInfo {
    /// The rows of an attribute.
    pub fn by(&self, a: Attribute) -> &[ValueInfo] {
        match a {
            Attribute::Region => &self.region,
            Attribute::Phase => &self.phase,
            Attribute::TrustType => &self.trust_type,
            Attribute::SizeBand => &self.size_band,
        }
    }

    /// Values in the charter's set of an attribute (the rows but "not
    /// declared").
    pub fn set_size(&self, a: Attribute) -> usize {
        self.by(a).iter().filter(|r| r.value.is_some()).count()
    }

    /// Distinct declared values of an attribute among the endorsers.
    pub fn endorser_values(&self, a: Attribute) -> usize {
        self.by(a).iter().filter(|r| r.value.is_some() && r.endorse > 0).count()
    }

    /// True when every breadth rule is met (and when there is none).
    pub fn breadth_met(&self) -> bool {
        self.breadth.iter().all(|b| b.met)
    }

    /// True when the attribute says something: its charter set has values
    /// (region, phase, trust type) or some member declares a value of it.
    /// Size bands always exist, so they show only once someone declares
    /// schools.
    pub fn shown(&self, a: Attribute) -> bool {
        let declared = self.by(a).iter().any(|r| r.value.is_some() && r.members() > 0);
        declared || (a != Attribute::SizeBand && self.set_size(a) > 0)
    }

    /// True when there is anything to show beyond the plain tally: a
    /// breadth rule, a value set, or a member declaring something.
    pub fn is_informative(&self) -> bool {
        !self.breadth.is_empty()
            || Attribute::ALL.into_iter().any(|a| self.shown(a))
            || self.endorsers_declaring_schools > 0
            || self.endorsers_declaring_pupils > 0
    }

    /// The compact form for lists; `None` when the charter has neither
    /// breadth rules nor value sets.
    pub fn brief(&self) -> Option<BreadthBrief> {
        let sets =
            [Attribute::Region, Attribute::Phase, Attribute::TrustType].into_iter().any(|a| self.set_size(a) > 0);
        (sets || !self.breadth.is_empty()).then(|| BreadthBrief {
            rules: self.breadth.len(),
            met: self.breadth.iter().filter(|b| b.met).count(),
            regions: self.endorser_values(Attribute::Region),
            of_regions: self.set_size(Attribute::Region),
        })
    }

    /// Every text value passed through `f` (e.g. an escaper for values
    /// from a node that is not trusted to send printable text).
    pub fn map_text(mut self, f: impl Fn(&str) -> String) -> Self {
        let rows = [&mut self.region, &mut self.phase, &mut self.trust_type, &mut self.size_band];
        for r in rows.into_iter().flatten() {
            r.value = r.value.as_deref().map(&f);
        }
        self.rule = f(&self.rule);
        for b in &mut self.breadth {
            b.rule.attribute = f(&b.rule.attribute);
            b.rule.each_of = b.rule.each_of.iter().map(|v| f(v)).collect();
            b.missing = b.missing.iter().map(|v| f(v)).collect();
        }
        self
    }

    /// The table: one line per value of each attribute shown, "not
    /// declared" last, with endorse / object / abstain / silent counts.
    /// Empty when no attribute is shown.
    pub fn table(&self) -> Vec<String> {
        let shown: Vec<Attribute> = Attribute::ALL.into_iter().filter(|a| self.shown(*a)).collect();
        if shown.is_empty() {
            return Vec::new();
        }
        let not_declared = "not declared";
        let vw = shown
            .iter()
            .flat_map(|a| self.by(*a).iter())
            .map(|r| r.value.as_deref().map_or(not_declared.len(), |v| v.chars().count()))
            .max()
            .unwrap_or(0)
            .max(5);
        let aw = shown.iter().map(|a| a.name().len()).max().unwrap_or(0).max(9);
        let mut lines = vec![format!(
            "  {:<aw$}  {:<vw$}  {:>7}  {:>6}  {:>7}  {:>6}",
            "attribute", "value", "endorse", "object", "abstain", "silent"
        )];
        for a in shown {
            for (i, r) in self.by(a).iter().enumerate() {
                let label = if i == 0 { a.name() } else { "" };
                let value = r.value.as_deref().unwrap_or(not_declared);
                // Pad by characters, not bytes: values may be non-ASCII.
                let pad = vw.saturating_sub(value.chars().count());
                lines.push(format!(
                    "  {label:<aw$}  {value}{:pad$}  {:>7}  {:>6}  {:>7}  {:>6}",
                    "", r.endorse, r.object, r.abstain, r.silent
                ));
            }
        }
        lines
    }

    /// "endorsers run 412 schools with 198,000 pupils", each count noting
    /// how many endorsers declare it when not all do; `None` when no
    /// endorser declares either.
    pub fn totals_line(&self) -> Option<String> {
        let part = |n: u64, declaring: usize, noun: &str| {
            let mut s = format!("{} {noun}", thousands(n));
            if declaring < self.endorsers {
                s.push_str(&format!(" (declared by {declaring} of {} endorsers)", self.endorsers));
            }
            s
        };
        let schools = (self.endorsers_declaring_schools > 0)
            .then(|| part(self.endorser_schools, self.endorsers_declaring_schools, "schools"));
        let pupils = (self.endorsers_declaring_pupils > 0)
            .then(|| part(self.endorser_pupils, self.endorsers_declaring_pupils, "pupils"));
        match (schools, pupils) {
            (Some(s), Some(p)) => Some(format!("endorsers run {s} with {p}")),
            (Some(s), None) => Some(format!("endorsers run {s}")),
            (None, Some(p)) => Some(format!("endorsers have {p}")),
            (None, None) => None,
        }
    }

    /// "endorsed by 34 of 52 member trusts, from 8 of 9 regions, running
    /// 412 schools with 198,000 pupils" (regions when the charter has a
    /// region set, schools and pupils when an endorser declares them).
    pub fn endorsed_line(&self) -> String {
        // The core's sentence, so that `chorus verify` and the in-browser
        // verifier word it alike.
        let regions = self.set_size(Attribute::Region);
        chorus_core::endorsed_sentence(
            self.endorsers,
            self.members,
            (regions > 0).then(|| (self.endorser_values(Attribute::Region), regions)),
            (self.endorsers_declaring_schools > 0).then_some(self.endorser_schools),
            (self.endorsers_declaring_pupils > 0).then_some(self.endorser_pupils),
        )
    }

    /// One line per breadth rule, e.g. "from at least 6 of 9 regions: 5,
    /// not met".
    pub fn rule_lines(&self) -> Vec<String> {
        self.breadth
            .iter()
            .map(|b| {
                let attribute = attribute_of(&b.rule.attribute);
                let set = attribute.map_or(0, |a| self.set_size(a));
                b.line(set)
            })
            .collect()
    }

    /// The text `chorus show` prints after the tally: the table, the
    /// endorsers' totals and the breadth rules, each heading starting with
    /// `label` (e.g. "node's view, " for a count a remote node sent).
    /// Empty when there is nothing beyond the plain tally.
    pub fn text(&self, label: &str) -> String {
        if !self.is_informative() {
            return String::new();
        }
        let mut out = String::new();
        let table = self.table();
        if !table.is_empty() {
            out.push_str(&format!("{label}tally by attribute:\n"));
            for l in table {
                out.push_str(&l);
                out.push('\n');
            }
        }
        if let Some(t) = self.totals_line() {
            out.push_str(&format!("{label}{t}\n"));
        }
        if !self.breadth.is_empty() {
            out.push_str(&format!("{label}breadth rules ({} rule):\n", self.rule));
            for l in self.rule_lines() {
                out.push_str(&format!("  {l}\n"));
            }
        }
        out
    }
}

impl BreadthStatusInfo {
    /// The rule and its state: "from at least 6 of 9 regions: 5, not met",
    /// "from at least 2 of 3 regions, including \"London\": 2, missing
    /// \"London\", not met", "an endorser from each of \"A\", \"B\"
    /// (phases): met". `set` is the size of the attribute's set.
    pub fn line(&self, set: usize) -> String {
        // The core's sentence (as the in-browser verifier prints it); an
        // attribute this build does not know is named as sent.
        let a = attribute_of(&self.rule.attribute);
        let plural = a.map_or(self.rule.attribute.as_str(), |a| a.plural());
        chorus_core::breadth_rule_sentence(
            plural,
            self.rule.min_distinct,
            &self.rule.each_of,
            set,
            self.distinct,
            &self.missing,
            self.met,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: Option<&str>, e: usize, o: usize, a: usize, s: usize) -> ValueInfo {
        ValueInfo { value: value.map(Into::into), endorse: e, object: o, abstain: a, silent: s }
    }

    fn plain(members: usize, endorsers: usize) -> BreakdownInfo {
        let nobody = vec![row(None, endorsers, 0, 0, members - endorsers)];
        let mut bands: Vec<ValueInfo> =
            ["1", "2-5", "6-15", "16-30", "31+"].iter().map(|b| row(Some(b), 0, 0, 0, 0)).collect();
        bands.push(nobody[0].clone());
        BreakdownInfo {
            rule: "positions".into(),
            members,
            endorsers,
            region: nobody.clone(),
            phase: nobody.clone(),
            trust_type: nobody,
            size_band: bands,
            ..BreakdownInfo::default()
        }
    }

    fn regional() -> BreakdownInfo {
        let mut b = plain(5, 3);
        b.region = vec![
            row(Some("East"), 1, 0, 0, 0),
            row(Some("London"), 2, 1, 0, 0),
            row(Some("North"), 0, 0, 0, 0),
            row(None, 0, 0, 0, 1),
        ];
        b.size_band = vec![
            row(Some("1"), 0, 0, 0, 1),
            row(Some("2-5"), 2, 0, 0, 0),
            row(Some("6-15"), 0, 1, 0, 0),
            row(Some("16-30"), 0, 0, 0, 0),
            row(Some("31+"), 1, 0, 0, 0),
            row(None, 0, 0, 0, 0),
        ];
        b.endorser_schools = 412;
        b.endorsers_declaring_schools = 3;
        b.endorser_pupils = 198_000;
        b.endorsers_declaring_pupils = 2;
        b.breadth = vec![
            BreadthStatusInfo {
                rule: BreadthRuleInfo { attribute: "region".into(), min_distinct: 3, each_of: vec![] },
                distinct: 2,
                missing: vec![],
                met: false,
            },
            BreadthStatusInfo {
                rule: BreadthRuleInfo { attribute: "region".into(), min_distinct: 0, each_of: vec!["London".into()] },
                distinct: 2,
                missing: vec![],
                met: true,
            },
            BreadthStatusInfo {
                rule: BreadthRuleInfo {
                    attribute: "size_band".into(),
                    min_distinct: 1,
                    each_of: vec!["1".into(), "31+".into()],
                },
                distinct: 2,
                missing: vec!["1".into()],
                met: false,
            },
        ];
        b
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(412), "412");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(198_000), "198,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(thousands(1_234_567_890), "1,234,567,890");
    }

    #[test]
    fn a_coalition_without_attributes_shows_nothing_more() {
        let b = plain(4, 3);
        assert!(!b.is_informative());
        assert_eq!(b.text(""), "");
        assert_eq!(b.brief(), None);
        assert_eq!(b.endorsed_line(), "endorsed by 3 of 4 member trusts");
    }

    #[test]
    fn the_table_lists_values_in_order_then_not_declared() {
        let b = regional();
        let t = b.table();
        assert_eq!(
            t,
            [
                "  attribute  value         endorse  object  abstain  silent",
                "  region     East                1       0        0       0",
                "             London              2       1        0       0",
                "             North               0       0        0       0",
                "             not declared        0       0        0       1",
                "  size band  1                   0       0        0       1",
                "             2-5                 2       0        0       0",
                "             6-15                0       1        0       0",
                "             16-30               0       0        0       0",
                "             31+                 1       0        0       0",
                "             not declared        0       0        0       0",
            ]
        );
    }

    #[test]
    fn rules_and_totals_read_as_sentences() {
        let b = regional();
        assert_eq!(
            b.rule_lines(),
            [
                "from at least 3 of 3 regions: 2, not met",
                "an endorser from each of \"London\" (regions): met",
                "from at least 1 of 5 size bands, including \"1\", \"31+\": 2, missing \"1\", not met",
            ]
        );
        assert_eq!(
            b.totals_line().unwrap(),
            "endorsers run 412 schools with 198,000 pupils (declared by 2 of 3 endorsers)"
        );
        assert_eq!(
            b.endorsed_line(),
            "endorsed by 3 of 5 member trusts, from 2 of 3 regions, running 412 schools with 198,000 pupils"
        );
        assert_eq!(b.brief().unwrap().line(), "breadth 1/3 met, 2/3 regions");
        let text = b.text("");
        assert!(text.starts_with("tally by attribute:\n  attribute"), "{text}");
        let remote = b.text("node's view, ");
        assert!(remote.starts_with("node's view, tally by attribute:\n"), "{remote}");
        assert!(remote.contains("\nnode's view, endorsers run 412 schools"), "{remote}");
        assert!(
            text.contains("breadth rules (positions rule):\n  from at least 3 of 3 regions: 2, not met\n"),
            "{text}"
        );
    }

    #[test]
    fn pupils_alone_and_rules_alone() {
        let mut b = plain(2, 1);
        b.endorser_pupils = 1_500;
        b.endorsers_declaring_pupils = 1;
        assert_eq!(b.totals_line().unwrap(), "endorsers have 1,500 pupils");
        assert_eq!(b.endorsed_line(), "endorsed by 1 of 2 member trusts, with 1,500 pupils");
        assert!(b.is_informative());
        assert_eq!(b.brief(), None, "no rules and no sets: no breadth column");
    }

    #[test]
    fn json_is_the_cores_and_reads_back() {
        use chorus_core::{BreadthRule, Charter, RuleKind, Stance};
        let f = chorus_core::testkit::Fixture::new(2);
        let roster = f.coalition.current_roster();
        let mut charter = Charter::default();
        charter.attributes.regions = vec!["East".into(), "West".into()];
        charter.breadth.positions =
            vec![BreadthRule { attribute: Attribute::Region, min_distinct: 1, each_of: vec!["West".into()] }];
        let key = roster.members().next().unwrap().key;
        let stances = [(key, Stance::Endorse)].into_iter().collect();
        let core = chorus_core::breakdown(roster, &charter, RuleKind::Positions, &stances);
        let info = BreakdownInfo::from(&core);
        assert_eq!(serde_json::to_value(&info).unwrap(), serde_json::to_value(&core).unwrap());
        let back: BreakdownInfo = serde_json::from_value(serde_json::to_value(&core).unwrap()).unwrap();
        assert_eq!(back, info);
        assert_eq!(
            info.rule_lines(),
            ["from at least 1 of 2 regions, including \"West\": 0, missing \"West\", not met"]
        );
        let escaped = info.map_text(|s| s.replace('W', "w"));
        assert_eq!(escaped.region[1].value.as_deref(), Some("west"));
    }
}

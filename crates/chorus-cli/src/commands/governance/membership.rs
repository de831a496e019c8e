//! `chorus member ...` and `chorus charter ...`: membership and charter
//! proposals, with the attribute and value-set arguments (shared with
//! `chorus coalition draft`) and their lines for people.

use anyhow::{anyhow, bail, Result};
use chorus_core::{Action, Attribute, AttributeSets, BreadthRules, Charter, Member, MemberAttributes, RuleKind};
use chorus_node::control::{AttributesInfo, CharterSetsInfo, Client, RosterInfo, SubmitResult};
use chorus_node::datadir::DataDir;
use chorus_node::founding;
use chorus_node::founding::parse_rule;
use clap::{Args, Subcommand};

use crate::error::Usage;
use crate::leader;
use crate::output::Output;

use super::{find_member, key_arg, trust_signer};

/// `chorus member ...`
#[derive(Subcommand, Debug)]
pub enum MemberCmd {
    /// Propose admitting a trust (a membership proposal); prints its id.
    Admit {
        /// The new trust's key (from its `chorus init` or `chorus whoami`).
        #[arg(long, value_name = "HEX")]
        key: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        /// An external identifier such as a company number.
        #[arg(long, value_name = "ID")]
        external_id: Option<String>,
        /// Proposal title [default: "Admit NAME"].
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        attributes: AttributeArgs,
    },
    /// Propose replacing every attribute of a member trust (a membership
    /// proposal); prints its id. The attributes are replaced as a whole:
    /// anything not given is no longer declared once it is adopted (give
    /// them all again to change one; --clear to declare nothing).
    Amend {
        /// The trust id (hex key) of the member.
        trust: String,
        #[command(flatten)]
        attributes: AttributeArgs,
        /// Declare nothing at all (instead of attribute flags).
        #[arg(long, conflicts_with_all = ["region", "phase", "trust_type", "schools", "pupils", "label"])]
        clear: bool,
        /// Proposal title [default: "Amend the attributes of NAME"].
        #[arg(long)]
        title: Option<String>,
    },
    /// Propose removing a member trust (a membership proposal); prints its id.
    Remove {
        /// The trust id (hex key) of the member to remove.
        trust: String,
        /// Proposal title [default: "Remove NAME"].
        #[arg(long)]
        title: Option<String>,
    },
    /// Propose replacing a member trust's lost key by a new one (a
    /// membership proposal; any member may propose it); prints its id. Once
    /// adopted, that trust runs `chorus trust-key install KEYFILE`.
    ReplaceKey {
        /// The trust id (hex key) of the member whose key is replaced.
        trust: String,
        /// The new key (from `chorus keygen FILE`, run by that trust).
        #[arg(long, value_name = "HEX")]
        key: String,
        /// Proposal title [default: "Replace the key of NAME"].
        #[arg(long)]
        title: Option<String>,
    },
}

/// What a member trust declares about itself: `chorus member admit`,
/// `chorus member amend`, and the founder's own entry in `chorus coalition
/// draft`.
#[derive(Args, Debug, Clone, Default)]
pub struct AttributeArgs {
    /// Region: one of the charter's regions (see `chorus roster`).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Phase: one of the charter's phases.
    #[arg(long, value_name = "PHASE")]
    pub phase: Option<String>,
    /// Trust type: one of the charter's trust types.
    #[arg(long, value_name = "TYPE")]
    pub trust_type: Option<String>,
    /// Number of schools the trust runs, 1 to 10,000 (sets its size band).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub schools: Option<String>,
    /// Number of pupils, 1 to 10,000,000.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pupils: Option<String>,
    /// A free label such as "la:Leeds" or "constituency:Leeds Central"; repeat.
    #[arg(long, value_name = "LABEL")]
    pub label: Vec<String>,
}

impl AttributeArgs {
    /// True when no attribute flag is given.
    pub fn is_empty(&self) -> bool {
        self.region.is_none()
            && self.phase.is_none()
            && self.trust_type.is_none()
            && self.schools.is_none()
            && self.pupils.is_none()
            && self.label.is_empty()
    }

    /// The attributes, each within its bounds (a usage error otherwise);
    /// not yet checked against the charter's sets.
    pub fn parse(&self) -> Result<MemberAttributes> {
        let count = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
            v.as_deref().map(|v| founding::parse_count(flag, v).map_err(|e| Usage(e).into())).transpose()
        };
        founding::member_attributes(
            self.region.as_deref(),
            self.phase.as_deref(),
            self.trust_type.as_deref(),
            count("--schools", &self.schools)?,
            count("--pupils", &self.pupils)?,
            &self.label,
        )
        .map_err(|e| Usage(e).into())
    }
}

/// The charter's value sets, breadth rules and observer access: `chorus
/// coalition draft` and `chorus charter amend`.
#[derive(Args, Debug, Clone, Default)]
pub struct SetsArgs {
    /// The regions members may declare, comma-separated:
    /// --regions "North East,North West,London" ("" for none).
    #[arg(long, value_name = "LIST")]
    pub regions: Option<String>,
    /// The phases members may declare, comma-separated: --phases "primary,secondary,special".
    #[arg(long, value_name = "LIST")]
    pub phases: Option<String>,
    /// The trust types members may declare, comma-separated:
    /// --trust-types "multi-academy trust,single-academy trust".
    #[arg(long, value_name = "LIST")]
    pub trust_types: Option<String>,
    /// Lower bounds of the size bands by number of schools, from 1:
    /// --school-bands 1,2,6,16,31 (the default; bands "1", "2-5", "6-15", "16-30", "31+").
    #[arg(long, value_name = "LIST")]
    pub school_bands: Option<String>,
    /// A breadth rule; repeat. "[RULE:]ATTRIBUTE>=N": the endorsers declare
    /// at least N distinct values ("positions:region>=6"); "[RULE:]ATTRIBUTE=V1,V2":
    /// at least one endorser with each value ("positions:region=London,North East").
    /// RULE is positions (default), membership or amendments; ATTRIBUTE is region,
    /// phase, trust-type or size-band (values: band labels such as 6-15).
    #[arg(long, value_name = "RULE")]
    pub breadth: Vec<String>,
    /// Who may follow the coalition without being a member's node:
    /// positions (adopted proposals and their certificates, by sync; the
    /// default), everything (every object, by gossip and sync) or none.
    #[arg(long, value_name = "ACCESS", value_parser = ["positions", "everything", "none"])]
    pub observers: Option<String>,
}

impl SetsArgs {
    /// True when no flag is given.
    pub fn is_empty(&self) -> bool {
        self.regions.is_none()
            && self.phases.is_none()
            && self.trust_types.is_none()
            && self.school_bands.is_none()
            && self.breadth.is_empty()
            && self.observers.is_none()
    }

    /// The observer access --observers names, if given.
    pub fn observer_access(&self) -> Result<Option<chorus_core::ObserverAccess>> {
        self.observers
            .as_deref()
            .map(|name| {
                chorus_node::observer::parse_access(name)
                    .ok_or_else(|| Usage(format!("--observers {name:?}: say positions, everything or none")).into())
            })
            .transpose()
    }

    /// Every flag is well formed (usage errors otherwise).
    pub fn check_syntax(&self) -> Result<()> {
        let mut sets = AttributeSets::default();
        self.apply_sets(&mut sets)?;
        for b in &self.breadth {
            founding::parse_breadth(b).map_err(Usage)?;
        }
        self.observer_access()?;
        Ok(())
    }

    /// Replaces the sets named by a flag.
    pub fn apply_sets(&self, sets: &mut AttributeSets) -> Result<()> {
        let list = |flag: &str, v: &str| -> Result<Vec<String>> {
            let values: Vec<String> = v.split(',').map(str::to_string).filter(|x| !x.trim().is_empty()).collect();
            founding::value_set(flag, &values).map_err(|e| Usage(format!("{flag}: {e}")).into())
        };
        if let Some(v) = &self.regions {
            sets.regions = list("--regions", v)?;
        }
        if let Some(v) = &self.phases {
            sets.phases = list("--phases", v)?;
        }
        if let Some(v) = &self.trust_types {
            sets.trust_types = list("--trust-types", v)?;
        }
        if let Some(v) = &self.school_bands {
            let mut bounds = Vec::new();
            for x in v.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                let n: u32 = x.parse().map_err(|_| {
                    Usage(format!("--school-bands: {x:?} is not a whole number; write them like 1,2,6,16,31"))
                })?;
                bounds.push(n);
            }
            let mut b = founding::school_bands(&bounds).map_err(|e| Usage(format!("--school-bands: {e}")))?;
            if b == chorus_core::limits::DEFAULT_SCHOOL_BANDS {
                b.clear();
            }
            sets.school_bands = b;
        }
        Ok(())
    }
}

/// The charter a roster version reports, rebuilt from the node's answer:
/// its rules, value sets, breadth rules and observer access.
pub(crate) fn current_charter(r: &RosterInfo) -> Result<Charter> {
    let rule = |text: &str, which: &str| {
        parse_rule(text).map_err(|e| anyhow!("the node reports the {which} rule as {text:?}: {e}"))
    };
    let rules = |list: &[chorus_node::control::BreadthRuleInfo]| -> Result<Vec<chorus_core::BreadthRule>> {
        list.iter()
            .map(|b| {
                b.to_rule().ok_or_else(|| anyhow!("the node reports a breadth rule on {:?}, unknown here", b.attribute))
            })
            .collect()
    };
    let s = &r.sets;
    Ok(Charter {
        positions: rule(&r.positions, "positions")?,
        membership: rule(&r.membership, "membership")?,
        amendments: rule(&r.amendments, "amendments")?,
        attributes: attribute_sets(s),
        breadth: BreadthRules {
            positions: rules(&s.positions_breadth)?,
            membership: rules(&s.membership_breadth)?,
            amendments: rules(&s.amendments_breadth)?,
        },
        observers: chorus_node::observer::parse_access(&s.observers)
            .ok_or_else(|| anyhow!("the node reports observer access {:?}, unknown here", s.observers))?,
    })
}

/// The charter's value sets a roster version reports.
fn attribute_sets(s: &CharterSetsInfo) -> AttributeSets {
    AttributeSets {
        regions: s.regions.clone(),
        phases: s.phases.clone(),
        trust_types: s.trust_types.clone(),
        school_bands: s.school_bands.clone(),
    }
}

/// A member's attributes on one line: "North East, secondary, multi-academy
/// trust, 12 schools, 6,400 pupils, la:Leeds"; empty when nothing is declared.
pub(crate) fn attributes_text(a: &AttributesInfo) -> String {
    let mut parts: Vec<String> = Vec::new();
    for v in [&a.region, &a.phase, &a.trust_type].into_iter().flatten() {
        parts.push(crate::output::safe_line(v));
    }
    if let Some(n) = a.schools {
        parts.push(format!("{} school{}", founding::thousands(u64::from(n)), if n == 1 { "" } else { "s" }));
    }
    if let Some(n) = a.pupils {
        parts.push(format!("{} pupil{}", founding::thousands(u64::from(n)), if n == 1 { "" } else { "s" }));
    }
    parts.extend(a.labels.iter().map(|l| crate::output::safe_line(l)));
    parts.join(", ")
}

/// The charter's observer access as a line for people ("observers:   positions
/// (observers may sync ...)"), the name as reported when it is unknown here.
pub(crate) fn observers_line(s: &CharterSetsInfo) -> String {
    let text = match chorus_node::observer::parse_access(&s.observers) {
        Some(a) => chorus_node::observer::access_text(a).to_string(),
        None => crate::output::safe_line(&s.observers),
    };
    format!("{:<13}{text}", "observers:")
}

/// The charter's value sets and breadth rules as lines for people
/// ("  regions: ...", "  positions breadth: ..."); none when the charter
/// has no sets and no breadth rules (the default bands are not shown then).
/// The observer access is [`observers_line`]'s.
pub(crate) fn sets_lines(s: &CharterSetsInfo) -> Vec<String> {
    let sets = attribute_sets(s);
    let rules = [
        ("positions", &s.positions_breadth),
        ("membership", &s.membership_breadth),
        ("amendments", &s.amendments_breadth),
    ];
    if sets.is_empty() && rules.iter().all(|(_, r)| r.is_empty()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for a in [Attribute::Region, Attribute::Phase, Attribute::TrustType, Attribute::SizeBand] {
        let values = sets.values(a);
        let shown = if values.is_empty() {
            "none defined".to_string()
        } else {
            values.iter().map(|v| crate::output::safe_line(v)).collect::<Vec<_>>().join(", ")
        };
        out.push(format!("{:<13}{shown}", format!("{}:", a.plural())));
    }
    for (name, list) in rules {
        for b in list {
            let text = match b.to_rule() {
                Some(r) => crate::output::safe_line(&r.to_string()),
                None => format!("a rule on {:?}, unknown here", b.attribute),
            };
            out.push(format!("{name} rule also needs {text}"));
        }
    }
    out
}

/// `chorus charter ...`
#[derive(Subcommand, Debug)]
pub enum CharterCmd {
    /// Propose a new charter (an amendment): adoption rules, value sets,
    /// breadth rules and observer access. Whatever is not named stays as it is: a set flag
    /// replaces that set, --breadth adds a rule to those in force,
    /// --clear-breadth drops a rule's breadth rules first.
    Amend {
        /// Rule for ordinary proposals, n/d.
        #[arg(long, value_name = "N/D")]
        positions: Option<String>,
        /// Rule for admissions, removals, key replacements and member amendments, n/d.
        #[arg(long, value_name = "N/D")]
        membership: Option<String>,
        /// Rule for charter amendments, n/d.
        #[arg(long, value_name = "N/D")]
        amendments: Option<String>,
        #[command(flatten)]
        sets: SetsArgs,
        /// Drop every breadth rule of this rule (positions, membership,
        /// amendments or all) before adding those of --breadth; repeat.
        #[arg(long, value_name = "RULE")]
        clear_breadth: Vec<String>,
        /// Proposal title [default: "Amend the charter"].
        #[arg(long)]
        title: Option<String>,
    },
}

fn proposal_output(r: &SubmitResult) -> Output {
    Output::new(r, r.id.to_hex())
}

/// `chorus member ...`.
pub fn member(dd: &DataDir, client: &Client, cmd: MemberCmd) -> Result<Output> {
    match &cmd {
        MemberCmd::Admit { key, attributes, .. } => {
            key_arg("--key", key)?;
            attributes.parse()?;
        }
        MemberCmd::Amend { trust, attributes, clear, .. } => {
            key_arg("trust", trust)?;
            attributes.parse()?;
            if attributes.is_empty() && !clear {
                return Err(Usage(
                    "name the member's attributes (--region, --phase, --trust-type, --schools, --pupils, --label): \
                     they replace all of its attributes; or --clear to declare nothing"
                        .into(),
                )
                .into());
            }
        }
        MemberCmd::Remove { trust, .. } => {
            key_arg("trust", trust)?;
        }
        MemberCmd::ReplaceKey { trust, key, .. } => {
            key_arg("trust", trust)?;
            key_arg("--key", key)?;
        }
    }
    let (key, trust) = trust_signer(dd)?;
    let (title, action) = match cmd {
        MemberCmd::Admit { key: new, name, external_id, title, attributes } => {
            let new = key_arg("--key", &new)?;
            let attributes = attributes.parse()?;
            if !attributes.is_empty() {
                let charter = current_charter(&leader::roster(client)?)?;
                founding::check_attributes(&attributes, &charter.attributes, &format!("{name:?}")).map_err(Usage)?;
            }
            let member =
                Member { key: new, name: name.clone(), external_id: external_id.filter(|x| !x.is_empty()), attributes };
            (title.unwrap_or_else(|| format!("Admit {name}")), Action::Admit(member))
        }
        MemberCmd::Amend { trust: who, attributes, clear: _, title } => {
            let who = key_arg("trust", &who)?;
            let attributes = attributes.parse()?;
            let roster = leader::roster(client)?;
            let name = find_member(&roster, &who)
                .map(|m| m.name.clone())
                .ok_or_else(|| Usage(format!("{who} is not a member of the newest roster; nothing to amend")))?;
            let charter = current_charter(&roster)?;
            founding::check_attributes(&attributes, &charter.attributes, &format!("{name:?}")).map_err(Usage)?;
            (
                title.unwrap_or_else(|| format!("Amend the attributes of {name}")),
                Action::AmendMember { trust: who, attributes },
            )
        }
        MemberCmd::Remove { trust: who, title } => {
            let who = key_arg("trust", &who)?;
            let roster = leader::roster(client)?;
            let name = find_member(&roster, &who)
                .map(|m| m.name.clone())
                .ok_or_else(|| anyhow!("{who} is not a member of the newest roster; nothing to remove"))?;
            (title.unwrap_or_else(|| format!("Remove {name}")), Action::Remove(who))
        }
        MemberCmd::ReplaceKey { trust: who, key: new, title } => {
            let who = key_arg("trust", &who)?;
            let new = key_arg("--key", &new)?;
            let roster = leader::roster(client)?;
            let name = find_member(&roster, &who)
                .map(|m| m.name.clone())
                .ok_or_else(|| anyhow!("{who} is not a member of the newest roster; its key cannot be replaced"))?;
            if roster.members.iter().any(|m| m.key == new.to_hex() || m.root_key == new.to_hex()) {
                bail!("{new} is already a member's key; ask the trust for a new one (`chorus keygen FILE`)");
            }
            (
                title.unwrap_or_else(|| format!("Replace the key of {name}")),
                Action::ReplaceKey { trust: who, new_key: new },
            )
        }
    };
    let r = leader::propose(client, &key, trust, &title, "", None, Some(action))?;
    Ok(proposal_output(&r))
}

/// `chorus charter amend`: the charter of the newest roster version with
/// the named rules, sets and breadth rules changed; everything else is
/// carried over as it is.
pub fn charter(dd: &DataDir, client: &Client, cmd: CharterCmd) -> Result<Output> {
    let CharterCmd::Amend { positions, membership, amendments, sets, clear_breadth, title } = cmd;
    if positions.is_none()
        && membership.is_none()
        && amendments.is_none()
        && sets.is_empty()
        && clear_breadth.is_empty()
    {
        return Err(Usage(
            "name at least one of --positions, --membership, --amendments, --regions, --phases, --trust-types, \
             --school-bands, --breadth, --clear-breadth, --observers"
                .into(),
        )
        .into());
    }
    for (flag, value) in [("--positions", &positions), ("--membership", &membership), ("--amendments", &amendments)] {
        if let Some(v) = value {
            parse_rule(v).map_err(|e| Usage(format!("{flag} {v:?}: {e}")))?;
        }
    }
    let mut cleared: Vec<RuleKind> = Vec::new();
    for c in &clear_breadth {
        match c.trim() {
            "positions" => cleared.push(RuleKind::Positions),
            "membership" => cleared.push(RuleKind::Membership),
            "amendments" => cleared.push(RuleKind::Amendments),
            "all" => cleared.extend([RuleKind::Positions, RuleKind::Membership, RuleKind::Amendments]),
            other => {
                return Err(
                    Usage(format!("--clear-breadth {other:?}: say positions, membership, amendments or all")).into()
                )
            }
        }
    }
    sets.check_syntax()?;
    let (key, trust) = trust_signer(dd)?;
    let roster = leader::roster(client)?;
    let mut charter = current_charter(&roster)?;
    for (new, rule, flag) in [
        (&positions, &mut charter.positions, "--positions"),
        (&membership, &mut charter.membership, "--membership"),
        (&amendments, &mut charter.amendments, "--amendments"),
    ] {
        if let Some(text) = new {
            *rule = parse_rule(text).map_err(|e| Usage(format!("{flag} {text:?}: {e}")))?;
        }
    }
    sets.apply_sets(&mut charter.attributes)?;
    if let Some(access) = sets.observer_access()? {
        charter.observers = access;
    }
    for kind in cleared {
        match kind {
            RuleKind::Positions => charter.breadth.positions.clear(),
            RuleKind::Membership => charter.breadth.membership.clear(),
            RuleKind::Amendments => charter.breadth.amendments.clear(),
        }
    }
    founding::add_breadth(&mut charter, &sets.breadth).map_err(Usage)?;
    founding::check_breadth(&charter)
        .map_err(|e| Usage(format!("{e} (change it with --breadth, or drop it with --clear-breadth)")))?;
    let title = title.unwrap_or_else(|| "Amend the charter".into());
    let r = leader::propose(client, &key, trust, &title, "", None, Some(Action::AmendCharter(charter)))?;
    Ok(proposal_output(&r))
}

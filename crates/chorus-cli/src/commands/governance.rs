//! Governance commands (PROTOCOL.md section 12): the roster, membership and
//! charter proposals, delegation of stances to a leader, revocation, key
//! rotation, and leader key files. Every object is built and signed here,
//! where the keys are, and submitted to the node, which validates it.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use chorus_core::{
    Action, Attribute, AttributeSets, BreadthRules, Charter, Coalition, Delegation, Envelope, KeyRotation, Keypair,
    Kind, Member, MemberAttributes, ObjectId, PublicKey, Revocation, RuleKind, SCOPE_NODE, SCOPE_STANCES,
};
use chorus_node::config::Config;
use chorus_node::control::{AttributesInfo, CharterSetsInfo, Client, Request, RosterInfo, SubmitResult};
use chorus_node::daemon::now_ms;
use chorus_node::datadir::keyfile::{self, Passphrases};
use chorus_node::datadir::{read_secret, write_atomic, write_new, write_new_secret, DataDir};
use chorus_node::founding;
use chorus_node::founding::{load_final, parse_key, parse_rule};
use chorus_node::NodeError;
use clap::{Args, Subcommand};

use crate::commands::backup;
use crate::error::Usage;
use crate::leader;
use crate::output::Output;

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

/// `chorus trust-key ...`
#[derive(Subcommand, Debug)]
pub enum TrustKeyCmd {
    /// Install a new trust key once the coalition adopted its replacement
    /// (`chorus member replace-key`); the old key file is kept as a backup.
    Install {
        /// The key file (from `chorus keygen FILE`).
        file: PathBuf,
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

/// The charter's value sets and breadth rules: `chorus coalition draft`
/// and `chorus charter amend`.
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
}

impl SetsArgs {
    /// True when no flag is given.
    pub fn is_empty(&self) -> bool {
        self.regions.is_none()
            && self.phases.is_none()
            && self.trust_types.is_none()
            && self.school_bands.is_none()
            && self.breadth.is_empty()
    }

    /// Every flag is well formed (usage errors otherwise).
    pub fn check_syntax(&self) -> Result<()> {
        let mut sets = AttributeSets::default();
        self.apply_sets(&mut sets)?;
        for b in &self.breadth {
            founding::parse_breadth(b).map_err(Usage)?;
        }
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
/// its rules, value sets and breadth rules.
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
        attributes: AttributeSets {
            regions: s.regions.clone(),
            phases: s.phases.clone(),
            trust_types: s.trust_types.clone(),
            school_bands: s.school_bands.clone(),
        },
        breadth: BreadthRules {
            positions: rules(&s.positions_breadth)?,
            membership: rules(&s.membership_breadth)?,
            amendments: rules(&s.amendments_breadth)?,
        },
    })
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

/// The charter's value sets and breadth rules as lines for people
/// ("  regions: ...", "  positions breadth: ..."); none when the charter
/// has no sets and no breadth rules (the default bands are not shown then).
pub(crate) fn sets_lines(s: &CharterSetsInfo) -> Vec<String> {
    let sets = AttributeSets {
        regions: s.regions.clone(),
        phases: s.phases.clone(),
        trust_types: s.trust_types.clone(),
        school_bands: s.school_bands.clone(),
    };
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
    /// Propose a new charter (an amendment): adoption rules, value sets and
    /// breadth rules. Whatever is not named stays as it is: a set flag
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

/// `chorus delegate ...`
#[derive(Args, Debug)]
pub struct DelegateArgs {
    /// The leader's public key (from `chorus leader-key`).
    #[arg(long, value_name = "HEX")]
    key: String,
    /// The leader's name.
    #[arg(long)]
    name: String,
    /// The leader's role, e.g. "Chief executive".
    #[arg(long)]
    role: String,
    /// End of the delegation: a number of days from now ("30d") or ms since 1970 [default: no end].
    #[arg(long, value_name = "WHEN")]
    valid_until: Option<String>,
    /// What the key is for: "stances" (a leader), "node" (one of the trust's
    /// node keys, revocable with `chorus revoke`), or "stances,node".
    #[arg(long, default_value = "stances")]
    scope: String,
    /// Write the signed delegation to this new file instead of submitting
    /// it: no running node needed (on the offline kit); `chorus import FILE`
    /// on any member node.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// With --out: the coalition's genesis file [default: the one the data
    /// directory's config names].
    #[arg(long, value_name = "FILE", requires = "out")]
    genesis: Option<PathBuf>,
}

/// The coalition an object is signed for: from the genesis file (`genesis`,
/// else the one the config names) when it is written to a file, so no node
/// is needed; else from the running node.
fn coalition_for(dd: &DataDir, client: &Client, to_file: bool, genesis: Option<&Path>) -> Result<Coalition> {
    if !to_file {
        return Ok(leader::coalition(client)?.1);
    }
    let path = match genesis {
        Some(g) => g.to_path_buf(),
        None => Config::load(&dd.config_path())?.genesis_path(dd.root()),
    };
    Ok(load_final(&path)?)
}

/// Submits `env` to the node, or with `out` writes it to that new file.
fn submit_or_write(client: &Client, env: &Envelope, out: Option<&Path>) -> Result<Result<SubmitResult, Output>> {
    match out {
        Some(file) => Ok(Err(backup::write_envelope(env, file)?)),
        None => Ok(Ok(leader::submit(client, env)?)),
    }
}

/// The trust's signing key and id (they differ after `chorus rotate-key`).
pub fn trust_signer(dd: &DataDir) -> Result<(Keypair, PublicKey)> {
    Ok((dd.trust_key()?, dd.trust_id()?))
}

fn proposal_output(r: &SubmitResult) -> Output {
    Output::new(r, r.id.to_hex())
}

fn find_member<'a>(roster: &'a RosterInfo, trust: &PublicKey) -> Option<&'a chorus_node::control::MemberInfo> {
    let hex = trust.to_hex();
    roster.members.iter().find(|m| m.key == hex)
}

fn key_arg(what: &str, s: &str) -> Result<PublicKey> {
    parse_key(s.trim()).map_err(|e| Usage(format!("{what} {s:?} is not a trust key: {e}")).into())
}

fn id_arg(what: &str, s: &str) -> Result<ObjectId> {
    s.trim().parse().map_err(|_| Usage(format!("{what} {s:?} is not an object id (64 hex characters)")).into())
}

/// `chorus roster`.
pub fn roster(client: &Client) -> Result<Output> {
    let r = leader::roster(client)?;
    Ok(Output::new(&r, leader::roster_text(&r)))
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
             --school-bands, --breadth, --clear-breadth"
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

fn parse_until(s: &str) -> Result<u64> {
    if let Some(days) = s.strip_suffix('d') {
        let d: u64 = days.parse().map_err(|_| Usage(format!("--valid-until {s:?}: say \"30d\" or ms since 1970")))?;
        return Ok(now_ms() + d * 86_400_000);
    }
    s.parse().map_err(|_| Usage(format!("--valid-until {s:?}: say \"30d\" or ms since 1970")).into())
}

fn signed(kind: Kind, body: Vec<u8>, key: &Keypair) -> Envelope {
    Envelope::sign(kind, body, &[key])
}

/// `chorus delegate`: prints the delegation id.
pub fn delegate(dd: &DataDir, client: &Client, a: DelegateArgs) -> Result<Output> {
    let delegate = key_arg("--key", &a.key)?;
    let scope = match a.scope.as_str() {
        "stances" => SCOPE_STANCES,
        "node" => SCOPE_NODE,
        "stances,node" | "node,stances" => SCOPE_STANCES | SCOPE_NODE,
        other => return Err(Usage(format!("--scope {other:?}: say \"stances\", \"node\" or \"stances,node\"")).into()),
    };
    let valid_until_ms = a.valid_until.as_deref().map(parse_until).transpose()?;
    let (key, trust) = trust_signer(dd)?;
    let coalition = coalition_for(dd, client, a.out.is_some(), a.genesis.as_deref())?;
    let now = now_ms();
    let d = Delegation {
        coalition: coalition.id(),
        trust,
        delegate,
        name: a.name,
        role: a.role,
        valid_from_ms: now,
        valid_until_ms,
        scope,
        created_at_ms: now,
    };
    let body = d.to_body();
    Delegation::from_body(&body).map_err(|e| anyhow!("the delegation is not valid: {e}"))?;
    match submit_or_write(client, &signed(Kind::Delegation, body, &key), a.out.as_deref())? {
        Ok(r) => Ok(Output::new(&r, r.id.to_hex())),
        Err(written) => Ok(written),
    }
}

/// Arguments of `chorus revoke`.
#[derive(Args, Debug)]
pub struct RevokeArgs {
    /// The delegation id.
    delegation: String,
    /// A stance signed under the delegation that still counts; repeat.
    #[arg(long, value_name = "ID")]
    keep: Vec<String>,
    /// Write the signed revocation to this new file instead of submitting
    /// it: no running node needed (on the offline kit, e.g. to revoke a
    /// compromised server's node key); `chorus import FILE` on any member node.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// With --out: the coalition's genesis file [default: the one the data
    /// directory's config names].
    #[arg(long, value_name = "FILE", requires = "out")]
    genesis: Option<PathBuf>,
}

/// `chorus revoke`.
pub fn revoke(dd: &DataDir, client: &Client, a: RevokeArgs) -> Result<Output> {
    let delegation = id_arg("delegation", &a.delegation)?;
    let mut keep: Vec<ObjectId> = a.keep.iter().map(|k| id_arg("--keep", k)).collect::<Result<_>>()?;
    let (key, trust) = trust_signer(dd)?;
    let coalition = coalition_for(dd, client, a.out.is_some(), a.genesis.as_deref())?;
    keep.sort();
    keep.dedup();
    let r = Revocation { coalition: coalition.id(), trust, delegation, keep, created_at_ms: now_ms() };
    let body = r.to_body();
    Revocation::from_body(&body).map_err(|e| anyhow!("the revocation is not valid: {e}"))?;
    match submit_or_write(client, &signed(Kind::Revocation, body, &key), a.out.as_deref())? {
        Ok(r) => Ok(Output::new(&r, format!("revoked {}: {}", delegation.short(12), r.id))),
        Err(written) => Ok(written),
    }
}

/// `chorus rotate-key`: a new trust key, the rotation signed with the old
/// one. The old key file is kept as `trust.key.<ms>.old`; `trust.id` is
/// written so the node keeps speaking for the same trust.
pub fn rotate_key(dd: &DataDir, client: &Client, drop_past: bool) -> Result<Output> {
    let (old, trust) = trust_signer(dd)?;
    let (_, coalition) = leader::coalition(client)?;
    // By default everything the old key signed stands (PROTOCOL.md 12.6:
    // only what a rotation keeps counts once a key is superseded).
    let mut keep: Vec<ObjectId> =
        if drop_past { Vec::new() } else { client.call(&Request::SignedBy { key: old.public().to_hex() })? };
    keep.sort();
    let limit = 2048;
    if keep.len() > limit {
        bail!("the old key signed {} objects, over the {limit} a rotation can keep; ask for help", keep.len());
    }
    let new = Keypair::generate();
    let pending = dd.root().join("trust.key.new");
    if pending.exists() {
        bail!("{} exists from an interrupted rotation; check it, then remove it", pending.display());
    }
    // The new key is on disk before anything is signed with the old.
    write_new_secret(&pending, &new.seed())?;
    let r = KeyRotation { coalition: coalition.id(), trust, new_key: new.public(), keep, created_at_ms: now_ms() };
    let body = r.to_body();
    let result = KeyRotation::from_body(&body)
        .map_err(|e| anyhow!("the rotation is not valid: {e}"))
        .and_then(|_| leader::submit(client, &signed(Kind::KeyRotation, body, &old)));
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&pending);
            return Err(e);
        }
    };
    if !dd.trust_id_path().exists() {
        write_atomic(&dd.trust_id_path(), format!("{trust}\n").as_bytes(), 0o600)?;
    }
    let backup = dd.root().join(format!("trust.key.{}.old", now_ms()));
    let was_encrypted = keep_old_trust_key(dd, &backup)?;
    std::fs::rename(&pending, dd.trust_key_path()).with_context(|| {
        format!("the rotation is stored but {} could not replace the trust key; rename it by hand", pending.display())
    })?;
    let v = serde_json::json!({
        "rotation": r.id, "trust": trust, "new_key": new.public(), "old_key": old.public(), "backup": backup,
    });
    let human = format!(
        "rotated the key of trust {trust} to {}\nrotation {}\nold key kept in {} (store it offline, then delete it)\nrestart the node to sign with the new key{}",
        new.public(),
        r.id,
        backup.display(),
        unencrypted_note(dd, was_encrypted)
    );
    Ok(Output { json: v, human })
}

/// `chorus trust-key install FILE`: makes the key in FILE this trust's
/// signing key, once the node's newest roster names it as the trust's root
/// key (an adopted `member replace-key`). The old key file is kept as
/// `trust.key.<ms>.old`; `trust.id` keeps naming the same trust.
pub fn trust_key(dd: &DataDir, client: &Client, cmd: TrustKeyCmd) -> Result<Output> {
    let TrustKeyCmd::Install { file } = cmd;
    let new = read_secret(&file)?;
    let trust = dd.trust_id()?;
    let current = dd.trust_key()?;
    if current.public() == new.public() {
        let v = serde_json::json!({ "trust": trust, "key": new.public(), "installed": false });
        return Ok(Output { json: v, human: "this key is already the trust key; nothing changed".into() });
    }
    let roster = leader::roster(client)?;
    let member = find_member(&roster, &trust)
        .ok_or_else(|| anyhow!("trust {trust} is not a member of the node's newest roster; nothing installed"))?;
    if member.root_key != new.public().to_hex() {
        bail!(
            "the node's newest roster does not name {} as the key of trust {trust} (it names {}); \
             a member proposes `chorus member replace-key {trust} --key {}` and the coalition adopts it first",
            new.public(),
            member.root_key,
            new.public()
        );
    }
    let pending = dd.root().join("trust.key.new");
    if pending.exists() {
        bail!("{} exists from an interrupted rotation or installation; check it, then remove it", pending.display());
    }
    write_new_secret(&pending, &new.seed())?;
    if !dd.trust_id_path().exists() {
        write_atomic(&dd.trust_id_path(), format!("{trust}\n").as_bytes(), 0o600)?;
    }
    let backup = dd.root().join(format!("trust.key.{}.old", now_ms()));
    let was_encrypted = keep_old_trust_key(dd, &backup)?;
    std::fs::rename(&pending, dd.trust_key_path())
        .with_context(|| format!("{} could not replace the trust key; rename it by hand", pending.display()))?;
    // The rename itself is durable before the command reports success.
    std::fs::File::open(dd.root()).and_then(|d| d.sync_all()).context("cannot sync the data directory")?;
    let v = serde_json::json!({
        "trust": trust, "key": new.public(), "old_key": current.public(), "backup": backup, "installed": true,
    });
    let human = format!(
        "installed {} as the key of trust {trust}\nold key kept in {} (its signatures no longer count; store it offline, then delete it)\nrestart the node to sign with the new key{}",
        new.public(),
        backup.display(),
        unencrypted_note(dd, was_encrypted)
    );
    Ok(Output { json: v, human })
}

/// Copies the trust key file, byte for byte (so an encrypted key stays
/// encrypted), to the new file `backup`; true when it is encrypted.
fn keep_old_trust_key(dd: &DataDir, backup: &Path) -> Result<bool> {
    let content = keyfile::read_private(&dd.trust_key_path())?;
    write_new(backup, &content, 0o600)?;
    Ok(keyfile::is_encrypted(&content))
}

/// What to say when an encrypted trust key was replaced by a plain one.
fn unencrypted_note(dd: &DataDir, was_encrypted: bool) -> String {
    if !was_encrypted {
        return String::new();
    }
    format!(
        "\nthe old key file was encrypted; the new one is not: run `chorus key encrypt {}`",
        dd.trust_key_path().display()
    )
}

/// `chorus leader-key FILE` and `chorus keygen FILE`: a new key written to
/// a new file; prints its public key (for `chorus delegate --key` or
/// `chorus member replace-key --key`). Unless `unencrypted`, the file is
/// encrypted with a new passphrase (from the terminal, asked twice, or from
/// `CHORUS_PASSPHRASE_FILE` / `CHORUS_PASSPHRASE`).
pub fn leader_key(file: &Path, unencrypted: bool) -> Result<Output> {
    if file.exists() {
        // Before a passphrase is asked for nothing.
        return Err(NodeError::KeyExists(file.to_path_buf()).into());
    }
    let passphrases = Passphrases::from_env();
    if !unencrypted && passphrases.source().is_none() {
        bail!(
            "{} is to be encrypted and needs a new passphrase; give it with CHORUS_PASSPHRASE_FILE=FILE \
             (a file only you can read) or run in a terminal, or pass --unencrypted",
            file.display()
        );
    }
    let key = Keypair::generate();
    let source = if unencrypted {
        write_new_secret(file, &key.seed())?;
        None
    } else {
        let (passphrase, source) = passphrases.new_passphrase(file)?;
        write_new(file, &keyfile::encrypt_key(&key, passphrase)?, 0o600)?;
        Some(source)
    };
    let v = serde_json::json!({
        "file": file, "key": key.public(), "encrypted": source.is_some(),
        "passphrase_from": source.as_ref().map(|s| s.name()),
    });
    Ok(Output { json: v, human: key.public().to_hex() })
}

/// The signer of a stance: the trust key, or a leader key file with its
/// delegation.
pub fn stance_signer(dd: &DataDir, leader: Option<&PathBuf>, delegation: Option<&str>) -> Result<leader::Signer> {
    let trust = dd.trust_id()?;
    match (leader, delegation) {
        (None, None) => Ok(leader::Signer { key: dd.trust_key()?, trust, delegation: None }),
        (Some(file), Some(d)) => {
            let key = read_secret(file)?;
            Ok(leader::Signer { key, trust, delegation: Some(id_arg("--delegation", d)?) })
        }
        _ => Err(Usage("--as-leader KEYFILE and --delegation ID go together".into()).into()),
    }
}

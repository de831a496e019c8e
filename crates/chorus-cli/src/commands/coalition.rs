//! `chorus coalition ...`: founding a coalition offline over files (draft,
//! sign, finalize, show) and joining this node to it.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use chorus_node::config::Config;
use chorus_node::datadir::{write_atomic, DataDir};
use chorus_node::founding;
use clap::Subcommand;

use crate::commands::governance::{attributes_text, observers_line, sets_lines, AttributeArgs, SetsArgs};
use crate::error::Usage;
use crate::output::{self, time, Output};

const DRAFT_HELP: &str = "\
Value sets, breadth rules and observers (flags replace the file's sets; --breadth adds rules):
  --regions \"North East,North West,London\" --phases \"primary,secondary\"
  --trust-types \"multi-academy trust,single-academy trust\" --school-bands 1,2,6,16,31
  --breadth \"positions:region>=6\"              endorsers from at least 6 distinct regions
  --breadth \"positions:region=London,North East\" at least one endorser in each of these
  --observers everything                       who may follow without being a member:
                                               positions (the default), everything or none
Attributes of your own trust: --region, --phase, --trust-type, --schools, --pupils, --label.
Other founders' attributes go in the members file:
  regions = [\"North East\", \"London\"]
  breadth = [\"positions:region>=2\"]
  observers = \"everything\"
  [[member]]
  name = \"Oak Valley Academy Trust\"
  key = \"<64 hex characters>\"
  region = \"North East\"
  phase = \"secondary\"
  trust_type = \"multi-academy trust\"
  schools = 12
  pupils = 6400
  labels = [\"la:Newcastle upon Tyne\"]";

/// `chorus coalition ...`
#[derive(Subcommand, Debug)]
pub(crate) enum CoalitionCmd {
    /// Draft a genesis, signed by your trust. Members come from a TOML file or --member flags.
    #[command(after_help = DRAFT_HELP)]
    Draft {
        /// TOML file: name, rule, the charter's sets (regions, phases,
        /// trust_types, school_bands, breadth) and [[member]] entries with
        /// name, key, external_id and attributes (see below).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "member"])]
        members: Option<PathBuf>,
        /// Coalition name (with --member).
        #[arg(long, required_unless_present = "members")]
        name: Option<String>,
        /// A founding member as "Trust name=HEXKEY"; repeat. Your own trust is added if missing.
        #[arg(long, value_name = "NAME=KEY")]
        member: Vec<String>,
        /// Adoption rule n/d: adopted when more than n/d of members endorse [default: 1/2].
        #[arg(long)]
        rule: Option<String>,
        /// Where to write the draft.
        #[arg(short, long, value_name = "FILE", default_value = "genesis-draft.chorus")]
        output: PathBuf,
        #[command(flatten)]
        sets: Box<SetsArgs>,
        /// Your own trust's attributes (replacing those of your entry in --members).
        #[command(flatten)]
        attributes: Box<AttributeArgs>,
    },
    /// Countersign a draft with your trust key (after showing what you sign).
    Sign {
        /// The draft file.
        file: PathBuf,
        /// Write the signed draft here instead of replacing FILE.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Merge signed drafts and write the final genesis once every founder has signed.
    Finalize {
        /// Signed draft(s) of the same genesis.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the final genesis.
        #[arg(short, long, value_name = "FILE", default_value = "genesis.chorus")]
        output: PathBuf,
    },
    /// Show a draft or final genesis: name, rule, founders and who has signed.
    Show {
        /// The file.
        file: PathBuf,
    },
    /// Configure this node with a final genesis.
    Join {
        /// The final genesis file.
        file: PathBuf,
    },
}

/// Runs one founding step.
pub(crate) fn run(dd: &DataDir, c: CoalitionCmd) -> Result<Output> {
    match c {
        CoalitionCmd::Draft { members, name, member, rule, output, sets, attributes } => {
            sets.check_syntax()?;
            let mine = attributes.parse()?;
            let key = dd.trust_key()?;
            let mut spec = match members {
                Some(path) => {
                    let bytes = chorus_node::datadir::read_bounded(&path, 16 * 1024 * 1024)?;
                    let text = String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
                    let mut spec = founding::DraftSpec::parse(&text)?;
                    if rule.is_some() {
                        spec.rule = rule;
                    }
                    spec
                }
                None => {
                    let mut list = Vec::new();
                    for m in &member {
                        let (n, k) = m
                            .rsplit_once('=')
                            .ok_or_else(|| Usage(format!("--member {m:?} must be \"Trust name=HEXKEY\"")))?;
                        list.push(founding::MemberSpec::new(n.trim(), k.trim()));
                    }
                    let me = key.public().to_hex();
                    if !list.iter().any(|m| m.key.trim().eq_ignore_ascii_case(&me)) {
                        let config = Config::load(&dd.config_path())?;
                        list.push(founding::MemberSpec::new(config.trust_name, me));
                    }
                    founding::DraftSpec { name: name.unwrap_or_default(), rule, members: list, ..Default::default() }
                }
            };
            let mut charter_sets = chorus_core::AttributeSets::default();
            sets.apply_sets(&mut charter_sets)?;
            if sets.regions.is_some() {
                spec.regions = charter_sets.regions;
            }
            if sets.phases.is_some() {
                spec.phases = charter_sets.phases;
            }
            if sets.trust_types.is_some() {
                spec.trust_types = charter_sets.trust_types;
            }
            if sets.school_bands.is_some() {
                spec.school_bands = charter_sets.school_bands;
            }
            spec.breadth.extend(sets.breadth.iter().cloned());
            if sets.observers.is_some() {
                spec.observers = sets.observers.clone();
            }
            if !attributes.is_empty() {
                let me = key.public().to_hex();
                let Some(entry) = spec.members.iter_mut().find(|m| m.key.trim().eq_ignore_ascii_case(&me)) else {
                    return Err(Usage(format!(
                        "your trust key {me} is not among the founding members; add yourself to the members file"
                    ))
                    .into());
                };
                entry.region = mine.region;
                entry.phase = mine.phase;
                entry.trust_type = mine.trust_type;
                entry.schools = mine.schools.map(i64::from);
                entry.pupils = mine.pupils.map(i64::from);
                entry.labels = mine.labels;
            }
            // Every mistake in what is founded (a rule, a key, a value
            // outside a set) is the caller's to fix: exit 2, nothing written.
            let draft = founding::draft(&spec, &key, chorus_node::daemon::now_ms()).map_err(|e| match e {
                chorus_node::NodeError::Founding(m) => anyhow::Error::new(Usage(m)),
                other => other.into(),
            })?;
            chorus_node::datadir::write_new(&output, draft.envelope.bytes(), 0o644)
                .map_err(|e| anyhow!("{e}").context(format!("{} exists; choose another -o", output.display())))?;
            let info = draft.info();
            let human = format!(
                "{}\nWrote the draft to {}. Send it to each founder to run `chorus coalition sign {}`,\nthen run `chorus coalition finalize` on the signed file(s).",
                describe(&info),
                output.display(),
                output.display()
            );
            Ok(Output::new(&info, human))
        }
        CoalitionCmd::Sign { file, output, yes } => {
            let key = dd.trust_key()?;
            let draft = founding::load(&file)?;
            let info = draft.info();
            eprintln!("You are about to sign the founding document of this coalition:\n{}", describe(&info));
            if draft.signed_by(&key.public()) {
                return Ok(Output::new(&info, "your trust has already signed this draft; nothing changed"));
            }
            if !yes && !output::confirm("Sign as a founder?").map_err(anyhow::Error::msg)? {
                bail!("not signed; the draft is unchanged");
            }
            let signed = founding::sign(&draft, &key)?;
            let out = output.unwrap_or(file);
            write_atomic(&out, signed.envelope.bytes(), 0o644)?;
            let info = signed.info();
            let left = info.founders.iter().filter(|f| !f.signed).count();
            let human = if left == 0 {
                format!("signed; every founder has signed. Run `chorus coalition finalize {}`", out.display())
            } else {
                format!("signed and wrote {}; {left} founder(s) still to sign", out.display())
            };
            Ok(Output::new(&info, human))
        }
        CoalitionCmd::Finalize { files, output } => {
            let drafts = files.iter().map(|f| founding::load(f)).collect::<Result<Vec<_>, _>>()?;
            let (merged, coalition) = founding::finalize(&drafts)?;
            write_atomic(&output, merged.envelope.bytes(), 0o644)?;
            let info = merged.info();
            let human = format!(
                "{}\nFinal genesis written to {}. Every node joins with `chorus coalition join {}`.\nCoalition id: {}",
                describe(&info),
                output.display(),
                output.display(),
                coalition.id()
            );
            Ok(Output::new(&info, human))
        }
        CoalitionCmd::Show { file } => {
            let draft = founding::load(&file)?;
            let info = draft.info();
            Ok(Output::new(&info, describe(&info)))
        }
        CoalitionCmd::Join { file } => {
            dd.require_initialised()?;
            let coalition = founding::load_final(&file)?;
            let config = Config::load(&dd.config_path())?;
            let target = config.genesis_path(dd.root());
            if target.exists() {
                let current = founding::load_final(&target)?;
                if current.id() == coalition.id() {
                    return Ok(Output::new(
                        &serde_json::json!({ "coalition": coalition.id(), "genesis": target }),
                        "already joined",
                    ));
                }
                bail!(
                    "this node already serves coalition {} ({}); use another --data-dir for another coalition",
                    current.name(),
                    current.id()
                );
            }
            let bytes = coalition.genesis_envelope().bytes().to_vec();
            write_atomic(&target, &bytes, 0o600)?;
            let trust = dd.trust_id()?;
            let member = coalition.current_roster().contains(&trust);
            let v = serde_json::json!({ "coalition": coalition.id(), "name": coalition.name(), "genesis": target, "member": member });
            let mut human =
                format!("joined {:?} ({})\nstart the node with `chorus node run`", coalition.name(), coalition.id());
            if !member {
                human.push_str(
                    "\nnote: your trust is not a founder; once the coalition admits it (`chorus member admit`), \
                     peers that hold the admission accept this node and it can propose and endorse",
                );
            }
            Ok(Output { json: v, human })
        }
    }
}

/// A draft or final genesis as people read it: name, rule, founders and
/// who has signed.
fn describe(info: &founding::DraftInfo) -> String {
    let mut s = format!(
        "coalition {:?}\n  id        {}\n  rule      adopted when more than {} of members endorse ({} of {} now)\n  created   {}\n",
        info.name,
        info.coalition,
        info.rule,
        info.required,
        info.founders.len(),
        time(info.created_at_ms)
    );
    s.push_str(&format!("  {}\n", observers_line(&info.sets)));
    for line in sets_lines(&info.sets) {
        s.push_str(&format!("  {line}\n"));
    }
    s.push_str("  founders:\n");
    for f in &info.founders {
        s.push_str(&format!(
            "    [{}] {} {}{}\n",
            if f.signed { "signed" } else { "      " },
            f.key,
            output::safe_line(&f.name),
            f.external_id.as_ref().map(|e| format!(" ({})", output::safe_line(e))).unwrap_or_default()
        ));
        let a = attributes_text(&f.attributes);
        if !a.is_empty() {
            s.push_str(&format!("             {a}\n"));
        }
    }
    s.push_str(if info.complete { "  every founder has signed: final" } else { "  not final: founders still to sign" });
    s
}

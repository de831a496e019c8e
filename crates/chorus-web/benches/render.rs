//! Render times of the website for a coalition of 3,000 members and 10,000
//! proposals, beside baselines measured in the same run.
//!
//! Run with `cargo bench -p chorus-web`. The coalition's positions rule is
//! "more than 0/1" (one endorsement adopts), so that a third of the
//! proposals are positions without signing 1,501 endorsements for each:
//! every proposal gets one to three stances, and one proposal gets a stance
//! from every member (1,800 endorse, 900 object with a comment, 300
//! abstain). Prints medians of several runs for:
//! (a) `index.html` under `Publish::Positions` and `Publish::Everything`,
//!     against `serde_json` of the same rows (id, title, created_at, tally)
//!     and against listing them from the ledger;
//! (b) the 3,000-stance proposal's page, against `Ledger::proposal_state`
//!     of it and `serde_json` of that state, and against assembling its
//!     certificate (the page assembles it to show its SHA-256);
//! (c) `members.html`, a feed, `paths()`, and once, rendering every path
//!     as `chorus publish` does.
//! No assertion on time: these are figures to read, not tests.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{certificate, AdoptionRule, Endorsement, Envelope, Kind, Ledger, ObjectId, Proposal, Stance, Tally};
use chorus_web::{Publish, Site, SiteConfig};

const MEMBERS: u32 = 3_000;
const PROPOSALS: usize = 10_000;
const RUNS: usize = 7;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// Median wall-clock time of `runs` calls, after one warm-up call.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    black_box(f());
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn kib(n: usize) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

const BODY: &str = "The coalition **welcomes** the consultation and asks the department to:\n\n\
- publish the funding formula a term before it applies;\n\
- consult trusts on the [guidance](https://www.gov.uk/guidance) before each revision;\n\
- keep the *transition* protection for small schools.\n\n\
> Schools need time to plan.\n";

fn proposal(f: &Fixture, author: usize, title: String, offset: u64) -> Envelope {
    let key = &f.keys[author];
    let p = Proposal {
        coalition: f.id(),
        roster: f.id(),
        author: key.public(),
        created_at_ms: T0 + offset,
        closes_at_ms: None,
        title,
        body: BODY.into(),
        link: None,
        action: None,
        roster_heads: vec![],
        voting_opens_at_ms: None,
        draft: false,
        amendments: vec![],
    };
    Envelope::sign(Kind::Proposal, p.to_body(), &[key])
}

fn stance(f: &Fixture, member: usize, p: ObjectId, stance: Stance, offset: u64, comment: Option<String>) -> Envelope {
    let key = &f.keys[member];
    let e = Endorsement {
        coalition: f.id(),
        proposal: p,
        trust: key.public(),
        created_at_ms: T0 + offset,
        stance,
        comment,
        delegation: None,
    };
    Envelope::sign(Kind::Endorsement, e.to_body(), &[key])
}

fn main() {
    // `cargo test --benches` runs this without --bench; keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("render bench: run with `cargo bench -p chorus-web` to measure");
        return;
    }
    let t = Instant::now();
    let f = Fixture::with_rule(MEMBERS, AdoptionRule::new(0, 1).expect("valid rule"));
    println!("coalition of {MEMBERS} founded in {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut objects: Vec<Envelope> = Vec::new();
    let mut big = None;
    for i in 0..PROPOSALS {
        let p = proposal(&f, i % 20, format!("Proposal {i}: the coalition's response to consultation {i}"), i as u64);
        let id = p.id();
        objects.push(p);
        let m = |k: usize| (i * 7 + k * 13) % MEMBERS as usize;
        if i == PROPOSALS / 2 {
            big = Some(id);
            for member in 0..MEMBERS as usize {
                let (s, c) = match member % 10 {
                    0..=5 => (Stance::Endorse, None),
                    6..=8 => (Stance::Object, Some(format!("Trust {member} objects: the timetable is too short."))),
                    _ => (Stance::Abstain, None),
                };
                objects.push(stance(&f, member, id, s, PROPOSALS as u64 + member as u64, c));
            }
        } else if i % 3 == 0 {
            objects.push(stance(&f, m(0), id, Stance::Endorse, PROPOSALS as u64, None));
            objects.push(stance(&f, m(1), id, Stance::Object, PROPOSALS as u64, Some("Not yet.".into())));
        } else {
            objects.push(stance(&f, m(0), id, Stance::Object, PROPOSALS as u64, Some("We disagree.".into())));
            objects.push(stance(&f, m(1), id, Stance::Abstain, PROPOSALS as u64, None));
            objects.push(stance(&f, m(2), id, Stance::Object, PROPOSALS as u64, None));
        }
    }
    let big = big.expect("the big proposal");
    println!("{} objects signed in {:.1} s", objects.len(), t.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut ledger = Ledger::new(f.coalition.clone());
    let bytes: Vec<&[u8]> = objects.iter().map(|e| e.bytes()).collect();
    for v in ledger.validate_many(&bytes, T0 + 86_400_000, 2) {
        ledger.apply(&v.expect("bench objects are valid"));
    }
    let mut source: BTreeMap<ObjectId, Envelope> = objects.into_iter().map(|e| (e.id(), e)).collect();
    let genesis = f.coalition.genesis_envelope();
    source.insert(genesis.id(), genesis.clone());
    let genesis = &source[&genesis.id()];
    println!(
        "ledger of {} objects, {} positions, built in {:.1} s\n",
        ledger.object_count(),
        ledger.positions().len(),
        t.elapsed().as_secs_f64()
    );

    let positions = SiteConfig { publish: Publish::Positions, base_url: Some("https://voice.example.org/".into()) };
    let everything = SiteConfig { publish: Publish::Everything, base_url: Some("https://voice.example.org/".into()) };

    // (a) The index.
    #[derive(serde::Serialize)]
    struct Row<'a> {
        id: ObjectId,
        title: &'a str,
        created_at_ms: u64,
        tally: Option<Tally>,
    }
    let rows = |all: bool| -> Vec<Row> {
        ledger
            .proposals()
            .into_iter()
            .rev()
            .filter(|(id, _)| all || ledger.is_adopted(id))
            .map(|(id, p)| Row { id, title: &p.title, created_at_ms: p.created_at_ms, tally: ledger.tally(&id) })
            .collect()
    };
    for (name, cfg, all) in [("Positions", &positions, false), ("Everything", &everything, true)] {
        let site = Site::new(&ledger, &source, cfg);
        let page = site.get("index.html").expect("index").body;
        let render = time(RUNS, || site.get("index.html"));
        let list = time(RUNS, || rows(all));
        let json = serde_json::to_vec(&rows(all)).expect("json");
        let ser = time(RUNS, || serde_json::to_vec(&rows(all)));
        println!(
            "index.html ({name}, {} rows): render {:.2} ms, {}\n  baseline: the same rows from the ledger {:.2} ms; \
             and to serde_json {:.2} ms, {}; render / serde_json = {:.1}x",
            rows(all).len(),
            ms(render),
            kib(page.len()),
            ms(list),
            ms(ser),
            kib(json.len()),
            render.as_secs_f64() / ser.as_secs_f64()
        );
    }

    // (b) The 3,000-stance proposal.
    let site = Site::new(&ledger, &source, &positions);
    let path = format!("proposals/{big}.html");
    let page = site.get(&path).expect("page").body;
    let render = time(RUNS, || site.get(&path));
    let state = time(RUNS, || ledger.proposal_state(&big));
    let json = serde_json::to_vec(&ledger.proposal_state(&big)).expect("json");
    let ser = time(RUNS, || serde_json::to_vec(&ledger.proposal_state(&big)));
    let cert_path = format!("certificates/{big}.cert");
    let cert = site.get(&cert_path).expect("certificate").body;
    let assemble = time(RUNS, || site.get(&cert_path));
    // Where assembling goes: the ledger's choice, then core's assembly
    // (which parses every endorsement body to sort by trust).
    let choose = time(RUNS, || (ledger.certificate_endorsements(&big), ledger.certificate_chain(&big)));
    let chosen: Vec<Envelope> =
        ledger.certificate_endorsements(&big).expect("adopted").iter().map(|i| source[i].clone()).collect();
    let core_assemble = time(RUNS, || certificate::assemble_with_chain(genesis, &source[&big], &chosen, &[]));
    let t = ledger.tally(&big).expect("tally");
    println!(
        "\nproposal page, {} stances ({} endorse, {} object, {} abstain): render {:.2} ms, {}\n  \
         baseline: Ledger::proposal_state {:.2} ms; proposal_state + serde_json {:.2} ms, {}; \
         render / (state + serde_json) = {:.1}x\n  \
         of which its certificate ({} endorsements): {:.2} ms, {} (the ledger's choice {:.2} ms, \
         certificate::assemble_with_chain {:.2} ms)",
        t.endorse + t.object + t.abstain,
        t.endorse,
        t.object,
        t.abstain,
        ms(render),
        kib(page.len()),
        ms(state),
        ms(ser),
        kib(json.len()),
        render.as_secs_f64() / ser.as_secs_f64(),
        t.endorse,
        ms(assemble),
        kib(cert.len()),
        ms(choose),
        ms(core_assemble)
    );

    // (c) Other pages, the path list and a whole export.
    let site = Site::new(&ledger, &source, &everything);
    println!();
    for path in ["members.html", "feeds/proposals.atom", "feeds/proposals.json"] {
        let body = site.get(path).expect("asset").body;
        println!("{path}: render {:.2} ms, {}", ms(time(RUNS, || site.get(path))), kib(body.len()));
    }
    let paths = site.paths();
    println!("paths() (Everything, {} paths): {:.2} ms", paths.len(), ms(time(RUNS, || site.paths())));
    let t = Instant::now();
    let mut sizes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for p in &paths {
        let kind = ["proposals/", "certificates/", "feeds/", "assets/"]
            .into_iter()
            .find(|k| p.starts_with(k))
            .map(|k| if p.ends_with(".cert.js") { "certificates/*.cert.js" } else { k })
            .unwrap_or("top-level pages");
        let e = sizes.entry(kind).or_default();
        e.0 += 1;
        e.1 += site.get(p).expect("listed paths are served").body.len();
    }
    let total: usize = sizes.values().map(|(_, b)| b).sum();
    println!(
        "every path rendered once (Everything): {:.2} s, {:.1} MiB",
        t.elapsed().as_secs_f64(),
        total as f64 / 1048576.0
    );
    for (kind, (n, bytes)) in sizes {
        println!("  {kind}: {n} files, {:.1} MiB", bytes as f64 / 1048576.0);
    }
    println!(
        "  (a certificate carries the genesis: {} with {MEMBERS} founders and their signatures)",
        kib(genesis.bytes().len())
    );
}

//! Upgrades: a data directory written by a released format still opens and
//! says the same.
//!
//! `tests/data/format-<N>/` holds a store written with format version `N`
//! (its sled files under `store/`) and `expected.json`: the object count,
//! the ids of the positions and the ledger digest that store must report.
//! The generator [`write_format_data`] writes the directory for the current
//! [`FORMAT_VERSION`]:
//!
//! ```text
//! cargo test -p chorus-store --test upgrade -- --ignored write_format_data
//! ```
//!
//! After every format change, keep the old directories and add a new one
//! with the generator: [`a_store_written_by_this_format_opens_and_says_the_same`]
//! opens every kept `tests/data/format-*` directory, so a release that can
//! no longer read (or migrate) an older store fails here.

use std::path::{Path, PathBuf};

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{Action, Admission, Keypair, Member, ObjectId, Stance};
use chorus_store::{Store, FORMAT_VERSION};

mod common;
use common::{config, create};

const NOW: u64 = T0 + 1_000_000;

fn data_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("data")
}

/// What a kept store must report once opened.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    object_count: usize,
    positions: Vec<String>,
    ledger_digest: String,
}

impl Expected {
    fn of(store: &Store) -> Self {
        Expected {
            object_count: store.object_count(),
            positions: store.positions().iter().map(ObjectId::to_string).collect(),
            ledger_digest: hex::encode(store.with_ledger(|l| l.digest())),
        }
    }

    fn to_json(&self, format: u32) -> String {
        let positions: Vec<String> = self.positions.iter().map(|p| format!("\"{p}\"")).collect();
        format!(
            "{{\n  \"format\": {format},\n  \"object_count\": {},\n  \"positions\": [{}],\n  \"ledger_digest\": \"{}\"\n}}\n",
            self.object_count,
            positions.join(", "),
            self.ledger_digest
        )
    }

    /// Reads the JSON [`Expected::to_json`] writes (a fixed shape, so a few
    /// string searches suffice and the crate needs no JSON dependency).
    fn from_json(text: &str) -> Self {
        let after = |key: &str| -> &str {
            let at = text.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("expected.json lacks {key}"));
            text[at + key.len() + 3..].trim_start()
        };
        let count = after("object_count");
        let digits: String = count.chars().take_while(char::is_ascii_digit).collect();
        let list = after("positions");
        let list = &list[1..list.find(']').expect("positions is a list")];
        let digest = after("ledger_digest");
        Expected {
            object_count: digits.parse().expect("object_count is a number"),
            positions: list.split('"').skip(1).step_by(2).map(str::to_owned).collect(),
            ledger_digest: digest.split('"').nth(1).expect("ledger_digest is a string").to_owned(),
        }
    }
}

/// A small coalition history: three founders, a governance proposal
/// admitting a fourth trust (all founders endorse: a position), an ordinary
/// proposal by the new trust endorsed by all four (a position), and one
/// that is objected to and stays open.
fn history(f: &Fixture) -> Vec<Vec<u8>> {
    let x = Keypair::from_seed(&[42; 32]);
    let member = Member { key: x.public(), name: "X".into(), external_id: None, attributes: Default::default() };
    let g = f.proposal_under(&f.keys[0], f.keys[0].public(), "Admit X", &[], Some(Action::Admit(member)), 10);
    let mut objects = vec![g.clone()];
    objects.extend((0..3).map(|i| f.endorsement(i, g.id(), Stance::Endorse, 11)));
    let p = f.proposal_under(&x, x.public(), "Ordinary", &[g.id()], None, 30);
    objects.push(p.clone());
    objects.extend((0..3).map(|i| f.stance_by(&f.keys[i], f.keys[i].public(), p.id(), Stance::Endorse, 31, None)));
    objects.push(f.stance_by(&x, x.public(), p.id(), Stance::Endorse, 32, None));
    let q = f.proposal(1, "Contested", 40, None);
    objects.push(q.clone());
    objects.push(f.endorsement(0, q.id(), Stance::Object, 41));
    objects.push(f.endorsement(2, q.id(), Stance::Abstain, 42));
    objects.into_iter().map(|o| o.into_bytes()).collect()
}

/// Writes `tests/data/format-<FORMAT_VERSION>/` from [`history`]. Run by
/// hand when the format changes; it refuses to overwrite a kept directory.
#[test]
#[ignore = "writes test data; run by hand after a format change"]
fn write_format_data() {
    let out = data_root().join(format!("format-{FORMAT_VERSION}"));
    assert!(!out.exists(), "{} is kept test data: never overwrite it", out.display());
    let f = Fixture::new(3);
    let store = create(&out.join("store"), &f);
    let admissions = store.ingest(&history(&f), NOW).unwrap();
    assert!(admissions.iter().all(|a| matches!(a, Admission::Stored { .. })), "{admissions:?}");
    let expected = Expected::of(&store);
    assert_eq!(expected.positions.len(), 2, "the history makes two positions");
    store.close().unwrap();
    std::fs::write(out.join("expected.json"), expected.to_json(FORMAT_VERSION)).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Opens a copy of every kept `tests/data/format-*` store (sled writes on
/// open, so the kept files are never opened in place) and checks it reports
/// what its `expected.json` says. There must be one for the current format.
#[test]
fn a_store_written_by_this_format_opens_and_says_the_same() {
    let mut kept: Vec<PathBuf> = std::fs::read_dir(data_root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("format-")))
        .collect();
    kept.sort();
    let current = data_root().join(format!("format-{FORMAT_VERSION}"));
    assert!(kept.contains(&current), "no kept store for format {FORMAT_VERSION}: run write_format_data");
    for dir in kept {
        let expected = Expected::from_json(&std::fs::read_to_string(dir.join("expected.json")).unwrap());
        let copy = tempfile::tempdir().unwrap();
        copy_dir(&dir.join("store"), copy.path());
        let store = Store::open(copy.path(), config()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert!(store.corrupt_records().is_empty(), "{}: {:?}", dir.display(), store.corrupt_records());
        assert_eq!(Expected::of(&store), expected, "{}", dir.display());
        store.close().unwrap();
    }
}

//! `chorus_web::Site::get` on arbitrary request paths (what a reader's
//! browser, or anyone, asks the node's website for): no panic, and nothing
//! is served but the paths the site lists.

#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chorus_core::testkit::Fixture;
use chorus_core::{Envelope, Ledger, ObjectId, Stance};
use chorus_web::{ObjectSource, Publish, Site, SiteConfig};
use libfuzzer_sys::fuzz_target;

struct Objects(BTreeMap<ObjectId, Envelope>);

impl ObjectSource for Objects {
    fn envelope(&self, id: &ObjectId) -> Option<Envelope> {
        self.0.get(id).cloned()
    }
}

/// A small coalition with a position and an open proposal.
fn world() -> &'static (Ledger, Objects, Vec<String>) {
    static WORLD: OnceLock<(Ledger, Objects, Vec<String>)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let f = Fixture::new(3);
        let mut ledger = Ledger::new(f.coalition.clone());
        let mut objects = BTreeMap::new();
        let adopted = f.proposal(0, "Adopted", 1, None);
        let open = f.proposal(1, "Open", 2, None);
        let mut all = vec![adopted.clone(), open.clone()];
        all.extend((0..2).map(|m| f.endorsement(m, adopted.id(), Stance::Endorse, 3)));
        all.push(f.endorsement(2, open.id(), Stance::Object, 4));
        for env in all {
            let v = ledger.validate(env.bytes(), u64::MAX).expect("fixture objects are valid");
            ledger.apply(&v);
            objects.insert(env.id(), env);
        }
        let config = SiteConfig { publish: Publish::Everything, base_url: None };
        let paths = Site::new(&ledger, &Objects(objects.clone()), &config).paths();
        (ledger, Objects(objects), paths)
    })
}

fuzz_target!(|data: &[u8]| {
    let (ledger, objects, paths) = world();
    let Ok(path) = std::str::from_utf8(data) else { return };
    for publish in [Publish::Everything, Publish::Positions] {
        let config = SiteConfig { publish, base_url: Some("https://voice.example.org/".into()) };
        let served = Site::new(ledger, objects, &config).get(path);
        if served.is_some() {
            let listed = path.is_empty() || paths.iter().any(|p| p == path);
            assert!(listed, "served a path the site does not list: {path:?}");
        }
    }
});

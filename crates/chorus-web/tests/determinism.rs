//! Same objects, any order of arrival: the same bytes at every path.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chorus_web::{Publish, Site, SiteConfig};
use common::*;
use proptest::prelude::*;

struct Reference {
    world: World,
    /// Every path's bytes for the objects applied in their natural order,
    /// for each configuration.
    sites: Vec<(SiteConfig, BTreeMap<String, Vec<u8>>)>,
}

fn configs() -> Vec<SiteConfig> {
    vec![
        SiteConfig { publish: Publish::Positions, base_url: None },
        SiteConfig { publish: Publish::Everything, base_url: Some("https://voice.example.org/".into()) },
    ]
}

fn render(site: &Site) -> BTreeMap<String, Vec<u8>> {
    site.paths().into_iter().map(|p| (p.clone(), site.get(&p).expect("listed paths are served").body)).collect()
}

fn reference() -> &'static Reference {
    static R: OnceLock<Reference> = OnceLock::new();
    R.get_or_init(|| {
        let world = world();
        let ledger = world.ledger();
        let source = world.source();
        let sites = configs()
            .into_iter()
            .map(|cfg| {
                let files = render(&Site::new(&ledger, &source, &cfg));
                (cfg, files)
            })
            .collect();
        Reference { world, sites }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_order_of_arrival_renders_the_same_bytes(
        order in Just((0..world_size()).collect::<Vec<usize>>()).prop_shuffle(),
    ) {
        let r = reference();
        let ledger = r.world.ledger_in_order(&order);
        let source = r.world.source();
        for (cfg, want) in &r.sites {
            let got = render(&Site::new(&ledger, &source, cfg));
            prop_assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
            for (path, bytes) in want {
                prop_assert!(&got[path] == bytes, "{} differs for order {:?}", path, order);
            }
        }
    }
}

fn world_size() -> usize {
    reference().world.objects.len()
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let r = reference();
    let ledger = r.world.ledger();
    let source = r.world.source();
    for (cfg, want) in &r.sites {
        assert_eq!(&render(&Site::new(&ledger, &source, cfg)), want);
    }
}

//! Observers (PROTOCOL.md 14.9): peers that follow a coalition without being
//! a member's node. The charter's observer access by the names the control
//! interface, the CLI and the config use, and the set of objects an observer
//! may be served under each access.

use std::collections::BTreeSet;

use chorus_core::{Ledger, ObjectId, ObserverAccess};

/// The line every refused submission on an observer's node gives.
pub const CANNOT_SUBMIT: &str = "this node is an observer: it follows the coalition and cannot submit objects";

/// The observer access in force under `l`: the `observers` setting of the
/// charter of its newest roster version (`Ledger::head_roster`), else of
/// the genesis charter when that version cannot be resolved.
pub fn access_in_force(l: &Ledger) -> ObserverAccess {
    l.head_roster().map_or(l.coalition().charter().observers, |(_, charter)| charter.observers)
}

/// What an observer may be served under [`ObserverAccess::Positions`]: the
/// genesis, every adopted proposal (positions and adopted governance) and
/// the objects their certificates carry (endorsements, dissent and proof
/// chains), the set a node publishes with `publish = "positions"`.
pub fn positions_set(l: &Ledger) -> BTreeSet<ObjectId> {
    let mut set = BTreeSet::from([l.coalition().id()]);
    for p in l.positions() {
        set.insert(p);
        for part in [l.certificate_endorsements(&p), l.certificate_dissent(&p), l.certificate_chain(&p)] {
            set.extend(part.unwrap_or_default());
        }
    }
    set
}

/// What an observer may be served under the access in force under `l`
/// ([`access_in_force`]): `None` for everything held (access everything),
/// else the set: [`positions_set`] under positions, nothing under none.
pub fn visible_to_observers(l: &Ledger) -> Option<BTreeSet<ObjectId>> {
    match access_in_force(l) {
        ObserverAccess::Everything => None,
        ObserverAccess::Positions => Some(positions_set(l)),
        ObserverAccess::None => Some(BTreeSet::new()),
    }
}

/// The name of an observer access: "positions", "everything" or "none".
pub fn access_name(a: ObserverAccess) -> &'static str {
    match a {
        ObserverAccess::Positions => "positions",
        ObserverAccess::Everything => "everything",
        ObserverAccess::None => "none",
    }
}

/// The name of the default access ("positions"), for serde defaults.
pub fn default_access_name() -> String {
    access_name(ObserverAccess::default()).into()
}

/// The access a name gives, `None` for any other name.
pub fn parse_access(name: &str) -> Option<ObserverAccess> {
    match name {
        "positions" => Some(ObserverAccess::Positions),
        "everything" => Some(ObserverAccess::Everything),
        "none" => Some(ObserverAccess::None),
        _ => None,
    }
}

/// What an access lets an observer do, in one line for people.
pub fn access_text(a: ObserverAccess) -> &'static str {
    match a {
        ObserverAccess::Positions => "positions (observers may sync adopted proposals and their certificates)",
        ObserverAccess::Everything => "everything (observers receive every object by gossip and sync)",
        ObserverAccess::None => "none (only members' nodes may connect)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in [ObserverAccess::Positions, ObserverAccess::Everything, ObserverAccess::None] {
            assert_eq!(parse_access(access_name(a)), Some(a));
        }
        assert_eq!(default_access_name(), "positions");
        assert_eq!(parse_access("Everything"), None);
        assert_eq!(parse_access(""), None);
    }

    #[test]
    fn observers_of_positions_get_adopted_proposals_with_their_certificates_objects() {
        use chorus_core::testkit::{Fixture, T0};
        use chorus_core::{Ingest, Stance};
        let f = Fixture::new(3);
        let adopted = f.proposal(0, "Adopted", 10, None);
        let open = f.proposal(1, "Open", 20, None);
        let mut objects = vec![adopted.clone(), open.clone()];
        for i in 0..2 {
            objects.push(f.endorsement(i, adopted.id(), Stance::Endorse, 30));
        }
        let dissent = f.endorsement(2, adopted.id(), Stance::Object, 40);
        let on_open = f.endorsement(0, open.id(), Stance::Endorse, 50);
        objects.extend([dissent.clone(), on_open.clone()]);
        let mut ingest = Ingest::new(f.coalition.clone(), 16);
        let batch = objects.iter().map(|e| Ledger::check_signature(&f.coalition, e.bytes())).collect::<Vec<_>>();
        ingest.admit(batch, T0 + 100);
        let l = ingest.ledger();
        assert!(l.is_adopted(&adopted.id()) && !l.is_adopted(&open.id()));
        let set = positions_set(l);
        assert!(set.contains(&f.coalition.id()) && set.contains(&adopted.id()) && set.contains(&dissent.id()));
        assert!(!set.contains(&open.id()) && !set.contains(&on_open.id()));
        assert_eq!(set.len(), 5, "genesis, proposal, two endorsements, one dissent");
        assert_eq!(access_in_force(l), ObserverAccess::Positions);
        assert_eq!(visible_to_observers(l), Some(set));
        for (access, visible) in [(ObserverAccess::Everything, None), (ObserverAccess::None, Some(BTreeSet::new()))] {
            let charter = chorus_core::Charter { observers: access, ..Default::default() };
            let g = Fixture::with_charter(2, charter, |_| Default::default());
            let ingest = Ingest::new(g.coalition.clone(), 16);
            assert_eq!(access_in_force(ingest.ledger()), access);
            assert_eq!(visible_to_observers(ingest.ledger()), visible);
        }
    }

    #[test]
    fn an_older_nodes_sets_mean_positions() {
        let sets: crate::control::CharterSetsInfo = serde_json::from_str("{}").unwrap();
        assert_eq!(sets.observers, "positions");
        assert_eq!(crate::control::CharterSetsInfo::default().observers, "positions");
    }
}

//! A proposal's tally broken down by attribute (see [`crate::breakdown`]).

use std::collections::BTreeMap;

use super::Ledger;
use crate::breadth::{breakdown, Breakdown};
use crate::decision::RuleKind;
use crate::governance::contributions;
use crate::id::ObjectId;
use crate::keys::PublicKey;
use crate::objects::Stance;

impl Ledger {
    /// The tally of a known, tallied proposal broken down by attribute,
    /// under the roster and charter of its version: the same counts as
    /// [`Ledger::tally`] and the same breadth verdict, by value.
    pub fn breakdown(&self, id: &ObjectId) -> Option<Breakdown> {
        self.tallies.get(id)?;
        let p = self.held.proposals.get(id)?;
        let version = self.derived.version(&self.coalition, &p.roster_heads)?;
        let roster = &version.roster;
        let stances: BTreeMap<PublicKey, Stance> =
            contributions(&self.held, roster, id, p).filter_map(|(trust, _, c)| Some((*trust, c.stance?))).collect();
        Some(breakdown(roster, &version.charter, RuleKind::of(p.action.as_ref()), &stances))
    }
}

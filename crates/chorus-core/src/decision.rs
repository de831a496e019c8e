//! What adopting a proposal decides, and which of the charter's rules it is
//! adopted under (PROTOCOL.md 12.2): a function of the proposal's action.

use crate::objects::{Action, AdoptionRule, Charter};

/// Which of the charter's three rules a proposal is adopted under
/// (PROTOCOL.md 12.2): `positions` for an ordinary proposal, `membership`
/// for an admission, removal, key replacement or member amendment,
/// `amendments` for a charter amendment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// `Charter.positions`.
    Positions,
    /// `Charter.membership`.
    Membership,
    /// `Charter.amendments`.
    Amendments,
}

impl RuleKind {
    /// The rule a proposal with this action (or none) is adopted under.
    pub fn of(action: Option<&Action>) -> Self {
        match action {
            None => RuleKind::Positions,
            Some(Action::AmendCharter(_)) => RuleKind::Amendments,
            Some(_) => RuleKind::Membership,
        }
    }

    /// The field name in `Charter`.
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Positions => "positions",
            RuleKind::Membership => "membership",
            RuleKind::Amendments => "amendments",
        }
    }
}

impl Charter {
    /// The rule of this kind.
    pub fn rule(&self, kind: RuleKind) -> AdoptionRule {
        match kind {
            RuleKind::Positions => self.positions,
            RuleKind::Membership => self.membership,
            RuleKind::Amendments => self.amendments,
        }
    }
}

/// What a coalition decides by adopting a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// An ordinary proposal: a position of the coalition.
    Position,
    /// `admit`: a trust joins.
    Admission,
    /// `remove`: a trust leaves.
    Removal,
    /// `replace_key`: a member's root key is replaced.
    KeyReplacement,
    /// `amend_charter`: the charter is replaced.
    CharterAmendment,
    /// `amend_member`: a member's attributes are replaced.
    MemberAmendment,
}

impl Decision {
    /// What adopting a proposal with this action (or none) decides.
    pub fn of(action: Option<&Action>) -> Self {
        match action {
            None => Decision::Position,
            Some(Action::Admit(_)) => Decision::Admission,
            Some(Action::Remove(_)) => Decision::Removal,
            Some(Action::ReplaceKey { .. }) => Decision::KeyReplacement,
            Some(Action::AmendCharter(_)) => Decision::CharterAmendment,
            Some(Action::AmendMember { .. }) => Decision::MemberAmendment,
        }
    }

    /// A noun for people: "position", "admission", ...
    pub fn noun(self) -> &'static str {
        match self {
            Decision::Position => "position",
            Decision::Admission => "admission",
            Decision::Removal => "removal",
            Decision::KeyReplacement => "key replacement",
            Decision::CharterAmendment => "charter amendment",
            Decision::MemberAmendment => "member amendment",
        }
    }
}

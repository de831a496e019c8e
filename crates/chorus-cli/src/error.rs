//! The errors that choose the exit code, and the one line an error is
//! printed as.

use chorus_node::control::NoAnswer;
use chorus_node::NodeError;

/// A mistake in how the command was called: exit code 2.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);
impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

/// A certificate that did not verify: exit code 1, reason already printed.
#[derive(Debug)]
pub(crate) struct Invalid;
impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid")
    }
}
impl std::error::Error for Invalid {}

/// A node refused a signed object (it is invalid or not authorised): exit
/// code 1, `code` `refused`. The text says which node and why.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) String);
impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Refused {}

/// A node holds a stance just submitted but does not count it (a revoked
/// or ended delegation, a key no longer the trust's, a trust outside the
/// proposal's roster, a late stance): exit code 1, `code` `not_counted`.
#[derive(Debug)]
pub(crate) struct NotCounted(pub(crate) String);
impl std::fmt::Display for NotCounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for NotCounted {}

/// A command refused before signing anything, because of the state of the
/// proposal or of the caller (voting not open yet, not the author, already
/// withdrawn, an unknown id): exit code 1, `code` the case's stable name
/// (see [`code`]). The text says what is wrong and what to do.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// The stable name of the case.
    pub(crate) code: &'static str,
    /// The one line shown.
    pub(crate) message: String,
}
impl Refusal {
    /// A refusal of the case `code`.
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { code, message: message.into() }
    }
}
impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Refusal {}

/// The error and every cause in its chain on one line, `outer: cause: ...`.
/// Most errors of the libraries already write their cause into their own
/// message as well as keeping it as the source; a cause whose text is
/// already on the line is not repeated.
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    // Error text may quote a remote node's words: no line breaks, and
    // nothing that could drive the terminal.
    crate::output::safe_line(&line.replace('\n', " "))
}

/// The stable machine-readable name of an error, the `code` of a `--json`
/// error:
/// - `usage`: a mistake in how the command was called (exit code 2);
/// - `refused`: a node refused a signed object, the local node over the
///   control socket or a remote node's HTTP API (422);
/// - `not_counted`: a node holds a stance just submitted but does not count
///   it (`endorse`, local or `--remote`);
/// - when the node gave no complete answer, `node_not_running`,
///   `node_stopped_during_request`, `permission_denied` or
///   `node_unreachable` (see [`NoAnswer`]);
/// - a command refused before signing ([`Refusal`]): `unknown_proposal`,
///   `unknown_comment`, `not_author`, `voting_not_open`, `voting_open`,
///   `not_draft`, `already_position`, `withdrawn`, `closed`;
/// - `failed`: everything else.
///
/// The case is found anywhere in the error's chain, so context added on
/// the way up does not change the code.
pub(crate) fn code(e: &anyhow::Error) -> &'static str {
    if e.is::<Usage>() {
        return "usage";
    }
    if e.chain().any(|c| c.is::<Refused>()) {
        return "refused";
    }
    if e.chain().any(|c| c.is::<NotCounted>()) {
        return "not_counted";
    }
    if let Some(r) = e.chain().find_map(|c| c.downcast_ref::<Refusal>()) {
        return r.code;
    }
    let no_answer = e.chain().find_map(|cause| match cause.downcast_ref::<NodeError>() {
        Some(NodeError::NoAnswer { failure, .. }) => Some(*failure),
        _ => None,
    });
    no_answer.map_or("failed", NoAnswer::code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that writes its cause into its message and keeps it as
    /// the source, as the libraries' errors do.
    #[derive(Debug)]
    struct Echoing(std::io::Error);
    impl std::fmt::Display for Echoing {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot read /x: {}", self.0)
        }
    }
    impl std::error::Error for Echoing {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// An error that keeps its cause only as the source.
    #[derive(Debug)]
    struct Quiet(std::io::Error);
    impl std::fmt::Display for Quiet {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("cannot read /x")
        }
    }
    impl std::error::Error for Quiet {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn denied() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied")
    }

    #[test]
    fn a_cause_is_printed_once() {
        let e = anyhow::Error::new(Echoing(denied()));
        assert_eq!(one_line(&e), "cannot read /x: permission denied");
        let e = anyhow::Error::new(Quiet(denied()));
        assert_eq!(one_line(&e), "cannot read /x: permission denied");
        let e = anyhow::Error::new(Quiet(denied())).context("cannot start the node");
        assert_eq!(one_line(&e), "cannot start the node: cannot read /x: permission denied");
    }

    #[test]
    fn the_line_has_no_line_breaks() {
        let e = anyhow::anyhow!("first\nsecond");
        assert_eq!(one_line(&e), "first second");
    }

    #[test]
    fn json_codes_name_the_case() {
        let no_answer =
            |failure| NodeError::NoAnswer { failure, socket: "/d/control.sock".into(), message: "m".into() };
        assert_eq!(code(&anyhow::Error::new(no_answer(NoAnswer::NotRunning))), "node_not_running");
        let stopped = anyhow::Error::new(no_answer(NoAnswer::Stopped)).context("cannot submit");
        assert_eq!(code(&stopped), "node_stopped_during_request");
        assert_eq!(code(&anyhow::Error::new(no_answer(NoAnswer::PermissionDenied))), "permission_denied");
        assert_eq!(code(&anyhow::Error::new(no_answer(NoAnswer::Other))), "node_unreachable");
        assert_eq!(code(&anyhow::Error::new(NodeError::Remote("no such proposal".into()))), "failed");
        assert_eq!(code(&anyhow::Error::new(Usage("bad".into()))), "usage");
        assert_eq!(code(&anyhow::Error::new(Refused("the node refused the object: x".into()))), "refused");
        let refused = anyhow::Error::new(Refused("the node refused the object: x".into())).context("cannot submit");
        assert_eq!(code(&refused), "refused");
        assert_eq!(code(&anyhow::Error::new(NotCounted("not counted".into()))), "not_counted");
        assert_eq!(code(&anyhow::anyhow!("other")), "failed");
        let refusal = anyhow::Error::new(Refusal::new("not_draft", "proposal x is not a draft")).context("amend");
        assert_eq!(code(&refusal), "not_draft");
    }
}

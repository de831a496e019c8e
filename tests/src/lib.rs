//! The process harness of Chorus's whole-system tests (the integration
//! tests of this package, in `tests/tests/`): the real `chorus` binary
//! ([`binary`]), its command line ([`cli`]), coalitions of `chorus node run`
//! processes on loopback that the tests start, wait on and stop ([`node`]),
//! child processes that are stopped when a test ends, pass, fail or panic
//! ([`process`]), waits with a deadline ([`wait`]), network namespaces
//! whose links a test cuts and heals, for nodes run as root ([`netns`]),
//! and a client of Chromium's DevTools protocol for the browser test and
//! chorus-cli's `browser_verify` bench ([`devtools`]).
//!
//! ```no_run
//! use chorus_system_tests::{chorus, found, Nodes};
//!
//! let tmp = tempfile::tempdir().unwrap();
//! let (dirs, _genesis) = found(tmp.path(), &["Oak Trust", "Elm Trust"]);
//! let mut nodes = Nodes::new();
//! nodes.start_mesh(&dirs); // returns once each has the other as a peer
//! let id = chorus(&dirs[0], &["propose", "--title", "T", "--body-file", "b.md"]).ok().stdout;
//! nodes.eventually("the proposal at Elm", || {
//!     chorus(&dirs[1], &["proposals", "--json"]).stdout.contains(id.trim()).then_some(())
//! });
//! // Dropping `nodes` stops both: SIGTERM, then SIGKILL after a grace period.
//! ```
//!
//! Helpers panic with a message naming what failed (and the nodes' logs),
//! as a test assertion does: they are for tests only.

pub mod binary;
pub mod cli;
pub mod devtools;
pub mod http_double;
pub mod netns;
pub mod node;
pub mod process;
pub mod wait;

pub use binary::chorus_bin;
pub use cli::{chorus, cmd, copy_files, found, found_with, Run};
pub use netns::Network;
pub use node::{status, Node, Nodes, SERVE_WEBSITE};
pub use process::Process;
pub use wait::eventually;

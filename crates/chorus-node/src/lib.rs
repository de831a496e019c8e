//! # chorus-node: the Chorus daemon as a library
//!
//! Wires chorus-core (rules), chorus-store (disk) and chorus-net (libp2p)
//! into one node, and gives the `chorus` command everything it needs:
//!
//! - [`datadir`]: the data directory layout, `init` (keys created 0600 with
//!   `create_new`, so never overwritten), bounded and atomic file helpers.
//! - [`config`]: `config.toml`, every value overridable by a `CHORUS_*`
//!   environment variable.
//! - [`founding`]: founding a coalition offline over files (draft, sign,
//!   finalize), every signature checked whenever a draft is read.
//! - [`daemon`]: [`daemon::Node`] starts the store, network, control socket
//!   and metrics; [`daemon::run`] runs until SIGINT/SIGTERM and shuts down
//!   durably.
//! - [`control`]: the owner-only Unix-socket protocol between CLI and node,
//!   and its client.
//! - [`network`]: chorus-net over the durable store, with the node's
//!   attestation signed by its trust key.
//! - [`metrics`]: Prometheus metrics and the loopback `/metrics`, `/health`.
//! - [`observer`]: a node that follows a coalition without being a
//!   member's node: the charter's observer access by name, what an observer
//!   may be served.
//! - [`web`]: the read-only website (`http_addr`), rendered by chorus-web.
//! - [`seal`]: which key seals the certificates the node exports.
//! - [`api`]: the JSON read API and the one write path beside it.
//!
//! Signing of proposals and endorsements is not done by the daemon: the CLI
//! signs with the trust key after showing what is signed and submits the
//! exact envelope bytes, which the node verifies, stores durably and then
//! publishes.

pub mod api;
pub mod config;
pub mod control;
pub mod daemon;
pub mod datadir;
pub mod error;
pub mod founding;
mod http;
pub mod metrics;
pub mod network;
pub mod observer;
pub mod seal;
pub mod web;

pub use error::{NodeError, Result};

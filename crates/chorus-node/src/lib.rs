//! # chorus-node: the Chorus daemon as a library
#![allow(missing_docs)]
pub mod config;
pub mod control;
pub mod daemon;
pub mod datadir;
pub mod error;
pub mod founding;
pub mod metrics;
pub mod network;

//! Peer-policy scenarios on virtual time: each test steps `now` by hand; no
//! clock, no sleep, no runtime, no swarm.

mod observers;
mod observing;
mod policy;
mod redial;
mod schedule;
mod support;

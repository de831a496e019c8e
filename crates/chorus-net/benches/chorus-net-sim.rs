//! Simulation of many in-process nodes: gossip latency and catch-up cost.

fn main() {
    println!("chorus-net-sim: not implemented yet");
}

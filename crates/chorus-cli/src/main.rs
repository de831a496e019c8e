//! The `chorus` command.

fn main() {}

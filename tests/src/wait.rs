//! Waiting for a condition with a deadline: the loop under every wait of
//! the harness.

use std::time::{Duration, Instant};

/// Longest any wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(45);

/// Time between two checks of a condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Checks `f` every [`POLL_INTERVAL`] until it returns `Some`, panicking
/// with `what` after [`PATIENCE`]; for waits that involve no node process
/// (use [`crate::Nodes::eventually`] or [`crate::Process::eventually`]
/// when processes are running, for their logs).
pub fn eventually<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    poll(what, f, |_| None)
}

/// The loop of every wait: `f` until `Some`. After each miss, `check` is
/// told whether [`PATIENCE`] has passed and may end the wait with a
/// failure (a node that exited, the logs of a timeout).
pub(crate) fn poll<T>(
    what: &str,
    mut f: impl FnMut() -> Option<T>,
    mut check: impl FnMut(bool) -> Option<String>,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        let timed_out = started.elapsed() >= PATIENCE;
        if let Some(failure) = check(timed_out) {
            panic!("while waiting for: {what}: {failure}");
        }
        assert!(!timed_out, "gave up waiting for: {what} (after {} s)", PATIENCE.as_secs());
        std::thread::sleep(POLL_INTERVAL);
    }
}

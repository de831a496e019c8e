//! The service's notion of time: a monotonic instant the caller supplies.

use std::ops::Add;
use std::time::Duration;

/// Milliseconds since an origin the caller chose (the network task's start,
/// or 0 in a simulation). Monotonic: the caller never passes an earlier
/// value than one it passed before. The service never reads a clock; every
/// decision that depends on time takes one of these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    /// The origin.
    pub const ZERO: Millis = Millis(0);

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Millis {
    type Output = Millis;

    /// Saturates instead of overflowing: a duration too long to represent
    /// means "never" in practice.
    fn add(self, d: Duration) -> Millis {
        Millis(self.0.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
    }
}

/// `base` doubled for each of `n` tries after the first
/// (`base × 2^(n − 1)`, `base` for `n` of 0 or 1), at most `cap`: the one
/// back-off curve of the service's redials and sync retries.
pub(crate) fn doubling_backoff(base: Duration, cap: Duration, n: u32) -> Duration {
    let doublings = n.saturating_sub(1).min(16);
    base.saturating_mul(1 << doublings).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Millis(5) + Duration::from_millis(7), Millis(12));
        assert_eq!(Millis(u64::MAX - 1) + Duration::from_secs(10), Millis(u64::MAX));
        assert_eq!(Millis(3).since(Millis(10)), Duration::ZERO);
        assert_eq!(Millis(10).since(Millis(3)), Duration::from_millis(7));
    }
}

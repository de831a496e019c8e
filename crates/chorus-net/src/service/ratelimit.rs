//! Per-peer token buckets, on the service's virtual time.

use super::time::Millis;

/// A token bucket: `burst` tokens at most, refilled at `rate` per second.
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    tokens: f64,
    burst: f64,
    rate: f64,
    last: Millis,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub(crate) fn new(rate: u32, burst: u32, now: Millis) -> Self {
        TokenBucket { tokens: f64::from(burst), burst: f64::from(burst), rate: f64::from(rate), last: now }
    }

    /// Takes one token at `now` if there is one.
    pub(crate) fn take(&mut self, now: Millis) -> bool {
        let elapsed = now.since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let t0 = Millis(1_000);
        let mut b = TokenBucket::new(10, 3, t0);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0));
        assert!(b.take(Millis(1_100)));
        assert!(!b.take(Millis(1_100)));
        // Refill never exceeds the burst.
        let later = Millis(101_000);
        assert_eq!((0..10).filter(|_| b.take(later)).count(), 3);
    }

    #[test]
    fn an_earlier_instant_neither_refills_nor_rewinds() {
        let mut b = TokenBucket::new(1, 1, Millis(5_000));
        assert!(b.take(Millis(5_000)));
        assert!(!b.take(Millis(1_000)));
        assert!(!b.take(Millis(5_500)));
        assert!(b.take(Millis(6_000)));
    }
}

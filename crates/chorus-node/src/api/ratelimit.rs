//! Token buckets keyed by client address or by signer key, in a map of
//! bounded size.
//!
//! Each key has a bucket of `burst` tokens that refills at `per_minute`
//! tokens a minute; a request takes one token or is refused with the time
//! until the next one. When the map is full, the bucket used least
//! recently is dropped to make room: a forgotten key starts again with a
//! full bucket, which is the price of bounded memory (a flood of distinct
//! keys can reset others' buckets, but never grows the map).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Keys remembered per limiter.
pub const MAX_TRACKED_KEYS: usize = 4096;

/// How fast one key may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added per minute.
    pub per_minute: u32,
    /// Most tokens a bucket holds: requests allowed at once after a pause.
    pub burst: u32,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets for many keys.
pub struct RateLimiter<K> {
    rate: Rate,
    capacity: usize,
    buckets: HashMap<K, Bucket>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    /// A limiter remembering at most [`MAX_TRACKED_KEYS`] keys.
    pub fn new(rate: Rate) -> Self {
        Self::with_capacity(rate, MAX_TRACKED_KEYS)
    }

    /// A limiter remembering at most `capacity` keys (at least one).
    pub fn with_capacity(rate: Rate, capacity: usize) -> Self {
        RateLimiter { rate, capacity: capacity.max(1), buckets: HashMap::new() }
    }

    /// Takes one token for `key` at `now`: `Ok` when there was one, else
    /// how long until there is. A rate of 0 per minute or a burst of 0
    /// refuses everything (a day is given as the wait).
    pub fn check(&mut self, key: &K, now: Instant) -> Result<(), Duration> {
        let per_second = f64::from(self.rate.per_minute) / 60.0;
        let burst = f64::from(self.rate.burst);
        if per_second <= 0.0 || burst < 1.0 {
            return Err(Duration::from_secs(86_400));
        }
        if !self.buckets.contains_key(key) && self.buckets.len() >= self.capacity {
            if let Some(oldest) = self.buckets.iter().min_by_key(|(_, b)| b.updated).map(|(k, _)| k.clone()) {
                self.buckets.remove(&oldest);
            }
        }
        let bucket = self.buckets.entry(key.clone()).or_insert(Bucket { tokens: burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// True when no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// The key a client address is limited by: an IPv4 address itself, an
/// IPv6 address by its /64 (one host commonly holds a whole /64, so
/// limiting single IPv6 addresses would limit nothing). An IPv4 address
/// mapped into IPv6 counts as the IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate { per_minute: 60, burst: 3 };

    #[test]
    fn a_burst_is_allowed_then_one_token_a_second() {
        let mut l = RateLimiter::new(RATE);
        let t = Instant::now();
        for _ in 0..3 {
            assert!(l.check(&1, t).is_ok());
        }
        let wait = l.check(&1, t).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(l.check(&1, t + Duration::from_secs(1)).is_ok());
        assert!(l.check(&1, t + Duration::from_secs(1)).is_err());
        // Refills stop at the burst.
        let later = t + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(l.check(&1, later).is_ok());
        }
        assert!(l.check(&1, later).is_err());
    }

    #[test]
    fn one_key_going_fast_does_not_limit_another() {
        let mut l = RateLimiter::new(RATE);
        let t = Instant::now();
        for _ in 0..10 {
            let _ = l.check(&"flood", t);
        }
        assert!(l.check(&"flood", t).is_err());
        assert!(l.check(&"quiet", t).is_ok());
    }

    #[test]
    fn the_map_stays_bounded_and_forgets_the_least_recent_key() {
        let mut l = RateLimiter::with_capacity(RATE, 2);
        let t = Instant::now();
        for _ in 0..3 {
            l.check(&1, t).unwrap();
        }
        l.check(&2, t + Duration::from_millis(1)).unwrap();
        l.check(&3, t + Duration::from_millis(2)).unwrap();
        assert_eq!(l.len(), 2);
        // Key 1 was the oldest, so it was forgotten: a full bucket again.
        assert!(l.check(&1, t + Duration::from_millis(3)).is_ok());
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn a_zero_rate_refuses_everything() {
        let mut l = RateLimiter::new(Rate { per_minute: 0, burst: 5 });
        assert!(l.check(&1, Instant::now()).is_err());
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}

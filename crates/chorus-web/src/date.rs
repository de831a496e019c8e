//! Dates from signed times (milliseconds since 1970, UTC), formatted without
//! a clock, a time zone database or a locale: the same millisecond gives the
//! same text everywhere.

/// A civil date and time in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
}

/// The last millisecond of year 9999, the latest time RFC 3339 can write.
const MAX_RFC3339_MS: u64 = 253_402_300_799_999;

fn civil(ms: u64) -> Civil {
    let days = (ms / 86_400_000) as i64;
    let in_day = ms % 86_400_000;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (in_day / 3_600_000) as u32,
        minute: (in_day / 60_000 % 60) as u32,
        second: (in_day / 1_000 % 60) as u32,
        milli: (in_day % 1_000) as u32,
    }
}

/// For people: `2026-01-01 09:30 UTC` (seconds are in [`rfc3339`], which
/// pages put in the `datetime` attribute).
pub fn human(ms: u64) -> String {
    let c = civil(ms);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", c.year, c.month, c.day, c.hour, c.minute)
}

/// For machines (HTML `datetime`, Atom, JSON Feed): RFC 3339 in UTC,
/// `2026-01-01T09:30:15Z`, with `.mmm` only when the milliseconds are not
/// zero. Times after year 9999, which RFC 3339 cannot write, are written as
/// its last millisecond.
pub fn rfc3339(ms: u64) -> String {
    let c = civil(ms.min(MAX_RFC3339_MS));
    let base = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second);
    if c.milli == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{:03}Z", c.milli)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1), "1970-01-01T00:00:00.001Z");
        // The testkit's T0.
        assert_eq!(rfc3339(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(human(1_767_225_600_000), "2026-01-01 00:00 UTC");
        // A leap day, and the last millisecond of a leap year.
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(978_307_199_999), "2000-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(1_709_210_096_789), "2024-02-29T12:34:56.789Z");
        assert_eq!(human(1_709_210_096_789), "2024-02-29 12:34 UTC");
        // 2100 is not a leap year.
        assert_eq!(rfc3339(4_107_542_400_000), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn far_future_is_total() {
        assert_eq!(rfc3339(MAX_RFC3339_MS), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59.999Z");
        // Human dates keep the real year, however far.
        assert_eq!(human(u64::MAX), "584556019-04-03 14:25 UTC");
        assert!(human(MAX_RFC3339_MS + 1).starts_with("10000-01-01 00:00"));
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        // Day numbers from civil dates (days_from_civil) must invert civil().
        fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
            let y = if m <= 2 { y - 1 } else { y };
            let era = y.div_euclid(400);
            let yoe = y.rem_euclid(400);
            let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
            let doy = (153 * mp + 2) / 5 + d as i64 - 1;
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            era * 146_097 + doe - 719_468
        }
        let mut last = None;
        for day in 0..146_097u64 {
            let c = civil(day * 86_400_000 + 86_399_999);
            assert_eq!(days_from_civil(c.year, c.month, c.day), day as i64);
            assert_eq!((c.hour, c.minute, c.second, c.milli), (23, 59, 59, 999));
            if let Some((y, m, d)) = last {
                assert!((c.year, c.month, c.day) > (y, m, d));
            }
            last = Some((c.year, c.month, c.day));
        }
    }
}

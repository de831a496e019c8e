//! Times given on the command line: a delay from now (`3` or `3d` days,
//! `12h` hours, `30m` minutes) or an RFC 3339 time
//! (`2027-03-01T09:00:00Z`, `2027-03-01T09:00:00+01:00`).

/// The longest delay accepted: ten years, so that the sum stays far from
/// overflow and a typo (`300000d`) is caught.
const MAX_DELAY_MS: u64 = 3_660 * 86_400_000;

/// The time `arg` names, in ms since 1970, relative to `now_ms` for a
/// delay. The error says what is accepted.
pub fn parse(arg: &str, now_ms: u64) -> Result<u64, String> {
    let s = arg.trim();
    let bad = || {
        format!(
            "{arg:?} is not a time: give days from now (3 or 3d), hours (12h), minutes (30m), or an RFC 3339 time \
             such as 2027-03-01T09:00:00Z"
        )
    };
    if s.contains('T') || s.contains('t') {
        return rfc3339(s).ok_or_else(bad);
    }
    let (number, unit_ms) = match s.char_indices().last() {
        Some((i, 'd')) => (&s[..i], 86_400_000),
        Some((i, 'h')) => (&s[..i], 3_600_000),
        Some((i, 'm')) => (&s[..i], 60_000),
        _ => (s, 86_400_000),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || number.len() > 9 {
        return Err(bad());
    }
    let n: u64 = number.parse().map_err(|_| bad())?;
    let delay = n
        .checked_mul(unit_ms)
        .filter(|d| *d <= MAX_DELAY_MS)
        .ok_or_else(|| format!("{arg:?} is more than ten years from now"))?;
    Ok(now_ms.saturating_add(delay))
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` in ms since 1970; `None` for
/// anything else, or a time before 1970.
fn rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok()).flatten()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let padded = format!("{:0<3}", &frac[..digits.min(3)]);
        millis = padded.parse::<u64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_s: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let h: i64 = rest[1..3].parse().ok().filter(|_| rest[1..3].bytes().all(|c| c.is_ascii_digit()))?;
            let m: i64 = rest[4..6].parse().ok().filter(|_| rest[4..6].bytes().all(|c| c.is_ascii_digit()))?;
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) || day < 1 || day > days_in(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local_s = days * 86_400 + (hour * 3600 + minute * 60 + second.min(59)) as i64;
    let utc_s = u64::try_from(local_s - offset_s).ok()?;
    Some(utc_s * 1000 + millis)
}

fn days_in(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian
/// calendar (year at least 1970).
fn days_from_civil(year: u64, month: u64, day: u64) -> i64 {
    let (y, m, d) = (year as i64 - i64::from(month <= 2), month as i64, day as i64);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_count_from_now() {
        assert_eq!(parse("3", 1000), Ok(1000 + 3 * 86_400_000));
        assert_eq!(parse("3d", 1000), Ok(1000 + 3 * 86_400_000));
        assert_eq!(parse("12h", 0), Ok(12 * 3_600_000));
        assert_eq!(parse(" 30m ", 0), Ok(30 * 60_000));
        assert_eq!(parse("0m", 5), Ok(5));
        for bad in ["", "d", "-3", "3w", "3.5d", "1e3", "99999999999"] {
            assert!(parse(bad, 0).is_err(), "{bad}");
        }
        assert!(parse("4000d", 0).unwrap_err().contains("ten years"));
    }

    #[test]
    fn rfc3339_times_are_utc_milliseconds() {
        assert_eq!(parse("1970-01-01T00:00:00Z", 9), Ok(0));
        assert_eq!(parse("2026-01-01T00:00:00Z", 0), Ok(1_767_225_600_000));
        assert_eq!(parse("2000-02-29T13:05:00Z", 0), Ok(951_782_400_000 + 3_600_000 * 13 + 60_000 * 5));
        assert_eq!(parse("2026-01-01T01:00:00+01:00", 0), Ok(1_767_225_600_000));
        assert_eq!(parse("2025-12-31T23:00:00-01:00", 0), Ok(1_767_225_600_000));
        assert_eq!(parse("2026-01-01T00:00:00.25Z", 0), Ok(1_767_225_600_250));
        for bad in [
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+1:00",
            "1969-12-31T23:59:59Z",
            "2026-01-01 00:00:00Z",
        ] {
            assert!(parse(bad, 0).is_err(), "{bad}");
        }
    }
}

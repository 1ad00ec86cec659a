//! Times as ecsub's records and AWS's answers write them: RFC 3339 in UTC (`2026-12-04T02:28:10Z`,
//! `2026-12-04T02:28:10.123Z`, `…+00:00`), read to milliseconds since the epoch.

/// Milliseconds since the epoch of an RFC 3339 time with a `Z` or `±hh:mm` offset; `None` if it is not one.
pub fn rfc3339_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = text.get(from..to)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3: String = fraction[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = first3.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (rest[1..3].parse::<i64>().ok()? * 60 + rest[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// A time of day on a civil date, in UTC: `(year, month, day, hour, minute, second)`.
pub type Civil = (i64, i64, i64, i64, i64, i64);

/// The civil date and time in UTC of `seconds` since the epoch.
pub fn civil(seconds: i64) -> Civil {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // The civil date of a day number (Howard Hinnant's algorithm, the inverse of the one above).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The RFC 3339 UTC time, to the second, of `ms` milliseconds since the epoch (`2026-12-04T02:28:10Z`): what
/// [`rfc3339_ms`] reads back, to the second.
pub fn rfc3339_of_ms(ms: i64) -> String {
    let (year, month, day, hour, minute, second) = civil(ms.div_euclid(1000));
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests {
    use super::{rfc3339_ms, rfc3339_of_ms};

    #[test]
    fn times_written_are_read_back_to_the_second() {
        assert_eq!(rfc3339_of_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_of_ms(951_868_801_500), "2000-03-01T00:00:01Z");
        assert_eq!(rfc3339_of_ms(1_796_351_290_123), "2026-12-04T02:28:10Z");
        for ms in [
            0,
            86_399_999,
            951_782_400_000,
            1_709_164_800_000,
            4_102_444_800_000,
        ] {
            let written = rfc3339_of_ms(ms);
            assert_eq!(rfc3339_ms(&written), Some(ms - ms % 1000), "{written}");
        }
    }

    #[test]
    fn rfc3339_times_read_as_the_epoch_does() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("2000-03-01T00:00:01.5Z"), Some(951_868_801_500));
        assert_eq!(
            rfc3339_ms("2026-12-04T02:28:10.123456+00:00"),
            Some(1_796_351_290_123)
        );
        assert_eq!(
            rfc3339_ms("2026-12-04T03:28:10.123+01:00"),
            Some(1_796_351_290_123)
        );
        assert_eq!(rfc3339_ms("2026-12-04T02:28:10"), None);
        assert_eq!(rfc3339_ms("2026-13-04T02:28:10Z"), None);
        assert_eq!(rfc3339_ms("yesterday"), None);
    }
}

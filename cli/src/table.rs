//! Text tables and times as every command prints them: columns two spaces apart, `YYYY-MM-DD hh:mm:ss` in UTC,
//! durations as a person would say them.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DD hh:mm:ss` in UTC.
pub fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day, hour, minute, second) =
        ecsub_core::time::civil(i64::try_from(secs).unwrap_or(i64::MAX));
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
}

/// `1.2s`, `3m04s`, `2h05m`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..=59 => format!("{:.1}s", d.as_secs_f64()),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// Writes rows of cells as text columns, two spaces apart, without trailing blanks. `rows` is called twice (once
/// to measure the columns, once to write), so that no table of a whole job is held in memory.
pub fn write_aligned<I: Iterator<Item = Vec<String>>>(
    out: &mut impl Write,
    rows: impl Fn() -> I,
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows() {
        for (c, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(c) {
                Some(max) => *max = (*max).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut line = String::new();
    for row in rows() {
        line.clear();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(cell.chars().count()),
            ));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_civil_dates() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00");
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29 00:00:00"
        );
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(1_795_827_661)),
            "2026-11-28 01:01:01"
        );
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human(Duration::from_millis(1234)), "1.2s");
        assert_eq!(human(Duration::from_secs(184)), "3m04s");
        assert_eq!(human(Duration::from_secs(7500)), "2h05m");
    }
}

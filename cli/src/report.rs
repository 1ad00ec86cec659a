//! The end-of-job report: one row per task, like ecsub's `report` table, as text or JSON.

use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    Succeeded,
    Failed,
    /// Stopped by Ctrl-C while running.
    Interrupted,
    /// Never started (the run was interrupted first).
    NotStarted,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub index: usize,
    pub state: TaskState,
    pub exit_code: Option<i32>,
    #[serde(serialize_with = "ser_time")]
    pub start: Option<SystemTime>,
    #[serde(serialize_with = "ser_time")]
    pub end: Option<SystemTime>,
    pub log: PathBuf,
    pub note: Option<String>,
}

impl TaskReport {
    pub fn duration(&self) -> Option<Duration> {
        self.end?.duration_since(self.start?).ok()
    }
}

fn ser_time<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&format!("{}Z", utc(*t).replace(' ', "T"))),
        None => s.serialize_none(),
    }
}

/// `YYYY-MM-DD hh:mm:ss` in UTC.
pub fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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

/// The report as an aligned text table.
pub fn table(job: &str, rows: &[TaskReport]) -> String {
    let header = [
        "exit_code",
        "taskname",
        "no",
        "task_startAt",
        "task_endAt",
        "duration",
        "log",
        "note",
    ];
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for r in rows {
        cells.push(vec![
            r.exit_code
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            job.to_owned(),
            format!("{:03}", r.index),
            r.start.map_or_else(|| "-".to_owned(), utc),
            r.end.map_or_else(|| "-".to_owned(), utc),
            r.duration().map_or_else(|| "-".to_owned(), human),
            r.log.display().to_string(),
            r.note.clone().unwrap_or_default(),
        ]);
    }
    align(&cells)
}

/// Rows of cells as text columns, two spaces apart, without trailing blanks.
pub fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
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

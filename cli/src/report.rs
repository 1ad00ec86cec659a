//! The end-of-job report: one row per task, like ecsub's `report` table, as text or JSON.

use serde::Serialize;
use std::io::Write;
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

/// One task's result as a run keeps it until the end: a few dozen bytes, so that a job of 100 000 tasks keeps a
/// few MB of them (the log path and the report's other fields are derived when the report is written).
#[derive(Debug, Clone)]
pub struct TaskResult {
    pub state: TaskState,
    pub exit_code: Option<i32>,
    pub start: Option<SystemTime>,
    pub end: Option<SystemTime>,
    pub note: Option<Box<str>>,
}

const TABLE_HEADER: [&str; 8] = [
    "exit_code",
    "taskname",
    "no",
    "task_startAt",
    "task_endAt",
    "duration",
    "log",
    "note",
];

fn table_row(job: &str, r: &TaskReport) -> Vec<String> {
    vec![
        r.exit_code
            .map_or_else(|| "-".to_owned(), |c| c.to_string()),
        job.to_owned(),
        format!("{:03}", r.index),
        r.start.map_or_else(|| "-".to_owned(), utc),
        r.end.map_or_else(|| "-".to_owned(), utc),
        r.duration().map_or_else(|| "-".to_owned(), human),
        r.log.display().to_string(),
        r.note.clone().unwrap_or_default(),
    ]
}

/// Writes the report as an aligned text table. `rows` is called twice (once to measure the columns, once to
/// write), so that no table of the whole job is held in memory.
pub fn write_table<I: Iterator<Item = TaskReport>>(
    out: &mut impl Write,
    job: &str,
    rows: impl Fn() -> I,
) -> std::io::Result<()> {
    let header = || std::iter::once(TABLE_HEADER.iter().map(|h| (*h).to_owned()).collect());
    write_aligned(out, || header().chain(rows().map(|r| table_row(job, &r))))
}

/// Rows of cells as text columns, two spaces apart, without trailing blanks (`status`'s table).
#[cfg(feature = "aws")]
pub fn align(rows: &[Vec<String>]) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_aligned(&mut out, || rows.iter().cloned());
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes rows of cells as text columns, two spaces apart, without trailing blanks; `rows` is called twice.
fn write_aligned<I: Iterator<Item = Vec<String>>>(
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
    fn the_table_is_aligned_from_rows_made_as_they_are_written() {
        let at = |s| Some(UNIX_EPOCH + Duration::from_secs(s));
        let rows = [
            TaskReport {
                index: 0,
                state: TaskState::Succeeded,
                exit_code: Some(0),
                start: at(60),
                end: at(62),
                log: "w/logs/000.log".into(),
                note: None,
            },
            TaskReport {
                index: 11,
                state: TaskState::NotStarted,
                exit_code: None,
                start: None,
                end: None,
                log: "w/logs/011.log".into(),
                note: Some("not started".into()),
            },
        ];
        let mut out = Vec::new();
        write_table(&mut out, "j-abcde", || rows.iter().cloned()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "exit_code  taskname  no   task_startAt         task_endAt           duration  log             note\n\
             0          j-abcde   000  1970-01-01 00:01:00  1970-01-01 00:01:02  2.0s      w/logs/000.log\n\
             -          j-abcde   011  -                    -                    -         w/logs/011.log  not started\n"
        );
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human(Duration::from_millis(1234)), "1.2s");
        assert_eq!(human(Duration::from_secs(184)), "3m04s");
        assert_eq!(human(Duration::from_secs(7500)), "2h05m");
    }
}

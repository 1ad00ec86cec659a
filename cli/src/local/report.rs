//! `run --local`'s end-of-job report: one row per task, like ecsub's `report` table, as text or JSON.

use crate::table::{human, utc, write_aligned};
use ecsub_core::chain::FailureClass;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

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
    #[serde(serialize_with = "ser_path")]
    pub log: PathBuf,
    pub note: Option<String>,
    /// Why it did not succeed, as on AWS (`exit`, `inputs`, `outputs-missing`, …); absent for a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<FailureClass>,
    /// How many times the task ran (more than once under `--retries`); its log holds every attempt.
    pub attempts: u32,
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

/// A path as text, its bytes that are not UTF-8 each replaced by U+FFFD: serde's own serialisation of a path
/// fails on them part-way, which would leave the report invalid JSON.
fn ser_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
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
    pub class: Option<FailureClass>,
    pub attempts: u32,
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
        match (&r.note, r.attempts) {
            (note, 0 | 1) => note.clone().unwrap_or_default(),
            (None, n) => format!("after {n} attempts"),
            (Some(note), n) => format!("{note}; after {n} attempts"),
        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn a_log_path_that_is_not_utf8_is_written_lossily_and_the_json_stays_valid() {
        use std::os::unix::ffi::OsStrExt as _;
        let row = TaskReport {
            index: 0,
            state: TaskState::Failed,
            exit_code: Some(120),
            start: None,
            end: None,
            log: Path::new(std::ffi::OsStr::from_bytes(b"/w\xe9/logs/000.log")).to_path_buf(),
            note: None,
            class: Some(FailureClass::Inputs),
            attempts: 1,
        };
        let json = serde_json::to_string(&row).unwrap();
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["log"], "/w\u{fffd}/logs/000.log");
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
                class: None,
                attempts: 3,
            },
            TaskReport {
                index: 11,
                state: TaskState::NotStarted,
                exit_code: None,
                start: None,
                end: None,
                log: "w/logs/011.log".into(),
                note: Some("not started".into()),
                class: None,
                attempts: 0,
            },
        ];
        let mut out = Vec::new();
        write_table(&mut out, "j-abcde", || rows.iter().cloned()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "exit_code  taskname  no   task_startAt         task_endAt           duration  log             note\n\
             0          j-abcde   000  1970-01-01 00:01:00  1970-01-01 00:01:02  2.0s      w/logs/000.log  after 3 attempts\n\
             -          j-abcde   011  -                    -                    -         w/logs/011.log  not started\n"
        );
    }
}

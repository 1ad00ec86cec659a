//! The end of a local run, once every task's result is known: `report.json` first (whole or not at all, and valid
//! JSON whatever bytes a path holds), then the table (or JSON) on stdout, then the summary on stderr, and the exit
//! code, which is the job's.
//!
//! A reader that has gone (a pager that quit, `| head`, `| true`) costs the rest of the table only: not the
//! report, not the summary, not the exit code. A report that cannot be written is the one runtime error (exit 3),
//! said after the table, which then holds the only record of the results.

use super::dirs::RunDirs;
use super::report::{self, TaskReport, TaskResult, TaskState};
use super::Stop;
use crate::args::Output;
use crate::error::EXIT_TASK_FAILED;
use crate::plan::Plan;
use crate::table::human;
use anyhow::Context as _;
use std::fs;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

/// A run whose tasks have all ended (or were stopped).
pub struct Ended<'a> {
    pub plan: &'a Plan,
    pub dirs: &'a RunDirs,
    /// Every selected task's result, in order.
    pub results: &'a [TaskResult],
    pub stopped_by: Option<Stop>,
    pub took: Duration,
}

impl Ended<'_> {
    /// Writes the report, prints the results as `output` asks, says the summary; the job's exit code, or the
    /// report's error.
    pub fn finish(&self, output: Output) -> anyhow::Result<ExitCode> {
        // The report's rows, made as they are written: a 100 000-task job never holds its table in memory.
        let reports = || {
            self.plan
                .selected
                .clone()
                .zip(self.results)
                .map(|(index, result)| self.dirs.report(index, result))
        };
        let report_path = self.dirs.root.join("report.json");
        let saved = save_json(&report_path, reports)
            .with_context(|| format!("{}: cannot write the report", report_path.display()));
        let job = self.plan.spec.job_id.as_str();
        let printed = {
            let mut out = io::BufWriter::new(io::stdout().lock());
            match output {
                Output::Text => report::write_table(&mut out, job, reports),
                Output::Json => write_json(&mut out, reports()).and_then(|()| writeln!(out)),
            }
            .and_then(|()| out.flush())
        };
        let mut err = io::stderr().lock();
        if let Err(e) = printed {
            if e.kind() != io::ErrorKind::BrokenPipe {
                let _ = writeln!(
                    err,
                    "ecsub-cli: cannot print the results on stdout ({e}): report.json has them"
                );
            }
        }
        let succeeded = self
            .results
            .iter()
            .filter(|r| r.state == TaskState::Succeeded)
            .count();
        let _ = writeln!(
            err,
            "ecsub-cli: job {job}: {succeeded}/{} tasks succeeded in {}{}; scripts, logs and report in {}",
            self.results.len(),
            human(self.took),
            self.stopped_by
                .map_or(String::new(), |s| format!(" (stopped by {})", s.name())),
            self.dirs.root.display()
        );
        saved?;
        Ok(if let Some(stop) = self.stopped_by {
            ExitCode::from(stop.exit_status())
        } else if succeeded == self.results.len() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_TASK_FAILED)
        })
    }
}

/// Every task's report as a pretty JSON array, written as it is made.
pub fn write_json(out: &mut impl Write, rows: impl Iterator<Item = TaskReport>) -> io::Result<()> {
    use serde::Serializer as _;
    let mut json = serde_json::Serializer::pretty(out);
    json.collect_seq(rows).map_err(io::Error::from)
}

/// Writes the rows as JSON to `path`, whole or not at all: under a part name beside it, then renamed over it.
fn save_json<I: Iterator<Item = TaskReport>>(
    path: &std::path::Path,
    rows: impl Fn() -> I,
) -> io::Result<()> {
    let part = path.with_file_name(".report.json.part");
    let written = fs::File::create(&part)
        .map(io::BufWriter::new)
        .and_then(|mut file| {
            write_json(&mut file, rows())?;
            writeln!(file)?;
            file.flush()
        })
        .and_then(|()| fs::rename(&part, path));
    if written.is_err() {
        let _ = fs::remove_file(&part);
    }
    written
}

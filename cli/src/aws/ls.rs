//! `ecsub-cli ls`: the jobs in the stack's bucket, newest first, each with its state, its tasks by outcome and
//! what it cost. One LIST of the job folders, then one to three small objects per job (its summary once it has
//! ended, else its start record, else its error), read 16 at a time.

use super::session::{connect, runtime};
use super::view::align;
use crate::args::{LsArgs, Output};
use crate::error::InputError;
use ecsub_aws::store;
use ecsub_core::chain::{StartedRecord, Summary};
use ecsub_core::cost::format_usd;
use ecsub_core::status::JobState;
use ecsub_core::time::rfc3339_ms;
use ecsub_core::JobLayout;
use serde::Serialize;
use std::collections::HashMap;
use std::process::ExitCode;

/// One job's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub job_id: String,
    /// succeeded, failed, running, rejected or submitted.
    pub state: JobState,
    pub tasks: Option<usize>,
    pub succeeded: Option<usize>,
    pub failed: Option<usize>,
    pub usd: Option<f64>,
    /// When it ended, or started (or, rejected or not started yet, nothing known).
    pub at: Option<String>,
}

pub fn ls(args: &LsArgs) -> anyhow::Result<ExitCode> {
    let Some(work) = args.aws_s3_bucket.as_deref() else {
        return Err(InputError::new(
            "ecsub-cli ls: no bucket: pass --aws-s3-bucket s3://BUCKET or set ECSUB_BUCKET",
        )
        .into());
    };
    let (bucket, prefix) =
        JobLayout::work(work).map_err(|e| InputError::new(format!("--aws-s3-bucket: {e}")))?;
    runtime()?.block_on(async {
        let aws = connect().await?;
        let jobs_prefix = format!("{prefix}jobs/");
        let ids = job_ids(&aws, &bucket, &prefix).await?;
        // A job's summary once it has ended; else its start record; else its error: each asked only of the jobs
        // the one before did not answer for.
        let mut found: HashMap<String, Vec<u8>> = HashMap::new();
        for name in ["summary.json", "started.json", "error.txt"] {
            let keys: Vec<String> = ids
                .iter()
                .filter(|id| {
                    !["summary.json", "started.json"]
                        .iter()
                        .any(|done| found.contains_key(&format!("{jobs_prefix}{id}/{done}")))
                })
                .map(|id| format!("{jobs_prefix}{id}/{name}"))
                .collect();
            found.extend(store::get_many(&aws.s3, &bucket, keys).await?);
        }
        let mut lines: Vec<Line> = ids
            .iter()
            .map(|id| {
                let get = |name: &str| found.get(&format!("{jobs_prefix}{id}/{name}"));
                line(
                    id,
                    get("summary.json").and_then(|b| serde_json::from_slice(b).ok()),
                    get("started.json").and_then(|b| serde_json::from_slice(b).ok()),
                    get("error.txt").is_some(),
                )
            })
            .collect();
        newest_first(&mut lines);
        if args.limit > 0 {
            lines.truncate(args.limit);
        }
        match args.output {
            Output::Json => show!("{}", serde_json::to_string_pretty(&lines)?),
            Output::Text => show_inline!("{}", table(&lines)),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The ids of the jobs in the bucket's `<prefix>jobs/`: one LIST of its folders.
pub async fn job_ids(
    aws: &ecsub_aws::Clients,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    let jobs_prefix = format!("{prefix}jobs/");
    Ok(store::folders(&aws.s3, bucket, &jobs_prefix)
        .await?
        .iter()
        .filter_map(|f| {
            f.strip_prefix(&jobs_prefix)?
                .strip_suffix('/')
                .map(str::to_owned)
        })
        .collect())
}

/// A job's line from what its folder holds.
pub fn line(
    id: &str,
    summary: Option<Summary>,
    started: Option<StartedRecord>,
    rejected: bool,
) -> Line {
    match (summary, started) {
        (Some(s), _) => Line {
            job_id: id.to_owned(),
            state: if s.failed == 0 {
                JobState::Succeeded
            } else {
                JobState::Failed
            },
            tasks: Some(s.tasks.len()),
            succeeded: Some(s.succeeded),
            failed: Some(s.failed),
            usd: s.cost.map(|c| c.usd),
            at: Some(s.finished_at),
        },
        (None, Some(started)) => Line {
            job_id: id.to_owned(),
            state: JobState::Running,
            tasks: Some(started.tasks),
            succeeded: None,
            failed: None,
            usd: None,
            at: Some(started.started_at),
        },
        (None, None) => Line {
            job_id: id.to_owned(),
            state: if rejected {
                JobState::Rejected
            } else {
                JobState::Submitted
            },
            tasks: None,
            succeeded: None,
            failed: None,
            usd: None,
            at: None,
        },
    }
}

/// Newest first; jobs with no time (rejected, not started yet) before the rest, as they are the freshest.
pub fn newest_first(lines: &mut [Line]) {
    lines.sort_by_key(|l| {
        std::cmp::Reverse(l.at.as_deref().and_then(rfc3339_ms).unwrap_or(i64::MAX))
    });
}

pub fn table(lines: &[Line]) -> String {
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let mut rows = vec![
        ["job", "state", "tasks", "succeeded", "failed", "cost", "at"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<String>>(),
    ];
    for l in lines {
        rows.push(vec![
            l.job_id.clone(),
            l.state.to_string(),
            dash(l.tasks.map(|n| n.to_string())),
            dash(l.succeeded.map(|n| n.to_string())),
            dash(l.failed.map(|n| n.to_string())),
            dash(l.usd.map(format_usd)),
            dash(l.at.clone()),
        ]);
    }
    align(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecsub_core::JobId;

    fn started(at: &str, tasks: usize) -> StartedRecord {
        StartedRecord {
            job_id: JobId::new("a", "aaaaa").unwrap_or_else(|e| panic!("{e}")),
            execution_arn: String::new(),
            tasks,
            started_at: at.into(),
            cluster: String::new(),
            log_group: String::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn jobs_are_listed_newest_first_with_what_is_known_of_each() {
        let summary: Summary = serde_json::from_value(serde_json::json!({
            "job_id": "done-aaaaa", "succeeded": 1, "failed": 1, "finished_at": "2026-12-04T03:00:00Z",
            "tasks": [], "cost": {"usd": 0.5, "attempts": [], "sources": [], "unpriced": 0}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut lines = vec![
            line(
                "done-aaaaa",
                Some(summary),
                Some(started("2026-12-04T01:00:00Z", 2)),
                false,
            ),
            line(
                "busy-bbbbb",
                None,
                Some(started("2026-12-04T04:00:00Z", 7)),
                false,
            ),
            line("bad-ccccc", None, None, true),
        ];
        newest_first(&mut lines);
        let text = table(&lines);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            ["job", "state", "tasks", "succeeded", "failed", "cost", "at"]
        );
        assert_eq!(rows[1], ["bad-ccccc", "rejected", "-", "-", "-", "-", "-"]);
        assert_eq!(
            rows[2],
            [
                "busy-bbbbb",
                "running",
                "7",
                "-",
                "-",
                "-",
                "2026-12-04T04:00:00Z"
            ]
        );
        assert_eq!(
            rows[3],
            [
                "done-aaaaa",
                "failed",
                "0",
                "1",
                "1",
                "$0.5000",
                "2026-12-04T03:00:00Z"
            ]
        );
    }
}

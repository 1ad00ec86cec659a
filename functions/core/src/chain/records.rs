//! What the chain leaves in the job's folder of the bucket: `job.json` (the submission), `started.json`, one
//! record per attempt, `waiting/<index>.json`, and `summary.json` (with how the last attempts decide it). The CLI's
//! `status`, `report` and `ls` read these. Pure: no AWS types, no I/O.

use super::error_names;
use super::policy::FailureClass;
use super::wire::{Attempt, Outcome, TaskRef};
use crate::job::JobId;
use crate::options::JobArgs;
use serde::{Deserialize, Serialize};

/// `job.json`: what a push (or the submit function, for an inbox drop or a schedule) asks for. The submit
/// function validates it again with the same code as the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSubmission {
    pub job_id: JobId,
    /// The options, already merged (command line over the file's `#ecsub:` lines); defaults not yet applied.
    pub args: JobArgs,
    /// The tasks file's original name, for messages.
    pub tasks_file: String,
    /// Who submitted: `ecsub-cli`, `inbox` or `schedule`.
    pub origin: String,
    /// `push --skip-existing`: the tasks of the tasks file as given (0-based) left out because their outputs all
    /// existed; the job's tasks are the others, numbered from 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<usize>,
}
/// `attempts/<index>.<attempt>.json`: the one record of how an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub job_id: JobId,
    pub index: usize,
    pub attempt: u32,
    pub spot: bool,
    pub instance_id: Option<String>,
    pub instance_type: Option<String>,
    pub task_arn: Option<String>,
    pub outcome: Outcome,
    /// Why it did not succeed, as a user names it (absent for a success, and in records of older stacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<FailureClass>,
    pub exit_code: Option<i32>,
    pub reason: String,
    #[serde(default)]
    pub missing_outputs: Vec<String>,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    /// When the instance was launched and where (for the attempt's cost; absent in records of older stacks).
    #[serde(default)]
    pub launched_at: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Written just before the attempt's instance is terminated: the end of what it is billed for.
    pub recorded_at: String,
    pub recorded_by: String,
    #[serde(default)]
    pub next_attempt: Option<Attempt>,
    /// `--keep-on-failure`: the task failed for good and its instance is held until then (RFC 3339), not
    /// terminated; the attempt is billed to then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<String>,
}
#[cfg(any(test, feature = "test-util"))]
impl AttemptRecord {
    /// A record for tests: attempt `attempt` of task `index` of job `wc-abcde`, on demand on a t3.micro, ended
    /// with `outcome` (its name as the reason), recorded by task-stopped, not tried again.
    pub fn example(index: usize, attempt: u32, outcome: Outcome) -> AttemptRecord {
        AttemptRecord {
            job_id: JobId::new("wc", "abcde").unwrap_or_else(|e| panic!("{e}")),
            index,
            attempt,
            spot: false,
            instance_id: Some(format!("i-{index}-{attempt}")),
            instance_type: Some("t3.micro".into()),
            task_arn: None,
            outcome,
            class: None,
            exit_code: None,
            reason: format!("{outcome:?}"),
            missing_outputs: Vec::new(),
            started_at: None,
            stopped_at: None,
            launched_at: None,
            availability_zone: None,
            recorded_at: "2026-12-02T00:00:00Z".into(),
            recorded_by: "task-stopped".into(),
            next_attempt: None,
            held_until: None,
        }
    }
}

/// One task's line in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub index: usize,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub attempts: u32,
    pub instance_type: Option<String>,
    pub spot: bool,
    pub reason: String,
    /// What the task's attempts cost (absent when the job was not priced: `--skip-price`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd: Option<f64>,
    /// The ECS task of its last attempt (its log stream is named after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// Its instance, held for a look (`--keep-on-failure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

/// A failed task's instance held for a look (`--keep-on-failure`), and until when (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub instance_id: String,
    pub until: String,
}

impl Held {
    /// The hold a task's last attempt record says.
    pub fn of(record: &AttemptRecord) -> Option<Held> {
        Some(Held {
            instance_id: record.instance_id.clone()?,
            until: record.held_until.clone()?,
        })
    }
}

/// `summary.json`: the job's end state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub job_id: JobId,
    pub succeeded: usize,
    pub failed: usize,
    pub tasks: Vec<TaskSummary>,
    pub finished_at: String,
    /// Why the job ended other than by running its tasks to their end (its Map failed, its execution was
    /// stopped or timed out); each task it cut short says so in its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_error: Option<String>,
    /// What every attempt cost, and the job's total (absent with `--skip-price`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::JobCost>,
}

impl Summary {
    /// The last attempt of every task decides it; a task with no record at all counts as an infrastructure
    /// error (its states never reached a record).
    pub fn from_records(
        job_id: JobId,
        tasks: &[TaskRef],
        records: &[AttemptRecord],
        finished_at: String,
    ) -> Summary {
        // Each task's last attempt, found in one pass over the records (a job has up to 100 000 tasks).
        let mut last: std::collections::HashMap<usize, &AttemptRecord> =
            std::collections::HashMap::with_capacity(tasks.len());
        for record in records {
            let entry = last.entry(record.index).or_insert(record);
            if record.attempt > entry.attempt {
                *entry = record;
            }
        }
        let lines: Vec<TaskSummary> = tasks
            .iter()
            .map(|t| match last.get(&t.index) {
                Some(last) => TaskSummary {
                    index: t.index,
                    outcome: last.outcome,
                    exit_code: last.exit_code,
                    attempts: last.attempt,
                    instance_type: last.instance_type.clone(),
                    spot: last.spot,
                    reason: last.reason.clone(),
                    usd: None,
                    task_arn: last.task_arn.clone(),
                    held: Held::of(last),
                },
                None => TaskSummary {
                    index: t.index,
                    outcome: Outcome::InfrastructureError,
                    exit_code: None,
                    attempts: 0,
                    instance_type: None,
                    spot: false,
                    reason: "no attempt was recorded".to_owned(),
                    usd: None,
                    task_arn: None,
                    held: None,
                },
            })
            .collect();
        let succeeded = lines
            .iter()
            .filter(|l| l.outcome == Outcome::Succeeded)
            .count();
        Summary {
            job_id,
            failed: lines.len() - succeeded,
            succeeded,
            tasks: lines,
            finished_at,
            job_error: None,
            cost: None,
        }
    }

    /// Puts the job's cost in the summary, and each task's share on its line.
    pub fn priced(&mut self, cost: crate::cost::JobCost) {
        let by_task = cost.by_task();
        for task in &mut self.tasks {
            task.usd = Some(by_task.get(&task.index).copied().unwrap_or(0.0));
        }
        self.cost = Some(cost);
    }

    /// The job ended before its tasks did (`why`: its Map failed, its execution was stopped or timed out): every
    /// task with no attempt, or whose last attempt was interrupted (its retry will not come), failed for that
    /// reason, and the summary says why the job ended.
    pub fn ended_early(&mut self, why: String) {
        for task in self
            .tasks
            .iter_mut()
            .filter(|t| t.attempts == 0 || t.outcome == Outcome::Interrupted)
        {
            task.outcome = Outcome::InfrastructureError;
            task.reason = format!("{why} before the task did");
        }
        self.succeeded = self
            .tasks
            .iter()
            .filter(|t| t.outcome == Outcome::Succeeded)
            .count();
        self.failed = self.tasks.len() - self.succeeded;
        self.job_error = Some(why);
    }
}

/// `waiting/<index>.json`: the last time EC2 refused a task's launch for capacity or quota (a task waiting on
/// either is told apart from one waiting for a slot). Overwritten at each such refusal, never removed: it counts
/// only while the task has no instance and its attempt is the one named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub attempt: u32,
    /// `Ecsub.QuotaExceeded` or `Ecsub.CapacityUnavailable`.
    pub error: String,
    pub message: String,
    pub at: String,
}

impl Waiting {
    /// What `status` says of a task still waiting for it.
    pub fn reason(&self) -> String {
        let what = if self.error == error_names::QUOTA_EXCEEDED {
            "waiting for the account's EC2 quota"
        } else {
            "waiting for EC2 capacity"
        };
        format!("{what} (refused at {}): {}", self.at, self.message)
    }
}

/// `started.json`: the submit function started the job's execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedRecord {
    pub job_id: JobId,
    pub execution_arn: String,
    pub tasks: usize,
    pub started_at: String,
    /// The job's ECS cluster ([`cluster_name`]) and log group, for `status` and `logs`.
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub log_group: String,
    /// What the user should know as the job starts: the account's vCPU quota holds fewer instances than
    /// `--processes` ([`super::quotas`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: usize, attempt: u32, outcome: Outcome) -> AttemptRecord {
        AttemptRecord {
            spot: true,
            ..AttemptRecord::example(index, attempt, outcome)
        }
    }

    #[test]
    fn a_waiting_launch_says_whether_it_waits_for_quota_or_capacity() {
        let mut w = Waiting {
            attempt: 1,
            error: error_names::QUOTA_EXCEEDED.into(),
            message: "VcpuLimitExceeded".into(),
            at: "2026-12-04T04:00:00Z".into(),
        };
        assert_eq!(
            w.reason(),
            "waiting for the account's EC2 quota (refused at 2026-12-04T04:00:00Z): VcpuLimitExceeded"
        );
        w.error = error_names::CAPACITY_UNAVAILABLE.into();
        assert!(w
            .reason()
            .starts_with("waiting for EC2 capacity (refused at "));
    }

    #[test]
    fn a_job_ended_early_fails_the_tasks_it_cut_short_and_says_why() {
        let tasks: Vec<TaskRef> = (0..4)
            .map(|index| TaskRef {
                index,
                line: index + 2,
            })
            .collect();
        let records = [
            record(0, 1, Outcome::Succeeded),
            record(1, 1, Outcome::Interrupted),
            record(2, 1, Outcome::Interrupted),
            record(2, 2, Outcome::Failed),
        ];
        let job = JobId::new("wc", "abcde").unwrap_or_else(|e| panic!("{e}"));
        let mut summary = Summary::from_records(job, &tasks, &records, "t".into());
        assert_eq!((summary.succeeded, summary.failed), (1, 3));
        assert_eq!(summary.job_error, None);
        summary.ended_early("the job's Map failed (States.ItemReaderFailed: denied)".into());
        let outcomes: Vec<(Outcome, &str)> = summary
            .tasks
            .iter()
            .map(|t| (t.outcome, t.reason.as_str()))
            .collect();
        let cut = "the job's Map failed (States.ItemReaderFailed: denied) before the task did";
        assert_eq!(
            outcomes,
            [
                (Outcome::Succeeded, "Succeeded"),
                (Outcome::InfrastructureError, cut),
                (Outcome::Failed, "Failed"),
                (Outcome::InfrastructureError, cut),
            ]
        );
        assert_eq!((summary.succeeded, summary.failed), (1, 3));
        assert_eq!(
            summary.job_error.as_deref(),
            Some("the job's Map failed (States.ItemReaderFailed: denied)")
        );
        let text = serde_json::to_string(&summary).unwrap_or_default();
        let back: Summary = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, summary);
    }
}

//! A job's state and each of its tasks', as `status`, `watch`, `cancel` and `push --wait` show them, derived from
//! what the stack recorded: the job's objects (error.txt, started.json, the attempt records, waiting markers,
//! summary.json), its execution's status, the instances tagged with it and the tasks ECS runs. The CLI reads
//! those; this module decides what they mean.
//!
//! Pure: facts in, states out.

use crate::chain::{AttemptRecord, Outcome, Summary, Waiting};
use crate::cost::JobCost;
use serde::{Serialize, Serializer};
use std::fmt;

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Not launched yet: waiting for a slot, for EC2's request limits, capacity or quota.
    Pending,
    /// Its instance is booting.
    Booting,
    /// Its instance runs; its ECS agent is joining the job's cluster.
    Joining,
    /// ECS is pulling the image and starting the container.
    Starting,
    Running,
    /// An attempt ended and the next one is not launched yet.
    Retrying,
    /// Its last attempt decided it.
    Ended(Outcome),
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Booting => "booting",
            TaskState::Joining => "joining",
            TaskState::Starting => "starting",
            TaskState::Running => "running",
            TaskState::Retrying => "retrying",
            TaskState::Ended(outcome) => outcome.as_str(),
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, TaskState::Ended(_))
    }

    pub fn succeeded(self) -> bool {
        self == TaskState::Ended(Outcome::Succeeded)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for TaskState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Pushed; the submit function has not started (or refused) it yet.
    Submitted,
    /// The submit function refused it (its `error.txt` says why).
    Rejected,
    Running,
    /// Its summary is written: every task succeeded, or not.
    Succeeded,
    Failed,
    /// Its execution ended (with this status) and left no summary.
    ExecutionEnded(String),
}

impl JobState {
    /// Has it ended, one way or another?
    pub fn finished(&self) -> bool {
        !matches!(self, JobState::Submitted | JobState::Running)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobState::Submitted => f.pad("submitted"),
            JobState::Rejected => f.pad("rejected"),
            JobState::Running => f.pad("running"),
            JobState::Succeeded => f.pad("succeeded"),
            JobState::Failed => f.pad("failed"),
            JobState::ExecutionEnded(status) => f.pad(&format!("execution {status}")),
        }
    }
}

impl Serialize for JobState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStatus {
    pub index: usize,
    pub state: TaskState,
    pub attempts: u32,
    pub instance_type: Option<String>,
    pub spot: bool,
    pub exit_code: Option<i32>,
    pub reason: String,
    /// The CloudWatch console's page of the log of the task's last attempt (JSON only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Its instance, failed for good and held for a look (`--keep-on-failure`), while it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<crate::chain::Held>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobStatus {
    pub job_id: String,
    pub state: JobState,
    pub errors: Vec<String>,
    pub execution_arn: Option<String>,
    pub tasks: Vec<TaskStatus>,
    /// What the job cost, attempt by attempt (from its summary: known once the job has ended, unless it was
    /// pushed with `--skip-price`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<JobCost>,
    /// What the user should know while the job runs (started.json's notes: the vCPU quota it waits on).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl JobStatus {
    /// Tasks decided.
    pub fn done(&self) -> usize {
        self.tasks.iter().filter(|t| t.state.is_final()).count()
    }

    /// Tasks decided other than by success.
    pub fn failed(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.state.is_final() && !t.state.succeeded())
            .count()
    }

    pub fn finished(&self) -> bool {
        self.state.finished()
    }

    /// A job the submit function refused: `error.txt`'s lines.
    pub fn rejected(job_id: String, errors: Vec<String>) -> JobStatus {
        JobStatus {
            job_id,
            state: JobState::Rejected,
            errors,
            execution_arn: None,
            tasks: Vec::new(),
            cost: None,
            notes: Vec::new(),
        }
    }

    /// A job that has ended: its summary says everything.
    pub fn ended(summary: Summary, execution_arn: Option<String>) -> JobStatus {
        JobStatus {
            job_id: summary.job_id.to_string(),
            state: if summary.failed == 0 {
                JobState::Succeeded
            } else {
                JobState::Failed
            },
            errors: summary.job_error.into_iter().collect(),
            execution_arn,
            tasks: summary
                .tasks
                .into_iter()
                .map(|t| TaskStatus {
                    index: t.index,
                    state: TaskState::Ended(t.outcome),
                    attempts: t.attempts,
                    instance_type: t.instance_type,
                    spot: t.spot,
                    exit_code: t.exit_code,
                    reason: t.reason,
                    log: None,
                    held: t.held,
                })
                .collect(),
            cost: summary.cost,
            notes: Vec::new(),
        }
    }
}

/// A job without a summary: submitted until it started, then running, unless its execution ended (`status`:
/// Step Functions' `RUNNING`, `SUCCEEDED`, …; `None` when it was not asked or not found).
pub fn running_job_state(started: bool, execution_status: Option<&str>) -> JobState {
    match execution_status {
        Some(status) if status != "RUNNING" => JobState::ExecutionEnded(status.to_owned()),
        _ if started => JobState::Running,
        _ => JobState::Submitted,
    }
}

/// One of the job's instances that is not terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveInstance<'a> {
    pub instance_type: &'a str,
    /// EC2 says `pending`: it is booting.
    pub booting: bool,
}

/// What the job as a whole says about its tasks' waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobFacts {
    /// Its execution has started (started.json is there).
    pub started: bool,
    /// `--processes`, as the job resolved it.
    pub processes: u32,
    /// The job has `processes` live instances: a pending task waits for one of them to end.
    pub slots_full: bool,
}

/// What is known of one task: its last recorded attempt, its live instance, the state ECS gives its task (ECS's
/// `lastStatus`: `PROVISIONING`, `PENDING`, `RUNNING`, …), and why EC2 refused its launch last.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskFacts<'a> {
    pub last: Option<&'a AttemptRecord>,
    pub instance: Option<LiveInstance<'a>>,
    pub ecs: Option<&'a str>,
    pub waiting: Option<&'a Waiting>,
}

/// A task's state, attempts and the reason shown beside them.
pub fn task_status(index: usize, task: &TaskFacts<'_>, job: &JobFacts) -> TaskStatus {
    let status = |state, attempts, reason: String| TaskStatus {
        index,
        state,
        attempts,
        instance_type: None,
        spot: false,
        exit_code: None,
        reason,
        log: None,
        held: None,
    };
    match (task.last, task.instance) {
        (Some(r), _) if r.next_attempt.is_none() => TaskStatus {
            instance_type: r.instance_type.clone(),
            spot: r.spot,
            exit_code: r.exit_code,
            held: crate::chain::Held::of(r),
            ..status(TaskState::Ended(r.outcome), r.attempt, r.reason.clone())
        },
        (last, Some(instance)) => {
            let (state, why) = match (instance.booting, task.ecs) {
                (true, _) => (TaskState::Booting, "its instance is booting"),
                (false, None) => (
                    TaskState::Joining,
                    "its instance runs; its ECS agent is joining the cluster",
                ),
                (false, Some("RUNNING")) => (TaskState::Running, ""),
                (false, Some(_)) => (
                    TaskState::Starting,
                    "ECS is pulling the image and starting the container",
                ),
            };
            let reason = match last.map(|r| format!("retrying after: {}", r.reason)) {
                Some(retry) if why.is_empty() => retry,
                Some(retry) => format!("{why}; {retry}"),
                None => why.to_owned(),
            };
            TaskStatus {
                instance_type: Some(instance.instance_type.to_owned()),
                ..status(state, last.map_or(1, |r| r.attempt + 1), reason)
            }
        }
        (Some(r), None) => {
            let reason = match task.waiting.filter(|w| w.attempt == r.attempt + 1) {
                Some(w) => format!("{}; after: {}", w.reason(), r.reason),
                None => r.reason.clone(),
            };
            TaskStatus {
                instance_type: r.instance_type.clone(),
                spot: r.spot,
                exit_code: r.exit_code,
                ..status(TaskState::Retrying, r.attempt, reason)
            }
        }
        (None, None) => {
            let reason = if !job.started {
                String::new()
            } else if let Some(w) = task.waiting.filter(|w| w.attempt == 1) {
                w.reason()
            } else if job.slots_full {
                format!(
                    "waiting for a slot: {} tasks at once (--processes)",
                    job.processes
                )
            } else {
                "being launched (EC2's request limits are waited out)".to_owned()
            };
            status(TaskState::Pending, 0, reason)
        }
    }
}

/// Does the task wait for a launch (no live instance, and no attempt yet or one to be tried again)? Only then is
/// why EC2 refused its launch worth reading.
pub fn awaits_launch(task: &TaskFacts<'_>) -> bool {
    task.instance.is_none() && task.last.is_none_or(|r| r.next_attempt.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{error_names, Attempt};

    fn record(attempt: u32, outcome: Outcome, next: bool) -> AttemptRecord {
        AttemptRecord {
            spot: true,
            instance_type: Some("m5.large".into()),
            task_arn: Some("arn:aws:ecs:us-east-1:1:task/c/t".into()),
            reason: "Host EC2 (instance i-1) terminated.".into(),
            next_attempt: next.then_some(Attempt {
                number: attempt + 1,
                spot: true,
                ..Attempt::default()
            }),
            ..AttemptRecord::example(4, attempt, outcome)
        }
    }

    const JOB: JobFacts = JobFacts {
        started: true,
        processes: 2,
        slots_full: false,
    };

    fn state(task: TaskFacts<'_>, job: &JobFacts) -> (TaskState, u32, String) {
        let s = task_status(4, &task, job);
        (s.state, s.attempts, s.reason)
    }

    #[test]
    fn a_task_with_no_attempt_and_no_instance_is_pending_and_says_what_it_waits_for() {
        let before_start = JobFacts {
            started: false,
            ..JOB
        };
        assert_eq!(
            state(TaskFacts::default(), &before_start),
            (TaskState::Pending, 0, String::new())
        );
        assert_eq!(
            state(TaskFacts::default(), &JOB).2,
            "being launched (EC2's request limits are waited out)"
        );
        let full = JobFacts {
            slots_full: true,
            ..JOB
        };
        assert_eq!(
            state(TaskFacts::default(), &full).2,
            "waiting for a slot: 2 tasks at once (--processes)"
        );
        let quota = Waiting {
            attempt: 1,
            error: error_names::QUOTA_EXCEEDED.into(),
            message: "VcpuLimitExceeded".into(),
            at: "t".into(),
        };
        let waiting = TaskFacts {
            waiting: Some(&quota),
            ..TaskFacts::default()
        };
        assert!(state(waiting, &full)
            .2
            .starts_with("waiting for the account's EC2 quota"));
        assert!(awaits_launch(&waiting));
    }

    #[test]
    fn a_live_instance_is_booting_joining_starting_or_running_by_what_ec2_and_ecs_say() {
        let booting = LiveInstance {
            instance_type: "t3.micro",
            booting: true,
        };
        let up = LiveInstance {
            booting: false,
            ..booting
        };
        let on = |instance, ecs| TaskFacts {
            instance: Some(instance),
            ecs,
            ..TaskFacts::default()
        };
        assert_eq!(state(on(booting, None), &JOB).0, TaskState::Booting);
        assert_eq!(state(on(up, None), &JOB).0, TaskState::Joining);
        assert_eq!(state(on(up, Some("PENDING")), &JOB).0, TaskState::Starting);
        assert_eq!(
            state(on(up, Some("RUNNING")), &JOB),
            (TaskState::Running, 1, String::new())
        );
        let s = task_status(4, &on(up, Some("RUNNING")), &JOB);
        assert_eq!(s.instance_type.as_deref(), Some("t3.micro"));
        assert!(!awaits_launch(&on(up, None)));
    }

    #[test]
    fn an_interrupted_attempt_is_retrying_until_its_next_instance_runs_and_a_final_one_decides() {
        let interrupted = record(1, Outcome::Interrupted, true);
        let capacity = Waiting {
            attempt: 2,
            error: error_names::CAPACITY_UNAVAILABLE.into(),
            message: "InsufficientInstanceCapacity".into(),
            at: "t".into(),
        };
        let retrying = TaskFacts {
            last: Some(&interrupted),
            waiting: Some(&capacity),
            ..TaskFacts::default()
        };
        let (s, attempts, reason) = state(retrying, &JOB);
        assert_eq!((s, attempts), (TaskState::Retrying, 1));
        assert!(reason.starts_with("waiting for EC2 capacity"), "{reason}");
        assert!(reason.ends_with("; after: Host EC2 (instance i-1) terminated."));
        assert!(awaits_launch(&retrying));
        let relaunched = TaskFacts {
            instance: Some(LiveInstance {
                instance_type: "m5.large",
                booting: false,
            }),
            ecs: Some("RUNNING"),
            ..retrying
        };
        assert_eq!(
            state(relaunched, &JOB),
            (
                TaskState::Running,
                2,
                "retrying after: Host EC2 (instance i-1) terminated.".into()
            )
        );
        let failed = record(2, Outcome::Failed, false);
        let ended = TaskFacts {
            last: Some(&failed),
            ..relaunched
        };
        assert_eq!(state(ended, &JOB).0, TaskState::Ended(Outcome::Failed));
        assert!(TaskState::Ended(Outcome::Failed).is_final());
        assert!(!awaits_launch(&TaskFacts {
            instance: None,
            ..ended
        }));
    }

    #[test]
    fn states_read_and_serialize_as_the_words_status_always_printed() {
        let words: Vec<String> = [
            TaskState::Pending,
            TaskState::Booting,
            TaskState::Joining,
            TaskState::Starting,
            TaskState::Running,
            TaskState::Retrying,
            TaskState::Ended(Outcome::OutputsMissing),
        ]
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
        assert_eq!(
            words,
            [
                "\"pending\"",
                "\"booting\"",
                "\"joining\"",
                "\"starting\"",
                "\"running\"",
                "\"retrying\"",
                "\"outputs-missing\""
            ]
        );
        assert_eq!(
            running_job_state(true, Some("ABORTED")).to_string(),
            "execution ABORTED"
        );
        assert_eq!(running_job_state(true, Some("RUNNING")), JobState::Running);
        assert_eq!(running_job_state(false, None), JobState::Submitted);
        assert!(JobState::ExecutionEnded("FAILED".into()).finished());
        assert!(!JobState::Running.finished());
        assert_eq!(
            serde_json::to_string(&JobState::Rejected).unwrap_or_default(),
            "\"rejected\""
        );
        assert_eq!(format!("[{:<9}]", TaskState::Pending), "[pending  ]");
    }
}

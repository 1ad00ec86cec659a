//! The contract of the serverless chain: what the Lambdas and the state machine pass each other, the records they
//! leave in the bucket, the stable error names and the names of what a stack owns. Typed payloads here are what
//! `infra/statemachine/*.asl.json` reads; a test checks the paths. The policies (how an ended attempt is
//! classified, whether it is tried again, what one execution can carry) are in [`policy`] and [`limits`]; what runs
//! on an instance and in its container in [`instance`].
//!
//! Pure: no AWS types, no I/O.

pub mod admission;
pub mod instance;
pub mod limits;
pub mod policy;
pub mod stager;

pub use instance::{container_command, log_stream, user_data, CONTAINER_SHELL};
pub use policy::{classify, next_attempt, Stopped};

use crate::job::JobId;
use crate::options::JobArgs;
use serde::{Deserialize, Serialize};

/// Error names the Lambdas report (as `errorType`) and the state machine's Retry/Catch match.
pub mod error_names {
    /// No instance type (and subnet) had capacity for this attempt; worth retrying later.
    pub const CAPACITY_UNAVAILABLE: &str = "Ecsub.CapacityUnavailable";
    /// An account quota (vCPUs, instances, spot instances) is used up; worth waiting for, long, without walking
    /// the instance types.
    pub const QUOTA_EXCEEDED: &str = "Ecsub.QuotaExceeded";
    /// EC2 or ECS throttled the call (RequestLimitExceeded, ThrottlingException) past the SDK's own retries.
    pub const THROTTLED: &str = "Ecsub.Throttled";
    /// EC2 refused the launch for a reason retrying will not fix (bad AMI, profile, subnet, permissions).
    pub const LAUNCH_FAILED: &str = "Ecsub.LaunchFailed";
    /// StartTask started no task (its `failures`: AGENT, RESOURCE:*, …): safe to try again.
    pub const START_FAILED: &str = "Ecsub.StartFailed";
    /// An AWS call failed in a way that may pass on retry (5xx, network).
    pub const AWS_ERROR: &str = "Ecsub.AwsError";
    /// The input the function got is not what the state machine or the event source should send.
    pub const INVALID_INPUT: &str = "Ecsub.InvalidInput";
    /// The instance never joined the job's cluster within the bound (set by the state machine).
    pub const INSTANCE_NEVER_JOINED: &str = "Ecsub.InstanceNeverJoined";

    /// Every name, for checks that the state machine only uses names that exist.
    pub const ALL: &[&str] = &[
        CAPACITY_UNAVAILABLE,
        QUOTA_EXCEEDED,
        THROTTLED,
        LAUNCH_FAILED,
        START_FAILED,
        AWS_ERROR,
        INVALID_INPUT,
        INSTANCE_NEVER_JOINED,
    ];
}

/// Attempts of one task at most (the first plus retries after interruptions).
pub const MAX_ATTEMPTS: u32 = 3;
/// Tags put on every instance (and its volumes) of a job, so that nothing of a job can hide. `ecsub:stack` names
/// the stack that launched it: a stack's sweeps, rules and IAM conditions only ever touch its own.
pub const TAG_STACK: &str = "ecsub:stack";
pub const TAG_JOB: &str = "ecsub:job";
pub const TAG_TASK: &str = "ecsub:task";
pub const TAG_ATTEMPT: &str = "ecsub:attempt";
/// The container every task definition has; the state machine overrides its environment.
pub const CONTAINER_NAME: &str = "main";
/// The awslogs stream prefix of the task definitions.
pub const LOG_STREAM_PREFIX: &str = "ecsub";
/// Log groups the stack may create and read: `ecsub-<job>` by default; `--aws-log-group-name` must keep it.
pub const LOG_GROUP_PREFIX: &str = "ecsub-";
/// `startedBy` of every task ecsub starts (at most 36 characters, ECS StartTask).
pub const STARTED_BY: &str = "ecsub";

/// A job's ECS cluster (and task definition family): `<stack>_<job id>`. Stack names never hold `_` (CloudFormation:
/// letters, digits, `-`), so the prefix `<stack>_` names exactly one stack's clusters, in IAM conditions and in the
/// ECS rule's pattern.
pub fn cluster_name(stack: &str, job: &JobId) -> String {
    format!("{stack}_{job}")
}

/// The job id of one of `stack`'s clusters, or `None` for another stack's (or not ecsub's).
pub fn job_of_cluster(stack: &str, cluster: &str) -> Option<JobId> {
    let name = cluster.rsplit('/').next().unwrap_or(cluster);
    let id = name.strip_prefix(stack)?.strip_prefix('_')?;
    JobId::try_from(id.to_owned()).ok()
}

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

/// The state machine's input, written by the submit function. It stays the same size whatever the number of
/// tasks: the tasks themselves are in [`TaskItems::key`], which the distributed Map reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionInput {
    pub job: JobRef,
    pub items: TaskItems,
    /// Always there, `null` when the job starts: the Map's Catch puts its error here (`ResultPath`), and the job's
    /// end passes it on to the summary. (A path that may be missing cannot be read: a state that reads
    /// `$.map_error` when it is not in its input fails with States.Runtime.)
    pub map_error: Option<StatesError>,
}

/// Where the job's tasks are: one JSON array of [`TaskRef`] in the job's bucket (`items.json`), the distributed
/// Map's ItemReader; and where the Map writes its results (the ResultWriter's prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskItems {
    /// The key of `items.json` in [`JobRef::bucket`].
    pub key: String,
    /// How many tasks it holds.
    pub count: usize,
    /// The key prefix under which the Map run writes its manifest and result files.
    pub results_prefix: String,
}

/// Everything about the job that a task's states need; carried through the Map into every iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    pub job_id: JobId,
    pub bucket: String,
    /// `s3://bucket/<prefix>jobs/<job-id>/`
    pub job_url: String,
    /// [`cluster_name`]; also the task definition's family.
    pub cluster: String,
    pub task_definition: String,
    pub instance_types: Vec<String>,
    pub spot: bool,
    pub retry_od: bool,
    pub disk_size: u32,
    pub subnet_ids: Vec<String>,
    pub security_group_id: Option<String>,
    pub key_name: Option<String>,
    /// Buckets whose objects are read with `x-amz-request-payer: requester` (`--request-payer-bucket`).
    #[serde(default)]
    pub request_payer_buckets: Vec<String>,
    /// Map concurrency (`--processes`).
    pub processes: u32,
    /// Seconds between polls (`--waiter-delay`).
    pub waiter_delay: u32,
    /// Polls before an instance that has not joined the cluster is given up ([`limits::join_polls`]).
    pub join_polls: u32,
    /// Seconds a task may run before it is stopped and counted as failed.
    pub task_timeout: u32,
    /// The stack's stagers when the job was submitted (the instance's user data fetches its architecture's).
    #[serde(default)]
    pub stagers: Vec<stager::StagerRef>,
    /// `--skip-price`: the job's end does not cost its attempts.
    #[serde(default)]
    pub skip_price: bool,
}

/// The root volume of every instance: the ECS-optimized AMI's 30 GiB plus the job's `--disk-size`.
pub const BASE_DISK_GIB: u32 = 30;

impl JobRef {
    /// The size of each instance's root volume (gp3), in GiB.
    pub fn root_volume_gib(&self) -> u32 {
        BASE_DISK_GIB.saturating_add(self.disk_size)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRef {
    pub index: usize,
    /// The tasks file line, for messages.
    pub line: usize,
}

/// One try at running a task: its number (from 1) and whether it runs on spot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub number: u32,
    pub spot: bool,
}

/// What the state machine asks the `launch` function for, per attempt of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum LaunchRequest {
    /// RunInstances for the attempt; answers an [`Instance`].
    Launch {
        job: JobRef,
        task: TaskRef,
        attempt: Attempt,
    },
    /// Has the attempt's instance registered in the job's cluster, with its agent connected? Answers a
    /// [`JoinCheck`].
    CheckJoined { job: JobRef, instance: Instance },
    /// StartTask on the joined instance with the state's task token in the container's environment; answers at
    /// once, and the state waits for the token (task-stopped sends it back). `failures` raise `Ecsub.StartFailed`.
    Start {
        token: String,
        job: JobRef,
        task: TaskRef,
        attempt: Attempt,
        instance: Instance,
        container_instance: String,
    },
}

/// The `check-joined` answer, kept at `$.joined`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinCheck {
    /// Registered, ACTIVE and its agent connected: a task can be started on it.
    pub joined: bool,
    pub container_instance_arn: Option<String>,
    /// What was seen, for the record when the instance never joins.
    pub seen: String,
}

/// The `launch` function's output, kept at `$.instance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub instance_id: String,
    pub instance_type: String,
    pub spot: bool,
    pub subnet_id: Option<String>,
    pub launched_at: String,
    /// Where it runs: a spot attempt is priced at its zone's spot price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Exit code 0 and every declared output exists.
    Succeeded,
    /// The task's exit code was not 0.
    Failed,
    /// Exit code 0 but a declared output is missing.
    OutputsMissing,
    /// The instance went away under the task (spot interruption, host loss).
    Interrupted,
    /// No exit code: the instance or container never ran the task properly.
    InfrastructureError,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::OutputsMissing => "outputs-missing",
            Outcome::Interrupted => "interrupted",
            Outcome::InfrastructureError => "infrastructure-error",
        }
    }
}

/// What `task-stopped` sends back to the waiting `StartTask` state (SendTaskSuccess), at `$.result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptResult {
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub reason: String,
    /// Present when the task is tried again: the state machine launches this attempt next.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_attempt: Option<Attempt>,
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
}

/// The error a Catch puts at `$.error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatesError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

impl StatesError {
    /// `Name: what happened`. A Lambda function's error reaches a Catch with the function's error payload
    /// (`{"errorType": …, "errorMessage": …}`, as JSON text) as its cause: its message is what is said.
    pub fn reason(&self) -> String {
        let cause = self.cause.as_deref().map(str::trim).unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(cause)
            .ok()
            .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| cause.to_owned());
        if message.is_empty() {
            self.error.clone()
        } else {
            format!("{}: {message}", self.error)
        }
    }
}

/// The Map iteration's state as a Catch leaves it: `instance` is there only if the launch got that far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IterationState {
    pub job: JobRef,
    pub task: TaskRef,
    pub attempt: Attempt,
    #[serde(default)]
    pub instance: Option<Instance>,
    #[serde(default)]
    pub error: Option<StatesError>,
}

/// The `finalize` function's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum FinalizeInput {
    /// A task's states failed (launch, join, start, timeout): terminate its instance, record the attempt.
    TaskError { state: IterationState },
    /// Every task is done: write the summary, sweep the job's instances, delete the cluster.
    JobEnd {
        job: JobRef,
        items: TaskItems,
        /// The Map's error when it failed as a whole (its items unreadable, its results unwritable, …).
        #[serde(default)]
        map_error: Option<StatesError>,
    },
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: usize, attempt: u32, outcome: Outcome) -> AttemptRecord {
        AttemptRecord {
            job_id: JobId::new("wc", "abcde").unwrap_or_else(|e| panic!("{e}")),
            index,
            attempt,
            spot: true,
            instance_id: Some(format!("i-{index}-{attempt}")),
            instance_type: Some("t3.micro".into()),
            task_arn: None,
            outcome,
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

//! The payloads the Lambdas and the state machine pass each other: the execution's input, what every task's
//! states carry (the job, the task, the attempt, its instance), the `launch` and `finalize` functions' requests and
//! answers, the error a Catch leaves. `infra/statemachine/*.asl.json` reads these; `tests/asl_contract.rs` checks
//! the paths. Pure: no AWS types, no I/O.

use super::stager;
use crate::job::JobId;
use serde::{Deserialize, Serialize};

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
    /// `--spot-attempts`: the attempts from 1 to this run on spot, the rest on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_attempts: Option<u32>,
    /// `--retries` and `--retry-on-exit`: how often a task's own failure is tried again, and for which exit codes
    /// (none: any).
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub retry_on_exit: Vec<i32>,
    /// `--retry-larger`: an out-of-memory failure's retry runs a size larger, an out-of-disk one's with twice the
    /// disk.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retry_larger: bool,
    /// `--keep-on-failure`, in seconds: the instance of a task failed for good is held this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_on_failure: Option<u32>,
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
    /// Seconds an attempt waits for its instance's join event before it checks for itself
    /// ([`limits::join_wait`]).
    #[serde(default = "default_join_wait")]
    pub join_wait: u32,
    /// Checks before an instance that has not joined the cluster is given up ([`limits::join_polls`]).
    pub join_polls: u32,
    /// Seconds a task may run before it is stopped and counted as failed.
    pub task_timeout: u32,
    /// The stack's stagers when the job was submitted (the instance's user data fetches its architecture's).
    #[serde(default)]
    pub stagers: Vec<stager::StagerRef>,
    /// `--skip-price`: the job's end does not cost its attempts.
    #[serde(default)]
    pub skip_price: bool,
    /// Seconds the Launch state waits for the launcher's answer before it fails with States.Timeout: the stack's
    /// launch patience (after which the launcher itself fails the ask, saying why) and a margin.
    #[serde(default = "default_launch_timeout")]
    pub launch_timeout: u32,
    /// `--tag`s: put on the instances, their volumes and the ECS tasks beside ecsub's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<crate::tags::Tag>,
}

fn default_join_wait() -> u32 {
    super::limits::MAX_JOIN_WAIT
}

fn default_launch_timeout() -> u32 {
    24 * 3600 + LAUNCH_TIMEOUT_MARGIN
}

/// What the Launch state's own timeout adds to the stack's launch patience: the launcher answers an ask that ran
/// out of patience within a batch window and a queue delay (at most 15 minutes, SQS's longest).
pub const LAUNCH_TIMEOUT_MARGIN: u32 = 1800;

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

/// One try at running a task: its number (from 1), whether it runs on spot, and how many of the attempts before it
/// were the task's own failures tried again (`--retries`; interruptions are not counted there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub number: u32,
    pub spot: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
    /// `--retry-larger`: the sizes up from the job's first instance type this attempt runs on (one more after each
    /// out-of-memory failure: [`super::sizes`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub larger: u32,
    /// `--retry-larger`: how many times the root volume is doubled for this attempt (one more after each
    /// out-of-disk failure).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_doublings: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a task's Launch state puts on the stack's launch queue (SQS SendMessage with its task token): the
/// `launcher` function launches the asks waiting together, in batches, and answers each token with its
/// [`Instance`] (SendTaskSuccess) or fails it (SendTaskFailure, with an error of [`error_names`](super::error_names)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchAsk {
    /// The Launch state's task token.
    pub token: String,
    pub job: JobRef,
    pub task: TaskRef,
    pub attempt: Attempt,
    /// The join poll at which the attempt's instance was found gone before it joined (0: the attempt's first
    /// launch): a launch again is an ask of its own.
    #[serde(default)]
    pub relaunch: u32,
    /// When the Launch state was entered (`$$.State.EnteredTime`, RFC 3339): the ask waits for EC2 as long as the
    /// stack's launch patience from then.
    pub asked_at: String,
    /// Why the ask waits, on the copy the launcher sends back to the queue to wait (its last refusal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waited: Option<Waited>,
    /// How many times the ask was sent back to wait: with the token, which copy of the ask this is (SQS delivers
    /// at least once, so the same copy can come twice).
    #[serde(default)]
    pub waits: u32,
}

/// The last refusal an ask met: an error name of [`error_names`](super::error_names) and EC2's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waited {
    pub error: String,
    pub message: String,
}

/// What the state machine asks the `launch` function for, per attempt of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum LaunchRequest {
    /// Waits for the attempt's instance to join: the state's task token is kept where the handler of ECS's
    /// "Container Instance State Change" event finds it by instance id, and answered with a [`JoinCheck`] when the
    /// instance joins (by that handler, or by this request when the join was heard before the token was kept).
    AwaitJoin {
        token: String,
        job: JobRef,
        instance: Instance,
    },
    /// Has the attempt's instance registered in the job's cluster, with its agent connected? Answers a
    /// [`JoinCheck`]. The fallback when no join event came within [`JobRef::join_wait`].
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
        /// The state's `$$.State.RetryCount`: 0 on its first try. A try after the first looks on the instance for
        /// the task an earlier try started before starting one.
        #[serde(default)]
        retry: u32,
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
    /// The instance is gone before it joined (EC2 ended a pending instance: no capacity, an internal error, a spot
    /// request not fulfilled), with EC2's state and reason: the state machine launches the attempt again at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<String>,
    /// The instance is gone by its own doing or its request's (its user data shut it down, a volume it could not
    /// have: a `Client.*` state reason): launching again would end the same way, so the attempt fails at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
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
    /// Its NVIDIA GPUs, all of which its task asks ECS for ([`super::gpu`]); 0 (absent) for most types.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gpus: u32,
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

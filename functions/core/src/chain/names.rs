//! The names a stack owns and the chain's contract spells: the error names the Lambdas report and the state
//! machine matches, the tags on everything of a job, the container's and log stream's names, a job's cluster name.
//! Pure: no AWS types, no I/O.

use crate::job::JobId;

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
    /// EC2 ended the attempt's instance before it joined, and its launches again (at most
    /// [`crate::chain::limits::MAX_RELAUNCHES`]) were ended too (set by the state machine).
    pub const INSTANCE_LOST: &str = "Ecsub.InstanceLost";
    /// The attempt waited for an instance (throttling, quota, capacity) longer than the stack lets it.
    pub const LAUNCH_TIMED_OUT: &str = "Ecsub.LaunchTimedOut";

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
        INSTANCE_LOST,
        LAUNCH_TIMED_OUT,
    ];
}

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
/// A job's container log group: `/ecsub/<stack>/<name>`, the name being `--aws-log-group-name` or the job id.
/// Under the stack's own prefix, so that the IAM statements that create and read them
/// (`log-group:/ecsub/<stack>/*`) reach exactly one stack's groups: the `/` after the stack's name keeps `ecsub`'s
/// from matching `ecsub-dev`'s. (Named `ecsub-<job>` until 2026-12, every stack's user could read every other
/// stack's logs.)
pub fn log_group(stack: &str, name: &str) -> String {
    format!("/ecsub/{stack}/{name}")
}

/// The longest `--aws-log-group-name`: a log group's name has at most 512 characters ("CreateLogGroup"), of which
/// `/ecsub/<stack>/` takes up to 136 (a stack's name has at most 128).
pub const MAX_LOG_GROUP_NAME: usize = 256;

/// Whether `name` may end a log group's name: 1 to [`MAX_LOG_GROUP_NAME`] of the characters CloudWatch Logs allows
/// (`a-z`, `A-Z`, `0-9`, `_`, `-`, `/`, `.`, `#`: "CreateLogGroup").
pub fn check_log_group_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_LOG_GROUP_NAME {
        return Err(format!(
            "a log group's name here has 1 to {MAX_LOG_GROUP_NAME} characters, not {}",
            name.len()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_-/.#".contains(*c)))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed in a log group's name (letters, digits, `_ - / . #`)"
        )),
        None => Ok(()),
    }
}
/// `startedBy` of every task ecsub starts (at most 36 characters, ECS StartTask).
pub const STARTED_BY: &str = "ecsub";
/// Tag on each cluster: when submit made it (seconds since the epoch); the janitor's sweep removes a cluster whose
/// job never started an hour after it.
pub const TAG_CREATED: &str = "ecsub:created";

/// A job's ECS cluster (and task definition family): `<stack>_<job id>`. Stack names never hold `_` (CloudFormation:
/// letters, digits, `-`), so the prefix `<stack>_` names exactly one stack's clusters, in IAM conditions and in the
/// ECS rule's pattern.
pub fn cluster_name(stack: &str, job: &JobId) -> String {
    format!("{stack}_{job}")
}

/// Where an attempt's wait for its instance's join meets the join's event, in the stack's bucket (the handler of
/// ECS's event knows the instance and, from its cluster, the job; not the job's folder): `joins/<job>/<instance>`
/// and a suffix, `token` (the waiting state's task token, written by the wait) or `joined` (the join, written by
/// the event's handler). Each side writes its own and then reads the other's, so whichever comes second answers.
/// The stack's bucket expires `joins/` after a day.
pub fn join_key(job: &JobId, instance_id: &str, suffix: JoinPart) -> String {
    let part = match suffix {
        JoinPart::Token => "token",
        JoinPart::Joined => "joined",
    };
    format!("{JOINS_PREFIX}{job}/{instance_id}.{part}")
}

/// The prefix of [`join_key`]s in the stack's bucket.
pub const JOINS_PREFIX: &str = "joins/";

/// The two halves of a join's meeting: see [`join_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinPart {
    Token,
    Joined,
}

/// The job id of one of `stack`'s clusters, or `None` for another stack's (or not ecsub's).
pub fn job_of_cluster(stack: &str, cluster: &str) -> Option<JobId> {
    let name = cluster.rsplit('/').next().unwrap_or(cluster);
    let id = name.strip_prefix(stack)?.strip_prefix('_')?;
    JobId::try_from(id.to_owned()).ok()
}

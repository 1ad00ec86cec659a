//! The contract of the serverless chain: what the Lambdas and the state machine pass each other, the records they
//! leave in the bucket, the stable error names, and the policies (how an ended attempt is classified, whether it
//! is tried again). Typed payloads here are what `infra/statemachine/*.asl.json` reads; a test checks the paths.
//!
//! Pure: no AWS types, no I/O.

use crate::job::JobId;
use crate::options::JobArgs;
use serde::{Deserialize, Serialize};

/// Error names the Lambdas report (as `errorType`) and the state machine's Retry/Catch match.
pub mod error_names {
    /// No instance type (and subnet) had capacity for this attempt; worth retrying later.
    pub const CAPACITY_UNAVAILABLE: &str = "Ecsub.CapacityUnavailable";
    /// EC2 refused the launch for a reason retrying will not fix (bad AMI, profile, subnet, quota).
    pub const LAUNCH_FAILED: &str = "Ecsub.LaunchFailed";
    /// An AWS call failed in a way that may pass on retry (throttling, 5xx, network).
    pub const AWS_ERROR: &str = "Ecsub.AwsError";
    /// The input the function got is not what the state machine or the event source should send.
    pub const INVALID_INPUT: &str = "Ecsub.InvalidInput";
    /// The instance never joined the job's cluster within the bound (set by the state machine).
    pub const INSTANCE_NEVER_JOINED: &str = "Ecsub.InstanceNeverJoined";

    /// Every name, for checks that the state machine only uses names that exist.
    pub const ALL: &[&str] = &[
        CAPACITY_UNAVAILABLE,
        LAUNCH_FAILED,
        AWS_ERROR,
        INVALID_INPUT,
        INSTANCE_NEVER_JOINED,
    ];
}

/// Attempts of one task at most (the first plus retries after interruptions).
pub const MAX_ATTEMPTS: u32 = 3;
/// Tags put on every instance (and its volumes) of a job, so that nothing of a job can hide.
pub const TAG_JOB: &str = "ecsub:job";
pub const TAG_TASK: &str = "ecsub:task";
pub const TAG_ATTEMPT: &str = "ecsub:attempt";
/// The container every task definition has; the state machine overrides its environment.
pub const CONTAINER_NAME: &str = "main";
/// The awslogs stream prefix of the task definitions.
pub const LOG_STREAM_PREFIX: &str = "ecsub";

/// The CloudWatch Logs stream of an ECS task's container (the awslogs driver's `PREFIX/CONTAINER/TASK-ID`).
pub fn log_stream(task_arn: &str) -> String {
    let task_id = task_arn.rsplit('/').next().unwrap_or(task_arn);
    format!("{LOG_STREAM_PREFIX}/{CONTAINER_NAME}/{task_id}")
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
}

/// The state machine's input, written by the submit function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionInput {
    pub job: JobRef,
    pub tasks: Vec<TaskRef>,
}

/// Everything about the job that a task's states need; carried through the Map into every iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    pub job_id: JobId,
    pub bucket: String,
    /// `s3://bucket/<prefix>jobs/<job-id>/`
    pub job_url: String,
    pub cluster: String,
    pub task_definition: String,
    pub instance_types: Vec<String>,
    pub spot: bool,
    pub retry_od: bool,
    pub disk_size: u32,
    pub subnet_ids: Vec<String>,
    pub security_group_id: Option<String>,
    pub key_name: Option<String>,
    pub instance_profile: Option<String>,
    /// Map concurrency (`--processes`).
    pub processes: u32,
    /// Seconds between polls (`--waiter-delay`).
    pub waiter_delay: u32,
    /// Polls before an instance that has not joined the cluster is given up.
    pub join_polls: u32,
    /// Seconds a task may run before it is stopped and counted as failed.
    pub task_timeout: u32,
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

/// The `launch` function's input: the Map iteration's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchInput {
    pub job: JobRef,
    pub task: TaskRef,
    pub attempt: Attempt,
}

/// The `launch` function's output, kept at `$.instance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub instance_id: String,
    pub instance_type: String,
    pub spot: bool,
    pub subnet_id: Option<String>,
    pub launched_at: String,
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
    JobEnd { job: JobRef, tasks: Vec<TaskRef> },
}

/// One task's line in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub index: usize,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    pub attempts: u32,
    pub instance_type: Option<String>,
    pub spot: bool,
    pub reason: String,
}

/// `summary.json`: the job's end state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub job_id: JobId,
    pub succeeded: usize,
    pub failed: usize,
    pub tasks: Vec<TaskSummary>,
    pub finished_at: String,
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
        let lines: Vec<TaskSummary> = tasks
            .iter()
            .map(|t| {
                let mine = records.iter().filter(|r| r.index == t.index);
                match mine.max_by_key(|r| r.attempt) {
                    Some(last) => TaskSummary {
                        index: t.index,
                        outcome: last.outcome,
                        exit_code: last.exit_code,
                        attempts: last.attempt,
                        instance_type: last.instance_type.clone(),
                        spot: last.spot,
                        reason: last.reason.clone(),
                    },
                    None => TaskSummary {
                        index: t.index,
                        outcome: Outcome::InfrastructureError,
                        exit_code: None,
                        attempts: 0,
                        instance_type: None,
                        spot: false,
                        reason: "no attempt was recorded".to_owned(),
                    },
                }
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
        }
    }
}

/// `started.json`: the submit function started the job's execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedRecord {
    pub job_id: JobId,
    pub execution_arn: String,
    pub tasks: usize,
    pub started_at: String,
}

/// What ECS says about a stopped task, as far as the classification needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stopped<'a> {
    pub exit_code: Option<i32>,
    pub stop_code: Option<&'a str>,
    pub stopped_reason: Option<&'a str>,
    pub container_reason: Option<&'a str>,
}

/// Classifies an ended attempt. Interruptions are recognised by ECS's stop code and by every spot and host
/// termination reason (ecsub only knew one).
pub fn classify(stopped: &Stopped<'_>, missing_outputs: &[String]) -> (Outcome, String) {
    let reason = stopped.stopped_reason.unwrap_or_default();
    let interrupted = matches!(
        stopped.stop_code,
        Some("SpotInterruption" | "TerminationNotice")
    ) || reason.contains("instance-terminated")
        || (reason.contains("Host EC2")
            && (reason.contains("terminated") || reason.contains("stopped")));
    if interrupted {
        return (
            Outcome::Interrupted,
            non_empty(reason, "the instance was interrupted"),
        );
    }
    match stopped.exit_code {
        Some(0) if missing_outputs.is_empty() => (Outcome::Succeeded, "exited 0".to_owned()),
        Some(0) => (
            Outcome::OutputsMissing,
            format!(
                "exited 0 but these outputs are missing: {}",
                missing_outputs.join(", ")
            ),
        ),
        Some(code) => {
            let why = crate::exit::describe(code)
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            (Outcome::Failed, format!("exited {code}{why}"))
        }
        None => {
            let detail = stopped
                .container_reason
                .filter(|r| !r.is_empty())
                .unwrap_or(reason);
            (
                Outcome::InfrastructureError,
                non_empty(detail, "the container did not report an exit code"),
            )
        }
    }
}

fn non_empty(text: &str, otherwise: &str) -> String {
    if text.trim().is_empty() {
        otherwise.to_owned()
    } else {
        text.to_owned()
    }
}

/// Whether an ended attempt is tried again, and how: only interruptions are, up to [`MAX_ATTEMPTS`]; with
/// `--retry-od` a retry after a spot interruption runs on demand.
pub fn next_attempt(outcome: Outcome, attempt: Attempt, retry_od: bool) -> Option<Attempt> {
    if outcome != Outcome::Interrupted || attempt.number >= MAX_ATTEMPTS {
        return None;
    }
    Some(Attempt {
        number: attempt.number + 1,
        spot: attempt.spot && !retry_od,
    })
}

/// The container's command: run the setup command, fetch the job's scripts, run `run.sh`. The scripts come
/// from `$ECSUB_JOB_URL/scripts/` into `$ECSUB_HOME` (default `/ecsub`), outside the task's `/scratch`.
pub fn container_command(setup_container_cmd: &str) -> Vec<String> {
    let setup = if setup_container_cmd.trim().is_empty() {
        String::new()
    } else {
        format!(
            "( {setup_container_cmd}\n) || {{ echo 'ecsub: the setup command failed' >&2; exit {code}; }}\n",
            code = crate::exit::EXIT_SETUP_FAILED
        )
    };
    let script = format!(
        "set -u\n{setup}\
         : \"${{ECSUB_HOME:=/ecsub}}\"\n\
         mkdir -p \"$ECSUB_HOME/scripts\" || exit {code}\n\
         aws s3 cp --recursive --no-progress --only-show-errors \"${{ECSUB_JOB_URL}}scripts/\" \"$ECSUB_HOME/scripts/\" \
         || {{ echo \"ecsub: cannot fetch the job's scripts from ${{ECSUB_JOB_URL}}scripts/\" >&2; exit {code}; }}\n\
         ECSUB_SCRIPTS_DIR=\"$ECSUB_HOME/scripts\" exec sh \"$ECSUB_HOME/scripts/run.sh\"\n",
        code = crate::exit::EXIT_SETUP_FAILED
    );
    vec!["sh".to_owned(), "-c".to_owned(), script]
}

/// The user data that makes an ECS-optimized instance join the job's cluster.
pub fn user_data(cluster: &str) -> String {
    format!(
        "#!/bin/bash\ncat >> /etc/ecs/ecs.config <<'EOF'\nECS_CLUSTER={cluster}\nECS_CONTAINER_STOP_TIMEOUT=60s\nEOF\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(exit_code: Option<i32>) -> Stopped<'static> {
        Stopped {
            exit_code,
            ..Default::default()
        }
    }

    #[test]
    fn attempts_are_classified_by_exit_code_outputs_and_stop_reason() {
        assert_eq!(classify(&stopped(Some(0)), &[]).0, Outcome::Succeeded);
        assert_eq!(
            classify(&stopped(Some(3)), &[]),
            (Outcome::Failed, "exited 3".into())
        );
        assert_eq!(
            classify(&stopped(Some(120)), &[]).1,
            "exited 120 (input download failed)"
        );
        let missing = vec!["s3://b/out.txt".to_owned()];
        assert_eq!(
            classify(&stopped(Some(0)), &missing),
            (
                Outcome::OutputsMissing,
                "exited 0 but these outputs are missing: s3://b/out.txt".into()
            )
        );
        let spot = Stopped {
            exit_code: Some(143),
            stop_code: Some("SpotInterruption"),
            ..Default::default()
        };
        assert_eq!(classify(&spot, &[]).0, Outcome::Interrupted);
        let host = Stopped {
            stopped_reason: Some("Host EC2 (instance i-0abc) terminated."),
            ..Default::default()
        };
        assert_eq!(classify(&host, &[]).0, Outcome::Interrupted);
        let pull = Stopped {
            stopped_reason: Some("Task failed to start"),
            container_reason: Some("CannotPullContainerError: not found"),
            ..Default::default()
        };
        assert_eq!(
            classify(&pull, &[]),
            (
                Outcome::InfrastructureError,
                "CannotPullContainerError: not found".into()
            )
        );
    }

    #[test]
    fn only_interruptions_are_retried_and_retry_od_moves_to_on_demand() {
        let first = Attempt {
            number: 1,
            spot: true,
        };
        assert_eq!(next_attempt(Outcome::Failed, first, true), None);
        assert_eq!(
            next_attempt(Outcome::Interrupted, first, false),
            Some(Attempt {
                number: 2,
                spot: true
            })
        );
        assert_eq!(
            next_attempt(Outcome::Interrupted, first, true),
            Some(Attempt {
                number: 2,
                spot: false
            })
        );
        assert_eq!(
            next_attempt(
                Outcome::Interrupted,
                Attempt {
                    number: 3,
                    spot: false
                },
                true
            ),
            None
        );
    }

    #[test]
    fn log_streams_follow_the_awslogs_driver() {
        assert_eq!(
            log_stream("arn:aws:ecs:us-east-1:1:task/wc-abcde/0f1e"),
            "ecsub/main/0f1e"
        );
    }

    #[test]
    fn user_data_names_the_cluster_the_agent_joins() {
        assert!(user_data("wc-abcde").contains("\nECS_CLUSTER=wc-abcde\n"));
    }

    #[test]
    fn container_command_fetches_the_scripts_then_runs_run_sh() {
        let cmd = container_command("echo setup");
        assert_eq!(&cmd[..2], ["sh", "-c"]);
        assert!(cmd[2].contains("( echo setup\n) || {"));
        assert!(cmd[2].ends_with("exec sh \"$ECSUB_HOME/scripts/run.sh\"\n"));
    }
}

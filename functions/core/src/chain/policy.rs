//! How an ended attempt is classified, whether it is tried again, and what an AWS refusal code means for the call
//! that got it. Pure.

use super::{Attempt, Outcome};
use serde::{Deserialize, Serialize};

/// Attempts of one task at most that were not its own failures tried again (the first plus retries after
/// interruptions); `--retries` adds its own.
pub const MAX_ATTEMPTS: u32 = 3;

/// The most `--retries` a job may ask for: each retry is one more attempt in the task's execution history, which
/// Step Functions caps (`limits::check_job`).
pub const MAX_RETRIES: u32 = 10;

/// How a job tries a task again: an interrupted attempt always (on demand after spot with `--retry-od`), within
/// [`MAX_ATTEMPTS`]; the task's own failure (a non-zero exit, or exit 0 without its outputs) up to `retries`
/// times, and with `retry_on_exit` only for those exit codes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryPolicy {
    pub retry_od: bool,
    /// `--spot-attempts N`: attempt N + 1 and later run on demand, whatever ended the one before.
    pub spot_attempts: Option<u32>,
    pub retries: u32,
    pub retry_on_exit: Vec<i32>,
    /// `--retry-larger`: an out-of-memory failure's retry runs on the next larger type, an out-of-disk one's with
    /// twice the disk.
    pub larger: bool,
}

impl RetryPolicy {
    /// May attempt `number` run on spot (`--spot-attempts`)?
    pub fn spot_for(&self, number: u32) -> bool {
        self.spot_attempts.is_none_or(|n| number <= n)
    }
}

/// What ECS says about a stopped task, as far as the classification needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stopped<'a> {
    pub exit_code: Option<i32>,
    pub stop_code: Option<&'a str>,
    pub stopped_reason: Option<&'a str>,
    pub container_reason: Option<&'a str>,
}

/// Classifies an ended attempt. Interruptions are recognised by ECS's stop codes and by every spot and host
/// termination reason (ecsub only knew one): on EC2 a reclaimed or lost instance stops its tasks with
/// `TerminationNotice` and "Host EC2 (instance …) terminated." (or "stopped."), with no exit code; Fargate Spot
/// says `SpotInterruption`, and `stopCode` has been seen missing (aws/containers-roadmap#1565), hence the text.
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
        Some(code) => match stopped.container_reason {
            // Said first: "killed by a signal" hides what to change (the memory).
            Some(oom) if oom.contains("OutOfMemoryError") => (
                Outcome::Failed,
                format!("out of memory: exited {code} ({oom})"),
            ),
            _ => {
                let why = crate::exit::describe(code)
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                (Outcome::Failed, format!("exited {code}{why}"))
            }
        },
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

/// Why an attempt that did not succeed ended, as a user names it (issue 23): what to change before trying again.
/// Each attempt's record holds it (`class`), beside the outcome and the reason's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// The script exited non-zero: its own code.
    Exit,
    /// The container was killed for its memory: ECS's container reason `OutOfMemoryError: Container killed due
    /// to memory usage` ("Troubleshooting Amazon ECS OutOfMemoryError errors"), exit 137.
    OutOfMemory,
    /// An input could not be downloaded (120).
    Inputs,
    /// An output could not be uploaded (121).
    Outputs,
    /// The task could not be set up (122): its environment, secrets, scripts.
    Setup,
    /// The task's scratch filesystem was full when its script or a download failed (123).
    OutOfDisk,
    /// Exit 0 without every declared output.
    OutputsMissing,
    /// The image could not be pulled: `CannotPullContainerError` ("Amazon ECS stopped task error messages").
    ImagePull,
    /// Spot or the host took the instance away.
    Interrupted,
    /// No exit code for another reason: the task never started, or ECS lost it.
    Infrastructure,
}

impl FailureClass {
    /// The class as words, for `status`, `report` and the notes.
    pub fn describe(self) -> &'static str {
        match self {
            FailureClass::Exit => "the script failed",
            FailureClass::OutOfMemory => "out of memory",
            FailureClass::Inputs => "an input could not be downloaded",
            FailureClass::Outputs => "an output could not be uploaded",
            FailureClass::Setup => "the task could not be set up",
            FailureClass::OutOfDisk => "out of disk",
            FailureClass::OutputsMissing => "outputs missing",
            FailureClass::ImagePull => "the image could not be pulled",
            FailureClass::Interrupted => "the instance was taken away",
            FailureClass::Infrastructure => "the task did not run to an exit code",
        }
    }
}

/// The class of an attempt that ended as `outcome` (none for a success).
pub fn failure_class(stopped: &Stopped<'_>, outcome: Outcome) -> Option<FailureClass> {
    let said = |what: &str| {
        [stopped.container_reason, stopped.stopped_reason]
            .iter()
            .flatten()
            .any(|reason| reason.contains(what))
    };
    Some(match outcome {
        Outcome::Succeeded => return None,
        Outcome::OutputsMissing => FailureClass::OutputsMissing,
        Outcome::Interrupted => FailureClass::Interrupted,
        Outcome::Failed if said("OutOfMemoryError") => FailureClass::OutOfMemory,
        Outcome::Failed => match stopped.exit_code {
            Some(crate::exit::EXIT_INPUT_FAILED) => FailureClass::Inputs,
            Some(crate::exit::EXIT_OUTPUT_FAILED) => FailureClass::Outputs,
            Some(crate::exit::EXIT_SETUP_FAILED) => FailureClass::Setup,
            Some(crate::exit::EXIT_DISK_FULL) => FailureClass::OutOfDisk,
            _ => FailureClass::Exit,
        },
        Outcome::InfrastructureError if said("CannotPullContainer") => FailureClass::ImagePull,
        // The registry credentials could not be read ("Amazon ECS stopped task error messages":
        // ResourceInitializationError, "unable to pull secrets or registry auth").
        Outcome::InfrastructureError if said("registry auth") => FailureClass::ImagePull,
        Outcome::InfrastructureError => FailureClass::Infrastructure,
    })
}

fn non_empty(text: &str, otherwise: &str) -> String {
    if text.trim().is_empty() {
        otherwise.to_owned()
    } else {
        text.to_owned()
    }
}

/// Whether an ended attempt is tried again, and how ([`RetryPolicy`]). An interruption does not spend the task's
/// `--retries`, and its own failures do not spend the interruptions' bound. With `--retry-larger`, the retry of an
/// out-of-memory failure (`class`) runs a size larger, and of an out-of-disk one with twice the disk; an
/// interrupted attempt's retry keeps what its attempt had.
pub fn next_attempt(
    outcome: Outcome,
    exit_code: Option<i32>,
    class: Option<FailureClass>,
    attempt: Attempt,
    policy: &RetryPolicy,
) -> Option<Attempt> {
    match outcome {
        Outcome::Interrupted if attempt.number.saturating_sub(attempt.failures) < MAX_ATTEMPTS => {
            Some(Attempt {
                number: attempt.number + 1,
                spot: attempt.spot && !policy.retry_od && policy.spot_for(attempt.number + 1),
                ..attempt
            })
        }
        Outcome::Failed | Outcome::OutputsMissing
            if attempt.failures < policy.retries
                && (policy.retry_on_exit.is_empty()
                    || exit_code.is_some_and(|code| policy.retry_on_exit.contains(&code))) =>
        {
            Some(Attempt {
                number: attempt.number + 1,
                spot: attempt.spot && policy.spot_for(attempt.number + 1),
                failures: attempt.failures + 1,
                larger: attempt.larger
                    + u32::from(policy.larger && class == Some(FailureClass::OutOfMemory)),
                disk_doublings: attempt.disk_doublings
                    + u32::from(policy.larger && class == Some(FailureClass::OutOfDisk)),
            })
        }
        _ => None,
    }
}

/// What a retry changes, said after the reason of the attempt it follows (`--retry-larger`), so that the record,
/// `status`, `report` and the timeline say it: `None` when it runs as its attempt did.
pub fn retry_change(attempt: &Attempt, next: &Attempt) -> Option<&'static str> {
    match (
        next.larger > attempt.larger,
        next.disk_doublings > attempt.disk_doublings,
    ) {
        (true, _) => Some("the next attempt runs on the next larger instance type"),
        (_, true) => Some("the next attempt has twice the disk"),
        _ => None,
    }
}

/// What an AWS error code means for the call that got it. EC2's codes are those of "Error codes for the Amazon
/// EC2 API" (capacity: `Insufficient*Capacity`, `SpotMaxPriceTooLow`, …; quotas: `VcpuLimitExceeded`, …); the
/// throttling codes are EC2's (`RequestLimitExceeded`) and the JSON services' (`ThrottlingException`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not here, not now: another instance type or subnet may have room.
    Capacity,
    /// An account quota (vCPUs, instances, spot instances) is used up: no other type helps soon, but waiting does
    /// (instances end).
    Quota,
    /// The caller is over the service's request rate: the same call, later.
    Throttled,
    /// The service is in trouble: the same call, later.
    Transient,
    /// A spot launch needs the spot service-linked role, which the caller may not create: once, by hand.
    NoSpotRole,
    /// The request or the caller's permissions are wrong (a bad AMI, profile, subnet, type): retrying changes
    /// nothing.
    Permanent,
}

/// EC2 codes that mean "not here, not now": another type or subnet may work.
const CAPACITY_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "InsufficientHostCapacity",
    "InsufficientReservedInstanceCapacity",
    "InsufficientFreeAddressesInSubnet",
    "SpotMaxPriceTooLow",
    "UnfulfillableCapacity",
    "Unsupported",
];

/// EC2 codes of an account quota.
const QUOTA_CODES: &[&str] = &[
    "VcpuLimitExceeded",
    "InstanceLimitExceeded",
    "MaxSpotInstanceCountExceeded",
];

/// Codes of service trouble, worth the same call later.
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "Unavailable",
];

/// Throttling codes of EC2 (`RequestLimitExceeded`), S3 (`SlowDown`) and the JSON services.
const THROTTLING_CODES: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "RequestThrottled",
    "RequestThrottledException",
];

/// Is this a throttling code?
pub fn is_throttling(code: &str) -> bool {
    THROTTLING_CODES.contains(&code)
}

/// The instance ids an EC2 error message names: `InvalidInstanceID.NotFound` says which ids of a call do not exist
/// ("The instance ID 'i-0abc' does not exist", "The instance IDs 'i-0abc, i-0def' do not exist"). A call with one
/// unknown id acts on none of its ids, so the caller drops these and sends the rest again.
pub fn instance_ids_in(message: &str) -> Vec<&str> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| {
            word.strip_prefix("i-")
                .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect()
}

/// Whether an instance that ended before it joined is worth launching again, by EC2's state reason code
/// ("StateReason", EC2 API Reference): `Server.*` is EC2's doing (Server.InternalError,
/// Server.InsufficientInstanceCapacity, Server.SpotInstanceTermination, …) and may not happen again; `Client.*` is
/// the instance's or the request's (Client.UserInitiatedShutdown: its user data shut it down;
/// Client.VolumeLimitExceeded, Client.InternalError: a volume or key it cannot have) and would.
pub fn worth_launching_again(state_reason_code: &str) -> bool {
    state_reason_code.starts_with("Server.")
}

/// Whether an attempt that asked for its instance at `asked_at_ms` and is still refused at `now_ms` (throttled,
/// quota used up, no capacity) has waited its `patience_seconds`: then it fails, saying so, instead of waiting on.
/// The wait is bounded by time, never by a count of tries that a busy account could use up first.
pub fn out_of_patience(asked_at_ms: i64, now_ms: i64, patience_seconds: u32) -> bool {
    now_ms.saturating_sub(asked_at_ms) >= i64::from(patience_seconds) * 1000
}

/// What a refusal with `code` means.
pub fn refusal(code: &str) -> Refusal {
    if CAPACITY_CODES.contains(&code) {
        Refusal::Capacity
    } else if QUOTA_CODES.contains(&code) {
        Refusal::Quota
    } else if is_throttling(code) {
        Refusal::Throttled
    } else if TRANSIENT_CODES.contains(&code) {
        Refusal::Transient
    } else if code == "AuthFailure.ServiceLinkedRoleCreationNotPermitted" {
        Refusal::NoSpotRole
    } else {
        Refusal::Permanent
    }
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
        let fargate_spot = Stopped {
            exit_code: Some(143),
            stop_code: Some("SpotInterruption"),
            ..Default::default()
        };
        assert_eq!(classify(&fargate_spot, &[]).0, Outcome::Interrupted);
        let ec2_host = Stopped {
            stop_code: Some("TerminationNotice"),
            stopped_reason: Some("Host EC2 (instance i-0abc) terminated."),
            ..Default::default()
        };
        assert_eq!(
            classify(&ec2_host, &[]),
            (
                Outcome::Interrupted,
                "Host EC2 (instance i-0abc) terminated.".into()
            )
        );
        let no_stop_code = Stopped {
            stopped_reason: Some("Host EC2 (instance i-0abc) stopped."),
            ..Default::default()
        };
        assert_eq!(classify(&no_stop_code, &[]).0, Outcome::Interrupted);
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
    fn a_caught_error_reads_as_its_name_and_message() {
        let from_lambda = super::super::StatesError {
            error: "Ecsub.StartFailed".into(),
            cause: Some(
                r#"{"errorType":"Ecsub.StartFailed","errorMessage":"StartTask started no task: AGENT"}"#.into(),
            ),
        };
        assert_eq!(
            from_lambda.reason(),
            "Ecsub.StartFailed: StartTask started no task: AGENT"
        );
        let from_states = super::super::StatesError {
            error: "Ecsub.InstanceNeverJoined".into(),
            cause: Some("instance i-1 did not join".into()),
        };
        assert_eq!(
            from_states.reason(),
            "Ecsub.InstanceNeverJoined: instance i-1 did not join"
        );
        let bare = super::super::StatesError {
            error: "States.Timeout".into(),
            cause: None,
        };
        assert_eq!(bare.reason(), "States.Timeout");
    }

    /// Each way an attempt ends has its class, from what ECS says of the stopped task.
    #[test]
    fn each_ending_has_the_class_a_user_names() {
        let stopped = |exit_code, container_reason, stopped_reason| Stopped {
            exit_code,
            stop_code: None,
            stopped_reason,
            container_reason,
        };
        let class = |s: Stopped<'_>| failure_class(&s, classify(&s, &[]).0);
        assert_eq!(class(stopped(Some(0), None, None)), None);
        assert_eq!(
            failure_class(&stopped(Some(0), None, None), Outcome::OutputsMissing),
            Some(FailureClass::OutputsMissing)
        );
        assert_eq!(
            class(stopped(Some(3), None, None)),
            Some(FailureClass::Exit)
        );
        assert_eq!(
            class(stopped(Some(120), None, None)),
            Some(FailureClass::Inputs)
        );
        assert_eq!(
            class(stopped(Some(121), None, None)),
            Some(FailureClass::Outputs)
        );
        assert_eq!(
            class(stopped(Some(122), None, None)),
            Some(FailureClass::Setup)
        );
        assert_eq!(
            class(stopped(
                Some(137),
                Some("OutOfMemoryError: Container killed due to memory usage"),
                Some("Essential container in task exited")
            )),
            Some(FailureClass::OutOfMemory)
        );
        assert_eq!(
            class(stopped(Some(137), None, None)),
            Some(FailureClass::Exit)
        );
        assert_eq!(
            class(stopped(Some(123), None, None)),
            Some(FailureClass::OutOfDisk)
        );
        let oom = stopped(
            Some(137),
            Some("OutOfMemoryError: Container killed due to memory usage"),
            None,
        );
        assert_eq!(
            classify(&oom, &[]).1,
            "out of memory: exited 137 (OutOfMemoryError: Container killed due to memory usage)"
        );
        assert_eq!(
            class(stopped(
                None,
                None,
                Some("CannotPullContainerError: pull image manifest has been retried 7 time(s): not found")
            )),
            Some(FailureClass::ImagePull)
        );
        assert_eq!(
            class(stopped(
                None,
                None,
                Some("ResourceInitializationError: unable to pull secrets or registry auth: execution resource \
                      retrieval failed: unable to retrieve secret from asm: AccessDeniedException")
            )),
            Some(FailureClass::ImagePull),
            "registry credentials that could not be read"
        );
        assert_eq!(
            class(stopped(
                None,
                None,
                Some("Host EC2 (instance i-1) terminated.")
            )),
            Some(FailureClass::Interrupted)
        );
        assert_eq!(
            class(stopped(None, None, Some("Task stopped by user"))),
            Some(FailureClass::Infrastructure)
        );
        assert_eq!(
            serde_json::to_value(FailureClass::OutOfMemory).unwrap(),
            "out-of-memory"
        );
    }

    fn at(number: u32, spot: bool, failures: u32) -> Attempt {
        Attempt {
            number,
            spot,
            failures,
            ..Attempt::default()
        }
    }

    #[test]
    fn spot_attempts_run_the_first_n_attempts_on_spot_whatever_ended_them() {
        let policy = RetryPolicy {
            retries: 3,
            spot_attempts: Some(2),
            ..RetryPolicy::default()
        };
        let first = Attempt {
            number: 1,
            spot: true,
            ..Attempt::default()
        };
        let second = next_attempt(Outcome::Interrupted, None, None, first, &policy).unwrap();
        assert!(second.spot, "attempt 2 of 2 on spot");
        let third = next_attempt(Outcome::Failed, Some(1), None, second, &policy).unwrap();
        assert!(!third.spot, "attempt 3 on demand after a failure");
        let after_interruption =
            next_attempt(Outcome::Interrupted, None, None, second, &policy).unwrap();
        assert!(!after_interruption.spot, "and after an interruption");
    }

    #[test]
    fn without_retries_only_interruptions_are_retried_and_retry_od_moves_to_on_demand() {
        let none = RetryPolicy::default();
        let od = RetryPolicy {
            retry_od: true,
            spot_attempts: None,
            ..RetryPolicy::default()
        };
        let first = at(1, true, 0);
        assert_eq!(
            next_attempt(Outcome::Failed, Some(3), None, first, &od),
            None
        );
        assert_eq!(
            next_attempt(Outcome::OutputsMissing, Some(0), None, first, &od),
            None
        );
        assert_eq!(
            next_attempt(Outcome::Interrupted, None, None, first, &none),
            Some(at(2, true, 0))
        );
        assert_eq!(
            next_attempt(Outcome::Interrupted, None, None, first, &od),
            Some(at(2, false, 0))
        );
        assert_eq!(
            next_attempt(Outcome::Interrupted, None, None, at(3, false, 0), &od),
            None
        );
        assert_eq!(
            next_attempt(Outcome::InfrastructureError, None, None, first, &od),
            None
        );
    }

    /// `--retries 2 --retry-on-exit 3`: exit 3 is tried twice more, on the same kind of instance; another code is
    /// final; interruptions in between spend nothing of the two and keep their own bound of three attempts.
    #[test]
    fn a_tasks_own_failures_spend_its_retries_and_interruptions_do_not() {
        let policy = RetryPolicy {
            retry_od: false,
            spot_attempts: None,
            retries: 2,
            retry_on_exit: vec![3],
            larger: false,
        };
        let first = at(1, true, 0);
        assert_eq!(
            next_attempt(Outcome::Failed, Some(3), None, first, &policy),
            Some(at(2, true, 1))
        );
        assert_eq!(
            next_attempt(Outcome::Failed, Some(4), None, first, &policy),
            None
        );
        assert_eq!(
            next_attempt(Outcome::OutputsMissing, Some(0), None, first, &policy),
            None
        );
        assert_eq!(
            next_attempt(Outcome::Failed, Some(3), None, at(2, true, 1), &policy),
            Some(at(3, true, 2))
        );
        assert_eq!(
            next_attempt(Outcome::Failed, Some(3), None, at(3, true, 2), &policy),
            None
        );
        // Attempt 3 after two own failures is the task's first that was not one: two interruptions more may follow.
        assert_eq!(
            next_attempt(Outcome::Interrupted, None, None, at(3, true, 2), &policy),
            Some(at(4, true, 2))
        );
        assert_eq!(
            next_attempt(Outcome::Interrupted, None, None, at(4, true, 2), &policy),
            Some(at(5, true, 2))
        );
        assert_eq!(
            next_attempt(Outcome::Interrupted, None, None, at(5, true, 2), &policy),
            None
        );
        // Without codes, any own failure is tried again, outputs missing too.
        let any = RetryPolicy {
            retries: 1,
            ..RetryPolicy::default()
        };
        assert_eq!(
            next_attempt(Outcome::OutputsMissing, Some(0), None, first, &any),
            Some(at(2, true, 1))
        );
        assert_eq!(
            next_attempt(Outcome::Failed, Some(137), None, first, &any),
            Some(at(2, true, 1))
        );
    }

    /// `--retries 2 --retry-larger`: an out-of-memory failure's retry runs a size up, an out-of-disk one's with
    /// twice the disk, any other failure's as it was; an interruption's retry keeps what its attempt had.
    #[test]
    fn retry_larger_grows_what_ran_out_and_nothing_else() {
        let larger = RetryPolicy {
            retries: 2,
            larger: true,
            ..RetryPolicy::default()
        };
        let first = at(1, false, 0);
        let oom = next_attempt(
            Outcome::Failed,
            Some(137),
            Some(FailureClass::OutOfMemory),
            first,
            &larger,
        )
        .unwrap();
        assert_eq!(
            (oom.number, oom.failures, oom.larger, oom.disk_doublings),
            (2, 1, 1, 0)
        );
        let disk = next_attempt(
            Outcome::Failed,
            Some(123),
            Some(FailureClass::OutOfDisk),
            oom,
            &larger,
        )
        .unwrap();
        assert_eq!((disk.number, disk.larger, disk.disk_doublings), (3, 1, 1));
        assert_eq!(
            retry_change(&first, &oom),
            Some("the next attempt runs on the next larger instance type")
        );
        assert_eq!(
            retry_change(&oom, &disk),
            Some("the next attempt has twice the disk")
        );
        assert_eq!(retry_change(&first, &at(2, false, 1)), None);
        let interrupted = next_attempt(
            Outcome::Interrupted,
            None,
            Some(FailureClass::Interrupted),
            disk,
            &larger,
        )
        .unwrap();
        assert_eq!((interrupted.larger, interrupted.disk_doublings), (1, 1));
        let exit = next_attempt(
            Outcome::Failed,
            Some(1),
            Some(FailureClass::Exit),
            first,
            &larger,
        );
        assert_eq!(
            exit,
            Some(at(2, false, 1)),
            "an ordinary failure runs as it was"
        );
        let plain = RetryPolicy {
            retries: 2,
            ..RetryPolicy::default()
        };
        assert_eq!(
            next_attempt(
                Outcome::Failed,
                Some(137),
                Some(FailureClass::OutOfMemory),
                first,
                &plain
            ),
            Some(at(2, false, 1)),
            "without --retry-larger the retry is the same size"
        );
    }

    /// Every code the launch path meets (RunInstances, DescribeInstanceTypes, StartTask, and the calls around
    /// them), and what it means.
    #[test]
    fn refusal_codes_are_sorted_by_what_waiting_or_another_type_can_do() {
        let cases = [
            ("InsufficientInstanceCapacity", Refusal::Capacity),
            ("InsufficientCapacity", Refusal::Capacity),
            ("InsufficientHostCapacity", Refusal::Capacity),
            ("InsufficientReservedInstanceCapacity", Refusal::Capacity),
            ("InsufficientFreeAddressesInSubnet", Refusal::Capacity),
            ("SpotMaxPriceTooLow", Refusal::Capacity),
            ("UnfulfillableCapacity", Refusal::Capacity),
            ("Unsupported", Refusal::Capacity),
            ("VcpuLimitExceeded", Refusal::Quota),
            ("InstanceLimitExceeded", Refusal::Quota),
            ("MaxSpotInstanceCountExceeded", Refusal::Quota),
            ("RequestLimitExceeded", Refusal::Throttled),
            ("Throttling", Refusal::Throttled),
            ("ThrottlingException", Refusal::Throttled),
            ("ThrottledException", Refusal::Throttled),
            ("TooManyRequestsException", Refusal::Throttled),
            ("SlowDown", Refusal::Throttled),
            ("RequestThrottled", Refusal::Throttled),
            ("RequestThrottledException", Refusal::Throttled),
            ("InternalError", Refusal::Transient),
            ("InternalFailure", Refusal::Transient),
            ("ServiceUnavailable", Refusal::Transient),
            ("Unavailable", Refusal::Transient),
            (
                "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
                Refusal::NoSpotRole,
            ),
            ("InvalidAMIID.NotFound", Refusal::Permanent),
            ("InvalidParameterValue", Refusal::Permanent),
            ("InvalidInstanceType", Refusal::Permanent),
            ("UnauthorizedOperation", Refusal::Permanent),
            ("InvalidSubnetID.NotFound", Refusal::Permanent),
            ("AccessDeniedException", Refusal::Permanent),
            ("", Refusal::Permanent),
        ];
        for (code, meaning) in cases {
            assert_eq!(refusal(code), meaning, "{code}");
        }
        assert!(is_throttling("RequestLimitExceeded"));
        assert!(!is_throttling("InsufficientInstanceCapacity"));
        // Codes are compared as AWS spells them: no case folding, no prefix match.
        assert_eq!(refusal("requestlimitexceeded"), Refusal::Permanent);
        assert_eq!(refusal("VcpuLimitExceededX"), Refusal::Permanent);
    }

    #[test]
    fn the_ids_an_ec2_not_found_message_names_are_found_and_nothing_else() {
        assert_eq!(
            instance_ids_in("The instance ID 'i-0123456789abcdef0' does not exist"),
            ["i-0123456789abcdef0"]
        );
        assert_eq!(
            instance_ids_in("The instance IDs 'i-0a1b2c3d, i-0e0f0a0b' do not exist"),
            ["i-0a1b2c3d", "i-0e0f0a0b"]
        );
        assert!(instance_ids_in("Invalid id: \"i-\" (expecting \"i-...\")").is_empty());
        assert!(instance_ids_in("The instance ID 'i-xyz' does not exist").is_empty());
        assert!(instance_ids_in("").is_empty());
    }

    #[test]
    fn only_an_instance_ec2_ended_is_launched_again() {
        for code in [
            "Server.InternalError",
            "Server.InsufficientInstanceCapacity",
            "Server.SpotInstanceTermination",
        ] {
            assert!(worth_launching_again(code), "{code}");
        }
        for code in [
            "Client.UserInitiatedShutdown",
            "Client.InstanceInitiatedShutdown",
            "Client.VolumeLimitExceeded",
            "Client.InternalError",
            "",
        ] {
            assert!(!worth_launching_again(code), "{code}");
        }
    }

    #[test]
    fn an_attempt_runs_out_of_patience_by_time_only() {
        let hour = 3_600_000;
        assert!(!out_of_patience(0, hour - 1, 3600));
        assert!(out_of_patience(0, hour, 3600));
        assert!(
            !out_of_patience(hour, 0, 3600),
            "a clock behind the state's is not a wait"
        );
    }
}

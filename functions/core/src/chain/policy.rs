//! How an ended attempt is classified, and whether it is tried again. Pure.

use super::{Attempt, Outcome, MAX_ATTEMPTS};

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
}

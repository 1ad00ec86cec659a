//! `--after`: a job that starts only once the jobs it names have all succeeded, decided by the stack (the submit
//! function, when the job arrives and whenever one of them ends), never by a client left waiting. Pure: the
//! states are read by the caller.

use crate::JobId;
use serde::{Deserialize, Serialize};

/// What a job named by `--after` is, from its folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Its summary says every task succeeded.
    Succeeded,
    /// Its summary says `failed` of its `tasks` did not succeed (or the job's own error).
    Failed {
        failed: usize,
        tasks: usize,
        why: Option<String>,
    },
    /// The submit function refused it (its `error.txt`'s first line).
    Refused(String),
    /// It has no `job.json`: not a job of this stack.
    Missing,
    /// Pushed, not ended yet.
    Pending,
}

/// What becomes of the job waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Go,
    /// Parked until these end.
    Wait(Vec<JobId>),
    /// Refused, for this reason.
    Refuse(String),
}

/// `after.json`: what a parked job waits for, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterRecord {
    pub waiting_for: Vec<JobId>,
    pub since: String,
}

/// The gate of a job whose `--after` jobs are `before`: refused by the first that did not succeed (in the order
/// given), else parked on those not ended, else let go.
pub fn gate(before: &[(JobId, Before)]) -> Gate {
    for (id, state) in before {
        let why = match state {
            Before::Succeeded | Before::Pending => continue,
            Before::Failed {
                failed,
                tasks,
                why: Some(why),
            } => {
                format!("job {id} failed ({failed} of {tasks} tasks did not succeed: {why})")
            }
            Before::Failed {
                failed,
                tasks,
                why: None,
            } => {
                format!("job {id} failed ({failed} of {tasks} tasks did not succeed)")
            }
            Before::Refused(line) => format!("job {id} was refused: {line}"),
            Before::Missing => {
                format!("job {id} is not a job of this stack (no jobs/{id}/job.json)")
            }
        };
        return Gate::Refuse(format!(
            "--after: {why}; this job waits for it to succeed, so it does not start"
        ));
    }
    let pending: Vec<JobId> = before
        .iter()
        .filter(|(_, s)| *s == Before::Pending)
        .map(|(id, _)| id.clone())
        .collect();
    if pending.is_empty() {
        Gate::Go
    } else {
        Gate::Wait(pending)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(name: &str) -> JobId {
        JobId::new(name, "abcde").unwrap()
    }

    #[test]
    fn a_job_goes_when_all_succeeded_waits_on_the_rest_and_is_refused_by_the_first_failure() {
        assert_eq!(gate(&[(id("a"), Before::Succeeded)]), Gate::Go);
        assert_eq!(
            gate(&[(id("a"), Before::Succeeded), (id("b"), Before::Pending)]),
            Gate::Wait(vec![id("b")])
        );
        let refused = gate(&[
            (id("a"), Before::Pending),
            (
                id("b"),
                Before::Failed {
                    failed: 1,
                    tasks: 3,
                    why: None,
                },
            ),
            (id("c"), Before::Missing),
        ]);
        assert_eq!(
            refused,
            Gate::Refuse(
                "--after: job b-abcde failed (1 of 3 tasks did not succeed); this job waits for it to succeed, so \
                 it does not start"
                    .to_owned()
            )
        );
        let Gate::Refuse(missing) = gate(&[(id("c"), Before::Missing)]) else {
            panic!()
        };
        assert!(missing.contains("not a job of this stack"), "{missing}");
        let Gate::Refuse(refused) = gate(&[(id("r"), Before::Refused("row 3: bad".into()))]) else {
            panic!()
        };
        assert!(refused.contains("was refused: row 3: bad"), "{refused}");
    }
}

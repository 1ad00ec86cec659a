//! What one job's execution can carry, and the numbers derived from the job's options: join polls, RunInstances'
//! idempotency token. Pure.
//!
//! A job is one Step Functions execution with an inline Map (one iteration per task). AWS caps an inline Map at 40
//! concurrent iterations, and every iteration's events count toward the execution's 25 000-event history ("Using
//! Map state in Inline mode"); past that the execution fails. Until the Map becomes distributed, submit refuses a
//! job these limits cannot carry, with the number and the way out, instead of letting it fail part-way.

/// Step Functions: an inline Map runs at most this many iterations at once.
pub const MAX_INLINE_CONCURRENCY: u32 = 40;
/// Step Functions: events in one execution's history.
pub const MAX_HISTORY_EVENTS: usize = 25_000;
/// Events the job's own states take (start, the Map, FinishJob, the end), kept out of the tasks' share.
const JOB_EVENTS: usize = 40;
/// History events of one task's attempt when its instance joins on the first poll (measured on the emulated cloud
/// with the wordcount job: Map iteration, Launch, one Wait + CheckJoined + Choice, StartTask, Again?, TaskDone).
pub const TASK_EVENTS: usize = 26;
/// Events of each further join poll (CountPoll, JoinWait, CheckJoined, Joined?).
pub const POLL_EVENTS: usize = 11;
/// How long an ECS-optimized instance usually takes to register (1–3 minutes): the polls a task is expected to
/// make while it waits.
pub const EXPECTED_JOIN_SECONDS: u32 = 180;

/// Polls of the join check before an instance that has not joined is given up: the join timeout in polls.
pub fn join_polls(join_timeout_seconds: u32, waiter_delay: u32) -> u32 {
    join_timeout_seconds.div_ceil(waiter_delay.max(1)).max(1)
}

/// History events one task is expected to take at this waiter delay.
pub fn events_per_task(waiter_delay: u32) -> usize {
    let polls = EXPECTED_JOIN_SECONDS.div_ceil(waiter_delay.max(1)).max(1) as usize;
    TASK_EVENTS + POLL_EVENTS * (polls - 1)
}

/// The most tasks one execution's history is expected to hold at this waiter delay.
pub fn max_tasks(waiter_delay: u32) -> usize {
    (MAX_HISTORY_EVENTS - JOB_EVENTS) / events_per_task(waiter_delay)
}

/// Why one execution cannot carry the job (every reason, each with its number and a way out), or nothing.
pub fn check_job(tasks: usize, processes: u32, waiter_delay: u32) -> Vec<String> {
    let mut problems = Vec::new();
    if processes > MAX_INLINE_CONCURRENCY {
        problems.push(format!(
            "--processes {processes}: one job runs at most {MAX_INLINE_CONCURRENCY} tasks at once (Step Functions' \
             inline Map); use --processes {MAX_INLINE_CONCURRENCY} or fewer"
        ));
    }
    let most = max_tasks(waiter_delay);
    if tasks > most {
        problems.push(format!(
            "the job has {tasks} tasks, but one execution's history holds {MAX_HISTORY_EVENTS} events and each task \
             takes about {} at --waiter-delay {waiter_delay} (its launch, its polls while the instance joins, its \
             run), so at most {most} tasks fit: split it with --task-range into jobs of at most {most} tasks, or \
             raise --waiter-delay",
            events_per_task(waiter_delay)
        ));
    }
    problems
}

/// RunInstances' ClientToken for one launch (at most 64 ASCII characters): the same for a retry of the same call,
/// so a launch that EC2 accepted but the caller never heard of (a timeout, a retried Lambda) returns the instance
/// it made instead of making a second; different when anything in the call differs (the instance type or subnet
/// of the walk), since EC2 ties a token to its parameters even when the call failed (IdempotentParameterMismatch).
pub fn client_token(parts: &[&str]) -> String {
    let hash = |basis: u64| {
        parts.iter().fold(basis, |mut h, part| {
            for byte in part.bytes().chain(std::iter::once(0)) {
                h ^= u64::from(byte);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            h
        })
    };
    format!(
        "ecsub-{:016x}{:016x}",
        hash(0xcbf2_9ce4_8422_2325),
        hash(0x8422_2325_cbf2_9ce4)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_polls_follow_the_timeout_not_the_delay() {
        assert_eq!(join_polls(600, 15), 40);
        assert_eq!(join_polls(600, 1), 600);
        assert_eq!(join_polls(600, 7), 86);
        assert_eq!(join_polls(5, 10), 1);
    }

    #[test]
    fn a_job_too_big_for_one_execution_is_refused_with_its_numbers() {
        assert_eq!(events_per_task(15), 26 + 11 * 11);
        assert_eq!(max_tasks(15), (25_000 - 40) / 147);
        assert!(check_job(max_tasks(15), 40, 15).is_empty());
        let problems = check_job(max_tasks(15) + 1, 41, 15);
        assert_eq!(problems.len(), 2);
        assert_eq!(
            problems[0],
            "--processes 41: one job runs at most 40 tasks at once (Step Functions' inline Map); use --processes \
             40 or fewer"
        );
        assert!(problems[1]
            .starts_with("the job has 170 tasks, but one execution's history holds 25000 events"));
        assert!(problems[1].ends_with("jobs of at most 169 tasks, or raise --waiter-delay"));
        assert!(max_tasks(60) > max_tasks(15));
    }

    #[test]
    fn client_tokens_are_stable_short_and_differ_with_any_part() {
        let token = client_token(&["ecsub", "wc-abcde", "0", "1", "t3.micro", ""]);
        assert_eq!(
            token,
            client_token(&["ecsub", "wc-abcde", "0", "1", "t3.micro", ""])
        );
        assert!(token.len() <= 64 && token.is_ascii());
        assert_ne!(
            token,
            client_token(&["ecsub", "wc-abcde", "0", "1", "m5.large", ""])
        );
        assert_ne!(
            token,
            client_token(&["ecsub", "wc-abcde", "0", "2", "t3.micro", ""])
        );
        assert_ne!(
            client_token(&["a", "bc"]),
            client_token(&["ab", "c"]),
            "parts are separated"
        );
    }
}

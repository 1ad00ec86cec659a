//! What one job's execution can carry, and the numbers derived from the job's options: join polls, RunInstances'
//! idempotency token. Pure.
//!
//! A job is one Step Functions execution whose Map runs in Distributed mode: every task is a child execution of
//! its own, read from `items.json` in S3 ("Using Map state in Distributed mode"). The parent's input and history
//! stay the same size whatever the number of tasks; each child's history grows with its own polls and attempts
//! only, and must stay within one execution's 25 000 events ("Step Functions service quotas"). Submit refuses a
//! job these limits cannot carry, with the number and the way out, instead of letting it fail part-way.

/// Step Functions: a Distributed Map runs at most this many child executions at once.
pub const MAX_MAP_CONCURRENCY: u32 = 10_000;
/// ECS: "the maximum number of Amazon EC2 instances that you can register for each cluster is 5,000" (ECS
/// Developer Guide, "Handle Amazon ECS service quotas and API throttling limits"). A job is one cluster and each
/// running task one instance, so this bounds `--processes` below the Map's own limit.
pub const MAX_CLUSTER_INSTANCES: u32 = 5_000;
/// The most tasks one job may have: what the submit function is sized to validate, generate and write within
/// its memory and time (a 100 000-row tasks file; the parse_generate benchmark measures the per-row cost).
pub const MAX_TASKS: usize = 100_000;
/// Step Functions: a task's, state's or execution's input or output is at most 256 KiB of UTF-8 ("Step Functions
/// service quotas"); past it the execution fails with `States.DataLimitExceeded`, which no Catch takes.
pub const MAX_STATE_BYTES: usize = 256 * 1024;
/// What the job's options carried by every state of every task (its reference names the instance types, subnets,
/// request-payer buckets, security group and key pair) may name together: a sixteenth of a state, so that the
/// reference with the task's attempt, instance and longest error stays far inside `MAX_STATE_BYTES` whatever the
/// options say.
pub const MAX_CARRIED_OPTION_BYTES: usize = MAX_STATE_BYTES / 16;

/// Step Functions: events in one execution's history (each task's child execution has its own).
pub const MAX_HISTORY_EVENTS: usize = 25_000;
/// History events of one task's attempt when its instance's join is heard at once (the wordcount job on the
/// emulated cloud: Launch, AwaitJoin answered + Joined?, StartTask, Again?, TaskDone, and the child execution's
/// start and end).
pub const TASK_EVENTS: usize = 25;
/// Events of each fallback check of the join, when no event answered AwaitJoin within [`join_wait`] (AwaitJoin
/// timed out and caught, CheckJoined, Joined?, CountPoll).
pub const POLL_EVENTS: usize = 15;
/// Launches again of one attempt whose instance EC2 ended before it joined (the state machine's LaunchAgain; the
/// attempt fails with `Ecsub.InstanceLost` after that). A handful: an instance that dies while pending is rare
/// ("Troubleshoot Amazon EC2 instance launch issues"), and each costs a task's history events.
pub const MAX_RELAUNCHES: u32 = 3;
/// Events one launch again adds to a join poll (its Launch task: entered, scheduled, started, succeeded, exited).
pub const RELAUNCH_EVENTS: usize = 5;

/// Instance ids in one TerminateInstances call. EC2 takes at most 1 000 (EC2 API Reference, TerminateInstances,
/// `InstanceIds`: "Constraints: Up to 1000 instance IDs. We recommend breaking up this request into smaller
/// batches"); a call with more is refused whole, so a job with more live instances than that would terminate none.
/// Half of it: a refused or throttled call leaves at most this many for the next try.
pub const TERMINATE_IDS_PER_CALL: usize = 500;
/// How fast EC2 gives back TerminateInstances' instance tokens ("Request throttling for the Amazon EC2 API",
/// resource rate limits: a bucket of 1 000 instances, refilled 20 a second). Two closes of one job at once (an
/// event delivered twice) or a sweep beside a close empty it at about a thousand instances.
pub const TERMINATE_INSTANCES_REFILL_PER_SECOND: f64 = 20.0;
/// How long a caller terminating instances waits in all for EC2's tokens before it leaves the rest to the next
/// sweep: the refill of 1 200 instances.
pub const TERMINATE_THROTTLE_BUDGET_SECONDS: f64 = 60.0;

/// How long a throttled TerminateInstances of `ids` ids waits before it is sent again: what EC2 takes to refill
/// that many instance tokens, at least a second.
pub fn terminate_throttle_wait(ids: usize) -> f64 {
    (ids as f64 / TERMINATE_INSTANCES_REFILL_PER_SECOND).max(1.0)
}

/// How many `--waiter-delay`s an attempt waits for its instance's join event before it checks for itself.
pub const JOIN_WAIT_DELAYS: u32 = 8;
/// The longest wait for a join event before a check: an instance EC2 ended while pending (no event says so to the
/// join) is seen within this and launched again, and a lost event costs at most this.
pub const MAX_JOIN_WAIT: u32 = 120;

/// Seconds an attempt waits for ECS's "Container Instance State Change" event of its instance's join before it
/// checks for itself (a lost event: ECS sends its events "on a best effort basis"; an instance EC2 ended before it
/// joined): [`JOIN_WAIT_DELAYS`] waiter delays, at most [`MAX_JOIN_WAIT`], at least one waiter delay, and never
/// longer than the join timeout itself.
pub fn join_wait(waiter_delay: u32, join_timeout_seconds: u32) -> u32 {
    let delay = waiter_delay.max(1);
    delay
        .saturating_mul(JOIN_WAIT_DELAYS)
        .min(MAX_JOIN_WAIT)
        .max(delay)
        .min(join_timeout_seconds.max(1))
}

/// Checks of the join before an instance that has not joined is given up: the join timeout in [`join_wait`]s.
pub fn join_polls(join_timeout_seconds: u32, join_wait: u32) -> u32 {
    join_timeout_seconds.div_ceil(join_wait.max(1)).max(1)
}

/// The most history events one task's child execution can take: each of its `attempts` polling until the join
/// timeout.
pub fn worst_task_events(join_polls: u32, attempts: u32) -> usize {
    let attempt = TASK_EVENTS
        + POLL_EVENTS * (join_polls.max(1) as usize - 1)
        + RELAUNCH_EVENTS * MAX_RELAUNCHES as usize;
    attempt * attempts as usize
}

/// Why no stack runs `processes` tasks of one job at once, with the way out; checked by the client as well as at
/// submit (it depends on no stack parameter).
pub fn check_processes(processes: u32) -> Option<String> {
    if processes > MAX_MAP_CONCURRENCY {
        Some(format!(
            "--processes {processes}: one job runs at most {MAX_MAP_CONCURRENCY} tasks at once (Step Functions' \
             Distributed Map); use --processes {MAX_MAP_CONCURRENCY} or fewer"
        ))
    } else if processes > MAX_CLUSTER_INSTANCES {
        Some(format!(
            "--processes {processes}: a job's tasks run on the instances of one ECS cluster, which takes at most \
             {MAX_CLUSTER_INSTANCES} (ECS service quotas); use --processes {MAX_CLUSTER_INSTANCES} or fewer, or \
             split the job with --task-range into jobs run side by side"
        ))
    } else {
        None
    }
}

/// Why no stack takes a job of `tasks` tasks, with the way out; checked by the client as well as at submit.
pub fn check_tasks(tasks: usize) -> Option<String> {
    (tasks > MAX_TASKS).then(|| {
        format!(
            "the job has {tasks} tasks, but a job holds at most {MAX_TASKS}: split it with --task-range into jobs \
             of at most {MAX_TASKS} tasks"
        )
    })
}

/// Why one execution cannot carry the job (every reason, each with its number and a way out), or nothing.
pub fn check_job(
    tasks: usize,
    processes: u32,
    waiter_delay: u32,
    join_timeout_seconds: u32,
    retries: u32,
) -> Vec<String> {
    // The task's own failures tried again are attempts beside the interruptions' (`policy::next_attempt`).
    let attempts = super::MAX_ATTEMPTS + retries;
    let mut problems: Vec<String> = check_processes(processes)
        .into_iter()
        .chain(check_tasks(tasks))
        .collect();
    let checks =
        |delay: u32| join_polls(join_timeout_seconds, join_wait(delay, join_timeout_seconds));
    let polls = checks(waiter_delay);
    let events = worst_task_events(polls, attempts);
    if events > MAX_HISTORY_EVENTS {
        let fits = (1..=join_timeout_seconds.max(1))
            .find(|d| worst_task_events(checks(*d), attempts) <= MAX_HISTORY_EVENTS)
            .unwrap_or(join_timeout_seconds);
        problems.push(format!(
            "--waiter-delay {waiter_delay}: a task checks its instance up to {polls} times while it joins (the \
             stack's join timeout of {join_timeout_seconds} s), {events} history events over {attempts} attempts, more than \
             the {MAX_HISTORY_EVENTS} a task's execution holds; use --waiter-delay {fits} or more{}",
            if retries > 0 { " (or fewer --retries)" } else { "" }
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
    fn a_throttled_termination_waits_for_its_ids_tokens() {
        assert_eq!(terminate_throttle_wait(TERMINATE_IDS_PER_CALL), 25.0);
        assert_eq!(terminate_throttle_wait(1), 1.0, "at least a second");
        // The budget covers two full calls' waits: a second close of the same job beside the first.
        assert!(
            TERMINATE_THROTTLE_BUDGET_SECONDS
                >= 2.0 * terminate_throttle_wait(TERMINATE_IDS_PER_CALL)
        );
    }

    #[test]
    fn join_polls_follow_the_timeout_not_the_delay() {
        assert_eq!(join_polls(600, 15), 40);
        assert_eq!(join_polls(600, 1), 600);
        assert_eq!(join_polls(600, 7), 86);
        assert_eq!(join_polls(5, 10), 1);
    }

    #[test]
    fn the_join_is_awaited_for_eight_delays_at_most_two_minutes_never_past_the_timeout() {
        assert_eq!(join_wait(15, 600), 120, "the default delay: two minutes");
        assert_eq!(join_wait(1, 600), 8);
        assert_eq!(join_wait(10, 600), 80);
        assert_eq!(join_wait(300, 600), 300, "never shorter than one delay");
        assert_eq!(join_wait(1, 5), 5, "never longer than the join timeout");
        assert_eq!(join_wait(0, 0), 1);
        assert_eq!(join_polls(600, join_wait(15, 600)), 5);
    }

    #[test]
    fn a_job_too_big_for_one_execution_is_refused_with_its_numbers() {
        assert_eq!(worst_task_events(1, 3), (25 + 5 * 3) * 3);
        assert_eq!(worst_task_events(40, 3), (25 + 15 * 39 + 5 * 3) * 3);
        assert!(check_job(MAX_TASKS, MAX_CLUSTER_INSTANCES, 15, 600, 0).is_empty());
        assert_eq!(
            check_job(10, MAX_CLUSTER_INSTANCES + 1, 15, 600, 0),
            ["--processes 5001: a job's tasks run on the instances of one ECS cluster, which takes at most 5000 (ECS \
              service quotas); use --processes 5000 or fewer, or split the job with --task-range into jobs run side \
              by side"]
        );
        let problems = check_job(MAX_TASKS + 1, MAX_MAP_CONCURRENCY + 1, 1, 36_000, 0);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!(
            problems[0],
            "--processes 10001: one job runs at most 10000 tasks at once (Step Functions' Distributed Map); use \
             --processes 10000 or fewer"
        );
        assert_eq!(
            problems[1],
            "the job has 100001 tasks, but a job holds at most 100000: split it with --task-range into jobs of at \
             most 100000 tasks"
        );
        assert_eq!(
            problems[2],
            "--waiter-delay 1: a task checks its instance up to 4500 times while it joins (the stack's join \
             timeout of 36000 s), 202575 history events over 3 attempts, more than the 25000 a task's execution \
             holds; use --waiter-delay 9 or more"
        );
        assert!(
            check_job(1, 1, 1, 3600, 0).is_empty(),
            "an hour's join at any delay"
        );
        assert!(check_job(1, 1, 9, 36_000, 0).is_empty());
        // Each retry is an attempt more in the task's history: ten retries need a longer delay.
        assert_eq!(
            check_job(1, 1, 9, 36_000, 10),
            ["--waiter-delay 9: a task checks its instance up to 500 times while it joins (the stack's join timeout \
              of 36000 s), 97825 history events over 13 attempts, more than the 25000 a task's execution holds; use \
              --waiter-delay 286 or more (or fewer --retries)"]
        );
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

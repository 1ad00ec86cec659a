//! What the end-to-end tests do with jobs: push one, wait for it, read its records, check that nothing of it is
//! left running.

#![allow(clippy::unwrap_used)]

use crate::{Ran, Sandbox};
use serde_json::Value;
use std::path::Path;

pub const EXAMPLE_BUCKET: &str = "ecsub-wordcount";

/// A sandbox with the wordcount example's inputs in their bucket.
pub fn with_wordcount() -> Sandbox {
    let sandbox = Sandbox::start();
    sandbox.upload_wordcount_inputs();
    sandbox
}

/// `ecsub-cli push` of a job with a one-second waiter delay, polling twice a second with --wait.
pub fn push(sandbox: &Sandbox, tasks: &str, script: &str, extra: &[&str]) -> Ran {
    push_at(sandbox, "1", tasks, script, extra)
}

/// `ecsub-cli push` of a job at this `--waiter-delay` (a join event is waited for 8 of them, at most 2 minutes,
/// before the attempt checks for itself), polling twice a second with --wait.
pub fn push_at(
    sandbox: &Sandbox,
    waiter_delay: &str,
    tasks: &str,
    script: &str,
    extra: &[&str],
) -> Ran {
    let mut args = vec![
        "push",
        "--waiter-delay",
        waiter_delay,
        "--poll",
        "0.5",
        "--tasks",
        tasks,
        "--script",
        script,
    ];
    args.extend_from_slice(extra);
    sandbox.cli(&args)
}

/// Pushes a job of one task that sleeps ten minutes (one to cancel, or to find running); returns its id.
pub fn push_long(sandbox: &Sandbox) -> String {
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "long.tsv", "--env I\n1\n");
    let script = write(dir.path(), "long.sh", "sleep 600\n");
    let pushed = push(sandbox, &tasks, &script, &[]);
    assert_exit(sandbox, &pushed, 0);
    job_id_of(&pushed)
}

pub fn job_id_of(push: &Ran) -> String {
    push.stdout
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

pub fn assert_nothing_running(sandbox: &Sandbox, job: &str) {
    let live = sandbox.live_instances(job);
    assert!(
        live.is_empty(),
        "instances of {job} still pending or running: {live:?}\n{}",
        sandbox.log_tail()
    );
}

/// Waits (up to `seconds`) until `tasks` containers run in the emulated cloud.
pub fn until_running(sandbox: &Sandbox, tasks: usize, seconds: u64) {
    sandbox.until(seconds, &format!("{tasks} tasks to run"), || {
        (sandbox
            .control_get("/running")
            .as_array()
            .map_or(0, Vec::len)
            == tasks)
            .then_some(())
    });
}

/// A job's ECS cluster: `<stack>_<job id>`.
pub fn cluster_of(sandbox: &Sandbox, job: &str) -> String {
    format!("{}_{job}", sandbox.info["stack"].as_str().unwrap())
}

pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

pub fn summary(sandbox: &Sandbox, job: &str) -> Value {
    let bytes = sandbox
        .object(&format!(
            "s3://{}/jobs/{job}/summary.json",
            sandbox.bucket()
        ))
        .expect("summary.json");
    serde_json::from_slice(&bytes).unwrap()
}

/// Jobs (folders under jobs/) whose name starts with `name-`.
pub fn jobs_named(sandbox: &Sandbox, name: &str) -> Vec<String> {
    let mut jobs: Vec<String> = sandbox
        .keys(sandbox.bucket(), &format!("jobs/{name}-"))
        .iter()
        .filter_map(|k| {
            k.strip_prefix("jobs/")
                .and_then(|r| r.split('/').next())
                .map(str::to_owned)
        })
        .collect();
    jobs.sort();
    jobs.dedup();
    jobs
}

/// How many requests `key` (a principal's label, e.g. "lambda-ecsub-launch") made of `operation`.
pub fn calls_of(sandbox: &Sandbox, key: &str, operation: &str) -> usize {
    sandbox
        .calls()
        .iter()
        .filter(|c| c["key"] == key && c["operation"] == operation)
        .count()
}

/// The name of one of a stack's queues (by its logical id in the template).
pub fn queue_name(sandbox: &Sandbox, stack: &str, logical: &str) -> String {
    sandbox.stack(stack)["queues"][logical]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// The records Lambda put in a stack's failed-events queue (read without taking them: visibility 0).
pub fn failed_events(sandbox: &Sandbox, stack: &str) -> Vec<Value> {
    // The stack's queue URL names AWS's host; the CLI would go there, so it is given the emulator's.
    let name = queue_name(sandbox, stack, "FailedEventsQueue");
    let url = format!(
        "{}/{}/{name}",
        sandbox.endpoint(),
        sandbox.info["account"].as_str().unwrap()
    );
    // awscli v1 sends SQS calls to queue.amazonaws.com whatever AWS_ENDPOINT_URL says: it is told twice.
    let received = sandbox.aws_json(&[
        "--endpoint-url",
        sandbox.endpoint(),
        "sqs",
        "receive-message",
        "--queue-url",
        &url,
        "--max-number-of-messages",
        "10",
        "--visibility-timeout",
        "0",
    ]);
    received["Messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| serde_json::from_str(m["Body"].as_str()?).ok())
        .collect()
}

/// Fires one of the stack's schedule rules (by its logical id in the template), as time passing would.
pub fn fire(sandbox: &Sandbox, rule: &str) {
    let fired = sandbox.control_post("/fire-schedule", &serde_json::json!({ "rule": rule }));
    assert_eq!(fired["fired"], rule, "{fired}");
}

/// An attempt's record, once it is there.
pub fn attempt_record(sandbox: &Sandbox, job: &str, task: usize, attempt: u32) -> Option<Value> {
    sandbox
        .object(&format!(
            "s3://{}/jobs/{job}/attempts/{task:06}.{attempt}.json",
            sandbox.bucket()
        ))
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
}

/// Every instance ever launched for a job (any state).
pub fn all_instances(sandbox: &Sandbox, job: &str) -> Vec<Value> {
    let v = sandbox.aws_json(&[
        "ec2",
        "describe-instances",
        "--filters",
        &format!("Name=tag:ecsub:job,Values={job}"),
    ]);
    v["Reservations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Instances"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The instances the launcher gave a task (it tags an instance with its task when it claims an ask for it).
pub fn tasked(instances: &[Value]) -> Vec<&Value> {
    instances
        .iter()
        .filter(|i| {
            i["Tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t["Key"] == "ecsub:task"))
        })
        .collect()
}

/// An instance launched for an ask that another instance answered (SQS delivers a message twice now and then, as a
/// standard queue may) belongs to no task: the launcher terminated it at once, so none is left running.
pub fn assert_surplus_terminated(instances: &[Value]) {
    let tasked = tasked(instances);
    for surplus in instances.iter().filter(|i| !tasked.contains(i)) {
        let state = surplus["State"]["Name"].as_str().unwrap_or_default();
        assert!(
            matches!(state, "shutting-down" | "terminated"),
            "an instance of no task is {state}: {surplus}"
        );
    }
}

/// Asserts how a command exited; otherwise fails with what it printed and the sandbox's logs.
pub fn assert_exit(sandbox: &Sandbox, ran: &Ran, code: i32) {
    assert_eq!(
        ran.code,
        code,
        "{}\n{}\n{}",
        ran.stdout,
        ran.stderr,
        sandbox.log_tail()
    );
}

/// The most tasks that ran at once, from the spans they wrote (`START END` in nanoseconds, one object each): a
/// start and an end at the same instant count the end first.
pub fn most_at_once(sandbox: &Sandbox, span_urls: &[String]) -> usize {
    let mut events: Vec<(u128, i32)> = Vec::with_capacity(span_urls.len() * 2);
    for url in span_urls {
        let span = sandbox
            .object(url)
            .unwrap_or_else(|| panic!("{url} was not written"));
        let span = String::from_utf8(span).unwrap();
        let (start, end) = span
            .trim()
            .split_once(' ')
            .unwrap_or_else(|| panic!("{url}: `{span}` is not a span"));
        events.push((start.parse().unwrap(), 1));
        events.push((end.parse().unwrap(), -1));
    }
    events.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, delta) in events {
        now += delta;
        most = most.max(now);
    }
    usize::try_from(most).unwrap_or(0)
}

/// The ARN of a job's execution (named after the job id).
pub fn execution_arn(sandbox: &Sandbox, job: &str) -> String {
    format!(
        "{}:{job}",
        sandbox.info["state_machine_arn"]
            .as_str()
            .unwrap_or_default()
            .replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Every event of a job's execution's own history (its children's are their own: `/map-runs`).
pub fn execution_history(sandbox: &Sandbox, job: &str) -> Vec<Value> {
    let history = sandbox.aws_json(&[
        "stepfunctions",
        "get-execution-history",
        "--execution-arn",
        &execution_arn(sandbox, job),
        "--max-items",
        "100000",
    ]);
    history["events"].as_array().cloned().unwrap_or_default()
}

/// The job's Map runs as the emulated Step Functions recorded them (tests/emulator/services/map_run.py).
pub fn map_runs(sandbox: &Sandbox, job: &str) -> Vec<Value> {
    let execution = execution_arn(sandbox, job);
    let runs = sandbox.control_get("/map-runs");
    runs.as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|r| r["execution_arn"] == execution.as_str())
        .cloned()
        .collect()
}

/// Milliseconds since the epoch of an RFC 3339 time (ecsub's records, AWS's answers).
pub fn rfc3339_ms(text: &str) -> i64 {
    ecsub_core::time::rfc3339_ms(text).unwrap_or_else(|| panic!("`{text}` is not an RFC 3339 time"))
}

/// `aws sqs ARGS` with the sandbox's endpoint named: AWS CLI v1 sends SQS calls in us-east-1 to
/// queue.amazonaws.com whatever AWS_ENDPOINT_URL says.
pub fn sqs<'a>(sandbox: &'a Sandbox, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["sqs", "--endpoint-url", sandbox.endpoint()];
    all.extend_from_slice(args);
    all
}

/// A new queue of the user's: its URL and ARN.
pub fn new_queue(sandbox: &Sandbox, name: &str) -> (String, String) {
    let url = sandbox.aws_json(&sqs(sandbox, &["create-queue", "--queue-name", name]))["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let attributes = sandbox.aws_json(&sqs(
        sandbox,
        &[
            "get-queue-attributes",
            "--queue-url",
            &url,
            "--attribute-names",
            "QueueArn",
        ],
    ));
    let arn = attributes["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned();
    (url, arn)
}

/// Waits for a job's failed submit event in the failed-events queue, runs the janitor's sweep, and returns what
/// `status` then says of the job (its first line `job …: rejected`).
pub fn rejected_by_the_sweep(sandbox: &Sandbox, job: &str) -> Vec<String> {
    sandbox.until(60, "the failed submit in the queue", || {
        (!failed_events(sandbox, "ecsub").is_empty()).then_some(())
    });
    fire(sandbox, "JanitorFunctionSweep");
    let status = sandbox.until(60, "the job to be rejected", || {
        let status = sandbox.cli(&["status", job]);
        status.stdout.contains("rejected").then_some(status.stdout)
    });
    status.lines().map(str::to_owned).collect()
}

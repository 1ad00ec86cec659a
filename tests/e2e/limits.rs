//! AWS's documented service limits met by a whole job on the emulated cloud, which enforces them as AWS does
//! (tests/emulator): Lambda's concurrency. Each test shows the job ending as it would with no limit at all.

use ecsub_e2e::jobs::{assert_nothing_running, job_id_of, push, summary, with_wordcount};
use ecsub_e2e::{Options, Sandbox};
use serde_json::json;

/// Runs the wordcount example (two tasks, launched together) with the first join check held 10 s: it holds its
/// execution that long, so the other task's join check meets a full limit for certain. Every task must succeed in
/// one attempt; returns how often the launch function was refused.
///
/// Both instances' join events are dropped (ECS sends them on a best-effort basis), so that each task's attempt
/// checks its join itself, after the same wait, a moment apart: with the events, a job whose instances joined in
/// time never checked, and nothing met the limit (CI seed 945977957).
fn wordcount_past_the_limit(sandbox: &Sandbox) -> u64 {
    sandbox.fault(&json!({ "kind": "drop-joined", "times": 2 }));
    sandbox.fault(&json!({
        "kind": "api", "operation": "ListContainerInstances", "principal": "lambda-ecsub-launch",
        "delay_ms": 10000, "times": 1
    }));
    let pushed = push(
        sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &["--wait"],
    );
    let job = job_id_of(&pushed);
    assert_eq!(
        pushed.code,
        0,
        "{}\n{}\n{}",
        pushed.stdout,
        pushed.stderr,
        sandbox.log_tail()
    );
    let s = summary(sandbox, &job);
    let tasks = s["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{s}");
    for task in tasks {
        assert_eq!(task["outcome"], "succeeded", "{s}");
        assert_eq!(task["attempts"], 1, "a throttle is not an attempt: {s}");
    }
    assert_nothing_running(sandbox, &job);
    let busy = sandbox.control_get("/busy");
    busy["throttled"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.ends_with("-launch"))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum()
}

/// With one concurrent execution for the whole account (harsher than any real quota; a new account may have 10),
/// every invocation that meets another is refused at once with TooManyRequestsException — the join checks and
/// starts of Step Functions (`Lambda.TooManyRequestsException`, retried by every state), the launch queue's batches
/// and the S3 and ECS events of the submit and task-stopped functions (kept and delivered again by Lambda). The job
/// succeeds as if nothing had been refused.
#[test]
fn a_lambda_throttled_at_the_accounts_limit_does_not_fail_a_task() {
    let sandbox = with_wordcount();
    sandbox.fault(&json!({ "kind": "lambda-concurrency", "account": 1 }));
    let throttled = wordcount_past_the_limit(&sandbox);
    assert!(throttled >= 1, "the launch function was never throttled");
}

/// The stack's LaunchConcurrency and TaskStoppedConcurrency reserve executions for those functions (the
/// account's other functions cannot starve them), and cap them: at one, the second task's join check is refused
/// while the first runs, and the job still succeeds.
#[test]
fn the_launch_path_keeps_to_its_reserved_concurrency_without_failing_a_task() {
    let sandbox = Sandbox::start_with(&Options::with_parameters(&[
        ("LaunchConcurrency", "1"),
        ("TaskStoppedConcurrency", "1"),
    ]));
    sandbox.upload_wordcount_inputs();
    let throttled = wordcount_past_the_limit(&sandbox);
    assert!(
        throttled >= 1,
        "the launch function ran past its reserved concurrency of 1"
    );
}

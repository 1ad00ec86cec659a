//! The error paths end to end. Each test injects one thing AWS does now and then (through the sandbox's control
//! endpoint: tests/emulator/faults.py) and shows that the job ends within a bounded time — succeeding after a
//! retry, or failing with a reason that names the cause — and that no instance of it is left pending or running.
//! AWS's own schedules (Lambda's asynchronous retries, Step Functions' Retry intervals) run 60 times faster here.

use ecsub_e2e::jobs::{
    all_instances, assert_exit, assert_nothing_running, assert_surplus_terminated, attempt_record,
    calls_of, cluster_of, failed_events, fire, job_id_of, push, push_at, push_long,
    rejected_by_the_sweep, summary, tasked, until_running, with_wordcount, write,
};
use ecsub_e2e::{Options, Sandbox};
use serde_json::{json, Value};

const WORDCOUNT: (&str, &str) = (
    "examples/wordcount/wordcount.tsv",
    "examples/wordcount/wordcount.sh",
);

/// Pushes the wordcount example's first task at `--waiter-delay 1` and waits for it.
fn one_task(sandbox: &Sandbox) -> (i32, String, Value) {
    one_task_at(sandbox, "1")
}

/// Pushes the wordcount example's first task at this `--waiter-delay` and waits for it.
fn one_task_at(sandbox: &Sandbox, waiter_delay: &str) -> (i32, String, Value) {
    let pushed = push_at(
        sandbox,
        waiter_delay,
        WORDCOUNT.0,
        WORDCOUNT.1,
        &["--wait", "--task-range", "0"],
    );
    let job = job_id_of(&pushed);
    assert!(
        pushed.code == 0 || pushed.code == 1,
        "{}\n{}\n{}",
        pushed.stdout,
        pushed.stderr,
        sandbox.log_tail()
    );
    let s = summary(sandbox, &job);
    (pushed.code, job, s)
}

fn with_wordcount_and(options: &Options) -> Sandbox {
    let sandbox = Sandbox::start_with(options);
    sandbox.upload_wordcount_inputs();
    sandbox
}

#[test]
fn start_task_failures_are_retried_until_a_task_starts() {
    let sandbox = with_wordcount();
    sandbox
        .fault(&json!({ "kind": "start-task-failures", "reason": "RESOURCE:MEMORY", "times": 2 }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["tasks"][0]["attempts"], 1, "{s}");
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launch", "StartTask"),
        3,
        "two answered with failures, the third started the task"
    );
    assert_eq!(
        sandbox.control_get("/faults")["start_task_failures"][0][1],
        0
    );
    assert_nothing_running(&sandbox, &job);
}

/// ECS placed the task but its answer to StartTask was lost (a 5xx): the launch function looks on the instance
/// before trying again, finds the task and waits for it; the task runs once and the job succeeds (AWS review
/// 2026-12, finding 3).
#[test]
fn a_start_task_whose_answer_is_lost_starts_the_task_once() {
    let sandbox = with_wordcount();
    sandbox.fault(&json!({
        "kind": "api", "operation": "StartTask", "principal": "lambda-ecsub-launch",
        "code": "ServerException", "status": 500, "lost_response": true, "times": 1
    }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}\n{}", sandbox.log_tail());
    assert_eq!(s["tasks"][0]["attempts"], 1, "{s}");
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launch", "StartTask"),
        1,
        "the SDK sent it once and the function found the task instead of sending it again"
    );
    assert_nothing_running(&sandbox, &job);
}

/// The launch function started the task but Lambda's answer to Step Functions was lost (Lambda.ServiceException):
/// the state's Retry invokes it again, and, told by `$$.State.RetryCount` that it is not the first try, it finds
/// the task on the instance instead of starting a second. The emulated Step Functions keeps the state's task token across its
/// tries; were AWS to give a try a new one, the start records it in the job's `tokens/` for task-stopped.
#[test]
fn a_start_whose_lambda_answer_is_lost_is_retried_without_a_second_task() {
    let sandbox = with_wordcount();
    sandbox.fault(&json!({
        "kind": "api", "operation": "Invoke", "principal": "states-", "body_contains": "\"start\"",
        "code": "ServiceException", "status": 500, "lost_response": true, "times": 1
    }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}\n{}", sandbox.log_tail());
    assert_eq!(
        sandbox.control_get("/faults")["api"][0]["times"],
        0,
        "the fault was not met"
    );
    assert_eq!(s["tasks"][0]["attempts"], 1, "{s}");
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launch", "StartTask"),
        1,
        "the retried invocation found the task the first one started"
    );
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launch", "ListTasks"),
        2,
        "the second try looked on the instance (running, then stopped tasks) first; the first did not"
    );
    assert_nothing_running(&sandbox, &job);
}

/// A cancel while RunInstances is in flight: the janitor closes the job before the instance exists, so its sweep
/// cannot see it; the launcher, once the instance is there, finds nobody waiting for its answer and terminates it at
/// once (AWS's RunInstances is held 8 s here, the janitor's close takes a few).
#[test]
fn a_launch_that_lands_after_its_job_was_cancelled_is_terminated_at_once() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: it counts the launcher's calls, which an ask delivered twice adds to.
    sandbox.deliver_exactly_once();
    sandbox.fault(&json!({
        "kind": "api", "operation": "RunInstances", "principal": "lambda-ecsub-launcher", "delay_ms": 8000, "times": 1
    }));
    let job = push_long(&sandbox);
    sandbox.until(60, "RunInstances to be held", || {
        (sandbox.control_get("/faults")["api"][0]["times"] == 0).then_some(())
    });
    let cancelled = sandbox.cli(&["cancel", &job]);
    assert_exit(&sandbox, &cancelled, 0);
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(60, "the janitor's close", || sandbox.object(&summary_url));
    sandbox.until(
        60,
        "the late instance to be launched and terminated",
        || {
            let all = all_instances(&sandbox, &job);
            (!all.is_empty() && sandbox.live_instances(&job).is_empty()).then_some(())
        },
    );
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launcher", "TerminateInstances"),
        1,
        "the launcher terminated it, not a sweep"
    );
}

#[test]
fn a_task_that_never_starts_fails_naming_the_start_failures_and_leaves_nothing() {
    let sandbox = with_wordcount();
    sandbox.fault(
        &json!({ "kind": "start-task-failures", "reason": "RESOURCE:MEMORY", "times": 100 }),
    );
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 1, "{s}");
    let task = &s["tasks"][0];
    assert_eq!(task["outcome"], "infrastructure-error", "{s}");
    let reason = task["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Ecsub.StartFailed: StartTask on instance i-")
            && reason.contains("started no task: RESOURCE:MEMORY"),
        "{reason}"
    );
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launch", "StartTask"),
        5,
        "the first try and four retries"
    );
    assert_nothing_running(&sandbox, &job);
}

/// The instance registers with its agent disconnected (ECS's event says so, and the join's rule passes it by); the
/// attempt goes on when the agent connects, on that event or on its own check, and never starts a task on a
/// disconnected agent.
#[test]
fn an_agent_that_disconnects_after_registering_is_waited_for() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: the fault meets the next instances EC2 launches, and an ask delivered twice may
    // launch a surplus one that takes it.
    sandbox.deliver_exactly_once();
    sandbox.fault(&json!({ "kind": "agent-disconnect", "seconds": 3, "times": 1 }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launch", "StartTask"),
        1,
        "no StartTask on a disconnected agent"
    );
    assert_eq!(sandbox.control_get("/faults")["agent_disconnect"][0][1], 0);
    assert_nothing_running(&sandbox, &job);
}

/// The join is heard, not polled: ECS's "Container Instance State Change" event answers the attempt's wait, so
/// the launch function never asks ECS whether the instance joined, and the task starts as soon as it did (its
/// fallback check would come only after two minutes).
#[test]
fn a_join_is_heard_from_ecs_not_polled() {
    let sandbox = with_wordcount();
    let started = std::time::Instant::now();
    let (code, job, s) = one_task_at(&sandbox, "15");
    assert_eq!(code, 0, "{s}");
    assert!(
        started.elapsed().as_secs() < 110,
        "the attempt waited for its fallback check: {:?}",
        started.elapsed()
    );
    for read in ["ListContainerInstances", "DescribeContainerInstances"] {
        assert_eq!(
            calls_of(&sandbox, "lambda-ecsub-launch", read),
            0,
            "the join was polled with {read}"
        );
    }
    assert!(
        calls_of(&sandbox, "lambda-ecsub-launch", "SendTaskSuccess") >= 1,
        "the join's event answered the wait"
    );
    assert_nothing_running(&sandbox, &job);
}

/// ECS sends its events on a best-effort basis: the join's event of the only instance never arrives, and the
/// attempt's own check after its wait (8 waiter delays of 1 s here) finds the instance joined and starts the task.
#[test]
fn a_lost_join_event_is_made_up_by_the_attempts_own_check() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: the fault meets the next instances EC2 launches, and an ask delivered twice may
    // launch a surplus one that takes it.
    sandbox.deliver_exactly_once();
    sandbox.fault(&json!({ "kind": "drop-joined", "times": 1 }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        sandbox.control_get("/faults")["drop_joined"],
        0,
        "the fault was not met"
    );
    assert!(
        calls_of(&sandbox, "lambda-ecsub-launch", "ListContainerInstances") >= 1,
        "nobody checked the join"
    );
    assert_eq!(s["tasks"][0]["attempts"], 1, "{s}");
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_lost_stopped_event_is_reconciled_by_the_janitor() {
    let sandbox = with_wordcount();
    sandbox.fault(&json!({ "kind": "drop-stopped", "times": 1 }));
    let pushed = push(&sandbox, WORDCOUNT.0, WORDCOUNT.1, &["--task-range", "0"]);
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    let job = job_id_of(&pushed);
    sandbox.until(60, "the task to stop", || {
        (sandbox.control_get("/faults")["drop_stopped"] == 0).then_some(())
    });
    sandbox.settled(30);
    assert!(
        attempt_record(&sandbox, &job, 0, 1).is_none(),
        "nobody heard the task stop"
    );
    assert_eq!(sandbox.live_instances(&job).len(), 1, "its instance idles");
    fire(&sandbox, "JanitorFunctionSweep");
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(60, "the job to end", || sandbox.object(&summary_url));
    let s = summary(&sandbox, &job);
    assert_eq!(s["succeeded"], 1, "{s}");
    let record = attempt_record(&sandbox, &job, 0, 1).unwrap();
    assert_eq!(record["outcome"], "succeeded");
    let log = std::fs::read_to_string(sandbox.dir.path().join("lambda-ecsub-janitor.log")).unwrap();
    assert!(log.contains("its event was lost"), "{log}");
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_stopped_event_task_stopped_keeps_failing_on_is_kept_and_handled_by_the_janitor() {
    let sandbox = with_wordcount();
    // SendTaskSuccess fails for every invocation of task-stopped (the SDK tries each call three times): Lambda's
    // first try and its two retries, a minute and two apart (a second and two here). For every one, not for nine
    // calls: EventBridge may deliver the STOPPED event twice (at least once, as on AWS), and a copy's invocations
    // would use up a counted fault, letting the first delivery's last retry through (CI, 2026-12-07, seed
    // 4268061711). The janitor, which handles the kept event, is another principal.
    sandbox.fault(&json!({
        "kind": "api", "operation": "SendTaskSuccess", "principal": "lambda-ecsub-task-stopped",
        "code": "InternalFailure", "status": 500, "times": 1000
    }));
    let pushed = push(&sandbox, WORDCOUNT.0, WORDCOUNT.1, &["--task-range", "0"]);
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    let job = job_id_of(&pushed);
    sandbox.until(60, "the failed event in the queue", || {
        (!failed_events(&sandbox, "ecsub").is_empty()).then_some(())
    });
    // A copy delivered late runs out of its retries later: every delivery has ended once the cloud is quiet.
    sandbox.settled(60);
    let records = failed_events(&sandbox, "ecsub");
    // One record per delivery of the one event: each ran out of Lambda's retries.
    let event_ids: std::collections::HashSet<&str> = records
        .iter()
        .map(|r| r["requestPayload"]["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(event_ids.len(), 1, "{records:?}");
    for record in &records {
        assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(
            record["requestPayload"]["detail-type"],
            "ECS Task State Change"
        );
        assert_eq!(record["responsePayload"]["errorType"], "Ecsub.AwsError");
    }
    assert!(
        sandbox.live_instances(&job).is_empty(),
        "each try terminated the instance"
    );
    fire(&sandbox, "JanitorFunctionSweep");
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(60, "the job to end", || sandbox.object(&summary_url));
    assert_eq!(summary(&sandbox, &job)["succeeded"], 1);
    assert!(
        failed_events(&sandbox, "ecsub").is_empty(),
        "the handled event is gone"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_submit_that_keeps_failing_ends_its_job_with_the_reason_instead_of_hanging() {
    let sandbox = with_wordcount();
    sandbox.fault(&json!({
        "kind": "api", "operation": "CreateCluster", "principal": "lambda-ecsub-submit",
        "code": "ServerException", "status": 500, "times": 9
    }));
    let pushed = push(&sandbox, WORDCOUNT.0, WORDCOUNT.1, &[]);
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    let job = job_id_of(&pushed);
    let lines = rejected_by_the_sweep(&sandbox, &job);
    let status = lines.join("\n");
    assert_eq!(lines[0], format!("job {job}: rejected"));
    assert!(
        lines[1].starts_with(
            "  the stack's submit function failed 3 times (RetriesExhausted), last with Ecsub.AwsError: CreateCluster"
        ),
        "{status}"
    );
    assert!(sandbox.executions().is_empty());
    assert!(all_instances(&sandbox, &job).is_empty());
}

#[test]
fn a_used_up_quota_is_waited_for_not_failed() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: it counts the launcher's calls, which an ask delivered twice adds to.
    sandbox.deliver_exactly_once();
    sandbox.fault(&json!({
        "kind": "api", "operation": "RunInstances", "principal": "lambda-ecsub-launcher",
        "code": "VcpuLimitExceeded", "status": 400, "times": 3,
        "message": "You have requested more vCPU capacity than your current vCPU limit of 32 allows for the instance bucket that the specified instance type belongs to."
    }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        s["tasks"][0]["attempts"], 1,
        "the launch waited within its attempt"
    );
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launcher", "RunInstances"),
        4
    );
    assert_eq!(all_instances(&sandbox, &job).len(), 1);
    // What status said while the launch waited: the launch function's record of the refusal.
    let waiting: serde_json::Value = serde_json::from_slice(
        &sandbox
            .object(&format!(
                "s3://{}/jobs/{job}/waiting/000000.json",
                sandbox.bucket()
            ))
            .expect("the launch function recorded why it waited"),
    )
    .unwrap();
    assert_eq!(waiting["attempt"], 1);
    assert_eq!(waiting["error"], "Ecsub.QuotaExceeded");
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains("VcpuLimitExceeded"),
        "{waiting}"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn throttled_launches_back_off_and_succeed() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: it counts the launcher's calls, which an ask delivered twice adds to.
    sandbox.deliver_exactly_once();
    // More than the SDK's own three tries: the launch function reports Ecsub.Throttled and the state machine
    // tries again later.
    sandbox.fault(&json!({
        "kind": "api", "operation": "RunInstances", "principal": "lambda-ecsub-launcher",
        "code": "RequestLimitExceeded", "message": "Request limit exceeded.", "status": 503, "times": 5
    }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launcher", "RunInstances"),
        6
    );
    let log = std::fs::read_to_string(sandbox.dir.path().join("sandbox.log")).unwrap_or_default();
    assert!(!log.contains("denied"), "{log}");
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_launch_ec2_refuses_fails_the_task_with_ec2s_reason() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: an ask delivered twice would launch again after the refusal (and terminate that instance at once).
    sandbox.deliver_exactly_once();
    sandbox.fault(&json!({
        "kind": "api", "operation": "RunInstances", "principal": "lambda-ecsub-launcher",
        "code": "InvalidParameterValue", "status": 400, "times": 1,
        "message": "Value (sg-0bad) for parameter groupId is invalid."
    }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 1, "{s}");
    assert_eq!(s["tasks"][0]["outcome"], "infrastructure-error");
    assert_eq!(
        s["tasks"][0]["reason"],
        "Ecsub.LaunchFailed: RunInstances t3.micro: InvalidParameterValue: Value (sg-0bad) for parameter groupId is invalid."
    );
    assert!(all_instances(&sandbox, &job).is_empty());
}

/// No type has capacity: the attempt waits, its ask sent back to the launch queue (a minute apart, a second here),
/// until the stack's LaunchPatienceSeconds (20 s here) have passed since it asked; then it fails saying how long it
/// waited and what EC2 said last. Time bounds the wait, not a count of tries.
#[test]
fn no_capacity_for_any_type_fails_the_task_once_the_launch_patience_has_passed() {
    let sandbox = with_wordcount_and(&Options::with_parameters(&[(
        "LaunchPatienceSeconds",
        "20",
    )]));
    sandbox.fault(&json!({ "kind": "no-capacity", "instance_types": ["t3.micro"] }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 1, "{s}");
    let reason = s["tasks"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Ecsub.LaunchTimedOut: waited ")
            && reason.contains("(the stack's LaunchPatienceSeconds is 20); the last refusal: Ecsub.CapacityUnavailable: no capacity (on demand): t3.micro: InsufficientInstanceCapacity"),
        "{reason}"
    );
    assert!(
        calls_of(&sandbox, "lambda-ecsub-launcher", "RunInstances") >= 2,
        "it tried again before giving up"
    );
    assert!(all_instances(&sandbox, &job).is_empty());
}

#[test]
fn an_instance_that_never_joins_is_terminated_and_its_task_fails() {
    let sandbox = with_wordcount_and(&Options::with_parameters(&[("JoinTimeoutSeconds", "5")]));
    // Exactly-once delivery: the fault meets the next instances EC2 launches, and an ask delivered twice may
    // launch a surplus one that takes it.
    sandbox.deliver_exactly_once();
    sandbox.fault(&json!({ "kind": "never-join", "times": 1 }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 1, "{s}");
    let reason = s["tasks"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Ecsub.InstanceNeverJoined: instance i-")
            && reason.ends_with(&format!(
                "did not join cluster {} within the join timeout (checked 2 times, 5 s apart; last seen: not \
                 registered)",
                cluster_of(&sandbox, &job)
            )),
        "{reason}"
    );
    let instances = all_instances(&sandbox, &job);
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["State"]["Name"], "terminated");
}

/// EC2 ends a pending instance now and then (no capacity after all, an internal error): no join event comes, the
/// attempt's check after its wait (8 s here) sees it gone, with EC2's reason, and the attempt is launched again at
/// once, long before the join timeout (600 s here, which a task waiting it out would take).
#[test]
fn a_pending_instance_that_dies_is_replaced_before_the_join_timeout() {
    let sandbox = with_wordcount_and(&Options::with_parameters(&[("JoinTimeoutSeconds", "600")]));
    // Exactly-once delivery: it counts the launcher's calls, which an ask delivered twice adds to.
    sandbox.deliver_exactly_once();
    sandbox.fault(&json!({ "kind": "instance-dies", "times": 1 }));
    let started = std::time::Instant::now();
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}\n{}", sandbox.log_tail());
    assert!(
        started.elapsed().as_secs() < 300,
        "the task waited for the join timeout"
    );
    assert_eq!(
        sandbox.control_get("/faults")["instance_dies"],
        0,
        "the fault was not met"
    );
    assert_eq!(
        s["tasks"][0]["attempts"], 1,
        "a launch again is the same attempt: {s}"
    );
    let instances = all_instances(&sandbox, &job);
    assert_eq!(instances.len(), 2, "the dead instance and its replacement");
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launcher", "RunInstances"),
        2
    );
    assert_nothing_running(&sandbox, &job);
}

/// Instances that keep dying before they join: after the third launch again the attempt fails, naming EC2's
/// reason, instead of launching forever.
#[test]
fn instances_that_keep_dying_fail_the_attempt_with_ec2s_reason() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: the fault meets the next instances EC2 launches, and an ask delivered twice may
    // launch a surplus one that takes it.
    sandbox.deliver_exactly_once();
    sandbox.fault(&json!({ "kind": "instance-dies", "times": 4 }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 1, "{s}");
    let reason = s["tasks"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "Ecsub.InstanceLost: EC2 ended the instances of this attempt before they joined"
        ) && reason.contains("4 times")
            && reason.ends_with("terminated: Server.InternalError: Internal error on launch"),
        "{reason}"
    );
    assert_eq!(all_instances(&sandbox, &job).len(), 4);
    assert_nothing_running(&sandbox, &job);
}

/// A timed-out task fails as timed out, never as interrupted: finalize records the attempt before it terminates the
/// instance, whose ECS task then stops with "Host EC2 terminated" (a slow record, held 4 s here, once lost that
/// race to task-stopped, which recorded an interruption).
#[test]
fn a_task_past_its_timeout_is_stopped_and_fails() {
    let sandbox = with_wordcount_and(&Options::with_parameters(&[("TaskTimeoutSeconds", "10")]));
    sandbox.fault(&json!({
        "kind": "api", "operation": "PutObject", "principal": "lambda-ecsub-finalize", "delay_ms": 4000, "times": 1
    }));
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "slow.tsv", "--env N\n1\n");
    let script = write(dir.path(), "slow.sh", "sleep 300\n");
    let pushed = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_eq!(pushed.code, 1, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["outcome"], "infrastructure-error");
    assert_eq!(s["tasks"][0]["reason"], "States.Timeout");
    assert_eq!(
        sandbox.control_get("/faults")["api"][0]["times"],
        0,
        "the slow record was not met"
    );
    assert_nothing_running(&sandbox, &job);
    // The container is gone with its instance.
    until_running(&sandbox, 0, 30);
}

/// SQS delivers a message at least once: every launch ask comes a second time, alone. A launcher process that
/// handled the copy already drops it. Otherwise the copy of an ask answered in a batch of two is another batch
/// (another idempotency token), so EC2 launches for it again: the launcher finds the ask claimed and terminates
/// that instance at once; the copy of an ask that was alone has the same token and EC2 answers with the same
/// instance. Either way each task has one instance and runs once.
#[test]
fn launch_asks_delivered_twice_give_each_task_one_instance_and_terminate_the_other() {
    let sandbox = with_wordcount();
    sandbox.fault(&json!({ "kind": "delivery", "function": "ecsub-launcher", "duplicate": true }));
    let pushed = push(&sandbox, WORDCOUNT.0, WORDCOUNT.1, &["--wait"]);
    assert_exit(&sandbox, &pushed, 0);
    let job = job_id_of(&pushed);
    let calls = calls_of(&sandbox, "lambda-ecsub-launcher", "RunInstances");
    let log = std::fs::read_to_string(sandbox.dir.path().join("lambda-ecsub-launcher.log"))
        .unwrap_or_default();
    let dropped = log.matches("an ask delivered again is dropped").count();
    assert!(
        calls + dropped >= 3,
        "the copies were neither launched for nor dropped: {calls} RunInstances, {dropped} dropped"
    );
    let instances = all_instances(&sandbox, &job);
    assert_eq!(tasked(&instances).len(), 2, "one instance per task");
    assert_surplus_terminated(&instances);
    let claims = sandbox.keys(sandbox.bucket(), &format!("jobs/{job}/launched/"));
    assert_eq!(claims.len(), 2, "one claim per ask: {claims:?}");
    let s = summary(&sandbox, &job);
    for task in s["tasks"].as_array().unwrap() {
        assert_eq!(task["attempts"], 1, "{s}");
    }
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn events_delivered_twice_late_and_out_of_order_change_nothing() {
    let sandbox = with_wordcount();
    sandbox.fault(
        &json!({ "kind": "delivery", "function": null, "duplicate": true, "delay_ms": [0, 1500] }),
    );
    let pushed = push(&sandbox, WORDCOUNT.0, WORDCOUNT.1, &["--wait"]);
    assert_exit(&sandbox, &pushed, 0);
    let job = job_id_of(&pushed);
    assert_eq!(sandbox.executions().len(), 1, "one execution for the job");
    // Launch asks come twice too: an instance launched for the copy of an answered ask belongs to no task.
    let instances = all_instances(&sandbox, &job);
    assert_eq!(tasked(&instances).len(), 2, "one instance per task");
    assert_surplus_terminated(&instances);
    let records = sandbox.keys(sandbox.bucket(), &format!("jobs/{job}/attempts/"));
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(
        calls_of(&sandbox, "lambda-ecsub-task-stopped", "SendTaskSuccess") >= 4,
        "every STOPPED event came twice"
    );
    let definitions = sandbox.aws_json(&[
        "ecs",
        "list-task-definitions",
        "--family-prefix",
        &cluster_of(&sandbox, &job),
        "--status",
        "ACTIVE",
    ]);
    assert_eq!(
        definitions["taskDefinitionArns"],
        json!([]),
        "the losing submit's task definition was removed too"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_lost_runinstances_answer_is_retried_into_the_same_instance() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: it counts the launcher's calls, which an ask delivered twice adds to.
    sandbox.deliver_exactly_once();
    // EC2 launches the instance, and the answer never reaches the caller; the SDK tries again.
    sandbox.fault(&json!({
        "kind": "api", "operation": "RunInstances", "principal": "lambda-ecsub-launcher",
        "code": "InternalError", "status": 500, "times": 1, "lost_response": true
    }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}");
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launcher", "RunInstances"),
        2
    );
    assert_eq!(
        all_instances(&sandbox, &job).len(),
        1,
        "the retry's ClientToken gave back the first call's instance"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_cluster_ecs_will_not_delete_yet_does_not_keep_the_job_from_ending() {
    let sandbox = with_wordcount();
    sandbox.fault(&json!({
        "kind": "api", "operation": "DeleteCluster", "principal": "lambda-ecsub-finalize",
        "code": "ClusterContainsTasksException", "status": 400, "times": 1,
        "message": "The Cluster cannot be deleted while Tasks are active."
    }));
    let (code, job, _) = one_task(&sandbox);
    assert_eq!(code, 0);
    let cluster = || {
        let v = sandbox.aws_json(&[
            "ecs",
            "describe-clusters",
            "--clusters",
            &cluster_of(&sandbox, &job),
        ]);
        v["clusters"][0]["status"]
            .as_str()
            .unwrap_or("MISSING")
            .to_owned()
    };
    assert_eq!(
        cluster(),
        "ACTIVE",
        "the summary came first; the cluster stayed"
    );
    fire(&sandbox, "JanitorFunctionSweep");
    sandbox.until(60, "the sweep to remove the cluster", || {
        (cluster() != "ACTIVE").then_some(())
    });
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_start_that_fails_for_good_removes_what_it_made_and_says_why() {
    let sandbox = with_wordcount();
    // The job's event comes twice at once, and only the first StartExecution fails: the copy whose start
    // succeeds must not run a job the other refused (CI seed 415317165 ran it, on a cluster the refusal removed).
    sandbox.fault(&json!({ "kind": "delivery", "function": "ecsub-submit", "duplicate": true }));
    sandbox.fault(&json!({
        "kind": "api", "operation": "StartExecution", "principal": "lambda-ecsub-submit",
        "code": "InvalidExecutionInput", "status": 400, "times": 1,
        "message": "Invalid State Machine Execution Input"
    }));
    let pushed = push(&sandbox, WORDCOUNT.0, WORDCOUNT.1, &["--wait"]);
    assert_eq!(pushed.code, 2, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    assert_eq!(
        pushed.stdout.lines().nth(2).unwrap_or_default(),
        format!(
            "  the stack could not start this job: Ecsub.AwsError: StartExecution {job}: InvalidExecutionInput: \
             Invalid State Machine Execution Input"
        )
    );
    sandbox.settled(60);
    let clusters = sandbox.aws_json(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        &cluster_of(&sandbox, &job),
    ]);
    assert_ne!(clusters["clusters"][0]["status"], "ACTIVE", "{clusters}");
    let definitions = sandbox.aws_json(&[
        "ecs",
        "list-task-definitions",
        "--family-prefix",
        &cluster_of(&sandbox, &job),
        "--status",
        "ACTIVE",
    ]);
    assert_eq!(definitions["taskDefinitionArns"], json!([]));
    // The copy's start either failed too or was stopped at once: nothing of the job runs, and its status is the
    // refusal (error.txt wins over a start record the copy may have written first).
    let executions = sandbox.executions();
    assert!(
        executions.iter().all(|e| e["status"] == "ABORTED"),
        "{executions:?}"
    );
    assert_nothing_running(&sandbox, &job);
    let status = sandbox.cli(&["status", &job]);
    assert!(
        status.stdout.contains("the stack could not start this job"),
        "{}\n{}",
        status.stdout,
        status.stderr
    );
}

#[test]
fn a_map_that_cannot_read_its_tasks_ends_the_job_saying_why() {
    let sandbox = with_wordcount();
    // The distributed Map reads items.json with the state machine's role, and S3 refuses it (as it would for a
    // bucket policy or a KMS key the role may not use): the Map fails before any task started, its Catch goes
    // to the job's end, and the summary — not only the execution's history — says what happened.
    sandbox.fault(&json!({
        "kind": "api", "operation": "GetObject", "principal": "states-",
        "code": "AccessDenied", "status": 403, "times": 1, "message": "Access Denied"
    }));
    let pushed = push(&sandbox, WORDCOUNT.0, WORDCOUNT.1, &["--wait"]);
    let job = job_id_of(&pushed);
    assert_eq!(
        sandbox.control_get("/faults")["api"][0]["times"],
        0,
        "the Map's read was refused"
    );
    assert_exit(&sandbox, &pushed, 1);
    let s = summary(&sandbox, &job);
    let why = s["job_error"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("the job's Map failed (States.ItemReaderFailed")
            && why.contains("AccessDenied"),
        "{s}"
    );
    assert_eq!(
        (s["succeeded"].clone(), s["failed"].clone()),
        (json!(0), json!(2)),
        "{s}"
    );
    for task in s["tasks"].as_array().unwrap() {
        assert_eq!(task["outcome"], "infrastructure-error", "{s}");
        assert_eq!(task["reason"], format!("{why} before the task did"), "{s}");
    }
    assert_eq!(
        calls_of(&sandbox, "lambda-ecsub-launcher", "RunInstances"),
        0
    );
    let status = sandbox.cli(&["status", &job]);
    assert_eq!(
        status.stdout.lines().nth(1).unwrap_or_default(),
        format!("  {why}"),
        "{}",
        status.stdout
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_stopped_event_whose_handler_dies_at_terminate_terminates_on_the_retry_not_at_the_end_of_the_job(
) {
    let sandbox = with_wordcount();
    // TerminateInstances fails for one invocation of task-stopped (the SDK's three tries), after the attempt was
    // recorded: Lambda's retry finds the record and must terminate again, not leave it to the end of the job.
    sandbox.fault(&json!({
        "kind": "api", "operation": "TerminateInstances", "principal": "lambda-ecsub-task-stopped",
        "code": "InternalError", "status": 500, "times": 3
    }));
    let (code, job, s) = one_task(&sandbox);
    assert_eq!(code, 0, "{s}");
    let terminations: Vec<Value> = sandbox
        .calls()
        .into_iter()
        .filter(|c| {
            c["key"] == "lambda-ecsub-task-stopped" && c["operation"] == "TerminateInstances"
        })
        .collect();
    // Three refused, then the retry's; a copy of the stopped event (delivered at least once, as EventBridge
    // does) terminates again, which EC2 takes: so at least one call after the three, every one of them taken.
    let statuses: Vec<i64> = terminations
        .iter()
        .map(|c| c["status"].as_i64().unwrap_or_default())
        .collect();
    assert!(
        statuses.len() >= 4
            && statuses[..3] == [500, 500, 500]
            && statuses[3..].iter().all(|s| *s == 200),
        "three refused, then the retry's: {terminations:?}"
    );
    let finalize =
        std::fs::read_to_string(sandbox.dir.path().join("lambda-ecsub-finalize.log")).unwrap();
    assert!(
        !finalize.contains("terminating instances left at the end of the job"),
        "the instance idled until the job ended: {finalize}"
    );
    assert_eq!(
        attempt_record(&sandbox, &job, 0, 1).unwrap()["outcome"],
        "succeeded"
    );
    assert_nothing_running(&sandbox, &job);
}

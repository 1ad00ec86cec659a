//! The serverless chain end to end on the emulated cloud: the real template, state machine, handler binaries,
//! `ecsub-cli` and `aws` CLI; only AWS itself is emulated. Every test of a job ends by checking that no instance
//! of its job is pending or running (the sweep's test has no job: it checks each instance it planted).

use ecsub_e2e::instances::{ecs_ami, instance_state, run_instance};
use ecsub_e2e::jobs::{
    assert_exit, assert_nothing_running, cluster_of, job_id_of, push, rfc3339_ms, summary,
    until_running, with_wordcount, write, EXAMPLE_BUCKET,
};
use ecsub_e2e::{repo, Sandbox};
use serde_json::{json, Value};

#[test]
fn push_wait_runs_wordcount_with_the_local_runners_bytes_and_leaves_nothing() {
    let sandbox = with_wordcount();
    let push = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &["--wait"],
    );
    assert_exit(&sandbox, &push, 0);
    let job = job_id_of(&push);
    assert!(job.starts_with("wordcount-"), "{}", push.stdout);
    assert!(
        push.stdout.contains(&format!("job {job}: succeeded")),
        "{}",
        push.stdout
    );

    // The same job through the local runner, for the bytes to compare with.
    let local = tempfile::tempdir().unwrap();
    let s3_root = local.path().join("s3");
    let copy = std::process::Command::new("cp")
        .args(["-R"])
        .arg(repo().join("examples/wordcount/s3"))
        .arg(&s3_root)
        .status()
        .unwrap();
    assert!(copy.success());
    let _ = std::fs::remove_dir_all(s3_root.join("ecsub-wordcount/output"));
    let run = std::process::Command::new(ecsub_e2e::bin_dir().join("ecsub-cli"))
        .current_dir(repo())
        .args([
            "run",
            "--local",
            "--tasks",
            "examples/wordcount/wordcount.tsv",
            "--script",
            "examples/wordcount/wordcount.sh",
        ])
        .arg("--s3-root")
        .arg(&s3_root)
        .arg("--wdir")
        .arg(local.path().join("work"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for play in ["hamlet", "kinglear"] {
        let cloud = sandbox
            .object(&format!("s3://{EXAMPLE_BUCKET}/output/{play}.count.tsv"))
            .expect("the output landed");
        let here = std::fs::read(s3_root.join(format!("ecsub-wordcount/output/{play}.count.tsv")))
            .unwrap();
        assert!(!cloud.is_empty());
        assert_eq!(
            cloud, here,
            "{play}: emulated S3 and the local runner disagree"
        );
    }

    let status = sandbox.cli(&["status", &job, "--output", "json"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["state"], "succeeded");
    let states: Vec<&str> = status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["succeeded", "succeeded"], "2/2 succeeded");
    // Each task's log: the CloudWatch console's page of its stream.
    for task in status["tasks"].as_array().unwrap() {
        let link = task["log"].as_str().unwrap_or_default();
        assert!(
            link.starts_with(
                "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:"
            ) && link.contains(&format!(
                "log-group/$252Fecsub$252Fecsub$252F{job}/log-events/ecsub$252Fmain$252F"
            )),
            "{task}"
        );
    }

    // ECS's times (K3): a task is created when placed and started after its image's pull, by ECS's clock (ahead of
    // S3's here, as AWS's clocks are never equal); the attempt's start, which its outputs are checked against, is
    // the startedAt.
    let events = sandbox.control_get("/stopped-events");
    for index in 0..2 {
        let record: Value = serde_json::from_slice(
            &sandbox
                .object(&format!(
                    "s3://{}/jobs/{job}/attempts/{index:06}.1.json",
                    sandbox.bucket()
                ))
                .unwrap(),
        )
        .unwrap();
        let detail: Value = serde_json::from_str(
            events[record["task_arn"].as_str().unwrap()]["Detail"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let created = rfc3339_ms(detail["createdAt"].as_str().unwrap());
        let started = rfc3339_ms(detail["startedAt"].as_str().unwrap());
        assert!(started - created >= 400, "the pull: {detail}");
        assert_eq!(record["started_at"], detail["startedAt"], "{record}");
    }

    let clusters = sandbox.aws_json(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        &cluster_of(&sandbox, &job),
    ]);
    let cluster_status = clusters["clusters"]
        .get(0)
        .map(|c| c["status"].as_str().unwrap_or_default().to_owned());
    assert!(
        cluster_status.is_none() || cluster_status.as_deref() == Some("INACTIVE"),
        "the job's cluster is still there: {clusters}"
    );
    let logs = sandbox.cli(&["logs", &job, "--task", "1"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    let lines: Vec<&str> = logs.stdout.lines().collect();
    assert!(
        !logs.stdout.contains("(no log yet)"),
        "{}\n{}",
        logs.stdout,
        sandbox.log_tail()
    );
    let stream_line =
        format!("==> task 001, attempt 1 (succeeded): /ecsub/ecsub/{job} ecsub/main/");
    assert!(lines[0].starts_with(&stream_line), "{}", logs.stdout);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("==> ")).count(),
        1,
        "only task 1: {}",
        logs.stdout
    );
    assert!(
        lines.contains(&"counting words of kinglear"),
        "{}",
        logs.stdout
    );
    assert!(
        lines.contains(&"ecsub: task 1: the script exited 0 and its outputs are uploaded"),
        "{}",
        logs.stdout
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_script_exiting_3_fails_the_job_keeps_its_outputs_back_and_terminates_the_instance() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "exit3.tsv",
        "--env CODE\t--output OUT\n0\ts3://ecsub-wordcount/exit3/ok.txt\n3\ts3://ecsub-wordcount/exit3/three.txt\n",
    );
    let script = write(
        dir.path(),
        "exit3.sh",
        "mkdir -p \"$(dirname \"$OUT\")\"\necho \"code $CODE\" > \"$OUT\"\nexit \"$CODE\"\n",
    );
    let push = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_exit(&sandbox, &push, 1);
    let job = job_id_of(&push);
    let status = sandbox.cli(&["status", &job]);
    let rows: Vec<&str> = status.stdout.lines().collect();
    assert_eq!(rows[0], format!("job {job}: failed"));
    assert_eq!(rows[1], "2 tasks: 1 failed, 1 succeeded");
    assert!(
        rows[2].starts_with("cost: $")
            && rows[2].ends_with("(2 attempts; prices from pricing-api; EBS from pricing-api)"),
        "{}",
        status.stdout
    );
    let cells = |row: &str| {
        let mut cells: Vec<String> = row.split_whitespace().map(str::to_owned).collect();
        // The cost column: a price in dollars, whatever the seconds billed.
        if cells.len() > 6 {
            assert!(cells[6].starts_with('$'), "{row}");
            cells.remove(6);
        }
        cells
    };
    // The failed task first: it is the one to look at.
    assert_eq!(
        cells(rows[5])[..2],
        ["000", "succeeded"],
        "{}",
        status.stdout
    );
    assert_eq!(
        cells(rows[4]),
        [
            "001",
            "failed",
            "1",
            "t3.micro",
            "on-demand",
            "3",
            "exited",
            "3"
        ],
        "{}",
        status.stdout
    );
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/exit3/ok.txt")
            .as_deref(),
        Some(&b"code 0\n"[..]),
        "the task that exited 0 uploads what it wrote"
    );
    assert!(
        sandbox
            .object("s3://ecsub-wordcount/exit3/three.txt")
            .is_none(),
        "a failed task's outputs are not uploaded"
    );
    let record: Value = serde_json::from_slice(
        &sandbox
            .object(&format!(
                "s3://{}/jobs/{job}/attempts/000001.1.json",
                sandbox.bucket()
            ))
            .unwrap(),
    )
    .unwrap();
    let instance = record["instance_id"].as_str().unwrap();
    let state = sandbox.aws_json(&["ec2", "describe-instances", "--instance-ids", instance]);
    assert_eq!(
        state["Reservations"][0]["Instances"][0]["State"]["Name"],
        "terminated"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_task_that_exits_0_without_its_output_fails_as_outputs_missing() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "lazy.tsv",
        "--output OUT\ns3://ecsub-wordcount/lazy/never.txt\n",
    );
    let script = write(dir.path(), "lazy.sh", "echo 'I write nothing'\n");
    let push = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_eq!(push.code, 1, "{}\n{}", push.stdout, push.stderr);
    let job = job_id_of(&push);
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["outcome"], "outputs-missing");
    assert_eq!(s["tasks"][0]["exit_code"], 0);
    assert_eq!(
        s["tasks"][0]["reason"],
        "exited 0 but these outputs are missing: s3://ecsub-wordcount/lazy/never.txt"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn the_same_stopped_event_twice_gives_one_result_and_terminates_again_harmlessly() {
    let sandbox = with_wordcount();
    // The second delivery is this test's own: the first must be the only one before it.
    sandbox.deliver_exactly_once();
    let push = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &["--wait", "--task-range", "0"],
    );
    assert_eq!(push.code, 0, "{}\n{}", push.stdout, push.stderr);
    let job = job_id_of(&push);
    let record_url = format!(
        "s3://{}/jobs/{job}/attempts/000000.1.json",
        sandbox.bucket()
    );
    let record = sandbox.object(&record_url).unwrap();
    let parsed: Value = serde_json::from_slice(&record).unwrap();
    let task_arn = parsed["task_arn"].as_str().unwrap().to_owned();
    let instance = parsed["instance_id"].as_str().unwrap().to_owned();
    let terminations = |s: &Sandbox| {
        s.calls()
            .iter()
            .filter(|c| {
                c["operation"] == "TerminateInstances" && c["key"] == "lambda-ecsub-task-stopped"
            })
            .count()
    };
    assert_eq!(
        terminations(&sandbox),
        1,
        "one termination for the one attempt"
    );

    let redelivered = sandbox.control_post("/redeliver-stopped", &json!({ "task_arn": task_arn }));
    assert_eq!(redelivered["redelivered"], true);
    // A redelivery terminates again (terminating is idempotent): the first delivery may have died right before
    // its TerminateInstances, and the instance must not be left to the end of the job.
    sandbox.until(20, "the duplicate to terminate again", || {
        (terminations(&sandbox) == 2).then_some(())
    });
    let log =
        std::fs::read_to_string(sandbox.dir.path().join("lambda-ecsub-task-stopped.log")).unwrap();
    assert!(
        log.contains("duplicate event: the attempt is recorded already"),
        "{log}"
    );
    assert!(
        !log.contains("\"ERROR\""),
        "the duplicate was an error: {log}"
    );
    assert_eq!(
        sandbox.object(&record_url).unwrap(),
        record,
        "the duplicate changed the record"
    );
    let state = sandbox.aws_json(&["ec2", "describe-instances", "--instance-ids", &instance]);
    assert_eq!(
        state["Reservations"][0]["Instances"][0]["State"]["Name"],
        "terminated"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_cancelled_job_is_closed_by_the_janitor_and_leaves_nothing_running() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "long.tsv", "--env N\n1\n2\n");
    let script = write(dir.path(), "long.sh", "sleep 120\n");
    let pushed = push(&sandbox, &tasks, &script, &[]);
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    until_running(&sandbox, 2, 60);
    let running_logs = sandbox.until(30, "the running tasks' first log lines", || {
        let logs = sandbox.cli(&["logs", &job]);
        (logs.stdout.matches("ecsub: running the script").count() == 2).then_some(logs.stdout)
    });
    assert!(
        running_logs.contains("==> task 000, attempt 1 (running): "),
        "{running_logs}"
    );
    let cancelled = sandbox.cli(&["cancel", &job]);
    assert_eq!(
        cancelled.code, 0,
        "{}\n{}",
        cancelled.stdout, cancelled.stderr
    );
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(60, "the janitor's summary", || sandbox.object(&summary_url));
    let s = summary(&sandbox, &job);
    assert_eq!(s["failed"], 2, "{s}");
    assert_eq!(
        s["tasks"][0]["reason"],
        "the job's execution ended ABORTED before the task did"
    );
    let status = sandbox.cli(&["status", &job]);
    assert!(
        status.stdout.starts_with(&format!("job {job}: failed\n")),
        "{}",
        status.stdout
    );
    assert_nothing_running(&sandbox, &job);
    let clusters = sandbox.aws_json(&[
        "ecs",
        "describe-clusters",
        "--clusters",
        &cluster_of(&sandbox, &job),
    ]);
    assert_eq!(clusters["clusters"][0]["status"], "INACTIVE", "{clusters}");
}

#[test]
fn the_janitors_sweep_terminates_instances_of_jobs_that_are_not_running() {
    let sandbox = Sandbox::start();
    let ami = ecs_ami(&sandbox);
    // An instance left by a job whose execution is long gone (a crash before ecsub had a janitor, say).
    let ghost = run_instance(
        &sandbox,
        &ami,
        &[("ecsub:job", "ghost-abcde"), ("ecsub:stack", "ecsub")],
    );
    // Another stack's instance in the same account and region: not this stack's to sweep.
    let theirs = run_instance(
        &sandbox,
        &ami,
        &[("ecsub:job", "ghost-abcde"), ("ecsub:stack", "ecsub-dev")],
    );
    let untagged = run_instance(&sandbox, &ami, &[]);
    let fired = sandbox.control_post("/fire-schedule", &json!({ "rule": "JanitorFunctionSweep" }));
    assert_eq!(fired["fired"], "JanitorFunctionSweep", "{fired}");
    let state = |id: &str| instance_state(&sandbox, id);
    sandbox.until(30, "the sweep", || {
        (state(&ghost) != "running").then_some(())
    });
    assert_eq!(state(&ghost), "terminated");
    // The sweep may still be going through the other instances: let it finish before checking what it spared.
    sandbox.settled(30);
    assert_eq!(
        state(&untagged),
        "running",
        "the sweep touched an instance that is not ecsub's"
    );
    assert_eq!(
        state(&theirs),
        "running",
        "the sweep touched another stack's instance"
    );
    assert_eq!(
        sandbox.control_get("/denials"),
        json!([]),
        "the sweep tried what it may not"
    );
}

/// One job the janitor cannot sweep (its TerminateInstances fails, every try of the SDK) does not keep it from the
/// next job's instances, and is swept on the next run.
#[test]
fn the_janitors_sweep_goes_past_a_job_it_cannot_sweep_and_takes_it_on_the_next_run() {
    let sandbox = Sandbox::start();
    let ami = ecs_ami(&sandbox);
    let ghost = |job: &str| {
        run_instance(
            &sandbox,
            &ami,
            &[("ecsub:job", job), ("ecsub:stack", "ecsub")],
        )
    };
    // The sweep goes through jobs in name order: the first one's call fails. One run of the sweep is what the
    // fault counts on: EventBridge may deliver the schedule's event twice, and a second run at once would rightly
    // take the first job (CI seed 187665598).
    sandbox.fault(
        &json!({ "kind": "delivery", "function": "ecsub-janitor", "duplicate": 0, "late": 0 }),
    );
    let first = ghost("ghost-aaaaa");
    let second = ghost("ghost-bbbbb");
    sandbox.fault(&json!({
        "kind": "api", "operation": "TerminateInstances", "principal": "lambda-ecsub-janitor",
        "code": "InternalError", "status": 500, "times": 3
    }));
    let state = |id: &str| instance_state(&sandbox, id);
    sandbox.control_post("/fire-schedule", &json!({ "rule": "JanitorFunctionSweep" }));
    sandbox.until(60, "the sweep of the second job", || {
        (state(&second) == "terminated").then_some(())
    });
    assert_eq!(
        state(&first),
        "running",
        "the fault did not reach the first job's call"
    );
    sandbox.settled(30);
    sandbox.control_post("/fire-schedule", &json!({ "rule": "JanitorFunctionSweep" }));
    sandbox.until(60, "the next run's sweep of the first job", || {
        (state(&first) == "terminated").then_some(())
    });
}

#[test]
fn launch_walks_the_instance_type_list_when_a_type_has_no_capacity() {
    let sandbox = with_wordcount();
    // It counts the launcher's calls: an ask delivered twice launches twice (and the second instance is
    // terminated at once, as faults::launch_asks_delivered_twice_… holds).
    sandbox.deliver_exactly_once();
    let answer = sandbox.control_post("/no-capacity", &json!({ "instance_types": ["t3.small"] }));
    assert_eq!(answer["no_capacity"], json!(["t3.small"]), "{answer}");
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &[
            "--wait",
            "--spot",
            "--aws-ec2-instance-type",
            "t3.small,m5.large",
        ],
    );
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let s = summary(&sandbox, &job);
    for task in s["tasks"].as_array().unwrap() {
        assert_eq!(task["instance_type"], "m5.large", "{s}");
        assert_eq!(
            task["attempts"], 1,
            "the walk happens within one launch: {s}"
        );
        assert_eq!(task["spot"], true);
    }
    let launches: Vec<Value> = sandbox
        .calls()
        .into_iter()
        .filter(|c| c["operation"] == "RunInstances" && c["key"] == "lambda-ecsub-launcher")
        .collect();
    // The launcher batches the asks that arrive together, so the two tasks are launched by one call or by
    // two depending on when their asks met; either way each launch is refused once for t3.small and then
    // accepted for m5.large.
    let tasks = s["tasks"].as_array().unwrap().len();
    let accepted = launches.iter().filter(|c| c["status"] == 200).count();
    let refused = launches
        .iter()
        .filter(|c| c["status"] == 400) // InsufficientInstanceCapacity, a client error
        .count();
    assert!(
        (1..=tasks).contains(&accepted),
        "{accepted} accepted RunInstances for {tasks} tasks: {launches:?}"
    );
    assert_eq!(
        refused, accepted,
        "one refused RunInstances before each accepted one: {launches:?}"
    );
    assert_eq!(launches.len(), refused + accepted, "{launches:?}");
    assert_nothing_running(&sandbox, &job);
}

//! Jobs at scale: larger than one inline Map could carry (40 tasks at once, 25 000 history events for the whole
//! job: 117 tasks at `--waiter-delay 10`, 169 at 15 s), and launching faster than EC2's RunInstances throttling
//! allows. The Distributed Map reads the tasks from `items.json`, runs each as a child execution with its own
//! history, at most `--processes` at once, and writes its results to the job's folder.
//!
//! What bounds the size of a job this 2-core machine runs in a test is the emulated cloud itself: one Python
//! process answers every API call, boots every instance (its user data fetches the stager through the emulated
//! S3) and runs every container. These tests run alone (.config/nextest.toml).

use ecsub_e2e::instances::{ecs_ami, tag_specification};
use ecsub_e2e::jobs::{
    all_instances, assert_exit, assert_nothing_running, assert_surplus_terminated,
    execution_history, job_id_of, map_runs, push_long, summary, tasked, until_running,
    with_wordcount, write,
};
use ecsub_e2e::{Ran, Sandbox};
use serde_json::{json, Value};
use std::time::Duration;

/// `push --wait` of a large job: polling every 5 s, given 20 minutes (the machine runs its containers one
/// Python start after another).
fn push_and_wait(
    sandbox: &Sandbox,
    tasks: &str,
    script: &str,
    waiter_delay: &str,
    processes: &str,
    extra: &[&str],
) -> Ran {
    let mut args = vec![
        "push",
        "--wait",
        "--poll",
        "5",
        "--waiter-delay",
        waiter_delay,
        "--processes",
        processes,
        "--tasks",
        tasks,
        "--script",
        script,
    ];
    args.extend_from_slice(extra);
    sandbox.cli_within(&args, Duration::from_secs(1200))
}

/// Tasks in the large job: more than an inline Map's history would hold at `--waiter-delay 10` (117).
const TASKS: u64 = 300;

/// 300 trivial tasks at `--processes 100`, polling for their instances every 10 s (a real stack's shortest
/// `--waiter-delay`), while EC2 ends every 50th new instance before it boots, as it ends a pending one now and then:
/// each is launched again at its next join check, within its task's one attempt.
#[test]
fn a_job_of_300_tasks_runs_every_task_once_and_at_most_processes_at_once() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: it counts instances, and an ask delivered twice may launch a surplus one.
    sandbox.deliver_exactly_once();
    // EC2's RunInstances bucket (5 at once, 2 a second) would spread 100 launches over 50 s; this test is about
    // the Map's concurrency (the bucket has its own test in faults.rs).
    sandbox.control_post(
        "/ec2-bucket",
        &json!({ "kind": "request", "api": "RunInstances", "capacity": 100, "refill": 50 }),
    );
    sandbox.fault(&json!({ "kind": "instance-dies", "every": 50 }));
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..TASKS).map(|i| format!("{i}\n")).collect();
    let tasks = write(dir.path(), "scale.tsv", &format!("--env I\n{rows}"));
    let script = write(
        dir.path(),
        "scale.sh",
        "test \"$I\" = \"$ECSUB_TASK_INDEX\"\n",
    );
    let pushed = push_and_wait(&sandbox, &tasks, &script, "10", "100", &[]);
    assert_exit(&sandbox, &pushed, 0);
    let job = job_id_of(&pushed);

    let summary = summary(&sandbox, &job);
    assert_eq!(
        (summary["succeeded"].as_u64(), summary["failed"].as_u64()),
        (Some(TASKS), Some(0))
    );
    let tasks = summary["tasks"].as_array().unwrap();
    assert!(tasks.iter().all(|t| t["attempts"] == 1), "a task ran twice");
    // Every 50th of the 300 instances and of their replacements: 6.
    let deaths = sandbox.control_get("/faults")["instance_deaths"]
        .as_u64()
        .unwrap();
    assert_eq!(deaths, 6, "instances EC2 ended before they booted");
    let instances = all_instances(&sandbox, &job);
    assert_eq!(
        tasked(&instances).len() as u64,
        TASKS + deaths,
        "one instance per task, and one for each that died"
    );
    assert_surplus_terminated(&instances);

    // The Map run, as the emulated Step Functions saw it: one child per task, 100 at once and never more (a task
    // holds its child from its launch to its instance's termination).
    let runs = map_runs(&sandbox, &job);
    assert_eq!(runs.len(), 1, "one Map run for the job");
    let run = &runs[0];
    assert_eq!(run["children"], TASKS);
    assert_eq!(
        run["most_running"], 100,
        "children at once, --processes 100"
    );
    assert_eq!(run["by_status"], json!({ "SUCCEEDED": TASKS }));
    // No state's history grows with the job: the parent's holds the Map run, each task's its own states.
    let parent_events = execution_history(&sandbox, &job).len();
    assert!(
        parent_events < 40,
        "the parent's history has {parent_events} events"
    );
    // A task's own history is bounded by its own polls while its instance joins: at --waiter-delay 10 and the
    // stack's 600 s join timeout, 60 polls at most, 26 + 11 * 59 = 675 events, and 5 for each of at most 3 launches
    // again, whatever the number of tasks.
    assert!(
        run["most_events"].as_u64().unwrap() <= 690,
        "a task's history: {}",
        run["most_events"]
    );

    // The ResultWriter's manifest and result file, in the job's folder.
    let keys = sandbox.keys(sandbox.bucket(), &format!("jobs/{job}/map/"));
    let manifest_key = keys
        .iter()
        .find(|k| k.ends_with("/manifest.json"))
        .unwrap_or_else(|| panic!("no manifest among {keys:?}"));
    let read = |key: &str| -> Value {
        serde_json::from_slice(
            &sandbox
                .object(&format!("s3://{}/{key}", sandbox.bucket()))
                .unwrap(),
        )
        .unwrap()
    };
    let manifest = read(manifest_key);
    let succeeded = &manifest["ResultFiles"]["SUCCEEDED"];
    assert_eq!(succeeded.as_array().map(Vec::len), Some(1), "{manifest}");
    let results = read(succeeded[0]["Key"].as_str().unwrap());
    assert_eq!(
        results.as_array().map(|r| r.len() as u64),
        Some(TASKS),
        "one result per task"
    );
    assert_nothing_running(&sandbox, &job);
}

/// EC2's own token buckets (tests/emulator/front/throttle.py, AWS's documented sizes), the instance bucket shrunk
/// to 10 refilled 5 a second: the launcher asks for all 50 tasks of a job at `--processes 50` in one RunInstances,
/// which EC2 refuses with RequestLimitExceeded; it asks for fewer, learns the pace and launches them all, while the
/// first type of the list has no capacity (each call walks to the second); no task fails for it and none gets a
/// second instance.
#[test]
fn a_50_task_job_launching_over_ec2s_token_bucket_and_short_of_capacity_runs_every_task_once() {
    let sandbox = with_wordcount();
    // Exactly-once delivery: it counts the launcher's calls, which an ask delivered twice adds to.
    sandbox.deliver_exactly_once();
    sandbox.control_post("/no-capacity", &json!({ "instance_types": ["t3.micro"] }));
    let resized = sandbox.control_post(
        "/ec2-bucket",
        &json!({ "kind": "resource", "api": "RunInstances", "capacity": 10, "refill": 5 }),
    );
    assert_eq!(
        resized["resized"]["ec2 resource RunInstances"],
        json!([10.0, 5.0])
    );
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..50)
        .map(|i| format!("s3://ecsub-wordcount/burst/{i}.txt\n"))
        .collect();
    let tasks = write(dir.path(), "burst.tsv", &format!("--output OUT\n{rows}"));
    let script = write(
        dir.path(),
        "burst.sh",
        "mkdir -p \"${OUT%/*}\" && echo \"$ECSUB_TASK_INDEX\" > \"$OUT\"\n",
    );
    let pushed = push_and_wait(
        &sandbox,
        &tasks,
        &script,
        "5",
        "50",
        &["--spot", "--aws-ec2-instance-type", "t3.micro,t3.small"],
    );
    assert_exit(&sandbox, &pushed, 0);
    let job = job_id_of(&pushed);
    let throttled = sandbox.control_get("/throttle")["throttled"]["RunInstances"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        throttled >= 1,
        "50 launches at once from a bucket of ten: none throttled"
    );
    let refused = sandbox
        .calls()
        .iter()
        .filter(|c| c["operation"] == "RunInstances" && c["error"] == "RequestLimitExceeded")
        .count();
    assert_eq!(refused as u64, throttled);
    for i in 0..50 {
        assert_eq!(
            sandbox.object(&format!("s3://ecsub-wordcount/burst/{i}.txt")),
            Some(format!("{i}\n").into_bytes())
        );
    }
    let summary = summary(&sandbox, &job);
    assert_eq!(summary["succeeded"], 50, "{summary}");
    let instances = all_instances(&sandbox, &job);
    assert_eq!(tasked(&instances).len(), 50, "one instance per task");
    assert_surplus_terminated(&instances);
    assert!(
        instances.iter().all(|i| i["InstanceType"] == "t3.small"),
        "a launch on the type with no capacity"
    );
    let refused_capacity = sandbox
        .calls()
        .iter()
        // EC2's InsufficientInstanceCapacity (a 400; RequestLimitExceeded is a 503).
        .filter(|c| c["operation"] == "RunInstances" && c["status"] == 400)
        .count();
    assert!(
        refused_capacity >= 1,
        "the launches met the type with no capacity"
    );
    let launched_by = sandbox
        .calls()
        .iter()
        .filter(|c| {
            c["operation"] == "RunInstances"
                && c["key"] == "lambda-ecsub-launcher"
                && c["status"] == 200
        })
        .count();
    assert!(
        launched_by < 50,
        "50 instances from {launched_by} RunInstances calls: not batched"
    );
    assert_nothing_running(&sandbox, &job);
}

/// TerminateInstances takes at most 1 000 ids a call (EC2 API Reference; tests/emulator/front/limits.py refuses a
/// larger call whole, as EC2 does). A cancelled job with 1 002 live instances (its task's, and 1 001 made directly
/// in the emulated cloud with the job's tags, as a job at `--processes 1001` would have them) ends with none.
#[test]
fn a_cancelled_job_with_more_than_1000_live_instances_ends_with_none() {
    let sandbox = with_wordcount();
    let stack = sandbox.info["stack"].as_str().unwrap().to_owned();
    let job = push_long(&sandbox);
    until_running(&sandbox, 1, 120);
    let ami = ecs_ami(&sandbox);
    let tags = tag_specification(&[("ecsub:job", &job), ("ecsub:stack", &stack)]);
    // 1 001 more, 500 a call at most: RunInstances' instance bucket (1 000, refilled 2 a second) has room.
    let mut made = 0;
    while made < 1001 {
        let count = (1001 - made).min(500).to_string();
        let launched = sandbox.until(60, "RunInstances to have tokens", || {
            let ran = sandbox.aws(&[
                "ec2",
                "run-instances",
                "--image-id",
                &ami,
                "--instance-type",
                "t3.micro",
                "--count",
                &count,
                "--tag-specifications",
                &tags,
            ]);
            (ran.code == 0).then_some(ran.stdout)
        });
        let launched: Value = serde_json::from_str(&launched).unwrap();
        made += launched["Instances"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(sandbox.live_instances(&job).len(), 1002);
    let cancelled = sandbox.cli(&["cancel", &job]);
    assert_exit(&sandbox, &cancelled, 0);
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(300, "the janitor's summary", || {
        sandbox.object(&summary_url)
    });
    let live = sandbox.live_instances(&job);
    assert!(
        live.is_empty(),
        "{} instances still pending or running\n{}",
        live.len(),
        sandbox.log_tail()
    );
    let calls = sandbox.calls();
    let terminations: Vec<&Value> = calls
        .iter()
        .filter(|c| c["operation"] == "TerminateInstances" && c["key"] == "lambda-ecsub-janitor")
        .collect();
    assert!(
        terminations.len() >= 3 && terminations.iter().all(|c| c["status"] == 200),
        "1 002 ids in calls of at most 500, none refused: {terminations:?}"
    );
}

//! `--retries`: a task's own failures tried again, only after `--retry-on-exit`'s codes when given; and with
//! `--retry-larger`, what ran out grows on the retry. Memory: a container the OOM killer ended (ECS's exit 137 and
//! OutOfMemoryError) is retried on the next larger type. Disk: a task that filled its scratch (the emulated
//! instance's /scratch is as large as its root volume lets it be) is retried with twice the root volume.

use ecsub_e2e::jobs::{
    assert_nothing_running, attempt_record, job_id_of, push, summary, with_wordcount, write,
};
use serde_json::{json, Value};

/// `--retries 2 --retry-on-exit 3` (issue 23): a task that exits 3 on its first two attempts runs a third time,
/// each on an instance of its own, and succeeds; each failed attempt's record names the attempt after it and the
/// failures counted so far. The same task without retries fails after one attempt, and one whose code is not
/// listed too. No instance is left.
#[test]
fn a_task_that_exits_3_twice_succeeds_on_its_third_attempt_with_retries_on_exit_3_and_fails_without(
) {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "flaky.tsv",
        "--output OUT\ns3://ecsub-wordcount/flaky/out.txt\n",
    );
    let script = write(
        dir.path(),
        "flaky.sh",
        "[ \"$ECSUB_ATTEMPT\" -ge 3 ] || exit 3\nmkdir -p \"$(dirname \"$OUT\")\" && echo \"attempt $ECSUB_ATTEMPT\" > \"$OUT\"\n",
    );
    let attempt = |job: &str, n: u32| -> Value {
        attempt_record(&sandbox, job, 0, n).unwrap_or_else(|| panic!("no record of attempt {n}"))
    };

    let retried = push(
        &sandbox,
        &tasks,
        &script,
        &["--retries", "2", "--retry-on-exit", "3", "--wait"],
    );
    assert_eq!(retried.code, 0, "{}\n{}", retried.stdout, retried.stderr);
    let job = job_id_of(&retried);
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["outcome"], "succeeded", "{s}");
    assert_eq!(s["tasks"][0]["attempts"], 3, "{s}");
    for (n, next) in [
        (1, json!({ "number": 2, "spot": false, "failures": 1 })),
        (2, json!({ "number": 3, "spot": false, "failures": 2 })),
    ] {
        let record = attempt(&job, n);
        assert_eq!(record["outcome"], "failed", "{record}");
        assert_eq!(record["class"], "exit", "{record}");
        assert_eq!(record["exit_code"], 3, "{record}");
        assert_eq!(record["next_attempt"], next, "{record}");
    }
    let third = attempt(&job, 3);
    assert_eq!(third["outcome"], "succeeded", "{third}");
    assert_eq!(
        third.get("class"),
        None,
        "a success has no failure class: {third}"
    );
    let instances: std::collections::HashSet<String> = [attempt(&job, 1), attempt(&job, 2), third]
        .iter()
        .map(|r| r["instance_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(instances.len(), 3, "each attempt on an instance of its own");
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/flaky/out.txt")
            .unwrap(),
        b"attempt 3\n"
    );
    assert_nothing_running(&sandbox, &job);

    for extra in [
        &["--wait"][..],
        &["--retries", "2", "--retry-on-exit", "4", "--wait"][..],
    ] {
        let once = push(&sandbox, &tasks, &script, extra);
        assert_ne!(once.code, 0, "{extra:?}: {}\n{}", once.stdout, once.stderr);
        let job = job_id_of(&once);
        let s = summary(&sandbox, &job);
        assert_eq!(s["tasks"][0]["outcome"], "failed", "{extra:?}: {s}");
        assert_eq!(s["tasks"][0]["attempts"], 1, "{extra:?}: {s}");
        let record = attempt(&job, 1);
        assert!(record["next_attempt"].is_null(), "{extra:?}: {record}");
        assert_nothing_running(&sandbox, &job);
    }
}

/// What one `--retry-larger` case runs and finds: a task of one output whose first attempt runs out of something.
struct RunsOut {
    name: &'static str,
    script: &'static str,
    /// The job's sizing options (`--aws-ec2-instance-type t3.nano`, `--disk-size 10`).
    sizing: [&'static str; 2],
    class: &'static str,
    exit_code: i32,
    /// The first record's `next_attempt` with `--retry-larger`.
    next: Value,
    change: &'static str,
    /// What the second attempt writes to the output with `--retry-larger`.
    output: &'static str,
}

/// Pushes the task with `--retries 1 --retry-larger`: its first attempt fails of the class, its record says what
/// the next changes, and the next succeeds; then with `--retries 1` alone: the retry fails the same way. Returns the
/// records of the two jobs' second attempts.
fn grows_what_ran_out(case: &RunsOut) -> (Value, Value) {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let out = format!("s3://ecsub-wordcount/{}/out.txt", case.name);
    let tasks = write(
        dir.path(),
        &format!("{}.tsv", case.name),
        &format!("--output OUT\n{out}\n"),
    );
    let script = write(dir.path(), &format!("{}.sh", case.name), case.script);
    let attempt = |job: &str, n: u32| -> Value {
        attempt_record(&sandbox, job, 0, n).unwrap_or_else(|| panic!("no record of attempt {n}"))
    };
    let mut args = case.sizing.to_vec();
    args.extend(["--retries", "1", "--retry-larger", "--wait"]);
    let larger = push(&sandbox, &tasks, &script, &args);
    assert_eq!(larger.code, 0, "{}\n{}", larger.stdout, larger.stderr);
    let job = job_id_of(&larger);
    let first = attempt(&job, 1);
    assert_eq!(first["class"], case.class, "{first}");
    assert_eq!(first["exit_code"], case.exit_code, "{first}");
    assert_eq!(first["next_attempt"], case.next, "{first}");
    let reason = first["reason"].as_str().unwrap();
    assert!(reason.ends_with(&format!("; {}", case.change)), "{first}");
    let grown = attempt(&job, 2);
    assert_eq!(grown["outcome"], "succeeded", "{grown}");
    assert_eq!(
        String::from_utf8(sandbox.object(&out).unwrap()).unwrap(),
        case.output
    );
    assert_nothing_running(&sandbox, &job);

    let mut args = case.sizing.to_vec();
    args.extend(["--retries", "1", "--wait"]);
    let same = push(&sandbox, &tasks, &script, &args);
    assert_ne!(same.code, 0, "{}", same.stdout);
    let job = job_id_of(&same);
    let again = attempt(&job, 2);
    assert_eq!(again["class"], case.class, "{again}");
    assert!(again["next_attempt"].is_null(), "{again}");
    assert_nothing_running(&sandbox, &job);
    (grown, again)
}

/// `--retries 1 --retry-larger` (issue 23): a task that needs more memory than a t3.nano (512 MiB) is OOM-killed
/// there, as ECS reports it (exit 137, OutOfMemoryError), and its retry runs on the family's next size, a t3.micro
/// (1 GiB), where it succeeds; the record says the class and what the next attempt changed. Without
/// `--retry-larger` the retry runs on a t3.nano again and fails the same way.
#[test]
fn an_oom_killed_task_succeeds_on_the_next_larger_type_with_retry_larger_and_fails_without() {
    let (grown, again) = grows_what_ran_out(&RunsOut {
        name: "oom",
        // 700 MiB written (so resident), then held long enough for the host to see it.
        script: "python3 -c 'import time; b = b\"x\" * (700 << 20); time.sleep(5)'\n\
                 mkdir -p \"$(dirname \"$OUT\")\" && echo \"attempt $ECSUB_ATTEMPT on $ECSUB_INSTANCE_TYPE\" > \"$OUT\"\n",
        sizing: ["--aws-ec2-instance-type", "t3.nano"],
        class: "out-of-memory",
        exit_code: 137,
        next: json!({ "number": 2, "spot": false, "failures": 1, "larger": 1 }),
        change: "the next attempt runs on the next larger instance type",
        output: "attempt 2 on t3.micro\n",
    });
    assert_eq!(grown["instance_type"], "t3.micro", "{grown}");
    assert_eq!(again["instance_type"], "t3.nano", "{again}");
}

/// `--retries 1 --retry-larger` (issue 23): a task that writes 60 MiB into a scratch of 40 MiB (a 40 GiB root
/// volume, `--disk-size 10`, at the emulated cloud's scale) fails with its disk full (exit 123, class out-of-disk)
/// and its retry runs with twice the root volume, where it succeeds. Without `--retry-larger` the retry has the
/// same disk and fails the same way.
#[test]
fn a_task_that_fills_its_disk_succeeds_with_twice_the_disk_with_retry_larger_and_fails_without() {
    grows_what_ran_out(&RunsOut {
        name: "disk",
        script: "dd if=/dev/zero of=\"$ECSUB_SCRATCH/fill\" bs=1048576 count=60 2>/dev/null || exit 1\n\
                 mkdir -p \"$(dirname \"$OUT\")\"\n\
                 df -Pm \"$ECSUB_SCRATCH\" | awk -v a=\"$ECSUB_ATTEMPT\" 'NR == 2 { print \"attempt \" a \" on \" $2 \" MiB\" }' > \"$OUT\"\n",
        sizing: ["--disk-size", "10"],
        class: "out-of-disk",
        exit_code: 123,
        next: json!({ "number": 2, "spot": false, "failures": 1, "disk_doublings": 1 }),
        change: "the next attempt has twice the disk",
        // The retry's root volume: 2 × (30 + 10) GiB.
        output: "attempt 2 on 80 MiB\n",
    });
}

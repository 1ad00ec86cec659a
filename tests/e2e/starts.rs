//! The three ways a job starts on the emulated cloud — an inbox drop, a schedule, a push — and the jobs the
//! submit function refuses before anything starts (a malformed drop, a missing input, a job one execution cannot
//! carry). The real template, state machine, handlers, `ecsub-cli` and `aws` CLI; only AWS itself is emulated.

use ecsub_e2e::jobs::{
    assert_exit, assert_nothing_running, failed_events, job_id_of, jobs_named, push,
    rejected_by_the_sweep, summary, with_wordcount, write,
};
use ecsub_e2e::{repo, Sandbox};
use serde_json::{json, Value};

#[test]
fn a_tasks_file_dropped_into_the_inbox_runs_with_its_own_options() {
    let sandbox = with_wordcount();
    let script_url = format!("s3://{}/scripts/wordcount.sh", sandbox.bucket());
    let copied = sandbox.aws(&["s3", "cp", "examples/wordcount/wordcount.sh", &script_url]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(repo().join("examples/wordcount/wordcount.tsv")).unwrap();
    let tasks = write(
        dir.path(),
        "dropped.tsv",
        &format!("#ecsub: --script {script_url} --waiter-delay 1 --task-name dropped\n{example}"),
    );
    let dropped = sandbox.aws(&[
        "s3",
        "cp",
        &tasks,
        &format!("s3://{}/inbox/dropped.tsv", sandbox.bucket()),
    ]);
    assert_eq!(dropped.code, 0, "{}", dropped.stderr);
    let job = sandbox.until(30, "the inbox job", || {
        jobs_named(&sandbox, "dropped").into_iter().next()
    });
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(60, "the inbox job to finish", || {
        sandbox.object(&summary_url)
    });
    let s = summary(&sandbox, &job);
    assert_eq!(s["succeeded"], 2, "{s}");
    let submission: Value = serde_json::from_slice(
        &sandbox
            .object(&format!("s3://{}/jobs/{job}/job.json", sandbox.bucket()))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(submission["origin"], "inbox");
    assert_eq!(
        submission["args"]["waiter_delay"], 1,
        "the file's #ecsub: options were used"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_malformed_inbox_drop_writes_an_error_naming_line_and_column_and_starts_nothing() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "broken.tsv",
        &format!(
            "#ecsub: --script s3://{}/scripts/x.sh\n--env NAME\t--input IN\nhamlet\tgs://elsewhere/hamlet.txt\n",
            sandbox.bucket()
        ),
    );
    let dropped = sandbox.aws(&[
        "s3",
        "cp",
        &tasks,
        &format!("s3://{}/inbox/broken.tsv", sandbox.bucket()),
    ]);
    assert_eq!(dropped.code, 0, "{}", dropped.stderr);
    let error_url = format!("s3://{}/inbox/broken.tsv.error.txt", sandbox.bucket());
    let error = sandbox.until(30, "the error object", || sandbox.object(&error_url));
    assert_eq!(
        String::from_utf8(error).unwrap(),
        "broken.tsv:3:8: column 2 (`--input IN`): `gs://elsewhere/hamlet.txt` is not an s3:// path\n"
    );
    sandbox.settled(30);
    assert!(sandbox.executions().is_empty(), "an execution started");
    assert!(
        sandbox.keys(sandbox.bucket(), "jobs/").is_empty(),
        "a job was written"
    );
    let instances = sandbox.aws_json(&["ec2", "describe-instances"]);
    assert_eq!(
        instances["Reservations"].as_array().map_or(0, Vec::len),
        0,
        "an instance was launched"
    );
}

#[test]
fn a_schedule_starts_a_job_from_a_stored_spec_and_its_duplicate_starts_nothing() {
    let sandbox = with_wordcount();
    let bucket = sandbox.bucket().to_owned();
    for (from, to) in [
        ("examples/wordcount/wordcount.tsv", "specs/wordcount.tsv"),
        ("examples/wordcount/wordcount.sh", "specs/wordcount.sh"),
    ] {
        let copied = sandbox.aws(&["s3", "cp", from, &format!("s3://{bucket}/{to}")]);
        assert_eq!(copied.code, 0, "{}", copied.stderr);
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = json!({
        "tasks": format!("s3://{bucket}/specs/wordcount.tsv"),
        "script": format!("s3://{bucket}/specs/wordcount.sh"),
        "options": { "waiter_delay": 1, "task_name": "nightly" }
    });
    let spec_file = write(dir.path(), "nightly.json", &spec.to_string());
    let copied = sandbox.aws(&[
        "s3",
        "cp",
        &spec_file,
        &format!("s3://{bucket}/specs/nightly.json"),
    ]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    // The template's example schedule is disabled: a user enables it once the spec exists.
    let fired = sandbox.control_post("/fire-schedule", &json!({ "rule": "NightlySchedule" }));
    assert!(
        fired["error"]
            .as_str()
            .unwrap_or_default()
            .contains("DISABLED"),
        "{fired}"
    );
    let rule = sandbox.stack("ecsub")["rules"]["NightlySchedule"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let enabled = sandbox.aws(&["events", "enable-rule", "--name", &rule]);
    assert_eq!(enabled.code, 0, "{}", enabled.stderr);
    let fired = sandbox.control_post("/fire-schedule", &json!({ "rule": "NightlySchedule" }));
    assert_eq!(fired["fired"], "NightlySchedule", "{fired}");
    let job = sandbox.until(30, "the scheduled job", || {
        jobs_named(&sandbox, "nightly").into_iter().next()
    });
    let summary_url = format!("s3://{bucket}/jobs/{job}/summary.json");
    sandbox.until(60, "the scheduled job to finish", || {
        sandbox.object(&summary_url)
    });
    assert_eq!(summary(&sandbox, &job)["succeeded"], 2);

    let redelivered =
        sandbox.control_post("/redeliver-schedule", &json!({ "rule": "NightlySchedule" }));
    assert_eq!(redelivered["redelivered"], "NightlySchedule");
    sandbox.until(20, "the duplicate to be handled", || {
        let log = std::fs::read_to_string(sandbox.dir.path().join("lambda-ecsub-submit.log"))
            .unwrap_or_default();
        log.contains("duplicate event: the job exists already")
            .then_some(())
    });
    assert_eq!(
        jobs_named(&sandbox, "nightly"),
        vec![job.clone()],
        "the duplicate made a second job"
    );
    assert_eq!(
        sandbox.executions().len(),
        1,
        "the duplicate started a second execution"
    );
    assert_nothing_running(&sandbox, &job);
}

#[test]
fn a_pushed_job_whose_input_is_missing_is_rejected_before_anything_starts() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "typo.tsv",
        "--input IN\t--output OUT\ns3://ecsub-wordcount/input/hamlet.txt\ts3://ecsub-wordcount/typo/0.txt\n\
         s3://ecsub-wordcount/input/hamlett.txt\ts3://ecsub-wordcount/typo/1.txt\n",
    );
    let script = write(dir.path(), "typo.sh", "cp \"$IN\" \"$OUT\"\n");
    let pushed = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_eq!(pushed.code, 2, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    assert_eq!(
        pushed.stdout.lines().skip(1).collect::<Vec<_>>(),
        [
            format!("job {job}: rejected"),
            "  typo.tsv:3: task 1 (`--input IN`): input `s3://ecsub-wordcount/input/hamlett.txt` not found".to_owned(),
        ]
    );
    assert!(sandbox.executions().is_empty(), "an execution started");
    let instances = sandbox.aws_json(&["ec2", "describe-instances"]);
    assert_eq!(
        instances["Reservations"].as_array().map_or(0, Vec::len),
        0,
        "an instance was launched"
    );
}

/// A job no stack can run (more tasks than one job holds, more at once than one execution runs) is refused by
/// `push` before anything is uploaded (probe 2026-12, finding 20), and by the stack when it comes another way: the
/// same file dropped into the inbox is rejected with the same way out.
#[test]
fn a_job_too_big_for_one_execution_is_refused_by_push_and_rejected_by_the_stack_with_a_way_out() {
    let sandbox = Sandbox::start();
    let bucket = sandbox.bucket().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..100_001).map(|i| format!("sample-{i}\n")).collect();
    let tasks = write(dir.path(), "big.tsv", &format!("--env SAMPLE\n{rows}"));
    let script = write(dir.path(), "big.sh", "echo \"$SAMPLE\"\n");
    let too_many_at_once =
        "--processes 10001: one job runs at most 10000 tasks at once (Step Functions' \
                            Distributed Map); use --processes 10000 or fewer";
    let too_many = "the job has 100001 tasks, but a job holds at most 100000: split it with --task-range into \
                    jobs of at most 100000 tasks";
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &["--wait", "--processes", "10001"],
    );
    assert_eq!(pushed.code, 2, "{}\n{}", pushed.stdout, pushed.stderr);
    assert!(
        pushed.stderr.contains(too_many_at_once) && pushed.stderr.contains(too_many),
        "{}",
        pushed.stderr
    );
    assert!(
        sandbox.keys(&bucket, "jobs/").is_empty(),
        "nothing was uploaded"
    );

    let script_url = format!("s3://{bucket}/scripts/big.sh");
    assert_eq!(sandbox.aws(&["s3", "cp", &script, &script_url]).code, 0);
    let dropped = write(
        dir.path(),
        "dropped.tsv",
        &format!(
            "#ecsub: --script {script_url} --processes 10001 --task-name big\n--env SAMPLE\n{rows}"
        ),
    );
    let copied = sandbox.aws(&[
        "s3",
        "cp",
        &dropped,
        &format!("s3://{bucket}/inbox/big.tsv"),
    ]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    let job = sandbox.until(60, "the inbox job", || {
        jobs_named(&sandbox, "big").into_iter().next()
    });
    let status = sandbox.until(60, "the job to be rejected", || {
        let status = sandbox.cli(&["status", &job]);
        status
            .stdout
            .contains(&format!("job {job}: rejected"))
            .then_some(status)
    });
    assert!(
        status.stdout.contains(too_many_at_once) && status.stdout.contains(too_many),
        "{}",
        status.stdout
    );
    assert!(sandbox.executions().is_empty(), "an execution started");
    assert!(sandbox.live_instances(&job).is_empty());
}

#[test]
fn a_push_eventbridge_cannot_deliver_to_submit_is_rejected_with_the_reason_by_the_next_sweep() {
    let sandbox = with_wordcount();
    // The submit function's permission for the push rule is gone (an operator's mistake, a half-applied stack
    // update): EventBridge cannot invoke it, and the rule's dead-letter queue keeps the event.
    let submit = sandbox.stack("ecsub")["functions"]["SubmitFunction"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = sandbox.aws(&[
        "lambda",
        "remove-permission",
        "--function-name",
        &submit,
        "--statement-id",
        "SubmitFunctionJobPushedPermission",
    ]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &[],
    );
    assert_eq!(pushed.code, 0, "{}", pushed.stderr);
    let job = job_id_of(&pushed);
    let lines = rejected_by_the_sweep(&sandbox, &job);
    let status = lines.join("\n");
    assert_eq!(lines[0], format!("job {job}: rejected"), "{status}");
    assert!(
        lines[1].starts_with(
            "  EventBridge could not deliver the event to the stack's function (NO_PERMISSIONS: EventBridge is not \
             allowed to invoke"
        ),
        "{status}"
    );
    assert!(sandbox.executions().is_empty());
    assert!(
        failed_events(&sandbox, "ecsub").is_empty(),
        "handled and deleted"
    );
}

#[test]
fn a_job_in_an_account_without_a_default_vpc_is_refused_naming_the_subnet_to_give() {
    let sandbox = with_wordcount();
    // A landing-zone account: its default VPC deleted. A launch without a subnet would fail VPCIdNotSpecified.
    let vpcs = sandbox.aws_json(&[
        "ec2",
        "describe-vpcs",
        "--filters",
        "Name=is-default,Values=true",
    ]);
    let vpc = vpcs["Vpcs"][0]["VpcId"].as_str().unwrap().to_owned();
    let subnets = sandbox.aws_json(&[
        "ec2",
        "describe-subnets",
        "--filters",
        &format!("Name=vpc-id,Values={vpc}"),
    ]);
    for subnet in subnets["Subnets"].as_array().unwrap() {
        let id = subnet["SubnetId"].as_str().unwrap();
        let deleted = sandbox.aws(&["ec2", "delete-subnet", "--subnet-id", id]);
        assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    }
    let deleted = sandbox.aws(&["ec2", "delete-vpc", "--vpc-id", &vpc]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &["--wait"],
    );
    assert_eq!(pushed.code, 2, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    assert_eq!(
        pushed.stdout.lines().skip(1).collect::<Vec<_>>(),
        [
            format!("job {job}: rejected"),
            "  this account has no default VPC in us-east-1, and the job names no subnet: every launch would fail \
             (VPCIdNotSpecified); give the stack's SubnetIds parameter, or --aws-subnet-id"
                .to_owned(),
        ]
    );
    assert!(sandbox.executions().is_empty(), "an execution started");
}

/// A type list that mixes architectures would run the task's image on whichever had capacity, and an image built
/// for one fails on the other's CPU after its instance is paid for (AWS review 2026-12, finding 9): submit refuses
/// it, naming both types, unless the job says the image has both builds.
#[test]
fn a_type_list_of_two_architectures_is_refused_unless_the_image_is_multi_arch() {
    let sandbox = with_wordcount();
    let types = ["--spot", "--aws-ec2-instance-type", "m6g.large,m5.large"];
    let mut args = vec!["--wait", "--task-range", "0"];
    args.extend_from_slice(&types);
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &args,
    );
    assert_eq!(pushed.code, 2, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    assert_eq!(
        pushed.stdout.lines().skip(1).collect::<Vec<_>>(),
        [
            format!("job {job}: rejected"),
            "  --aws-ec2-instance-type: `m6g.large` is arm64 and `m5.large` is x86_64: a task would run on whichever \
             has capacity, and an image built for one architecture fails on the other (exec format error) after its \
             instance is paid for; list one architecture's types, or add --multi-arch if the image is built for both"
                .to_owned(),
        ]
    );
    assert!(sandbox.executions().is_empty(), "an execution started");

    args.push("--multi-arch");
    let pushed = push(
        &sandbox,
        "examples/wordcount/wordcount.tsv",
        "examples/wordcount/wordcount.sh",
        &args,
    );
    assert_exit(&sandbox, &pushed, 0);
    assert_eq!(sandbox.executions().len(), 1);
}

//! The task contract on the S3 transport, where it differs from the local folder unless run.sh and the controller
//! make it the same (test audit I1 and I2, local review finding 4): an output counts only if this attempt wrote
//! it, an input folder must hold a file, an empty output folder is missing. The same rules are tested on the local
//! transport in functions/stage/tests/local_transport.rs and cli/tests/outputs_contract.rs.

use ecsub_e2e::jobs::{
    assert_nothing_running, attempt_record, job_id_of, push, summary, with_wordcount, write,
};

#[test]
fn outputs_left_by_an_earlier_run_do_not_make_a_task_that_wrote_nothing_succeed() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let stale = write(dir.path(), "stale.txt", "from an earlier run\n");
    for url in [
        "s3://ecsub-wordcount/stale/out.txt",
        "s3://ecsub-wordcount/stale/dir/f",
        "s3://ecsub-wordcount/stale/g/a.txt",
    ] {
        let ran = sandbox.aws(&["s3", "cp", &stale, url]);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
    }
    // Older than the attempt by more than the check's slack for S3's one-second LastModified (2 s).
    std::thread::sleep(std::time::Duration::from_secs(3));
    let tasks = write(
        dir.path(),
        "stale.tsv",
        "--output OUT\t--output-recursive DIR\t--output GLOB\n\
         s3://ecsub-wordcount/stale/out.txt\ts3://ecsub-wordcount/stale/dir\ts3://ecsub-wordcount/stale/g/*.txt\n",
    );
    let script = write(dir.path(), "lazy.sh", "echo 'I write nothing'\n");
    let first = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    let job = job_id_of(&first);
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["outcome"], "outputs-missing", "{s}");
    assert_eq!(
        s["tasks"][0]["reason"],
        "exited 0 but these outputs are missing: s3://ecsub-wordcount/stale/out.txt, \
         s3://ecsub-wordcount/stale/dir/, s3://ecsub-wordcount/stale/g/*.txt"
    );
    assert_nothing_running(&sandbox, &job);

    // The same job writing them succeeds: the fresh objects count, beside the stale ones.
    let writer = write(
        dir.path(),
        "writer.sh",
        "mkdir -p \"${OUT%/*}\" \"$DIR\" \"${GLOB%/*}\"\n\
         echo 1 > \"$OUT\"; echo 2 > \"$DIR/new\"; echo 3 > \"${GLOB%/*}/b.txt\"\n",
    );
    let again = push(&sandbox, &tasks, &writer, &["--wait"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert_nothing_running(&sandbox, &job_id_of(&again));
}

#[test]
fn an_input_folder_with_no_object_fails_the_task_and_an_empty_output_folder_is_missing() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    // A recursive copy from a prefix with no object copies nothing and succeeds (as `aws s3 cp` does): run.sh must
    // fail the task.
    let tasks = write(
        dir.path(),
        "nofolder.tsv",
        "--input-recursive IN\ns3://ecsub-wordcount/no-such-folder\n",
    );
    let script = write(dir.path(), "ran.sh", "echo the script ran\n");
    let push_in = push(
        &sandbox,
        &tasks,
        &script,
        &["--wait", "--not-verify-bucket"],
    );
    assert_eq!(push_in.code, 1, "{}\n{}", push_in.stdout, push_in.stderr);
    let job = job_id_of(&push_in);
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["exit_code"], 120, "{s}");
    assert_nothing_running(&sandbox, &job);

    let tasks = write(
        dir.path(),
        "emptyout.tsv",
        "--output-recursive OUT\ns3://ecsub-wordcount/empty-out\n",
    );
    let script = write(dir.path(), "empty.sh", "mkdir -p \"$OUT/sub\"\n");
    let push_out = push(&sandbox, &tasks, &script, &["--wait"]);
    assert_eq!(push_out.code, 1, "{}\n{}", push_out.stdout, push_out.stderr);
    let job = job_id_of(&push_out);
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["outcome"], "outputs-missing", "{s}");
    assert_eq!(s["tasks"][0]["exit_code"], 0);
    assert_nothing_running(&sandbox, &job);
}

/// Test audit 2026-12, R3: the reference time of the outputs check is this attempt's start, not the job's. Attempt 1
/// writes the output itself and is then interrupted; attempt 2 exits 0 without writing it. The object is newer
/// than the push and the instance's launch, so only the attempt's own start tells it is not attempt 2's.
#[test]
fn an_output_only_an_interrupted_attempt_wrote_does_not_make_the_next_attempt_succeed() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "r3.tsv",
        "--output OUT\ns3://ecsub-wordcount/r3/out.txt\n",
    );
    let script = write(
        dir.path(),
        "r3.sh",
        "if [ \"$ECSUB_ATTEMPT\" = 1 ]; then\n\
           echo one > /tmp/one && aws s3 cp --quiet /tmp/one s3://ecsub-wordcount/r3/out.txt && sleep 300\n\
         fi\n",
    );
    let pushed = push(
        &sandbox,
        &tasks,
        &script,
        &[
            "--spot",
            "--retry-od",
            "--image",
            "public.ecr.aws/aws-cli/aws-cli",
        ],
    );
    assert_eq!(pushed.code, 0, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    sandbox.until(90, "attempt 1's own upload", || {
        sandbox.object("s3://ecsub-wordcount/r3/out.txt")
    });
    // Older than attempt 2 by more than the check's slack for S3's one-second LastModified (2 s).
    std::thread::sleep(std::time::Duration::from_secs(3));
    let running = sandbox.until(30, "attempt 1 to be running", || {
        sandbox
            .control_get("/running")
            .as_array()
            .and_then(|r| r.first().cloned())
    });
    let interrupted = sandbox.control_post(
        "/interrupt",
        &serde_json::json!({ "task_arn": running["task_arn"] }),
    );
    assert_eq!(interrupted["interrupted"], true, "{interrupted}");
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(120, "the job to end", || sandbox.object(&summary_url));
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["attempts"], 2, "{s}");
    assert_eq!(s["tasks"][0]["outcome"], "outputs-missing", "{s}");
    assert_eq!(
        s["tasks"][0]["reason"],
        "exited 0 but these outputs are missing: s3://ecsub-wordcount/r3/out.txt"
    );
    assert_nothing_running(&sandbox, &job);
}

/// Test audit 2026-12, K4: an image no registry holds fails to start, as on ECS, instead of running as some
/// other image; the task says why.
#[test]
fn a_misspelt_image_fails_its_task_with_the_pull_error() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(dir.path(), "typo.tsv", "--env N\n1\n");
    let script = write(dir.path(), "typo.sh", "echo never\n");
    let image = "public.ecr.aws/docker/library/pyhton:3.12-slim";
    let pushed = push(&sandbox, &tasks, &script, &["--wait", "--image", image]);
    assert_eq!(pushed.code, 1, "{}\n{}", pushed.stdout, pushed.stderr);
    let job = job_id_of(&pushed);
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["outcome"], "infrastructure-error", "{s}");
    let reason = s["tasks"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("CannotPullContainerError: ") && reason.contains(image),
        "{s}"
    );
    // Its class names what to change (issue 23).
    let record = attempt_record(&sandbox, &job, 0, 1).expect("the attempt's record");
    assert_eq!(record["class"], "image-pull", "{record}");
    assert_nothing_running(&sandbox, &job);
}

//! dsub's command line on the stack: a dsub tasks file (a bare header word, an input without its NAME) with
//! job-wide values, its outputs and its `--logging` files where dsub puts them, and the same command line with
//! `--provider local` making the same outputs; `--preemptible` going on after a spot interruption with no client
//! waiting, and on demand after N attempts; `--timeout`. Job control (`--after`, dstat, ddel) is in
//! `dsub_control.rs`.

use ecsub_e2e::jobs::{assert_nothing_running, summary, write, EXAMPLE_BUCKET};
use ecsub_e2e::Sandbox;
use serde_json::json;

/// The tasks file: dsub's header (a bare `SAMPLE` is an environment variable, `--input` takes the name dsub gives
/// it, INPUT_1, after the command line's INPUT_0), and a directive for the emulated stack's quick polls.
const TASKS: &str = "#ecsub: --waiter-delay 1\n\
SAMPLE\t--input\t--output OUT\n\
hamlet\ts3://ecsub-wordcount/input/hamlet.txt\ts3://ecsub-wordcount/dsub/hamlet/words.txt\n\
lear\ts3://ecsub-wordcount/input/kinglear.txt\ts3://ecsub-wordcount/dsub/lear/words.txt\n";

const COMMAND: &str = "wc -w < \"$INPUT_1\" > \"$OUT\"; head -c 20 \"$INPUT_0\" >> \"$OUT\"; \
echo \"$GREETING $SAMPLE\"; echo \"to stderr $SAMPLE\" >&2";

fn tasks_file(dir: &std::path::Path) -> String {
    write(dir, "samples.tsv", TASKS)
}

fn dsub_args<'a>(tasks: &'a str, logging: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "dsub",
        "--tasks",
        tasks,
        "--input",
        "s3://ecsub-wordcount/script/count_words.py",
        "--env",
        "GREETING=hello",
        "--label",
        "batch=b1",
        "--logging",
        logging,
        "--command",
        COMMAND,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_dsub_command_line_runs_with_dsubs_outputs_and_logs_and_locally_the_same() {
    let sandbox = Sandbox::start();
    sandbox.upload_wordcount_inputs();
    let dir = tempfile::tempdir().unwrap();
    let tasks = tasks_file(dir.path());
    let logging = format!("s3://{EXAMPLE_BUCKET}/dsub-logs/");
    let mut args = dsub_args(&tasks, &logging, &["--wait", "--poll-interval", "1"]);
    args.extend(["--provider", "aws", "--user", "Jane_Doe"]);
    let ran = sandbox.cli(&args);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    // stdout holds the job id alone, in dsub's form: job name (10), user, time, and the stack's suffix.
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {}", ran.stdout);
    let job = lines[0].to_owned();
    let parts: Vec<&str> = job.split("--").collect();
    assert_eq!(parts[..2], ["wc", "jane-doe"], "{job}");
    assert_eq!(parts[2].len(), "261207-231018-abcde".len(), "{job}");
    let s = summary(&sandbox, &job);
    assert_eq!(
        (&s["succeeded"], &s["failed"]),
        (&json!(2), &json!(0)),
        "{s}"
    );
    let mut aws_outputs = Vec::new();
    for sample in ["hamlet", "lear"] {
        let url = format!("s3://{EXAMPLE_BUCKET}/dsub/{sample}/words.txt");
        let got = sandbox.object(&url).unwrap_or_else(|| panic!("{url}"));
        let text = String::from_utf8_lossy(&got).into_owned();
        assert!(
            text.ends_with("#!/usr/bin/env pytho"),
            "the job-wide input: {text}"
        );
        aws_outputs.push(got);
    }
    // dsub's log files: a folder, a --tasks job without --retries: <job-id>.<task-id>{.log,-stdout.log,-stderr.log}.
    for (task_id, sample) in [(1, "hamlet"), (2, "lear")] {
        let stem = format!("{logging}{job}.{task_id}");
        let log = sandbox.object(&format!("{stem}.log")).expect("the .log");
        let log = String::from_utf8_lossy(&log);
        assert!(
            log.contains(" I: running the script") && log.contains("exit status 0"),
            "{log}"
        );
        assert_eq!(
            sandbox.object(&format!("{stem}-stdout.log")).unwrap(),
            format!("hello {sample}\n").into_bytes()
        );
        assert_eq!(
            sandbox.object(&format!("{stem}-stderr.log")).unwrap(),
            format!("to stderr {sample}\n").into_bytes()
        );
    }
    assert_nothing_running(&sandbox, &job);
    // Its tags say the job's dsub name and user, and the job-wide label is each task's.
    let spec = sandbox
        .object(&format!("s3://{}/jobs/{job}/job.json", sandbox.bucket()))
        .unwrap();
    let spec: serde_json::Value = serde_json::from_slice(&spec).unwrap();
    assert_eq!(
        spec["args"]["tags"],
        json!(["dsub-job-name=wc", "dsub-user-id=jane-doe"]),
        "{spec}"
    );

    // The same command line on this machine, over a folder holding the same inputs.
    let root = tempfile::tempdir().unwrap();
    let inputs = ecsub_e2e::repo().join("examples/wordcount/s3/ecsub-wordcount");
    let copied = std::process::Command::new("cp")
        .args([
            "-r",
            inputs.to_str().unwrap(),
            root.path().to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(copied.success());
    let s3_root = root.path().to_str().unwrap().to_owned();
    let wdir = root.path().join("work");
    let mut args = dsub_args(
        &tasks,
        &logging,
        &["--provider", "local", "--s3-root", &s3_root],
    );
    args.extend(["--wdir", wdir.to_str().unwrap()]);
    let local = sandbox.cli(&args);
    assert_eq!(local.code, 0, "{}\n{}", local.stdout, local.stderr);
    let local_job = local.stdout.trim().to_owned();
    assert_eq!(local.stdout.lines().count(), 1, "{}", local.stdout);
    for (sample, on_aws) in ["hamlet", "lear"].iter().zip(&aws_outputs) {
        let here = std::fs::read(
            root.path()
                .join(format!("ecsub-wordcount/dsub/{sample}/words.txt")),
        )
        .unwrap();
        assert_eq!(
            &here, on_aws,
            "{sample}: the same output here as on the stack"
        );
    }
    let stdout_log = root.path().join(format!(
        "ecsub-wordcount/dsub-logs/{local_job}.2-stdout.log"
    ));
    assert_eq!(std::fs::read_to_string(stdout_log).unwrap(), "hello lear\n");
}

#[test]
fn preemptible_once_with_a_retry_goes_on_demand_after_an_interruption_with_no_client_waiting() {
    let sandbox = Sandbox::start();
    sandbox.upload_wordcount_inputs();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "one.tsv",
        "#ecsub: --waiter-delay 1\n--output OUT\ns3://ecsub-wordcount/dsub-spot/out.txt\n",
    );
    let logging = format!("s3://{EXAMPLE_BUCKET}/dsub-spot-logs/");
    // Submitted, not waited for: the retry is the stack's to run.
    let ran = sandbox.cli(&[
        "dsub",
        "--tasks",
        &tasks,
        "--preemptible",
        "1",
        "--retries",
        "1",
        "--logging",
        &logging,
        "--command",
        "if [ \"$ECSUB_ATTEMPT\" = 1 ]; then sleep 120; fi; echo \"attempt $ECSUB_ATTEMPT\" > \"$OUT\"",
    ]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let job = ran.stdout.trim().to_owned();
    let running = sandbox.until(90, "the first attempt to run", || {
        sandbox
            .control_get("/running")
            .as_array()
            .and_then(|r| r.first().cloned())
    });
    let interrupted =
        sandbox.control_post("/interrupt", &json!({ "task_arn": running["task_arn"] }));
    assert_eq!(interrupted["interrupted"], true, "{interrupted}");
    let summary_url = format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(120, "the job to finish", || sandbox.object(&summary_url));
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["outcome"], "succeeded", "{s}");
    assert_eq!(s["tasks"][0]["attempts"], 2, "{s}");
    assert_eq!(s["tasks"][0]["spot"], false, "the retry ran on demand: {s}");
    assert_eq!(
        sandbox
            .object("s3://ecsub-wordcount/dsub-spot/out.txt")
            .unwrap(),
        b"attempt 2\n"
    );
    // A --retries job's logs are per attempt: the second attempt's are <job-id>.<task-id>.<attempt>.
    let stem = format!("{logging}{job}.1.2");
    let log = sandbox
        .object(&format!("{stem}.log"))
        .expect("attempt 2's log");
    assert!(String::from_utf8_lossy(&log).contains("exit status 0"));
    assert_nothing_running(&sandbox, &job);
}

/// dsub's --timeout is the job's own, under the stack's TaskTimeoutSeconds (a week here): a task past it is
/// stopped and fails, and --wait exits 1 with the job id on stdout, as dsub does.
#[test]
fn a_task_past_the_jobs_timeout_is_stopped_and_fails() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "slow.tsv",
        "#ecsub: --waiter-delay 1\n--env N\n1\n",
    );
    let ran = sandbox.cli(&[
        "dsub",
        "--tasks",
        &tasks,
        "--timeout",
        "10s",
        "--command",
        "sleep 300",
        "--wait",
        "--poll-interval",
        "1",
    ]);
    assert_eq!(ran.code, 1, "{}\n{}", ran.stdout, ran.stderr);
    let job = ran.stdout.trim().to_owned();
    let s = summary(&sandbox, &job);
    assert_eq!(s["tasks"][0]["reason"], "States.Timeout", "{s}");
    assert_nothing_running(&sandbox, &job);
}

/// `--preemptible 2 --retries 2`: attempts 1 and 2 on spot, attempt 3 on demand, whatever ended the one before (here
/// the script's own failures), as dsub's rule has it.
#[test]
fn preemptible_n_runs_the_first_n_attempts_on_spot_and_the_rest_on_demand() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "n.tsv",
        "#ecsub: --waiter-delay 1\n--env N\n1\n",
    );
    let ran = sandbox.cli(&[
        "dsub",
        "--tasks",
        &tasks,
        "--preemptible",
        "2",
        "--retries",
        "2",
        "--command",
        "[ \"$ECSUB_ATTEMPT\" = 3 ]",
        "--wait",
        "--poll-interval",
        "1",
    ]);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let job = ran.stdout.trim().to_owned();
    let spot: Vec<serde_json::Value> = (1..=3)
        .map(|attempt| {
            let record = sandbox
                .object(&format!(
                    "s3://{}/jobs/{job}/attempts/000000.{attempt}.json",
                    sandbox.bucket()
                ))
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&record).unwrap()["spot"].clone()
        })
        .collect();
    assert_eq!(spot, [json!(true), json!(true), json!(false)]);
    assert_nothing_running(&sandbox, &job);
}

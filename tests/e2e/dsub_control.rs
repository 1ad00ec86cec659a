//! dsub's job control on the stack: `--after` chains decided by the stack with no client waiting (a job parked
//! until the jobs before it succeed, refused naming the one that failed, down the chain), and dstat and ddel over
//! the stack's jobs (dsub's fields and states, a parked job shown and cancelled, a running one stopped).

use ecsub_e2e::jobs::{assert_nothing_running, summary, write, EXAMPLE_BUCKET};
use ecsub_e2e::Sandbox;
use serde_json::json;

#[test]
fn dstat_shows_dsubs_fields_and_ddel_stops_a_running_job() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let quick = write(
        dir.path(),
        "quick.tsv",
        "#ecsub: --waiter-delay 1\n--env N\tSAMPLE\n1\ta\n2\tb\n",
    );
    let long = write(
        dir.path(),
        "long.tsv",
        "#ecsub: --waiter-delay 1\n--env N\n1\n",
    );
    let done = sandbox.cli(&[
        "dsub",
        "--user",
        "tester",
        "--name",
        "quick",
        "--tasks",
        &quick,
        "--label",
        "batch=b1",
        "--command",
        "echo $N",
        "--wait",
        "--poll-interval",
        "1",
    ]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let quick_job = done.stdout.trim().to_owned();
    let started = sandbox.cli(&[
        "dsub",
        "--user",
        "tester",
        "--name",
        "long",
        "--tasks",
        &long,
        "--command",
        "sleep 600",
    ]);
    assert_eq!(started.code, 0, "{}", started.stderr);
    let long_job = started.stdout.trim().to_owned();
    // dstat's default is the caller's running tasks: the long job's, once the stack runs it.
    let running = sandbox.until(90, "the long job to run", || {
        let ran = sandbox.cli(&["dstat", "--users", "tester", "--format", "json"]);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let rows: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
        (rows.as_array().unwrap().len() == 1).then_some(rows)
    });
    assert_eq!(running[0]["job-name"], "long", "{running}");
    assert_eq!(running[0]["task-id"], "1");
    // --full: dsub's field names, the tasks file's values, the job's labels; filtered by label and state.
    let full = sandbox.cli(&[
        "dstat", "--users", "tester", "--jobs", &quick_job, &long_job, "--status", "*", "--full",
        "--format", "json", "--label", "batch=b1",
    ]);
    assert_eq!(full.code, 0, "{}", full.stderr);
    let rows: serde_json::Value = serde_json::from_str(&full.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(
        rows.len(),
        2,
        "only the quick job's tasks carry the label: {rows:?}"
    );
    for (row, (n, sample)) in rows.iter().zip([("1", "a"), ("2", "b")]) {
        assert_eq!(row["job-id"], quick_job.as_str());
        assert_eq!(row["user-id"], "tester");
        assert_eq!(row["status"], "SUCCESS");
        assert_eq!(row["status-message"], "Success");
        assert_eq!(row["envs"], json!({ "N": n, "SAMPLE": sample }));
        assert_eq!(row["labels"], json!({ "batch": "b1" }));
        assert_eq!(row["provider"], "aws");
    }
    // Another user's jobs are not the caller's.
    let other = sandbox.cli(&[
        "dstat", "--users", "someone", "--status", "*", "--format", "json",
    ]);
    assert_eq!(other.stdout.trim(), "[]", "{}", other.stdout);
    // A job parked after the long one shows as RUNNING, waiting; ddel cancels it, and it reads FAILURE, saying so.
    let parked = sandbox.cli(&[
        "dsub",
        "--user",
        "tester",
        "--name",
        "parked",
        "--tasks",
        &long,
        "--command",
        "echo never",
        "--after",
        &long_job,
    ]);
    assert_eq!(parked.code, 0, "{}", parked.stderr);
    let parked = parked.stdout.trim().to_owned();
    let waiting = sandbox.until(60, "the parked job to show", || {
        let ran = sandbox.cli(&[
            "dstat", "--users", "tester", "--jobs", &parked, "--format", "json",
        ]);
        let rows: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap_or_default();
        rows.as_array()
            .filter(|r| r.len() == 1)
            .map(|r| r[0].clone())
    });
    assert!(
        waiting["status-message"]
            .as_str()
            .unwrap()
            .contains("waiting for job(s)"),
        "{waiting}"
    );
    let deleted = sandbox.cli(&["ddel", "--users", "tester", "--jobs", &parked]);
    assert_eq!(
        deleted.stdout.trim(),
        "1 job deleted (1 task)",
        "{}",
        deleted.stderr
    );
    let error = format!("s3://{}/jobs/{parked}/error.txt", sandbox.bucket());
    assert!(String::from_utf8_lossy(&sandbox.object(&error).unwrap())
        .contains("cancelled while it waited"));
    let gone = sandbox.cli(&[
        "dstat", "--users", "tester", "--jobs", &parked, "--status", "FAILURE", "--format", "json",
    ]);
    assert!(
        gone.stdout.contains("cancelled while it waited"),
        "{}",
        gone.stdout
    );
    // ddel stops the running job; its task then reads CANCELED.
    let deleted = sandbox.cli(&["ddel", "--users", "tester", "--jobs", &long_job]);
    assert_eq!(deleted.code, 0, "{}", deleted.stderr);
    assert_eq!(deleted.stdout.trim(), "1 job deleted (1 task)");
    let summary_url = format!("s3://{}/jobs/{long_job}/summary.json", sandbox.bucket());
    sandbox.until(120, "the stopped job's summary", || {
        sandbox.object(&summary_url)
    });
    let after = sandbox.cli(&[
        "dstat", "--users", "tester", "--jobs", &long_job, "--status", "*", "--format", "yaml",
    ]);
    assert!(
        after
            .stdout
            .contains("status-message: \"the job's execution ended ABORTED"),
        "{}",
        after.stdout
    );
    let summary = sandbox.cli(&[
        "dstat",
        "--users",
        "*",
        "--status",
        "*",
        "--summary",
        "--format",
        "json",
    ]);
    let counts: serde_json::Value = serde_json::from_str(&summary.stdout).unwrap();
    assert!(
        counts
            .as_array()
            .unwrap()
            .contains(&json!({"job-name": "quick", "status": "SUCCESS", "task-count": 2})),
        "{counts}"
    );
    assert!(
        counts
            .as_array()
            .unwrap()
            .contains(&json!({"job-name": "long", "status": "CANCELED", "task-count": 1})),
        "{counts}"
    );
    assert_nothing_running(&sandbox, &long_job);
    assert!(sandbox
        .object(&format!(
            "s3://{}/jobs/{parked}/started.json",
            sandbox.bucket()
        ))
        .is_none());
}

/// Submits a one-task dsub job (not waited for) and returns its id.
fn submit(
    sandbox: &Sandbox,
    dir: &std::path::Path,
    name: &str,
    tasks: &str,
    command: &str,
    extra: &[&str],
) -> String {
    let file = write(
        dir,
        &format!("{name}.tsv"),
        &format!("#ecsub: --waiter-delay 1\n{tasks}"),
    );
    let mut args = vec![
        "dsub",
        "--name",
        name,
        "--user",
        "tester",
        "--tasks",
        &file,
        "--command",
        command,
    ];
    args.extend_from_slice(extra);
    let ran = sandbox.cli(&args);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    ran.stdout.trim().to_owned()
}

#[test]
fn after_starts_a_job_when_the_jobs_before_it_succeeded_and_refuses_it_when_one_failed() {
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let out = |n: &str| format!("s3://{EXAMPLE_BUCKET}/after/{n}.txt");
    let make = sandbox.aws(&["s3", "mb", &format!("s3://{EXAMPLE_BUCKET}")]);
    assert_eq!(make.code, 0, "{}", make.stderr);
    // A takes a while, B is quick; C reads what both wrote (its inputs do not exist when it is pushed).
    let a = submit(
        &sandbox,
        dir.path(),
        "a",
        &format!("--output OUT\n{}\n", out("a")),
        "sleep 8; echo A > \"$OUT\"",
        &[],
    );
    let b = submit(
        &sandbox,
        dir.path(),
        "b",
        &format!("--output OUT\n{}\n", out("b")),
        "echo B > \"$OUT\"",
        &[],
    );
    let c = submit(
        &sandbox,
        dir.path(),
        "c",
        &format!(
            "--input IN_A\t--input IN_B\t--output OUT\n{}\t{}\t{}\n",
            out("a"),
            out("b"),
            out("c")
        ),
        "cat \"$IN_A\" \"$IN_B\" > \"$OUT\"",
        &["--after", &a, &b],
    );
    // Parked by the stack, and status says on what.
    let parked = sandbox.until(60, "C to be parked", || {
        let status = sandbox.cli(&["status", &c]);
        status
            .stdout
            .contains("waiting for job(s)")
            .then_some(status.stdout)
    });
    assert!(parked.contains(&a) || parked.contains(&b), "{parked}");
    assert!(sandbox
        .object(&format!("s3://{}/jobs/{c}/started.json", sandbox.bucket()))
        .is_none());
    // No client runs from here: the stack starts C when A and B have ended.
    let summary_url = |job: &str| format!("s3://{}/jobs/{job}/summary.json", sandbox.bucket());
    sandbox.until(180, "C to end", || sandbox.object(&summary_url(&c)));
    let s = summary(&sandbox, &c);
    assert_eq!(
        (&s["succeeded"], &s["failed"]),
        (&json!(1), &json!(0)),
        "{s}"
    );
    assert_eq!(sandbox.object(&out("c")).unwrap(), b"A\nB\n");
    let a_end = summary(&sandbox, &a)["finished_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let c_started: serde_json::Value = serde_json::from_slice(
        &sandbox
            .object(&format!("s3://{}/jobs/{c}/started.json", sandbox.bucket()))
            .unwrap(),
    )
    .unwrap();
    assert!(
        c_started["started_at"].as_str().unwrap() > a_end.as_str(),
        "C started after A ended"
    );

    // A failed job before: the job after it is refused naming it, and so is the job after that one.
    let failed = submit(
        &sandbox,
        dir.path(),
        "f",
        "--env X\n1\n",
        "sleep 3; exit 1",
        &[],
    );
    let next = submit(
        &sandbox,
        dir.path(),
        "g",
        "--env X\n1\n",
        "echo never",
        &["--after", &failed],
    );
    let last = submit(
        &sandbox,
        dir.path(),
        "h",
        "--env X\n1\n",
        "echo never",
        &["--after", &next],
    );
    let error = |job: &str| format!("s3://{}/jobs/{job}/error.txt", sandbox.bucket());
    let why = sandbox.until(120, "the job after the failed one to be refused", || {
        sandbox.object(&error(&next))
    });
    let why = String::from_utf8_lossy(&why).into_owned();
    assert!(
        why.contains(&format!(
            "--after: job {failed} failed (1 of 1 tasks did not succeed)"
        )),
        "{why}"
    );
    let why = sandbox.until(60, "the job after that to be refused", || {
        sandbox.object(&error(&last))
    });
    assert!(String::from_utf8_lossy(&why)
        .contains(&format!("job {next} was refused: --after: job {failed}")));
    let rows = sandbox.cli(&[
        "dstat", "--users", "tester", "--jobs", &next, "--status", "*", "--full", "--format",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&rows.stdout).unwrap();
    assert_eq!(rows[0]["status"], "FAILURE", "a refused job's task: {rows}");
    assert!(
        rows[0]["status-message"]
            .as_str()
            .unwrap()
            .contains(&failed),
        "{rows}"
    );
    let status = sandbox.cli(&["status", &next]);
    assert!(
        status.stderr.contains(&failed) || status.stdout.contains(&failed),
        "{}\n{}",
        status.stdout,
        status.stderr
    );
    for job in [&next, &last] {
        assert!(
            sandbox
                .object(&format!(
                    "s3://{}/jobs/{job}/started.json",
                    sandbox.bucket()
                ))
                .is_none(),
            "{job} ran"
        );
    }
    // A job named by --after that is not this stack's refuses at once.
    let orphan = submit(
        &sandbox,
        dir.path(),
        "o",
        "--env X\n1\n",
        "echo never",
        &["--after", "nosuch-abcde"],
    );
    let why = sandbox.until(60, "the orphan to be refused", || {
        sandbox.object(&error(&orphan))
    });
    assert!(String::from_utf8_lossy(&why).contains("not a job of this stack"));
}

//! Running part of a job again: `push --rerun-failed` runs exactly the tasks that did not succeed, `push
//! --skip-existing` exactly those whose outputs are not all there (and no job at all when they all are); `ls`
//! lists the jobs and `logs --follow` stops by itself once a job has ended; `status` and `ls` cost the calls
//! docs/command-line.md says.

use ecsub_e2e::jobs::{
    assert_nothing_running, job_id_of, jobs_named, push, summary, with_wordcount, write,
};
use ecsub_e2e::Sandbox;
use serde_json::Value;
use std::time::Duration;

#[test]
fn a_rerun_runs_exactly_the_failed_tasks_and_skip_existing_exactly_the_unfinished_ones() {
    let sandbox = with_wordcount();
    let dir = tempfile::tempdir().unwrap();
    let tasks = write(
        dir.path(),
        "rerun.tsv",
        "#ecsub: --processes 3\n--env N\t--output OUT\n1\ts3://ecsub-wordcount/rerun/1.txt\n\
         2\ts3://ecsub-wordcount/rerun/2.txt\n3\ts3://ecsub-wordcount/rerun/3.txt\n",
    );
    let write_out = "mkdir -p \"$(dirname \"$OUT\")\" && echo \"$WHICH $N\" > \"$OUT\"\n";
    let flaky = write(
        dir.path(),
        "flaky.sh",
        &format!("[ \"$N\" != 2 ] || exit 3\nWHICH=first\n{write_out}"),
    );
    let mark = sandbox.calls().len();
    let first = push(&sandbox, &tasks, &flaky, &["--wait", "--skip-price"]);
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    let job = job_id_of(&first);
    // What `--wait`'s polls cost (docs/command-line.md): one LIST of the attempt records a poll, and one GET per
    // record it has not read before (the records are kept across polls; the last poll reads the summary instead).
    let calls = cli_calls(&sandbox, mark);
    let records = format!("jobs/{job}/attempts/");
    let lists = calls
        .iter()
        .filter(|c| c["operation"] == "ListObjectsV2" && mentions(c, &records))
        .count();
    let read: Vec<&str> = calls
        .iter()
        .filter(|c| c["operation"] == "GetObject" && mentions(c, &records))
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    let distinct: std::collections::BTreeSet<&str> = read.iter().copied().collect();
    assert!(lists >= 2, "polled more than once: {}", names(&calls));
    assert!(
        read.len() == distinct.len() && read.len() <= 3,
        "no record read twice: {}",
        names(&calls)
    );
    assert_eq!(summary(&sandbox, &job).get("cost"), None, "--skip-price");
    let fixed = write(dir.path(), "fixed.sh", &format!("WHICH=again\n{write_out}"));
    let rerun = sandbox.cli(&[
        "push",
        "--rerun-failed",
        &job,
        "--script",
        &fixed,
        "--poll",
        "0.5",
        "--wait",
    ]);
    assert_eq!(rerun.code, 0, "{}\n{}", rerun.stdout, rerun.stderr);
    assert!(
        rerun.stderr.contains(&format!(
            "rerunning the 1 of 3 tasks of {job} that did not succeed (001)"
        )),
        "{}",
        rerun.stderr
    );
    let second = job_id_of(&rerun);
    assert!(second.starts_with("rerun-") && second != job, "{second}");
    let s = summary(&sandbox, &second);
    assert_eq!(s["tasks"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["tasks"][0]["outcome"], "succeeded");
    assert_eq!(
        s.get("cost"),
        None,
        "the rerun keeps the job's options (--skip-price)"
    );
    for (n, text) in [(1, "first 1\n"), (2, "again 2\n"), (3, "first 3\n")] {
        let url = format!("s3://ecsub-wordcount/rerun/{n}.txt");
        assert_eq!(
            String::from_utf8(sandbox.object(&url).unwrap()).unwrap(),
            text,
            "{url}"
        );
    }
    let nothing = sandbox.cli(&["push", "--rerun-failed", &second]);
    assert_eq!(nothing.code, 0, "{}", nothing.stderr);
    assert_eq!(
        nothing.stdout.trim(),
        format!("every task of {second} succeeded: nothing to rerun")
    );
    // --skip-existing: with 2.txt gone only that task runs; with every output there, no job starts at all.
    let removed = sandbox.aws(&["s3", "rm", "s3://ecsub-wordcount/rerun/2.txt"]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    // The outputs are checked with the user's own credentials: the stack's UserPolicy alone may not read them.
    let denied = push(&sandbox, &tasks, &fixed, &["--skip-existing"]);
    assert_eq!(denied.code, 3, "{}\n{}", denied.stdout, denied.stderr);
    assert!(
        denied
            .stderr
            .contains("it checks the outputs with your own credentials, which need s3:ListBucket and s3:GetObject"),
        "{}",
        denied.stderr
    );
    let read_data = serde_json::json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::ecsub-wordcount/*" },
        { "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::ecsub-wordcount" } ] });
    sandbox.aws_json(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "ecsub-user",
        "--policy-name",
        "read-data",
        "--policy-document",
        &read_data.to_string(),
    ]);
    let rest = push(&sandbox, &tasks, &fixed, &["--skip-existing", "--wait"]);
    assert_eq!(rest.code, 0, "{}\n{}", rest.stdout, rest.stderr);
    assert!(
        rest.stderr.contains(
            "--skip-existing: 2 of 3 tasks have every output already and are skipped: 000, 002"
        ),
        "{}",
        rest.stderr
    );
    let third = job_id_of(&rest);
    assert_eq!(
        summary(&sandbox, &third)["tasks"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        sandbox.object("s3://ecsub-wordcount/rerun/2.txt").unwrap(),
        b"again 2\n"
    );
    let report = sandbox.cli(&["report", &third]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert_eq!(
        report.stdout.lines().next(),
        Some("skipped by --skip-existing (every output existed), in the tasks file as pushed: 000, 002"),
        "{}",
        report.stdout
    );
    let jobs = jobs_named(&sandbox, "rerun").len();
    let launched = sandbox.aws_json(&["ec2", "describe-instances"])["Reservations"]
        .as_array()
        .map_or(0, Vec::len);
    let none = push(&sandbox, &tasks, &fixed, &["--skip-existing"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert_eq!(
        none.stdout.trim(),
        "every task's outputs exist: nothing to run, no job started"
    );
    assert_eq!(
        jobs_named(&sandbox, "rerun").len(),
        jobs,
        "no job was pushed"
    );
    let after = sandbox.aws_json(&["ec2", "describe-instances"])["Reservations"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(after, launched, "no instance was started");
    // What `status` costs (docs/command-line.md): an ended job's summary and a few fixed calls, no record.
    let cache = tempfile::tempdir().unwrap();
    let cache_home = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let records = format!("jobs/{job}/attempts/");
    let mark = sandbox.calls().len();
    let status = sandbox.cli_with(&cache_home, &["status", &job], Duration::from_secs(60));
    assert!(
        status.stdout.contains(&job),
        "{}\n{}",
        status.stdout,
        status.stderr
    );
    let calls = cli_calls(&sandbox, mark);
    assert!(
        calls.len() <= 6 && !calls.iter().any(|c| mentions(c, &records)),
        "{}",
        names(&calls)
    );
    // ls: the three jobs, newest first, with their counts; one LIST, then at most three small GETs a job.
    let mark = sandbox.calls().len();
    let listed = sandbox.cli(&["ls", "--output", "json"]);
    let calls = cli_calls(&sandbox, mark);
    let lists = calls
        .iter()
        .filter(|c| c["operation"] == "ListObjectsV2")
        .count();
    let gets = calls
        .iter()
        .filter(|c| c["operation"] == "GetObject")
        .count();
    assert_eq!(lists, 1, "{}", names(&calls));
    assert!(gets <= 3 * 3, "{}", names(&calls));
    assert_eq!(calls.len(), lists + gets, "{}", names(&calls));
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let lines: Vec<(&str, &str, u64, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["job_id"].as_str().unwrap().starts_with("rerun-"))
        .map(|l| {
            (
                l["job_id"].as_str().unwrap(),
                l["state"].as_str().unwrap(),
                l["succeeded"].as_u64().unwrap(),
                l["failed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (third.as_str(), "succeeded", 1, 0),
            (second.as_str(), "succeeded", 1, 0),
            (job.as_str(), "failed", 2, 1)
        ]
    );
    // logs --follow of an ended job: every attempt's section, then it stops by itself.
    let follow = sandbox.cli(&["logs", &job, "--follow"]);
    assert_eq!(follow.code, 0, "{}", follow.stderr);
    assert_eq!(
        follow.stdout.matches("==> task ").count(),
        3,
        "{}",
        follow.stdout
    );
    assert!(
        follow.stderr.contains(&format!("job {job} has ended")),
        "{}",
        follow.stderr
    );
    for job in [&job, &second, &third] {
        assert_nothing_running(&sandbox, job);
    }
}

/// The calls the CLI's user made since the `mark`th call the sandbox served.
fn cli_calls(sandbox: &Sandbox, mark: usize) -> Vec<Value> {
    sandbox.calls()[mark..]
        .iter()
        .filter(|c| c["key"] == "cli")
        .cloned()
        .collect()
}

/// Whether a call names `key` (a key or prefix of the stack's bucket) in its path or query.
fn mentions(call: &Value, key: &str) -> bool {
    let query = call["query"]
        .as_str()
        .unwrap_or_default()
        .replace("%2F", "/")
        .replace("%2f", "/");
    call["path"].as_str().unwrap_or_default().contains(key) || query.contains(key)
}

/// The calls' operations and paths, for a failure's message.
fn names(calls: &[Value]) -> String {
    calls
        .iter()
        .map(|c| format!("{} {}?{}", c["operation"], c["path"], c["query"]))
        .collect::<Vec<_>>()
        .join("\n")
}

//! Running part of a job again: `push --rerun-failed` runs exactly the tasks that did not succeed, `push
//! --skip-existing` exactly those whose outputs are not all there (and no job at all when they all are); `ls`
//! lists the jobs and `logs --follow` stops by itself once a job has ended.

use ecsub_e2e::jobs::{
    assert_nothing_running, job_id_of, jobs_named, push, summary, with_wordcount, write,
};
use serde_json::Value;

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
    let first = push(&sandbox, &tasks, &flaky, &["--wait", "--skip-price"]);
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    let job = job_id_of(&first);
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
    // ls: the three jobs, newest first, with their counts.
    let listed = sandbox.cli(&["ls", "--output", "json"]);
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

//! `ecsub-cli push --dry-run`: the plan is printed (job id, object keys, every generated script) and nothing is
//! touched.

#![allow(clippy::unwrap_used)]

mod common;
use common::{cli, repo, run};

#[test]
fn dry_run_prints_the_job_id_the_keys_and_every_script_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let example = repo().join("examples/wordcount");
    let mut command = cli();
    // No AWS credentials here: the dry run stays offline and says so.
    command.env("HOME", tmp.path());
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
    ] {
        command.env_remove(name);
    }
    let out = run(command
        .current_dir(tmp.path())
        .env("ECSUB_BUCKET", "s3://my-stack-bucket/team")
        .env("AWS_REGION", "us-east-1")
        .args(["push", "--dry-run", "--task-name", "wc", "--tasks"])
        .arg(example.join("wordcount.tsv"))
        .arg("--script")
        .arg(example.join("wordcount.sh")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let id = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .strip_prefix("job id: ")
        .unwrap()
        .to_owned();
    assert!(id.starts_with("wc-") && id.len() == 8, "{id}");
    let base = format!("s3://my-stack-bucket/team/jobs/{id}");
    let lines: Vec<_> = out.stdout.lines().collect();
    assert!(lines[1].starts_with("tasks: 2 of 2 in "), "{}", lines[1]);
    // 2 × ($0.0104 an hour for a t3.micro + 52 GiB × $0.08 per GB-month / 720 hours).
    assert_eq!(
        lines[2],
        "burn rate: at most $0.0324 per hour: 2 × t3.micro on demand with 52 GiB gp3 each (list prices of \
         us-east-1, ecsub's table of 2026-11)"
    );
    assert_eq!(
        lines[3],
        "vCPU quota: not read (no AWS credentials here; submit reads it as the job starts)"
    );
    assert_eq!(
        lines[4],
        "would upload, in this order (the last object starts the job):"
    );
    assert!(lines[5].starts_with(&format!("  {base}/tasks.tsv  (")));
    assert!(lines[6].starts_with(&format!("  {base}/scripts/script  (")));
    assert!(lines[7].starts_with(&format!("  {base}/job.json  (")));
    assert!(lines[9].starts_with(&format!("  {base}/scripts/run.sh  (")));
    assert!(lines[10].starts_with(&format!("  {base}/scripts/setenv.sh  (")));
    assert_eq!(lines[11], "nothing was uploaded (--dry-run)");
    assert!(out.stdout.contains(&format!("\"job_id\": \"{id}\"")));
    assert!(
        out.stdout
            .contains("\"image\": \"public.ecr.aws/docker/library/python:3.12-slim\""),
        "the file's #ecsub: options are applied"
    );
    assert!(out
        .stdout
        .contains("ecsub_get dir \"$S3_SCRIPT\" \"$SCRIPT\" SCRIPT || ecsub_failed 120 \"$?\""));
    assert!(out
        .stdout
        .contains("export S3_INPUT_FILE='s3://ecsub-wordcount/input/kinglear.txt'"));
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "a dry run writes nothing"
    );
}

#[test]
fn push_needs_a_bucket() {
    let example = repo().join("examples/wordcount");
    let out = run(cli()
        .args(["push", "--dry-run", "--tasks"])
        .arg(example.join("wordcount.tsv"))
        .arg("--script")
        .arg(example.join("wordcount.sh")));
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "ecsub-cli push: no bucket: pass --aws-s3-bucket s3://BUCKET or set ECSUB_BUCKET\n"
    );
}

#[test]
fn push_reports_every_input_problem_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("t.tsv"), "--env A\t--input 1X\nx\ty\n").unwrap();
    let out = run(cli().current_dir(tmp.path()).args([
        "push",
        "--dry-run",
        "--aws-s3-bucket",
        "s3://bkt",
        "--tasks",
        "t.tsv",
        "--script",
        "missing.sh",
    ]));
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "missing.sh: cannot read the script: No such file or directory (os error 2)\n\
         t.tsv:1:9: column 2 (`--input 1X`): `1X` is not a shell variable name (letters, digits and `_`, not \
         starting with a digit)\n"
    );
}

/// Local review finding 19f: the job bucket's prefix is refused when it has `..`, spaces or shell syntax, as a
/// task cell would be.
#[test]
fn push_refuses_a_prefix_with_dot_dot_or_odd_characters() {
    for (bucket, why) in [
        (
            "s3://bkt/../../x",
            "the prefix may not have empty, `.` or `..` segments",
        ),
        (
            "s3://bkt/a b",
            "the prefix may hold letters, digits, `!-_.*'()` and `/` only, not ` `",
        ),
        (
            "s3://bkt/$(id)",
            "the prefix may hold letters, digits, `!-_.*'()` and `/` only, not `$`",
        ),
    ] {
        let out = run(cli().current_dir(repo()).args([
            "push",
            "--dry-run",
            "--tasks",
            "examples/wordcount/wordcount.tsv",
            "--script",
            "examples/wordcount/wordcount.sh",
            "--aws-s3-bucket",
            bucket,
        ]));
        assert_eq!(out.code, 2, "{bucket}: {}", out.stdout);
        assert_eq!(out.stderr, format!("--aws-s3-bucket: `{bucket}`: {why}\n"));
    }
}

/// Probe 2026-12, finding 20: what every stack refuses (more tasks than a job holds, more `--processes` than it
/// runs at once) is not previewed as a plan: `push --dry-run` and `validate` say what submit would, with the
/// place, and exit 2.
#[test]
fn a_job_every_stack_refuses_is_refused_by_the_dry_run_and_by_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: String = (0..=100_000).map(|i| format!("{i}\n")).collect();
    std::fs::write(tmp.path().join("rows.tsv"), format!("--env N\n{rows}")).unwrap();
    std::fs::write(tmp.path().join("rows.sh"), "echo \"$N\"\n").unwrap();
    let push = |extra: &[&str]| {
        run(cli()
            .current_dir(tmp.path())
            .args([
                "push",
                "--dry-run",
                "--aws-s3-bucket",
                "s3://bkt",
                "--tasks",
                "rows.tsv",
                "--script",
                "rows.sh",
            ])
            .args(extra))
    };
    let out = push(&[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(out.stdout, "", "no plan is printed");
    assert_eq!(
        out.stderr,
        "rows.tsv:100002:1: the job has 100001 tasks, but a job holds at most 100000: split it with --task-range \
         into jobs of at most 100000 tasks\n"
    );

    let out = push(&["--task-range", "1-", "--processes", "4294967295"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(
        out.stderr,
        "--processes 4294967295: one job runs at most 10000 tasks at once (Step Functions' Distributed Map); use \
         --processes 10000 or fewer (on the command line)\n"
    );
    let out = push(&["--task-range", "1-", "--processes", "5000"]);
    assert_eq!(out.code, 0, "within every limit: {}", out.stderr);

    std::fs::write(
        tmp.path().join("wide.tsv"),
        "#ecsub: --processes 6000\n--env N\n1\n",
    )
    .unwrap();
    let out = run(cli()
        .current_dir(tmp.path())
        .args(["validate", "--tasks", "wide.tsv"]));
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert_eq!(
        out.stderr,
        "wide.tsv:1:9: --processes 6000: a job's tasks run on the instances of one ECS cluster, which takes at \
         most 5000 (ECS service quotas); use --processes 5000 or fewer, or split the job with --task-range into \
         jobs run side by side (a job on AWS; run --local has no such limit)\n"
    );
}

/// A bad `--tag` on the command line is refused before anything is planned; the file's tags give way to the
/// command line's key by key (issue 23).
#[test]
fn a_bad_tag_is_refused_by_the_dry_run_and_the_command_line_wins_over_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("t.tsv"),
        "#ecsub: --tag project=old\n--env A\nx\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("s.sh"), "true\n").unwrap();
    let dry_run = |tags: &[&str]| {
        run(cli()
            .current_dir(tmp.path())
            .env("ECSUB_BUCKET", "s3://my-stack-bucket")
            .env("AWS_REGION", "us-east-1")
            .args(["push", "--dry-run", "--tasks", "t.tsv", "--script", "s.sh"])
            .args(tags))
    };
    let refused = dry_run(&["--tag", &format!("k={}", "v".repeat(257))]);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("--tag: the value of `k` has 257 characters; AWS takes at most 256"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("job id:"), "{}", refused.stdout);
    let taken = dry_run(&["--tag", "project=new", "--tag", "grant=R01"]);
    assert_eq!(taken.code, 0, "{}", taken.stderr);
    assert!(
        taken
            .stdout
            .contains("\ntags on everything the job makes and pays for: project=new, grant=R01\n"),
        "{}",
        taken.stdout
    );
    assert!(!taken.stdout.contains("project=old"), "{}", taken.stdout);
}

#[test]
fn keep_on_failure_takes_a_duration_up_to_a_day_and_the_dry_run_says_what_it_keeps() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("t.tsv"), "--env A\nx\n").unwrap();
    std::fs::write(tmp.path().join("s.sh"), "true\n").unwrap();
    let dry_run = |keep: &str| {
        run(cli()
            .current_dir(tmp.path())
            .env("ECSUB_BUCKET", "s3://my-stack-bucket")
            .env("AWS_REGION", "us-east-1")
            .args(["push", "--dry-run", "--tasks", "t.tsv", "--script", "s.sh"])
            .args(["--keep-on-failure", keep]))
    };
    for (keep, why) in [
        ("2d", "`2d` is not a duration (e.g. `30m`, `2h`, `1h30m`"),
        (
            "25h",
            "`25h` is 25h: a failed task's instance is kept from 1 minute to 24 hours",
        ),
        (
            "30s",
            "`30s` is 30s: a failed task's instance is kept from 1 minute to 24 hours",
        ),
    ] {
        let refused = dry_run(keep);
        assert_eq!(refused.code, 2, "{keep}: {}", refused.stdout);
        assert!(
            refused
                .stderr
                .contains(&format!("--keep-on-failure: {why}")),
            "{keep}: {}",
            refused.stderr
        );
        assert!(!refused.stdout.contains("job id:"), "{}", refused.stdout);
    }
    let taken = dry_run("1h30m");
    assert_eq!(taken.code, 0, "{}", taken.stderr);
    assert!(
        taken.stdout.contains(
            "\na task that fails for good keeps its instance (billed) for 1h30m for a look, ended by the janitor's"
        ),
        "{}",
        taken.stdout
    );
    assert!(
        taken.stdout.contains("\"keep_on_failure\": 5400"),
        "{}",
        taken.stdout
    );
}

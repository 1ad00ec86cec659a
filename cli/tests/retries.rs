//! `--retries N` and `--retry-on-exit CODES` on `run --local` (issue 23): a task's own failure runs it again, from
//! a fresh scratch folder, up to N times, only for the codes given; each attempt sees its number in
//! `ECSUB_ATTEMPT`, its lines follow the earlier attempts' in the task's log, and the report counts them. The
//! same policy decides on AWS (`ecsub_core::chain::next_attempt`; the end-to-end test `retries`).

#![allow(clippy::unwrap_used)]

mod common;
use common::LocalJob;
use std::fs;

/// Fails with 3 on its first two attempts, with 4 if the scratch folder still holds the last attempt's file, and
/// writes its output on the third.
const FLAKY: &str = "\
[ -e leftover ] && exit 4
touch leftover
echo \"attempt $ECSUB_ATTEMPT\"
[ \"$ECSUB_ATTEMPT\" -ge 3 ] || exit 3
mkdir -p \"${OUT%/*}\" && echo done > \"$OUT\"
";

fn report(job: &LocalJob) -> serde_json::Value {
    serde_json::from_slice(&fs::read(job.job_dir().join("report.json")).unwrap()).unwrap()
}

#[test]
fn a_task_that_fails_twice_with_3_succeeds_on_its_third_attempt_with_two_retries_on_exit_3() {
    let job = LocalJob::new("--output OUT\ns3://bkt/out/a.txt\n", FLAKY);
    let out = job.run(&["--retries", "2", "--retry-on-exit", "3"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = report(&job);
    assert_eq!(rows[0]["state"], "succeeded", "{rows}");
    assert_eq!(rows[0]["attempts"], 3, "{rows}");
    assert_eq!(
        fs::read_to_string(job.path("s3/bkt/out/a.txt")).unwrap(),
        "done\n"
    );
    let log = fs::read_to_string(job.job_dir().join("logs/000.log")).unwrap();
    let attempts: Vec<&str> = log.lines().filter(|l| l.starts_with("attempt ")).collect();
    assert_eq!(attempts, ["attempt 1", "attempt 2", "attempt 3"], "{log}");
    assert!(log.contains("== ecsub: attempt 3 (--retries) =="), "{log}");
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.contains("it runs again"))
            .count(),
        2,
        "{}",
        out.stderr
    );
}

#[test]
fn without_enough_retries_or_for_another_code_the_task_fails_with_its_last_exit() {
    for (flags, attempts, code) in [
        (&[][..], 1, 3),
        (&["--retries", "1"][..], 2, 3),
        (&["--retries", "2", "--retry-on-exit", "4,5"][..], 1, 3),
    ] {
        let job = LocalJob::new("--output OUT\ns3://bkt/out/a.txt\n", FLAKY);
        let out = job.run(flags);
        assert_ne!(out.code, 0, "{flags:?}: {}", out.stderr);
        let rows = report(&job);
        assert_eq!(rows[0]["state"], "failed", "{flags:?}: {rows}");
        assert_eq!(rows[0]["exit_code"], code, "{flags:?}: {rows}");
        assert_eq!(rows[0]["attempts"], attempts, "{flags:?}: {rows}");
        assert!(!job.path("s3/bkt/out/a.txt").exists(), "{flags:?}");
    }
}

#[test]
fn retry_options_out_of_bounds_are_refused_before_anything_runs() {
    for (flags, message) in [
        (
            &["--retry-on-exit", "3"][..],
            "--retry-on-exit needs --retries N (how many times to try again)",
        ),
        (
            &["--retries", "11"][..],
            "--retries 11: a task is tried again at most 10 times",
        ),
        (
            &["--retries", "1", "--retry-on-exit", "0"][..],
            "--retry-on-exit: 0 is not an exit code a script can fail with (1 to 255)",
        ),
    ] {
        let job = LocalJob::new("--env A\na\n", "true\n");
        let out = job.run(flags);
        assert_eq!(out.code, 2, "{flags:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{flags:?}: {}", out.stderr);
        assert!(!job.path("work").exists(), "{flags:?}");
    }
}

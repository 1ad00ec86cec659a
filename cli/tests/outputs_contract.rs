//! The output contract through `run --local` (local review 2026-11, finding 4; test audit I2): an output counts
//! only if this attempt wrote it, so an object left by an earlier run never turns a task green, and an empty
//! output folder is missing here as on S3.

#![allow(clippy::unwrap_used)]

mod common;
use common::LocalJob;
use std::fs;

const OUTPUTS: &str = "--output OUT\t--output-recursive DIR\t--output GLOB\n\
                       s3://bkt/stale/out.txt\ts3://bkt/stale/dir\ts3://bkt/stale/g/*.txt\n";

#[test]
fn outputs_left_by_an_earlier_run_do_not_make_a_task_that_wrote_nothing_succeed() {
    let job = LocalJob::new(
        OUTPUTS,
        "mkdir -p \"${OUT%/*}\" \"$DIR\" \"${GLOB%/*}\"\n\
         echo 1 > \"$OUT\"; echo 2 > \"$DIR/f\"; echo 3 > \"${GLOB%/*}/a.txt\"\n",
    );
    let first = job.run(&[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(job.path("s3/bkt/stale/dir/f").is_file());

    fs::write(job.path("script.sh"), "echo nothing\n").unwrap();
    let second = job.run(&[]);
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    let row = second.stdout.lines().nth(1).unwrap();
    assert!(
        row.ends_with(
            "exited 0 but these outputs are missing: s3://bkt/stale/out.txt, s3://bkt/stale/dir/, \
             s3://bkt/stale/g/*.txt"
        ),
        "{}",
        second.stdout
    );
    // The earlier run's objects are still there: the check ignored them, it did not remove them.
    assert_eq!(fs::read(job.path("s3/bkt/stale/out.txt")).unwrap(), b"1\n");
}

#[test]
fn a_task_that_rewrites_only_some_outputs_is_missing_the_others() {
    let job = LocalJob::new(
        OUTPUTS,
        "mkdir -p \"${OUT%/*}\" \"$DIR\" \"${GLOB%/*}\"\n\
         echo 1 > \"$OUT\"; echo 2 > \"$DIR/f\"; echo 3 > \"${GLOB%/*}/a.txt\"\n",
    );
    assert_eq!(job.run(&[]).code, 0);
    fs::write(
        job.path("script.sh"),
        "mkdir -p \"${OUT%/*}\" \"${GLOB%/*}\" && echo new > \"$OUT\" && echo log > \"${GLOB%/*}/a.log\"\n",
    )
    .unwrap();
    let second = job.run(&[]);
    assert_eq!(second.code, 1);
    assert!(
        second
            .stdout
            .contains("missing: s3://bkt/stale/dir/, s3://bkt/stale/g/*.txt"),
        "{}",
        second.stdout
    );
}

#[test]
fn an_empty_output_folder_is_missing_as_on_s3() {
    let job = LocalJob::new(
        "--output-recursive DIR\ns3://bkt/empty\n",
        "mkdir -p \"$DIR/sub\"\n",
    );
    let out = job.run(&[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("exited 0 but these outputs are missing: s3://bkt/empty/"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_input_folder_with_no_file_is_refused_before_anything_runs() {
    let job = LocalJob::new("--input-recursive IN\ns3://bkt/in\n", "touch ran\n");
    fs::create_dir_all(job.path("s3/bkt/in/sub")).unwrap();
    let out = job.run(&[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "tasks.tsv:2: task 0 (`--input-recursive IN`): input `s3://bkt/in/` holds no file (looked in"
        ),
        "{}",
        out.stderr
    );
    assert!(!job.path("work").exists());
}

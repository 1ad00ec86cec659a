//! What `run --local` reports, with the real binary (probe 2026-12): a failed task's note from the step its
//! `run.sh` ended in, the progress counts, `report.json` and the exit code whatever stdout is, a `--wdir` the
//! tasks' copies cannot take, and the privacy of the files that hold the tasks' values.

#![allow(clippy::unwrap_used)]

mod common;
use common::{cli, run, LocalJob};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Stdio;

fn report(job: &LocalJob) -> serde_json::Value {
    serde_json::from_slice(&fs::read(job.job_dir().join("report.json")).unwrap()).unwrap()
}

/// Finding 13: a reader that has gone before the table (`| true`, a pager that quit) costs neither `report.json`
/// nor the summary, and the exit code is the job's.
#[test]
fn a_closed_stdout_costs_neither_the_report_nor_the_exit_code() {
    for output in ["text", "json"] {
        let job = LocalJob::new("--env I\n0\n1\n", "echo \"task $I\"\n");
        let mut child = job
            .command(&["--output", output])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The pipe's only reader is gone before the run prints anything: every write to stdout fails (EPIPE).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{output}: {stderr}");
        assert!(
            stderr.contains(": 2/2 tasks succeeded in "),
            "{output}: {stderr}"
        );
        assert!(
            !stderr.contains("error") && !stderr.contains("cannot print"),
            "a reader that has gone is no error: {output}: {stderr}"
        );
        let rows = report(&job);
        assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
        assert_eq!(rows[1]["state"], "succeeded");
    }
}

/// Finding 13's other half: with stdout and stderr both broken (their readers gone), a run whose tasks leave
/// strays and a file with a warning (a short row) still runs every task, writes `report.json` and exits with the
/// job's code; `validate` too. A message that cannot be printed is dropped, never a panic (exit 101) halfway.
#[test]
fn broken_stdout_and_stderr_cost_neither_the_work_nor_the_exit_code() {
    let job = LocalJob::new(
        "--env I\t--env J\n0\n1\tj\n",
        "sleep 30 &\necho \"task $I\"\n",
    );
    assert_eq!(with_readers_gone(&mut job.command(&[])), Some(0));
    let rows = report(&job);
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert_eq!(rows[0]["state"], "succeeded", "{rows}");
    assert_eq!(rows[1]["state"], "succeeded", "{rows}");
    let mut validate = cli();
    validate
        .current_dir(job.dir.path())
        .args(["validate", "--tasks", "tasks.tsv"]);
    assert_eq!(with_readers_gone(&mut validate), Some(0));
}

/// Runs `command` with its stdout and stderr pipes whose readers are gone before it writes: its exit code.
fn with_readers_gone(command: &mut std::process::Command) -> Option<i32> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    child.wait().unwrap().code()
}

/// Finding 14: a `--wdir` whose path is not UTF-8 would make every task's copies fail (the stager takes its
/// paths as text) and its report hold what JSON cannot: it is refused before anything is written.
#[test]
fn a_wdir_whose_path_is_not_utf8_is_refused_before_anything_is_written() {
    use std::os::unix::ffi::OsStrExt as _;
    let job = LocalJob::new("--env I\n0\n", "true\n");
    let wdir = std::ffi::OsStr::from_bytes(b"w\xe9");
    let here = fs::canonicalize(job.dir.path()).unwrap();
    for output in ["text", "json"] {
        let out = run(job
            .bare_command(&["--s3-root", "s3", "--output", output])
            .arg("--wdir")
            .arg(wdir));
        assert_eq!(out.code, 2, "{output}: {}", out.stderr);
        let message = format!(
            "--wdir w\u{fffd}: the folder's path ({}/w\u{fffd}) is not valid UTF-8, and the tasks' copies take \
             their paths as text: choose a folder whose path is",
            here.display()
        );
        if output == "text" {
            assert_eq!(out.stderr, format!("{message}\n"));
        } else {
            let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
            assert_eq!(
                json,
                serde_json::json!({"errors": [{"severity": "error", "message": message}]})
            );
        }
    }
    let mut left: Vec<_> = fs::read_dir(job.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["s3", "script.sh", "tasks.tsv"], "nothing is written");
}

/// Finding 15: the note names the step the task failed in, as its `run.sh` recorded it, not a guess from the
/// code: a script that exits 120 itself did not fail a download, and a script's shell that cannot start for an
/// environment over the system's limit (E2BIG, exit 126) is not a script without its execute bit.
#[test]
fn a_failed_tasks_note_names_the_step_it_failed_in_not_a_guess_from_its_code() {
    let big = "x".repeat(100_000);
    let job = LocalJob::new(
        &format!(
            "--env WHAT\t--input IN\t--env B1\t--env B2\t--env B3\n\
             exit120\t\t\t\t\n\
             download\ts3://bkt/missing.txt\t\t\t\n\
             e2big\t\t{big}\t{big}\t{big}\n"
        ),
        "case $WHAT in exit120) exit 120 ;; esac\n",
    );
    // The script's shell starts under a stack limit that makes the system's limit of arguments and environment
    // 128 KiB: the task's 300 KB environment cannot pass the exec of bash (E2BIG), whatever the machine's limit.
    let out = job.run(&[
        "--not-verify-bucket",
        "--shell",
        "sh -c 'ulimit -s 256 && exec bash \"$0\"'",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let rows = report(&job);
    let note = |i: usize| rows[i]["note"].as_str().unwrap_or_default().to_owned();
    assert_eq!(rows[0]["exit_code"], 120, "{rows}");
    assert_eq!(
        note(0),
        "the script's own exit code: its inputs were downloaded"
    );
    assert_eq!(rows[1]["exit_code"], 120, "{rows}");
    assert_eq!(note(1), "input download failed");
    let log = fs::read_to_string(job.job_dir().join("logs/002.log")).unwrap();
    assert!(log.contains("Argument list too long"), "{log}");
    assert_eq!(rows[2]["exit_code"], 126, "{rows}\n{log}");
    assert_eq!(
        note(2),
        "the script, or a command it ran, could not be executed: not executable, or its arguments and \
         environment over the system's limit (see the log)"
    );
    assert!(
        out.stdout
            .contains("the script's own exit code: its inputs were downloaded"),
        "the table says it too: {}",
        out.stdout
    );
    assert!(
        !job.job_dir().join("env").exists(),
        "no step record is left"
    );
}

/// Finding 16: a `--secret-env` value is in the job's copy of the tasks file, in its `setenv.sh` and, while the
/// task runs, in the task's environment file: the job's folder is its owner's alone, and those files too.
#[test]
fn the_files_that_hold_the_tasks_values_are_their_owners_alone() {
    let job = LocalJob::new(
        "--secret-env TOKEN\t--output OUT\ns3cr3t\ts3://bkt/mode.txt\n",
        "mkdir -p \"${OUT%/*}\" && stat -c %a \"$ECSUB_TASK_ENV\" > \"$OUT\"\n",
    );
    fs::set_permissions(job.path("tasks.tsv"), fs::Permissions::from_mode(0o644)).unwrap();
    let out = job.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mode = |rel: &str| {
        fs::metadata(job.job_dir().join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700, "the job's folder");
    assert_eq!(mode("tasks.tsv"), 0o600);
    assert_eq!(mode("scripts/setenv.sh"), 0o600);
    assert!(fs::read_to_string(job.job_dir().join("tasks.tsv"))
        .unwrap()
        .contains("s3cr3t"));
    assert_eq!(
        fs::read_to_string(job.path("s3/bkt/mode.txt")).unwrap(),
        "600\n",
        "the running task's environment file"
    );
}

/// Finding 24: a task that exited 0 without its outputs counts as failed in the progress, and its log does not
/// say it succeeded before the outputs check has decided.
#[test]
fn a_task_without_its_outputs_counts_as_failed_and_its_log_does_not_say_it_succeeded() {
    let job = LocalJob::new("--output OUT\ns3://bkt/never-written.txt\n", "true\n");
    let out = job.run(&[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "ecsub-cli: task 000 exited 0 (exited 0 but these outputs are missing: s3://bkt/never-written.txt) \
             [1/1 done, 0 running, 1 failed, "
        ),
        "{}",
        out.stderr
    );
    let log = fs::read_to_string(job.job_dir().join("logs/000.log")).unwrap();
    assert!(!log.contains("succeeded"), "{log}");
    assert_eq!(
        log.lines().last(),
        Some("ecsub: task 0: the script exited 0 and its outputs are uploaded"),
        "{log}"
    );

    let job = LocalJob::new("--env A\nx\n", "true\n");
    let out = job.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("[1/1 done, 0 running, 0 failed, "),
        "{}",
        out.stderr
    );
}

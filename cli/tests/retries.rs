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
    assert_eq!(rows[0].get("class"), None, "{rows}");
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
        assert_eq!(rows[0]["class"], "exit", "{flags:?}: {rows}");
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

/// Issue 23: a task that runs out of disk says so, whether its script filled the scratch filesystem (run.sh
/// finds it under 1 % free when the script failed) or an input did not fit (the stager's "no space left"): exit
/// 123, class `out-of-disk`, and a note naming it. `--wdir` is a 2 MiB tmpfs in a mount namespace of its own.
/// Needs root and `unshare`: says so and passes without them.
#[test]
fn a_task_out_of_disk_ends_123_whether_its_script_or_an_input_filled_the_disk() {
    // The script fills all but 8 KiB (room for the report), then fails as a program that met the full disk.
    let fill = "free=$(df -Pk . | awk 'NR == 2 { print $4 }')\n\
                dd if=/dev/zero of=big bs=1k count=$((free - 8)) 2>/dev/null\nexit 1\n";
    for (tasks, script, note) in [
        (
            "--env N\n1\n",
            fill,
            "the script failed with the task's disk full (see the log for its own code)",
        ),
        (
            "--input IN\ns3://bkt/big.bin\n",
            "true\n",
            "an input did not fit on the task's disk",
        ),
    ] {
        let job = LocalJob::new(tasks, script);
        job.put("bkt/big.bin", &vec![7u8; 4 << 20]);
        fs::create_dir_all(job.path("work")).unwrap();
        let out = common::run(
            std::process::Command::new("unshare")
                .current_dir(job.dir.path())
                .args(["-m", "sh", "-c"])
                .arg(
                    "mount -t tmpfs -o size=2m tmpfs work || exit 97\n\
                     \"$0\" run --local --tasks tasks.tsv --script script.sh --s3-root s3 --wdir work\n\
                     rc=$?; cp work/*/report.json report.json; umount work; exit $rc",
                )
                .arg(env!("CARGO_BIN_EXE_ecsub-cli")),
        );
        if out.code == 97 || out.stderr.starts_with("unshare: ") {
            eprintln!("skipped: cannot mount a tmpfs here: {}", out.stderr);
            return;
        }
        assert_ne!(out.code, 0, "{}", out.stderr);
        let rows: serde_json::Value =
            serde_json::from_slice(&fs::read(job.path("report.json")).unwrap()).unwrap();
        assert_eq!(rows[0]["exit_code"], 123, "{rows}\n{}", out.stderr);
        assert_eq!(rows[0]["class"], "out-of-disk", "{rows}");
        assert_eq!(rows[0]["note"], note, "{rows}");
    }
}

//! No process of a local job outlives it, and a signal mid-run loses nothing (local review 2026-11, findings 2,
//! 5 and 17): tasks that fork background children, leave their process group, ignore SIGTERM and write large
//! outputs are stopped by SIGINT, SIGTERM and SIGHUP in turn; afterwards no process of the job exists, every
//! output is whole (its old bytes or its new ones), and the table and `report.json` are there.

#![allow(clippy::unwrap_used)]

mod common;
use common::LocalJob;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The processes whose environment names this S3 root: every process a task of the job started (they inherit
/// `ECSUB_LOCAL_S3_ROOT`), wherever it went (another group, another session).
fn processes_of(s3_root: &Path) -> Vec<String> {
    let marker = format!("ECSUB_LOCAL_S3_ROOT={}", s3_root.display());
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie
            && environ
                .split(|&b| b == 0)
                .any(|var| var == marker.as_bytes())
        {
            let cmd = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            ));
        }
    }
    found
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

const OLD: &[u8] = b"the old, good output\n";
const BIG: usize = 200_000_000;

fn stop_mid_run(signal: libc::c_int, expected_exit: i32) {
    // Task 0 writes a large output and exits 0, so its upload is under way; task 1 ignores SIGTERM, has a
    // background child (which inherits that) and a child in its own session; task 2 waits for a slot.
    let job = LocalJob::new(
        "--env KIND\t--output OUT\nbig\ts3://bkt/out/big.bin\nstubborn\ts3://bkt/out/stubborn.txt\n\
         queued\ts3://bkt/out/queued.txt\n",
        "mkdir -p \"${OUT%/*}\"\n\
         if [ \"$KIND\" = big ]; then head -c 200000000 /dev/zero | tr '\\0' n > \"$OUT\"; exit 0; fi\n\
         trap '' TERM\n\
         sleep 3791 &\n\
         setsid sleep 3792 &\n\
         echo started > \"$OUT\"\n\
         sleep 3793\n",
    );
    job.put("bkt/out/big.bin", OLD);
    let s3_root = fs::canonicalize(job.path("s3")).unwrap();
    let mut cmd = job.command(&["--processes", "2"]);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = job.path("work");
    let log_says = |index: &str, text: &str| {
        fs::read_dir(&logs).ok().is_some_and(|jobs| {
            jobs.flatten().any(|j| {
                fs::read_to_string(j.path().join(format!("logs/{index}.log")))
                    .is_ok_and(|log| log.contains(text))
            })
        })
    };
    wait_for("task 1's script", Duration::from_secs(30), || {
        log_says("001", "running the script") && processes_of(&s3_root).len() >= 4
    });
    wait_for("task 0's upload", Duration::from_secs(60), || {
        log_says("000", "uploading outputs")
    });
    // SAFETY: kill has no memory-safety preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(expected_exit), "{stdout}\n{stderr}");

    let left = processes_of(&s3_root);
    assert!(
        left.is_empty(),
        "processes of the job survived it: {left:?}"
    );

    let table: Vec<&str> = stdout.lines().collect();
    assert_eq!(table.len(), 4, "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(job.job_dir().join("report.json")).unwrap()).unwrap();
    assert_eq!(report.as_array().unwrap().len(), 3);

    let big = fs::read(job.path("s3/bkt/out/big.bin")).unwrap();
    assert!(
        big == OLD || (big.len() == BIG && big.iter().all(|&b| b == b'n')),
        "big.bin is neither its old bytes nor its new ones: {} bytes",
        big.len()
    );
}

#[test]
fn sigint_mid_run_leaves_no_process_and_whole_outputs() {
    stop_mid_run(libc::SIGINT, 130);
}

#[test]
fn sigterm_mid_run_leaves_no_process_and_whole_outputs() {
    stop_mid_run(libc::SIGTERM, 143);
}

#[test]
fn sighup_mid_run_leaves_no_process_and_whole_outputs() {
    stop_mid_run(libc::SIGHUP, 129);
}

#[test]
fn background_children_and_escaped_sessions_end_with_the_job() {
    let job = LocalJob::new(
        "--env N\n1\n",
        "sleep 3771 &\nsetsid sleep 3772 &\nnohup sleep 3773 >/dev/null 2>&1 &\nexit 0\n",
    );
    let s3_root = fs::canonicalize(job.path("s3")).unwrap();
    let out = job.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let left = processes_of(&s3_root);
    assert!(
        left.is_empty(),
        "processes of the job survived it: {left:?}"
    );
}

/// Local review finding 3: two runs writing one output key at the same moment leave one whole version of it,
/// never a mix of both (each copy lands by rename).
#[test]
fn two_runs_writing_one_key_at_once_leave_one_whole_version() {
    let job = LocalJob::new("--env CH\t--env N\t--output OUT\n", "true\n");
    let start_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let script = format!(
        "head -c \"$N\" /dev/zero | tr '\\0' \"$CH\" > big.part\n\
         while [ \"$(date +%s)\" -lt {start_at} ]; do sleep 0.01; done\n\
         mkdir -p \"${{OUT%/*}}\" && mv big.part \"$OUT\"\n"
    );
    fs::write(job.path("script.sh"), script).unwrap();
    let sizes = [("a", 120_000_000usize), ("b", 60_000_000)];
    let children: Vec<_> = sizes
        .iter()
        .map(|(ch, n)| {
            let file = format!("{ch}.tsv");
            fs::write(
                job.path(&file),
                format!("--env CH\t--env N\t--output OUT\n{ch}\t{n}\ts3://bkt/conc/out.bin\n"),
            )
            .unwrap();
            common::cli()
                .current_dir(job.dir.path())
                .args(["run", "--local", "--tasks", &file, "--script", "script.sh"])
                .args(["--s3-root", "s3", "--wdir", "work"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bytes = fs::read(job.path("s3/bkt/conc/out.bin")).unwrap();
    let whole = sizes
        .iter()
        .any(|(ch, n)| bytes.len() == *n && bytes.iter().all(|&b| b == ch.as_bytes()[0]));
    assert!(whole, "a torn output: {} bytes", bytes.len());
}

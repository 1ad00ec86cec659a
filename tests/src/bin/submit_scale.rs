//! Benchmark: the submit function on a large tasks file (default 100 000 rows, one `--env` column). Pushes the job
//! at `--processes 1`, waits for submit to start it (`started.json`), and prints how long that took, the submit
//! function's peak memory (its handler process, sampled every 0.1 s by the emulated Lambda, which kills it past
//! the template's MemorySize) and the sizes of what it wrote; then cancels the job and waits for its summary.
//!
//! Run with `cargo run -p ecsub-e2e --bin submit-scale [-- ROWS]` after `tests/run.sh` (it needs the venv and
//! binaries).

use ecsub_e2e::jobs::{assert_exit, job_id_of};
use ecsub_e2e::Sandbox;
use std::time::{Duration, Instant};

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .map_or(100_000, |n| n.parse().expect("ROWS is a number"));
    let sandbox = Sandbox::start();
    sandbox.deliver_exactly_once();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut tsv = String::from("--env SAMPLE\n");
    for i in 0..rows {
        tsv.push_str(&format!("sample-{i:06}\n"));
    }
    let file = dir.path().join("big.tsv");
    std::fs::write(&file, &tsv).expect("the tasks file is written");
    let script = dir.path().join("big.sh");
    std::fs::write(&script, "echo \"$SAMPLE\"\n").expect("the script is written");
    let pushed_at = Instant::now();
    let push = sandbox.cli_within(
        &[
            "push",
            "--processes",
            "1",
            "--tasks",
            file.to_str().expect("UTF-8"),
            "--script",
            script.to_str().expect("UTF-8"),
        ],
        Duration::from_secs(600),
    );
    assert_exit(&sandbox, &push, 0);
    let pushed = pushed_at.elapsed().as_secs_f64();
    let job = job_id_of(&push);
    let folder = format!("s3://{}/jobs/{job}/", sandbox.bucket());
    sandbox.until(900, "submit to start the job", || {
        if let Some(error) = sandbox.object(&format!("{folder}error.txt")) {
            panic!("the job was refused:\n{}", String::from_utf8_lossy(&error));
        }
        sandbox.object(&format!("{folder}started.json"))
    });
    let started = pushed_at.elapsed().as_secs_f64();
    let rss_kb = sandbox.control_get("/lambda-rss")["ecsub-submit"]
        .as_u64()
        .unwrap_or(0);
    let size = |name: &str| {
        sandbox
            .object(&format!("{folder}{name}"))
            .map_or(0, |b| b.len())
    };
    println!(
        "{rows} rows ({} bytes): pushed in {pushed:.1} s, started {:.1} s later",
        tsv.len(),
        started - pushed
    );
    println!(
        "  submit's peak RSS {:.1} MB (MemorySize 512 MB); wrote setenv.sh {} bytes, items.json {} bytes, run.sh {} bytes",
        rss_kb as f64 / 1024.0,
        size("scripts/setenv.sh"),
        size("items.json"),
        size("scripts/run.sh")
    );
    let cancelled = sandbox.cli(&["cancel", &job]);
    assert_exit(&sandbox, &cancelled, 0);
    let closed_at = Instant::now();
    sandbox.until(900, "the janitor's summary", || {
        sandbox.object(&format!("{folder}summary.json"))
    });
    println!(
        "  cancelled; the job's summary ({rows} tasks) written {:.1} s later, the janitor's peak RSS {:.1} MB",
        closed_at.elapsed().as_secs_f64(),
        sandbox.control_get("/lambda-rss")["ecsub-janitor"]
            .as_u64()
            .unwrap_or(0) as f64
            / 1024.0
    );
}

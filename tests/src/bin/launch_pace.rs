//! Benchmark: how soon a job's instances are launched. Pushes a job of N trivial tasks (default 100) at the
//! highest `--processes` one job allows (40, Step Functions' inline Map), with the default `--waiter-delay` (a
//! job's history bounds its size: 169 tasks at 15 s), and prints the time from `push` to the
//! first successful RunInstances and to the 10th, 40th and last, with how many RunInstances EC2 refused under its
//! documented throttling (tests/emulator/throttle.py: 5 calls at once, then 2 a second). The original ecsub
//! starts tasks 5 s apart: its 100th starts 500 s after the first.
//!
//! Run with `cargo run -p ecsub-e2e --bin launch-pace [-- N]` after `tests/run.sh` (it needs the venv and binaries).

use ecsub_e2e::jobs::assert_exit;
use ecsub_e2e::Sandbox;
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn main() {
    let tasks: usize = std::env::args()
        .nth(1)
        .map_or(100, |n| n.parse().expect("N is a number of tasks"));
    let processes = tasks.min(40);
    let sandbox = Sandbox::start();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut tsv = String::from("--env I\n");
    for i in 0..tasks {
        tsv.push_str(&format!("{i}\n"));
    }
    let file = dir.path().join("pace.tsv");
    std::fs::write(&file, tsv).expect("the tasks file is written");
    let script = dir.path().join("pace.sh");
    std::fs::write(&script, "true\n").expect("the script is written");
    let pushed_at = now();
    let push = sandbox.cli(&[
        "push",
        "--wait",
        "--poll",
        "2",
        "--processes",
        &processes.to_string(),
        "--tasks",
        file.to_str().expect("UTF-8"),
        "--script",
        script.to_str().expect("UTF-8"),
    ]);
    let ended = now() - pushed_at;
    assert_exit(&sandbox, &push, 0);
    let calls = sandbox.calls();
    let runs: Vec<&Value> = calls
        .iter()
        .filter(|c| c["operation"] == "RunInstances" && c["key"] == "lambda-ecsub-launch")
        .collect();
    let mut launched: Vec<f64> = runs
        .iter()
        .filter(|c| c["status"] == 200)
        .filter_map(|c| c["time"].as_f64())
        .map(|t| t - pushed_at)
        .collect();
    launched.sort_by(f64::total_cmp);
    let refused = runs
        .iter()
        .filter(|c| c["error"] == "RequestLimitExceeded")
        .count();
    println!("{tasks} tasks at --processes {processes}: the job ended {ended:.1} s after push");
    for nth in [1, 10, 40, tasks] {
        if let Some(t) = launched.get(nth - 1) {
            println!("  RunInstances #{nth:<4} {t:6.1} s after push");
        }
    }
    println!(
        "  {} launches, {refused} RunInstances refused by EC2's throttling (retried)",
        launched.len()
    );
}

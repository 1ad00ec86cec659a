//! Benchmark: one large job of trivial tasks on the emulated cloud (default 2 000 tasks at `--processes 500`),
//! with the chain's figures: wall time, controller API calls per task, state transitions per task (the parent
//! execution's and every task's child execution's), S3 PUTs per job, the largest state payload, the largest
//! task history, each function's peak memory, and the time from `push` to the 1st, 10th, 100th and last
//! RunInstances (EC2's documented throttling: 5 at once, then 2 a second). The original ecsub starts tasks 5 s
//! apart: its 100th 500 s after the first.
//!
//! Run with `cargo run -p ecsub-e2e --bin job-scale [-- TASKS [PROCESSES [DIE_EVERY]]]` after `tests/run.sh` (it
//! needs the venv and binaries). The job polls for its instances every 15 s (the default `--waiter-delay`); EC2's
//! RunInstances bucket is the documented one (5 at once, 2 a second); EC2 ends every DIE_EVERY-th new instance
//! before it boots (default 100: 1 %, as it ends a pending instance now and then; 0: none), and each is launched
//! again at its task's next join check.

use ecsub_e2e::metrics::run_job;
use ecsub_e2e::{Options, Sandbox};

fn main() {
    let mut args = std::env::args().skip(1);
    let tasks: usize = args
        .next()
        .map_or(2_000, |n| n.parse().expect("TASKS is a number"));
    let processes: usize = args
        .next()
        .map_or(500, |n| n.parse().expect("PROCESSES is a number"));
    let die_every: u64 = args
        .next()
        .map_or(100, |n| n.parse().expect("DIE_EVERY is a number"));
    // The emulated Lambda runs 2 handler processes per function unless told otherwise; Lambda itself runs up to
    // 1 000 at once. With hundreds of tasks at once, 2 would queue the join checks behind launches that wait for
    // EC2's tokens (at 500 at once no task had started 8 minutes in).
    // AWS's schedules in AWS's time: the emulated cloud runs Step Functions' Retry intervals 60 times faster unless
    // told otherwise, while EC2's token buckets refill in real time; a throttled launch would use up its 30 retries
    // in about a minute instead of an hour (a task of 2 000 at --processes 500 failed so).
    let sandbox = Sandbox::start_with(&Options {
        time_scale: Some(1.0),
        lambda_processes: Some((processes / 25).clamp(2, 24)),
        ..Options::default()
    });
    sandbox.fault(&serde_json::json!({ "kind": "instance-dies", "every": die_every }));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut tsv = String::from("--env I\n");
    for i in 0..tasks {
        tsv.push_str(&format!("{i}\n"));
    }
    let file = dir.path().join("scale.tsv");
    std::fs::write(&file, tsv).expect("the tasks file is written");
    let script = dir.path().join("scale.sh");
    std::fs::write(&script, "true\n").expect("the script is written");
    let figures = run_job(
        &sandbox,
        file.to_str().expect("UTF-8"),
        script.to_str().expect("UTF-8"),
        tasks,
        processes,
        15,
    );
    figures.print();
    println!(
        "instances EC2 ended before they booted (every {die_every}th): {}",
        sandbox.control_get("/faults")["instance_deaths"]
    );
}

//! The launch path's decision logic at sizes no machine here can run: 1 000, 5 000, 10 000 and 100 000 tasks at
//! `--processes` 1 000 and 5 000 (the most one job's ECS cluster takes), alone in the account and with another
//! tenant taking half of EC2's refill, in virtual time against RunInstances' documented buckets and the Map's
//! documented rate of child starts (100 a second) (`ecsub_core::chain::launch_sim`). Each task runs an hour; a task may wait 24 hours for its instance.
//!
//! Prints, for each case, the paced launcher (one launcher per job, batched calls), the per-task launches the
//! state machine made until 2026-12 (each task its own call, retried 30 times with full jitter), and the oracle
//! (the best any launcher could do, seeing the buckets). Fails (exit 1) when the paced launcher fails a task,
//! launches out of order, or lands its last launch more than 5 % (and 2 s) after the oracle's: the budget
//! depends on no machine's speed.
//!
//! Run: `cargo bench -p ecsub-core --bench launch_pace`

use ecsub_core::chain::launch_sim::{
    run, within_bound, Launcher, Scenario, CHILD_STARTS_PER_SECOND,
};
use std::process::ExitCode;

fn main() -> ExitCode {
    println!(
        "{:>7} {:>9} {:>6} | {:>26} | {:>26} | {:>10}",
        "tasks",
        "processes",
        "tenant",
        "paced: last launch, failed",
        "per task: last, failed",
        "bound (s)"
    );
    let mut over = Vec::new();
    for tasks in [1_000, 5_000, 10_000, 100_000] {
        for processes in [1_000, 5_000] {
            for tenant in [0.0, 0.5] {
                let scenario = Scenario {
                    tasks,
                    processes,
                    tenant,
                    task_seconds: 3600.0,
                    patience: 24.0 * 3600.0,
                    child_starts: CHILD_STARTS_PER_SECOND,
                };
                let paced = run(scenario, Launcher::Paced);
                let per_task = run(scenario, Launcher::PerTask);
                let oracle = run(scenario, Launcher::Oracle);
                println!(
                    "{tasks:>7} {processes:>9} {tenant:>6.1} | {:>10.0} s {:>4} ({:>5.1} %) | {:>10.0} s {:>4} ({:>5.1} %) | {:>10.0}",
                    paced.last_launch,
                    paced.failed,
                    percent_over(paced.last_launch, oracle.last_launch),
                    per_task.last_launch,
                    per_task.failed,
                    percent_over(per_task.last_launch, oracle.last_launch),
                    oracle.last_launch
                );
                println!(
                    "{:>25} | calls {:>7}, refused {:>6} | calls {:>7}, refused {:>6} |",
                    "", paced.calls, paced.throttled, per_task.calls, per_task.throttled
                );
                if paced.failed > 0 || !paced.in_order || !within_bound(&paced, &oracle) {
                    over.push(format!(
                        "{tasks} tasks at --processes {processes}, tenant {tenant}: last launch {:.0} s (bound {:.0} s), \
                         {} failed, in order: {}",
                        paced.last_launch, oracle.last_launch, paced.failed, paced.in_order
                    ));
                }
            }
        }
    }
    if over.is_empty() {
        println!("within budget: every task launched, in the order it asked, the last within 5 % of the bound");
        ExitCode::SUCCESS
    } else {
        eprintln!("launch_pace: over budget:");
        for line in over {
            eprintln!("  {line}");
        }
        ExitCode::FAILURE
    }
}

/// How far past the bound, in percent (0 when the bound is 0 and so is the launch).
fn percent_over(last: f64, bound: f64) -> f64 {
    if bound <= 0.0 {
        if last <= 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (last / bound - 1.0) * 100.0
    }
}

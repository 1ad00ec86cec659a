//! Measures the serverless chain on the emulated cloud: Step Functions state transitions per task, AWS API calls
//! per task and per job (by component, from the access key each one signs with), S3 PUTs per job, and the delay
//! from the ECS STOPPED event to TerminateInstances. Runs the wordcount job (2 tasks) and the same script on 6
//! tasks, so that the per-job and per-task parts can be told apart.
//!
//! Run with `cargo run -p ecsub-e2e --bin chain-metrics` after `tests/run.sh` (it needs the venv and binaries).
//! It is also a check: it exits 1 when a run exceeds the budget the README states (controller calls, state
//! transitions and S3 PUTs as a + b·N), so CI fails when a change makes the chain cost more per job or per task.

use ecsub_e2e::jobs::{assert_exit, job_id_of};
use ecsub_e2e::{repo, Sandbox};
use serde_json::Value;
use std::collections::BTreeMap;

/// The README's figures, as budgets: (per job, per task).
const CONTROLLER_CALLS: (usize, usize) = (24, 15);
const TRANSITIONS: (usize, usize) = (2, 7);
const S3_PUTS: (usize, usize) = (7, 1);

struct Figures {
    tasks: usize,
    transitions: usize,
    calls: BTreeMap<String, usize>,
    puts: usize,
    container_puts: usize,
    /// Calls EC2 refused for want of tokens (its documented throttling): a burst's price, not the job's work,
    /// so reported apart and not counted against the budget.
    throttled: usize,
    delays_ms: Vec<f64>,
    seconds: f64,
}

fn measure(tasks: usize) -> Figures {
    let sandbox = Sandbox::start();
    sandbox.upload_tree(
        "ecsub-wordcount",
        &repo().join("examples/wordcount/s3/ecsub-wordcount"),
    );
    for key in sandbox.keys("ecsub-wordcount", "output/") {
        sandbox.aws(&["s3", "rm", &format!("s3://ecsub-wordcount/{key}")]);
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let example = std::fs::read_to_string(repo().join("examples/wordcount/wordcount.tsv"))
        .expect("the example");
    let mut lines = example.lines().filter(|l| !l.starts_with('#'));
    let header = lines.next().expect("a header");
    let rows: Vec<&str> = lines.collect();
    let mut tsv = format!("{header}\n");
    for i in 0..tasks {
        let row = rows[i % rows.len()];
        tsv.push_str(&row.replace(".count.tsv", &format!(".{i}.count.tsv")));
        tsv.push('\n');
    }
    let file = dir.path().join("metrics.tsv");
    std::fs::write(&file, tsv).expect("the tasks file is written");
    let started = std::time::Instant::now();
    let push = sandbox.cli(&[
        "push",
        "--wait",
        "--poll",
        "1",
        "--waiter-delay",
        "1",
        "--processes",
        &tasks.to_string(),
        "--tasks",
        file.to_str().expect("UTF-8"),
        "--script",
        "examples/wordcount/wordcount.sh",
    ]);
    let seconds = started.elapsed().as_secs_f64();
    assert_exit(&sandbox, &push, 0);
    let job = job_id_of(&push);

    let execution = format!(
        "{}:{job}",
        sandbox.info["state_machine_arn"]
            .as_str()
            .unwrap_or_default()
            .replacen(":stateMachine:", ":execution:", 1)
    );
    let history = sandbox.aws_json(&[
        "stepfunctions",
        "get-execution-history",
        "--execution-arn",
        &execution,
        "--max-items",
        "100000",
    ]);
    let transitions = history["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|e| {
                    e["type"]
                        .as_str()
                        .is_some_and(|t| t.ends_with("StateEntered"))
                })
                .count()
        })
        .unwrap_or(0);

    let calls = sandbox.calls();
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut puts = 0;
    let mut container_puts = 0;
    let mut throttled = 0;
    for call in &calls {
        let key = call["key"].as_str().unwrap_or_default();
        if matches!(key, "harness" | "setup" | "") {
            continue;
        }
        if call["error"] == "RequestLimitExceeded" {
            throttled += 1;
            continue;
        }
        let is_put = call["service"] == "s3"
            && call["method"] == "PUT"
            && call["path"]
                .as_str()
                .is_some_and(|p| p.matches('/').count() >= 2);
        if key == "container" {
            container_puts += usize::from(is_put);
        } else {
            puts += usize::from(is_put);
        }
        *by_key.entry(key.to_owned()).or_default() += 1;
    }
    let stopped: Value = sandbox.control_get("/stopped");
    let terminations: Vec<f64> = calls
        .iter()
        .filter(|c| {
            c["operation"] == "TerminateInstances" && c["key"] == "lambda-ecsub-task-stopped"
        })
        .filter_map(|c| c["time"].as_f64())
        .collect();
    let mut delays_ms: Vec<f64> = stopped
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(Value::as_f64)
                .filter_map(|at| {
                    terminations
                        .iter()
                        .filter(|t| **t >= at)
                        .map(|t| (t - at) * 1000.0)
                        .reduce(f64::min)
                })
                .collect()
        })
        .unwrap_or_default();
    delays_ms.sort_by(f64::total_cmp);
    Figures {
        tasks,
        transitions,
        calls: by_key,
        puts,
        container_puts,
        throttled,
        delays_ms,
        seconds,
    }
}

fn main() {
    let runs = [measure(2), measure(6)];
    for f in &runs {
        let total: usize = f.calls.values().sum();
        let controller: usize = f
            .calls
            .iter()
            .filter(|(k, _)| k.starts_with("lambda-") || k.starts_with("states-"))
            .map(|(_, n)| n)
            .sum();
        println!(
            "job of {} tasks: {:.1} s from push to the end of --wait",
            f.tasks, f.seconds
        );
        println!(
            "  state transitions: {} ({:.1} per task)",
            f.transitions,
            f.transitions as f64 / f.tasks as f64
        );
        println!(
            "  S3 PUTs by the CLI and the controller: {} ; by the tasks themselves (outputs): {}",
            f.puts, f.container_puts
        );
        println!("  AWS API calls: {total} in all; controller (Lambdas + Step Functions' own) {controller} = {:.1} per task", controller as f64 / f.tasks as f64);
        for (key, n) in &f.calls {
            println!("    {key:<28} {n}");
        }
        println!(
            "  refused by EC2's throttling (RequestLimitExceeded; retried, not counted above): {}",
            f.throttled
        );
        let median = f
            .delays_ms
            .get(f.delays_ms.len() / 2)
            .copied()
            .unwrap_or(f64::NAN);
        let max = f.delays_ms.last().copied().unwrap_or(f64::NAN);
        println!("  STOPPED event -> TerminateInstances: median {median:.0} ms, max {max:.0} ms over {} tasks", f.delays_ms.len());
    }
    let [a, b] = &runs;
    let per_task = |x: &Figures, y: &Figures, f: &dyn Fn(&Figures) -> f64| {
        (f(y) - f(x)) / (y.tasks - x.tasks) as f64
    };
    let controller = |f: &Figures| {
        f.calls
            .iter()
            .filter(|(k, _)| k.starts_with("lambda-") || k.starts_with("states-"))
            .map(|(_, n)| *n as f64)
            .sum::<f64>()
    };
    let calls_per_task = per_task(a, b, &controller);
    let transitions_per_task = per_task(a, b, &|f| f.transitions as f64);
    let puts_per_task = per_task(a, b, &|f| f.puts as f64);
    println!(
        "fit: controller calls = {:.0} + {:.1}*N, state transitions = {:.0} + {:.1}*N, S3 PUTs = {:.0} + {:.1}*N",
        controller(a) - calls_per_task * a.tasks as f64,
        calls_per_task,
        a.transitions as f64 - transitions_per_task * a.tasks as f64,
        transitions_per_task,
        a.puts as f64 - puts_per_task * a.tasks as f64,
        puts_per_task
    );
    let mut over = Vec::new();
    for f in &runs {
        let controller = controller(f) as usize;
        for (what, got, (job, task)) in [
            ("controller calls", controller, CONTROLLER_CALLS),
            ("state transitions", f.transitions, TRANSITIONS),
            ("S3 PUTs", f.puts, S3_PUTS),
        ] {
            let budget = job + task * f.tasks;
            if got > budget {
                over.push(format!(
                    "{} tasks: {got} {what}, over the budget of {job} + {task}*N = {budget}",
                    f.tasks
                ));
            }
        }
    }
    if !over.is_empty() {
        eprintln!("chain-metrics: over budget (README.md states these figures):");
        for line in &over {
            eprintln!("  {line}");
        }
        std::process::exit(1);
    }
    println!("within budget: controller calls, state transitions and S3 PUTs");
}

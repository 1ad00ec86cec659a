//! What a job cost the serverless chain, measured on the emulated cloud: state transitions (the parent execution's
//! and every task's child execution's), AWS API calls by component (from the access key each one signs with), S3
//! PUTs, the largest state payload, the delay from the ECS STOPPED event to TerminateInstances, how soon after
//! `push` the instances were launched, and each function's peak memory. Used by the `chain-metrics` and
//! `job-scale` benchmarks.

#![allow(clippy::unwrap_used)]

use crate::jobs::{execution_history, job_id_of, map_runs};
use crate::Sandbox;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug)]
pub struct Figures {
    pub tasks: usize,
    pub processes: usize,
    /// StateEntered events of the parent execution and of every child execution.
    pub transitions: usize,
    pub parent_transitions: usize,
    /// Events of the parent's history, and of the largest child's.
    pub parent_events: usize,
    pub most_child_events: usize,
    /// The largest input or output of any state, in bytes (parent and children).
    pub largest_payload: usize,
    /// Child executions the Map ran at once, at most.
    pub most_running: usize,
    /// API calls by the key that signed them (`lambda-ecsub-launch`, `states-ecsub`, `container`, …).
    pub calls: BTreeMap<String, usize>,
    /// S3 PUTs by the CLI and the controller, and by the tasks themselves (their outputs).
    pub puts: usize,
    pub container_puts: usize,
    /// Calls refused for want of tokens (EC2's, ECS's and Step Functions' documented throttling) or naming an
    /// instance EC2 does not know yet (eventual consistency), by `service:operation`: AWS's timing, not the job's
    /// work, so reported apart and not counted in `calls`.
    pub throttled: BTreeMap<String, usize>,
    pub delays_ms: Vec<f64>,
    /// Seconds from `push` to each successful RunInstances, in order.
    pub launched_s: Vec<f64>,
    /// Peak resident set of each function's handler processes, kB.
    pub peak_rss_kb: BTreeMap<String, u64>,
    pub seconds: f64,
    /// The status table's lines of the tasks that did not succeed.
    pub failed: Vec<String>,
}

impl Figures {
    /// Calls the controller made: the functions' and Step Functions' own.
    pub fn controller_calls(&self) -> usize {
        self.calls
            .iter()
            .filter(|(k, _)| k.starts_with("lambda-") || k.starts_with("states-"))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn print(&self) {
        let per_task = |n: usize| n as f64 / self.tasks as f64;
        let total: usize = self.calls.values().sum();
        let controller = self.controller_calls();
        println!(
            "job of {} tasks at --processes {}: {:.1} s from push to the end of --wait",
            self.tasks, self.processes, self.seconds
        );
        println!(
            "  state transitions: {} ({:.1} per task; the parent's {}), at most {} tasks at once",
            self.transitions,
            per_task(self.transitions),
            self.parent_transitions,
            self.most_running
        );
        println!(
            "  history events: the parent's {}, the largest task's {}; largest state payload {} bytes",
            self.parent_events, self.most_child_events, self.largest_payload
        );
        println!(
            "  S3 PUTs by the CLI and the controller: {} ; by the tasks themselves (outputs): {}",
            self.puts, self.container_puts
        );
        println!(
            "  AWS API calls: {total} in all; controller (Lambdas + Step Functions' own) {controller} = {:.1} per task",
            per_task(controller)
        );
        for (key, n) in &self.calls {
            println!("    {key:<28} {n}");
        }
        let refused: usize = self.throttled.values().sum();
        let by_call: Vec<String> = self
            .throttled
            .iter()
            .map(|(call, n)| format!("{call} {n}"))
            .collect();
        println!(
            "  refused by throttling or an id not yet known (retried, not counted above): {refused} ({})",
            if by_call.is_empty() {
                "none".to_owned()
            } else {
                by_call.join(", ")
            }
        );
        let median = self
            .delays_ms
            .get(self.delays_ms.len() / 2)
            .copied()
            .unwrap_or(f64::NAN);
        let max = self.delays_ms.last().copied().unwrap_or(f64::NAN);
        println!(
            "  STOPPED event -> TerminateInstances: median {median:.0} ms, max {max:.0} ms over {} tasks",
            self.delays_ms.len()
        );
        let nth = |n: usize| {
            self.launched_s
                .get(n - 1)
                .map_or("-".to_owned(), |t| format!("{t:.1} s"))
        };
        println!(
            "  RunInstances after push: 1st {}, 10th {}, 100th {}, last ({}) {}",
            nth(1),
            nth(10),
            nth(100),
            self.launched_s.len(),
            nth(self.launched_s.len().max(1))
        );
        let rss: Vec<String> = self
            .peak_rss_kb
            .iter()
            .map(|(name, kb)| format!("{name} {:.1} MB", *kb as f64 / 1024.0))
            .collect();
        println!("  peak RSS per function: {}", rss.join(", "));
        for line in &self.failed {
            println!("  NOT SUCCEEDED: {line}");
        }
    }
}

/// Pushes a job with `--wait` and measures it. `--wait` polls every second, every 5 s past 50 tasks (each poll
/// reads what is new, and the emulated cloud answers every call with one Python process).
pub fn run_job(
    sandbox: &Sandbox,
    tasks_file: &str,
    script: &str,
    tasks: usize,
    processes: usize,
    waiter_delay: u32,
) -> Figures {
    let poll = if tasks > 50 { "5" } else { "1" };
    let started = std::time::Instant::now();
    let pushed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let push = sandbox.cli_within(
        &[
            "push",
            "--wait",
            "--poll",
            poll,
            "--waiter-delay",
            &waiter_delay.to_string(),
            "--processes",
            &processes.to_string(),
            "--tasks",
            tasks_file,
            "--script",
            script,
        ],
        std::time::Duration::from_secs(3 * 3600),
    );
    let seconds = started.elapsed().as_secs_f64();
    // A benchmark reports a failed task (and the line the status table gives it) instead of stopping; a job that
    // did not run at all stops it.
    assert!(
        matches!(push.code, 0 | 1),
        "push --wait exited {}:\n{}\n{}",
        push.code,
        push.stdout,
        push.stderr
    );
    let failed: Vec<&str> = push
        .stdout
        .lines()
        .filter(|l| l.contains(" failed ") || l.contains("infrastructure-error"))
        .collect();
    let job = job_id_of(&push);

    let events = execution_history(sandbox, &job);
    let parent_transitions = events
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("StateEntered"))
        })
        .count();
    let parent_payload = events
        .iter()
        .flat_map(|e| e.as_object().into_iter().flat_map(|o| o.values()))
        .flat_map(|details| ["input", "output"].map(|k| details[k].as_str().map_or(0, str::len)))
        .max()
        .unwrap_or(0);
    let run = map_runs(sandbox, &job).pop().unwrap_or(Value::Null);
    let number = |v: &Value| usize::try_from(v.as_u64().unwrap_or(0)).unwrap_or(usize::MAX);

    let calls = sandbox.calls();
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    let (mut puts, mut container_puts) = (0, 0);
    let mut throttled: BTreeMap<String, usize> = BTreeMap::new();
    for call in &calls {
        let key = call["key"].as_str().unwrap_or_default();
        if matches!(key, "harness" | "setup" | "") {
            continue;
        }
        // Refused for want of tokens, or naming an instance EC2 does not know yet (its eventual consistency, a
        // second after the launch): AWS's timing, not the job's work; asked again, and reported apart.
        if matches!(
            call["error"].as_str(),
            Some("RequestLimitExceeded" | "ThrottlingException" | "InvalidInstanceID.NotFound")
        ) {
            let name = format!(
                "{}:{}",
                call["service"].as_str().unwrap_or_default(),
                call["operation"].as_str().unwrap_or_default()
            );
            *throttled.entry(name).or_default() += 1;
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
    let mut launched_s: Vec<f64> = calls
        .iter()
        .filter(|c| {
            c["operation"] == "RunInstances"
                && c["key"] == "lambda-ecsub-launcher"
                && c["status"] == 200
        })
        .filter_map(|c| c["time"].as_f64())
        .map(|t| t - pushed_at)
        .collect();
    launched_s.sort_by(f64::total_cmp);
    let peak_rss_kb = sandbox
        .control_get("/lambda-rss")
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    Figures {
        tasks,
        processes,
        transitions: parent_transitions + number(&run["transitions"]),
        parent_transitions,
        parent_events: events.len(),
        most_child_events: number(&run["most_events"]),
        largest_payload: parent_payload.max(number(&run["largest_payload"])),
        most_running: number(&run["most_running"]),
        calls: by_key,
        puts,
        container_puts,
        throttled,
        delays_ms,
        launched_s,
        peak_rss_kb,
        seconds,
        failed: failed.into_iter().map(str::to_owned).collect(),
    }
}

//! Measures the serverless chain on the emulated cloud: Step Functions state transitions per task (the parent
//! execution's and each task's child execution's), AWS API calls
//! per task and per job (by component, from the access key each one signs with), S3 PUTs per job, and the delay
//! from the ECS STOPPED event to TerminateInstances. Runs the wordcount job (2 tasks) and the same script on 6
//! tasks, so that the per-job and per-task parts can be told apart.
//!
//! Run with `cargo run -p ecsub-e2e --bin chain-metrics` after `tests/run.sh` (it needs the venv and binaries).
//! It is also a check: it exits 1 when a run exceeds the budget the README states (controller calls, state
//! transitions and S3 PUTs as a + b·N), so CI fails when a change makes the chain cost more per job or per task.

use ecsub_e2e::metrics::{run_job, Figures};
use ecsub_e2e::{repo, Sandbox};

/// The README's figures, as budgets: (per job, per task).
/// (40 per job since 2026-12-07: submit asks whether the region has a default VPC when a job names no subnet.
/// 20 per task and 3 PUTs since 2026-12-07: the join is heard from ECS's event, not polled. The wait keeps its
/// token and looks for a join heard before it (a PUT and a GET), the event's handler reads the token and answers
/// (a GET and SendTaskSuccess), and the event ECS sends when the task stops and frees the instance's resources
/// costs the same read and a refused answer: 6 calls where one poll cost 2. Here instances join within a poll's
/// 5 s; on EC2, where a boot takes a minute or more, the polls cost 3 calls each (the invocation and two ECS
/// reads) every --waiter-delay, 12 to 24 a task at the default 15 s.)
/// 22 and 4 since EC2 does not know a just-launched instance for a moment here too: the launcher's CreateTags is
/// refused and asked again (refusals are reported apart, not counted), its answer comes after the instance has
/// joined, and the join's event handler then writes the join for the wait and reads the token again (a PUT and a
/// GET more): 22 calls and 4 PUTs a task, measured twice alike. A join costs at most one call more (both sides
/// answering at once, the second refused), so the budget is 23. Per job 46: asks that reach the launcher in
/// separate batches pay the per-batch calls (RunInstances, the execution check) again (a fit of 46 + 19·N seen).
const CONTROLLER_CALLS: (usize, usize) = (46, 23);
const TRANSITIONS: (usize, usize) = (2, 7);
const S3_PUTS: (usize, usize) = (10, 4);

/// The wordcount job's rows, repeated to `tasks` rows (each with its own output), pushed at `--processes tasks`
/// and `--waiter-delay 5`.
fn measure(tasks: usize) -> Figures {
    let sandbox = Sandbox::start();
    sandbox.deliver_exactly_once();
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
    run_job(
        &sandbox,
        file.to_str().expect("UTF-8"),
        "examples/wordcount/wordcount.sh",
        tasks,
        tasks,
        // A join event waited for 40 s before a check: an emulated instance boots in 1-3 s (its user data fetches
        // the stager, about 30 MB of debug build, through the emulated S3), so every join is heard and the figures
        // count the chain's own calls. A lost event would add a check (an invocation and two ECS reads).
        5,
    )
}

fn main() {
    let runs = [measure(2), measure(6)];
    for f in &runs {
        f.print();
    }
    let [a, b] = &runs;
    let per_task = |x: &Figures, y: &Figures, f: &dyn Fn(&Figures) -> f64| {
        (f(y) - f(x)) / (y.tasks - x.tasks) as f64
    };
    let controller = |f: &Figures| f.controller_calls() as f64;
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
        over.extend(
            f.failed
                .iter()
                .map(|line| format!("{} tasks: a task did not succeed: {line}", f.tasks)),
        );
        for (what, got, (job, task)) in [
            ("controller calls", f.controller_calls(), CONTROLLER_CALLS),
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

//! Benchmark: the per-task setup cost of a job's generated scripts, for the first and the last task of jobs of
//! 10, 10 000 and 100 000 tasks (local review 2026-11, finding 6: every task used to parse every task's
//! environment). Each figure is the wall time of `sh run.sh` for one task whose script is `true`: the shell's
//! start, finding the task's record in `setenv.sh`'s index, reading and sourcing its own bytes, and the (empty)
//! copies. Best of 7 runs. The two figures of a job should be equal, and the same for every N.
//!
//! The budget, which CI enforces (test audit 2026-12: without one an O(N) setup passed): at 100 000 tasks, the
//! last task's setup and the first's each take at most [`BUDGET_RATIO`] times the faster of a 10-task job's two.
//! Ratios of one machine's figures, so the budget does not depend on its speed; an O(N) setup (parsing the 100 000
//! records' 24.6 MB, as before 2026-12-02) costs tens of times more and fails it.
//!
//! Run with `cargo bench -p ecsub-core --bench task_setup`.

use ecsub_core::script::{run_script, setenv_script};
use ecsub_core::{tasks, JobArgs, JobId};
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

/// How much slower a task's setup may be in a 100 000-task job than in a 10-task one.
const BUDGET_RATIO: f64 = 2.0;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    println!("per-task setup (sh run.sh, best of {RUNS}):");
    println!(
        "{:>8}  {:>12}  {:>12}  {:>12}",
        "tasks", "setenv.sh", "first task", "last task"
    );
    let mut figures = Vec::new();
    for n in [10usize, 10_000, 100_000] {
        let mut tsv = String::from("--env A\t--env B\t--input IN\t--output OUT\n");
        for i in 0..n {
            tsv.push_str(&format!("v{i}\tsome value {i}\t\ts3://bkt/rows/{i}.txt\n"));
        }
        let file = tasks::parse("rows.tsv", tsv.as_bytes()).expect("the bench file is valid");
        let spec = JobArgs::default()
            .resolve(JobId::new("bench", "abcde").expect("valid job id"))
            .expect("valid options");
        let scripts = dir.path().join(format!("n{n}/scripts"));
        fs::create_dir_all(&scripts).expect("scripts folder");
        fs::write(scripts.join("run.sh"), run_script(&spec, &file.columns)).expect("run.sh");
        let setenv = setenv_script(&file.file, &file.columns, &file.tasks);
        fs::write(scripts.join("setenv.sh"), &setenv).expect("setenv.sh");
        fs::write(scripts.join("script"), "true\n").expect("script");
        let time = |index: usize| {
            (0..RUNS)
                .map(|_| {
                    let scratch = dir.path().join(format!("n{n}/scratch-{index}"));
                    let start = Instant::now();
                    let out = Command::new("sh")
                        .arg(scripts.join("run.sh"))
                        .env("ECSUB_TASK_INDEX", index.to_string())
                        .env("ECSUB_SCRATCH", &scratch)
                        .env("ECSUB_TRANSPORT", "local")
                        .env("ECSUB_LOCAL_S3_ROOT", dir.path().join("s3"))
                        .output()
                        .expect("sh runs");
                    let took = start.elapsed();
                    assert!(
                        out.status.success(),
                        "task {index} of {n}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    took
                })
                .min()
                .unwrap_or(Duration::ZERO)
        };
        let (first, last) = (time(0), time(n - 1));
        println!(
            "{n:>8}  {:>9.1} MB  {:>9.2} ms  {:>9.2} ms",
            setenv.len() as f64 / 1e6,
            first.as_secs_f64() * 1e3,
            last.as_secs_f64() * 1e3
        );
        figures.push((first, last));
    }
    let base = figures[0].0.min(figures[0].1).as_secs_f64();
    let (first, last) = figures[figures.len() - 1];
    let ratios = [first.as_secs_f64() / base, last.as_secs_f64() / base];
    println!(
        "at 100 000 tasks: first ×{:.2}, last ×{:.2} a task of a 10-task job (budget ×{BUDGET_RATIO})",
        ratios[0], ratios[1]
    );
    if ratios.iter().any(|r| *r > BUDGET_RATIO) {
        eprintln!("task setup: over budget: it grows with the number of tasks");
        std::process::exit(1);
    }
    println!("task setup: within budget");
}

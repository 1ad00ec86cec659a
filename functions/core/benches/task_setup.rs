//! Benchmark: the per-task setup cost of a job's generated scripts, for the first and the last task of jobs of
//! 10, 10 000 and 100 000 tasks (local review 2026-11, finding 6: every task used to parse every task's
//! environment). Each figure is the wall time of `sh run.sh` for one task whose script is `true`: the shell's
//! start, finding the task's record in `setenv.sh`'s index, reading and sourcing its own bytes, and the (empty)
//! copies. Best of 7 runs. The two figures of a job should be equal, and the same for every N.
//!
//! Run with `cargo bench -p ecsub-core --bench task_setup`.

use ecsub_core::script::{run_script, setenv_script};
use ecsub_core::{tasks, JobArgs, JobId};
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    println!("per-task setup (sh run.sh, best of {RUNS}):");
    println!(
        "{:>8}  {:>12}  {:>12}  {:>12}",
        "tasks", "setenv.sh", "first task", "last task"
    );
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
    }
}

//! Benchmark: parse a 10 000-row tasks file and generate its scripts (run.sh and setenv.sh), as the submit
//! function and `run --local` do for a large job. Prints min / median / max over repeated runs.
//!
//! Run with `cargo bench -p ecsub-core --bench parse_generate`.

use ecsub_core::script::{run_script, setenv_script};
use ecsub_core::{tasks, JobArgs, JobId};
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROWS: usize = 10_000;
const RUNS: usize = 30;

fn tasks_file() -> String {
    let mut tsv = String::from(
        "#ecsub: --image python:3.12-slim --spot --aws-ec2-instance-type t3.micro,t3.small\n\
         --env SAMPLE\t--label batch\t--input BAM\t--input BAI\t--input-recursive REF\t--secret-env TOKEN\t\
         --output VCF\t--output-recursive QC\n",
    );
    for i in 0..ROWS {
        tsv.push_str(&format!(
            "sample-{i:05}\tnight-7\ts3://genome-input/cohort/s{i:05}/reads.bam\ts3://genome-input/cohort/s{i:05}/reads.bam.bai\t\
             s3://genome-ref/GRCh38/\tAQICAHhZmFrZWNpcGhlcnRleHQ{i}=\ts3://genome-output/cohort/s{i:05}/calls.vcf.gz\t\
             s3://genome-output/cohort/s{i:05}/qc\n"
        ));
    }
    tsv
}

fn main() {
    let tsv = tasks_file();
    let job = JobId::new("bench", "abcde").expect("valid job id");
    let mut times = Vec::with_capacity(RUNS);
    let mut script_bytes = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let file =
            tasks::parse("bench.tsv", black_box(tsv.as_bytes())).expect("the bench file is valid");
        let spec = JobArgs::from_directives(&file)
            .expect("valid directives")
            .resolve(job.clone())
            .expect("valid options");
        let run_sh = run_script(&spec, &file.columns);
        let setenv = setenv_script(&file.file, &file.columns, &file.tasks);
        script_bytes = run_sh.len() + setenv.len();
        black_box((run_sh, setenv));
        times.push(start.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "parse + generate, {ROWS} rows ({} KiB in, {} KiB of scripts out), {RUNS} runs: \
         min {:.1} ms, median {:.1} ms, max {:.1} ms",
        tsv.len() / 1024,
        script_bytes / 1024,
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );
}

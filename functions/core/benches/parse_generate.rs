//! Benchmark and budget: parse a 10 000-row tasks file and generate its scripts (run.sh and setenv.sh), as the
//! submit function and `run --local` do for a large job.
//!
//! The time (min / median / max over repeated runs) is printed for docs/measurements.md; it is not checked, since a
//! shared machine's timings vary. What is checked, and fails CI when exceeded, are figures that do not depend on
//! the machine: the bytes of scripts generated per row, the peak heap and the number of allocations per row, and
//! that doubling the rows at most doubles them (a quadratic step would show here first). The budgets below are
//! the README's figures; raise one only with a reason, and update the README with it.
//!
//! Run with `cargo bench -p ecsub-core --bench parse_generate`.

mod support;

use ecsub_core::script::{run_script, setenv_script};
use ecsub_core::{tasks, JobArgs, JobId};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::{genomics_tasks, heap_of};

const ROWS: usize = 10_000;
const RUNS: usize = 30;

/// Generated scripts (run.sh + setenv.sh), bytes per row of the bench file.
const SCRIPT_BYTES_PER_ROW: usize = 850;
/// Peak heap while parsing and generating, bytes per row (the input itself is not counted).
const PEAK_HEAP_PER_ROW: usize = 2_500;
/// Heap allocations while parsing and generating, per row.
const ALLOCATIONS_PER_ROW: usize = 30;
/// How much each figure may grow when the rows double: linear is 2.0; a little over allows for fixed costs and
/// the doubling of growing buffers.
const DOUBLING_LIMIT: f64 = 2.3;

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

/// One parse + generate; returns the bytes of scripts generated.
fn parse_and_generate(tsv: &str) -> usize {
    let job = JobId::new("bench", "abcde").expect("valid job id");
    let file =
        tasks::parse("bench.tsv", black_box(tsv.as_bytes())).expect("the bench file is valid");
    let spec = JobArgs::from_directives(&file)
        .expect("valid directives")
        .resolve(job)
        .expect("valid options");
    let run_sh = run_script(&spec, &file.columns);
    let setenv = setenv_script(&file.file, &file.columns, &file.tasks);
    let bytes = run_sh.len() + setenv.len();
    black_box((run_sh, setenv));
    bytes
}

/// The machine-independent figures of one parse + generate of `rows` rows.
#[derive(Clone, Copy)]
struct Figures {
    script_bytes: usize,
    peak_heap: usize,
    allocations: usize,
}

fn figures(rows: usize) -> Figures {
    let tsv = genomics_tasks(rows);
    let (script_bytes, heap) = heap_of(|| parse_and_generate(&tsv));
    Figures {
        script_bytes,
        peak_heap: heap.peak,
        allocations: heap.allocations,
    }
}

fn main() -> ExitCode {
    let tsv = genomics_tasks(ROWS);
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        parse_and_generate(&tsv);
        times.push(start.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "parse + generate, {ROWS} rows ({} KiB in), {RUNS} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms \
         (not checked)",
        tsv.len() / 1024,
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );

    let one = figures(ROWS);
    let two = figures(2 * ROWS);
    let mut over = Vec::new();
    let mut check = |what: &str, value: usize, doubled: usize, per_row_budget: usize| {
        let per_row = value as f64 / ROWS as f64;
        let growth = doubled as f64 / value as f64;
        println!(
            "{what}: {value} for {ROWS} rows ({per_row:.0} per row, budget {per_row_budget}), \
             ×{growth:.2} for twice the rows (budget ×{DOUBLING_LIMIT})"
        );
        if value > per_row_budget * ROWS {
            over.push(format!(
                "{what}: {per_row:.0} per row, budget {per_row_budget}"
            ));
        }
        if growth > DOUBLING_LIMIT {
            over.push(format!(
                "{what}: ×{growth:.2} for twice the rows, budget ×{DOUBLING_LIMIT}"
            ));
        }
    };
    check(
        "script bytes",
        one.script_bytes,
        two.script_bytes,
        SCRIPT_BYTES_PER_ROW,
    );
    check(
        "peak heap bytes",
        one.peak_heap,
        two.peak_heap,
        PEAK_HEAP_PER_ROW,
    );
    check(
        "allocations",
        one.allocations,
        two.allocations,
        ALLOCATIONS_PER_ROW,
    );
    if over.is_empty() {
        println!("parse + generate: within budget");
        ExitCode::SUCCESS
    } else {
        for line in &over {
            eprintln!("parse_generate: over budget: {line}");
        }
        ExitCode::FAILURE
    }
}

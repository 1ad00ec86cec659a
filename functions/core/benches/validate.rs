//! Benchmark and budget: `ecsub-cli validate`'s work (plan the job, check the stack's limits, render every error
//! and warning) on the hostile files of the 2026-12 probe and on a job of 100 000 rows.
//!
//! The files (probe-2026-12.md, findings 3 and 8):
//! - `k20r3000`: 20 000 empty `--input` columns over 3 000 rows of one cell (295 KB). Before the fix, every
//!   missing cell was materialised: 1.1 GB for 1 000 rows, and an abort at a 2 GB limit for 3 000;
//! - `quad`: 50 000 `--input` columns over 20 rows of one 120 KB value (3 MB). Before the fix, each missing cell
//!   recounted its line: 7.9 s;
//! - `wide`: 6 000 `--input` columns with 200-byte names, one row of one cell (1.3 MB);
//! - `rows`: 100 000 rows of a genomics job's 8 columns (the largest job a stack takes).
//!
//! Checked, and failing CI when exceeded, are figures that do not depend on the machine: the peak heap per byte of
//! the file, the allocations per byte, and how each grows (heap and allocations) when the file doubles along the
//! dimension that used to be quadratic. The times, and how the fastest grows (the half and the whole file timed in
//! turns), are printed for docs/measurements.md and not checked: see [`RUNS`].
//!
//! Run with `cargo bench -p ecsub-core --bench validate`.

mod support;

use ecsub_core::plan::{plan, Identity, Options, Request};
use ecsub_core::JobArgs;
use std::fmt::Write as _;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::{genomics_tasks, heap_of};

/// How much the heap and the allocations may grow when the file doubles: linear is 2.0; a little over allows
/// for fixed costs and the doubling of growing buffers.
const DOUBLING_LIMIT: f64 = 2.3;
/// Runs timed of each file. The growth of the fastest time is printed, not checked: on this project's machine (a
/// VM whose CPU is shared) it swung from ×0.48 to ×3.06 for the same linear work within minutes (2026-12-07),
/// while the heap and the allocations, which a quadratic step also grows, are exact and checked.
const RUNS: usize = 7;

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

/// A file of the probe's kind (`make(2)`, the probe's own or the largest job), the same file halved along
/// `doubles` (`make(1)`), and the budgets of the full file, per byte of it (the file itself is not counted). Each
/// budget is about a third over what was measured when it was set (docs/measurements.md); raise one only with a
/// reason.
struct Case {
    name: &'static str,
    doubles: &'static str,
    make: fn(usize) -> String,
    /// Whether validate takes the file (the bench fails if that changes unnoticed).
    accepted: bool,
    peak_heap_per_byte: f64,
    allocations_per_byte: f64,
}

fn empty_inputs(columns: usize, rows: usize, cell: &str) -> String {
    let mut tsv = String::from("--env A");
    for k in 0..columns {
        write!(tsv, "\t--input I{k}").expect("writing to a String");
    }
    tsv.push('\n');
    for _ in 0..rows {
        tsv.push_str(cell);
        tsv.push('\n');
    }
    tsv
}

fn long_names(columns: usize) -> String {
    let mut tsv = String::from("--env A");
    let long = "x".repeat(200);
    for k in 0..columns {
        write!(tsv, "\t--input I{k}_{long}").expect("writing to a String");
    }
    tsv.push_str("\na\n");
    tsv
}

const CASES: [Case; 4] = [
    Case {
        name: "k20r3000",
        doubles: "rows",
        make: |scale| empty_inputs(20_000, 1_500 * scale, "a"),
        accepted: true,
        peak_heap_per_byte: 32.0,
        allocations_per_byte: 1.25,
    },
    Case {
        name: "quad",
        doubles: "columns",
        make: |scale| empty_inputs(25_000 * scale, 20, &"v".repeat(120_000)),
        accepted: true,
        peak_heap_per_byte: 6.5,
        allocations_per_byte: 0.25,
    },
    Case {
        name: "wide",
        doubles: "columns",
        make: |scale| long_names(3_000 * scale),
        accepted: false,
        peak_heap_per_byte: 8.0,
        allocations_per_byte: 0.15,
    },
    Case {
        name: "rows",
        doubles: "rows",
        make: |scale| genomics_tasks(50_000 * scale),
        accepted: true,
        peak_heap_per_byte: 6.0,
        allocations_per_byte: 0.15,
    },
];

/// What validate does with a file: the plan, the stack's limits, and every finding rendered as it is printed.
/// Returns whether the file was taken, the findings' count and the rendered bytes.
fn validate(tsv: &str) -> (bool, usize, usize) {
    let typed = JobArgs::default();
    let planned = plan(&Request {
        file: "bench.tsv",
        bytes: black_box(tsv.as_bytes()),
        options: Options::Typed(&typed),
        identity: Identity::Draw("check"),
    });
    let mut printed = String::new();
    let (accepted, findings) = match planned {
        Ok(plan) => {
            for warning in &plan.tasks.warnings {
                writeln!(printed, "{warning}").expect("writing to a String");
            }
            let over = plan.stack_limits(tsv.as_bytes(), Some(&typed));
            for finding in &over {
                writeln!(printed, "{finding}").expect("writing to a String");
            }
            (over.is_empty(), plan.tasks.warnings.len() + over.len())
        }
        Err(refused) => {
            for finding in &refused.errors {
                writeln!(printed, "{finding}").expect("writing to a String");
            }
            (false, refused.errors.len())
        }
    };
    black_box(&printed);
    (accepted, findings, printed.len())
}

struct Measured {
    bytes: usize,
    accepted: bool,
    findings: usize,
    printed: usize,
    peak: usize,
    allocations: usize,
    fastest: Duration,
    median: Duration,
}

fn measure(tsv: &str) -> Measured {
    let ((accepted, findings, printed), heap) = heap_of(|| validate(tsv));
    Measured {
        bytes: tsv.len(),
        accepted,
        findings,
        printed,
        peak: heap.peak,
        allocations: heap.allocations,
        fastest: Duration::ZERO,
        median: Duration::ZERO,
    }
}

/// Times the half file and the whole one in turns (half, whole, half, whole, …), so that whatever else the
/// machine does at one moment slows both alike: timed one after the other, a burst of other work during the
/// second's runs alone made a linear validate look ×3.2 (CI, 2026-12-07, while heap and allocations grew ×2.00).
fn time_in_turns(half: &str, full: &str) -> [(Duration, Duration); 2] {
    let mut times = [Vec::with_capacity(RUNS), Vec::with_capacity(RUNS)];
    for _ in 0..RUNS {
        for (at, tsv) in [half, full].into_iter().enumerate() {
            let start = Instant::now();
            validate(tsv);
            times[at].push(start.elapsed());
        }
    }
    times.map(|mut t| {
        t.sort();
        (t[0], t[RUNS / 2])
    })
}

fn main() -> ExitCode {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut over = Vec::new();
    for case in &CASES {
        let (half_tsv, full_tsv) = ((case.make)(1), (case.make)(2));
        let mut half = measure(&half_tsv);
        let mut full = measure(&full_tsv);
        let [(half_fastest, half_median), (full_fastest, full_median)] =
            time_in_turns(&half_tsv, &full_tsv);
        (half.fastest, half.median) = (half_fastest, half_median);
        (full.fastest, full.median) = (full_fastest, full_median);
        println!(
            "{}: {} KiB, {}, {} findings ({} bytes printed); {RUNS} runs: fastest {:.1} ms, median {:.1} ms \
             (not checked)",
            case.name,
            full.bytes / 1024,
            if full.accepted { "taken" } else { "refused" },
            full.findings,
            full.printed,
            ms(full.fastest),
            ms(full.median),
        );
        if half.accepted != case.accepted || full.accepted != case.accepted {
            over.push(format!(
                "{}: validate {} the file, where it {} it before",
                case.name,
                if full.accepted { "takes" } else { "refuses" },
                if case.accepted { "took" } else { "refused" },
            ));
        }
        let per_byte = |value: usize| value as f64 / full.bytes as f64;
        for (what, half_value, full_value, budget) in [
            (
                "peak heap bytes",
                half.peak,
                full.peak,
                case.peak_heap_per_byte,
            ),
            (
                "allocations",
                half.allocations,
                full.allocations,
                case.allocations_per_byte,
            ),
        ] {
            let per = per_byte(full_value);
            let grew = full_value as f64 / half_value.max(1) as f64;
            println!(
                "  {what}: {full_value} ({per:.2} per byte of the file, budget {budget}), ×{grew:.2} for twice \
                 the {} (budget ×{DOUBLING_LIMIT})",
                case.doubles
            );
            if per > budget {
                over.push(format!(
                    "{}: {what}: {per:.2} per byte of the file, budget {budget}",
                    case.name
                ));
            }
            if grew > DOUBLING_LIMIT {
                over.push(format!(
                    "{}: {what}: ×{grew:.2} for twice the {}, budget ×{DOUBLING_LIMIT}",
                    case.name, case.doubles
                ));
            }
        }
        let grew = full.fastest.as_secs_f64() / half.fastest.as_secs_f64().max(f64::MIN_POSITIVE);
        println!(
            "  fastest time: ×{grew:.2} for twice the {} (not checked: see RUNS)",
            case.doubles
        );
    }
    if over.is_empty() {
        println!("validate: within budget");
        ExitCode::SUCCESS
    } else {
        for line in &over {
            eprintln!("validate: over budget: {line}");
        }
        ExitCode::FAILURE
    }
}

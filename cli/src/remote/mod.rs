//! The job as the stack sees it: `status` and `push --wait` read it from the bucket (job.json, error.txt,
//! started.json, attempts/, summary.json), the execution, and the instances tagged with the job — never from a
//! local folder, so any machine can follow any job (the attempt records read are kept in a local cache, since they
//! never change: `cache`).

mod cache;
mod cancel;
mod collect;
mod logs;
mod ls;
mod report;
mod view;
mod watch;

pub use cancel::cancel;
pub use logs::logs;
pub use ls::ls;
pub use report::report;
pub use watch::watch;

use crate::args::{Output, StatusArgs};
use crate::report::human;
use crate::{InputError, EXIT_INPUT, EXIT_RUNTIME, EXIT_TASK_FAILED};
use anyhow::Context as _;
use collect::{collect, Seen};
use ecsub_aws::Ctx;
use ecsub_core::{JobId, JobLayout};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use view::print;

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Clients from the standard AWS chain (credentials, region, `AWS_ENDPOINT_URL`).
pub async fn connect() -> anyhow::Result<Ctx> {
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    if shared.region().is_none() {
        return Err(InputError(vec![
            "ecsub-cli: no AWS region: set AWS_REGION (or a profile with a region)".into(),
        ])
        .into());
    }
    Ok(Ctx::new(ecsub_aws::ctx::StackConfig::default(), &shared))
}

/// The layout of the job a command names, from its id and the bucket flag (or `ECSUB_BUCKET`).
fn job_layout(command: &str, job: &str, bucket: Option<&str>) -> Result<JobLayout, InputError> {
    let Some(bucket) = bucket else {
        return Err(InputError(vec![format!(
            "ecsub-cli {command}: no bucket: pass --aws-s3-bucket s3://BUCKET or set ECSUB_BUCKET"
        )]));
    };
    let job_id = JobId::try_from(job.to_owned())
        .map_err(|e| InputError(vec![format!("ecsub-cli {command}: {e}")]))?;
    JobLayout::new(bucket, job_id).map_err(|e| InputError(vec![format!("--aws-s3-bucket: {e}")]))
}

pub fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("status", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let ctx = connect().await?;
        let status = collect(&ctx, &layout, &mut Seen::default()).await?;
        print(&status, args.output)?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Follows a job until it ends: a progress line on stderr, the status table on stdout at the end.
/// `pickup` is how long the job may stay `submitted` (the submit function has neither started nor refused it).
pub async fn wait(
    ctx: &Ctx,
    layout: &JobLayout,
    poll: f64,
    pickup: Duration,
) -> anyhow::Result<ExitCode> {
    let since = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut last_line = String::new();
    let delay = Duration::from_secs_f64(poll.clamp(0.2, 300.0));
    let mut seen = Seen::default();
    loop {
        let status = collect(ctx, layout, &mut seen).await?;
        let total = status.tasks.len();
        let line = format!(
            "{} {}/{} tasks done, {} failed, {}",
            bar(status.done(), total),
            status.done(),
            total,
            status.failed(),
            status.state
        );
        if tty {
            eprint!("\r\x1b[K{line} [{}]", human(since.elapsed()));
            let _ = std::io::stderr().flush();
        } else if line != last_line {
            eprintln!("ecsub-cli: {line} [{}]", human(since.elapsed()));
        }
        last_line = line;
        if status.state == "submitted" && since.elapsed() > pickup {
            if tty {
                eprintln!();
            }
            return Err(anyhow::anyhow!(
                "job {} was uploaded but the stack's submit function has not started it after {}: check that \
                 the bucket is the stack's and see the submit function's logs (the job itself stays in {})",
                status.job_id,
                human(pickup),
                layout.url(&layout.job_folder())
            ));
        }
        if status.finished() {
            if tty {
                eprintln!();
            }
            print(&status, Output::Text)?;
            return Ok(exit_code(&status));
        }
        tokio::time::sleep(delay).await;
    }
}

/// The exit code of a command that followed a job to its end.
fn exit_code(status: &collect::JobStatus) -> ExitCode {
    match status.state.as_str() {
        "succeeded" => ExitCode::SUCCESS,
        "failed" => ExitCode::from(EXIT_TASK_FAILED),
        "rejected" => ExitCode::from(EXIT_INPUT),
        _ => ExitCode::from(EXIT_RUNTIME),
    }
}

fn bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 20;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(0).min(WIDTH);
    format!("[{}{}]", "#".repeat(filled), "-".repeat(WIDTH - filled))
}

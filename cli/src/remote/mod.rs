//! The job as the stack sees it: `status` and `push --wait` read it from the bucket (job.json, error.txt,
//! started.json, attempts/, summary.json), the execution, and the instances tagged with the job — never from a
//! local folder, so any machine can follow any job (the attempt records read are kept in a local cache, since they
//! never change: `cache`).

mod cache;
mod collect;
mod report;
mod view;

pub use report::report;

use crate::args::{CancelArgs, LogsArgs, Output, StatusArgs};
use crate::report::human;
use crate::{InputError, EXIT_INPUT, EXIT_RUNTIME, EXIT_TASK_FAILED};
use anyhow::Context as _;
use collect::{collect, get_json, Seen};
use ecsub_aws::store;
use ecsub_aws::Ctx;
use ecsub_core::chain::{AttemptRecord, JobSubmission, StartedRecord};
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
            return Ok(match status.state.as_str() {
                "succeeded" => ExitCode::SUCCESS,
                "failed" => ExitCode::from(EXIT_TASK_FAILED),
                "rejected" => ExitCode::from(EXIT_INPUT),
                _ => ExitCode::from(EXIT_RUNTIME),
            });
        }
        tokio::time::sleep(delay).await;
    }
}

fn bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 20;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(0).min(WIDTH);
    format!("[{}{}]", "#".repeat(filled), "-".repeat(WIDTH - filled))
}

/// Stops the job's execution; the janitor (on the execution's end event) terminates its instances, removes its
/// cluster and writes its summary.
pub fn cancel(args: &CancelArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("cancel", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let ctx = connect().await?;
        let status = collect(&ctx, &layout, &mut Seen::default()).await?;
        if status.finished() {
            eprintln!("ecsub-cli: job {} has ended already ({})", status.job_id, status.state);
            return Ok(ExitCode::SUCCESS);
        }
        let Some(arn) = status.execution_arn else {
            return Err(anyhow::anyhow!(
                "job {} has not started yet (the submit function has not run): try again in a moment",
                status.job_id
            ));
        };
        ctx.sfn
            .stop_execution()
            .execution_arn(&arn)
            .error("Ecsub.Cancelled")
            .cause("cancelled with ecsub-cli cancel")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("StopExecution {arn}: {}", ecsub_aws::error::describe(&e)))?;
        println!("{}", status.job_id);
        eprintln!(
            "ecsub-cli: job {} cancelled; its instances are being terminated (ecsub-cli status {} shows the end)",
            status.job_id, status.job_id
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints the container logs of a job's attempts: recorded ones, then those still running.
pub fn logs(args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("logs", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let ctx = connect().await?;
        let Some(submission) = get_json::<JobSubmission>(&ctx, &layout, &layout.spec_key()).await?
        else {
            return Err(InputError(vec![format!(
                "ecsub-cli: no job {} in {}",
                layout.job_id,
                layout.url(&layout.job_folder())
            )])
            .into());
        };
        let spec = submission
            .args
            .resolve(layout.job_id.clone())
            .map_err(|e| anyhow::anyhow!("job.json of {}: {}", layout.job_id, e.join("; ")))?;
        // (task, attempt, what became of it, ECS task ARN)
        let mut attempts: Vec<(usize, u32, String, String)> = Vec::new();
        for key in store::list(&ctx.s3, &layout.bucket, &layout.attempts_folder()).await? {
            if let Some(record) = get_json::<AttemptRecord>(&ctx, &layout, &key).await? {
                if let Some(arn) = record.task_arn {
                    attempts.push((
                        record.index,
                        record.attempt,
                        record.outcome.as_str().to_owned(),
                        arn,
                    ));
                }
            }
        }
        let started = get_json::<StartedRecord>(&ctx, &layout, &layout.started_key()).await?;
        let cluster = started
            .as_ref()
            .map(|s| s.cluster.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| layout.job_id.to_string());
        let running = ecsub_aws::ecs_tasks::tasks(
            &ctx,
            &cluster,
            ecsub_aws::ecs_tasks::DesiredStatus::Running,
        )
        .await?;
        for task in running {
            let env = |name: &str| {
                task.overrides()
                    .into_iter()
                    .flat_map(|o| o.container_overrides())
                    .flat_map(|o| o.environment())
                    .find(|kv| kv.name() == Some(name))
                    .and_then(|kv| kv.value())
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let (Some(index), Some(attempt), Some(arn)) = (
                env("ECSUB_TASK_INDEX"),
                env("ECSUB_ATTEMPT"),
                task.task_arn(),
            ) else {
                continue;
            };
            if !attempts.iter().any(|a| a.3 == arn) {
                let index = usize::try_from(index).unwrap_or(usize::MAX);
                let attempt = u32::try_from(attempt).unwrap_or(u32::MAX);
                attempts.push((index, attempt, "running".to_owned(), arn.to_owned()));
            }
        }
        attempts.retain(|a| args.task.is_none_or(|t| t == a.0));
        attempts.sort();
        if attempts.is_empty() {
            eprintln!("ecsub-cli: no task of job {} has run yet", layout.job_id);
        }
        for (index, attempt, state, arn) in attempts {
            let stream = ecsub_core::chain::log_stream(&arn);
            println!(
                "==> task {index:03}, attempt {attempt} ({state}): {} {stream} <==",
                spec.log_group_name
            );
            let mut token: Option<String> = None;
            loop {
                let page = ctx
                    .logs
                    .get_log_events()
                    .log_group_name(&spec.log_group_name)
                    .log_stream_name(&stream)
                    .start_from_head(true)
                    .set_next_token(token.clone())
                    .send()
                    .await;
                let page = match page {
                    Ok(page) => page,
                    Err(e) if ecsub_aws::error::code(&e) == Some("ResourceNotFoundException") => {
                        println!("(no log yet)");
                        break;
                    }
                    Err(e) => {
                        return Err(anyhow::anyhow!(
                            "GetLogEvents {stream}: {}",
                            ecsub_aws::error::describe(&e)
                        ))
                    }
                };
                for event in page.events() {
                    println!("{}", event.message().unwrap_or_default());
                }
                let next = page.next_forward_token().map(str::to_owned);
                if page.events().is_empty() || next == token {
                    break;
                }
                token = next;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

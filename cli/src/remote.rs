//! The job as the stack sees it: `status` and `push --wait` read it from the bucket (job.json, error.txt,
//! started.json, attempts/, summary.json), the execution, and the instances tagged with the job — never from a
//! local folder, so any machine can follow any job.

use crate::args::{CancelArgs, LogsArgs, Output, StatusArgs};
use crate::report::human;
use crate::{InputError, EXIT_INPUT, EXIT_RUNTIME, EXIT_TASK_FAILED};
use anyhow::Context as _;
use ecsub_aws::store;
use ecsub_aws::Ctx;
use ecsub_core::chain::{AttemptRecord, JobSubmission, StartedRecord, Summary, TAG_TASK};
use ecsub_core::{tasks, JobId, JobLayout};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

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

#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    pub index: usize,
    pub state: String,
    pub attempts: u32,
    pub instance_type: Option<String>,
    pub spot: bool,
    pub exit_code: Option<i32>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub job_id: String,
    /// submitted, rejected, running, succeeded, failed, or `execution <STATUS>` when it ended without a summary.
    pub state: String,
    pub errors: Vec<String>,
    pub execution_arn: Option<String>,
    pub tasks: Vec<TaskStatus>,
}

impl JobStatus {
    fn done(&self) -> usize {
        self.tasks.iter().filter(|t| is_final(&t.state)).count()
    }

    fn failed(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| is_final(&t.state) && t.state != "succeeded")
            .count()
    }

    fn finished(&self) -> bool {
        matches!(self.state.as_str(), "rejected" | "succeeded" | "failed")
            || self.state.starts_with("execution ")
    }
}

fn is_final(state: &str) -> bool {
    matches!(
        state,
        "succeeded" | "failed" | "outputs-missing" | "interrupted" | "infrastructure-error"
    )
}

async fn get_json<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    layout: &JobLayout,
    key: &str,
) -> anyhow::Result<Option<T>> {
    match store::get(&ctx.s3, &layout.bucket, key).await? {
        None => Ok(None),
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not what ecsub wrote", layout.url(key))
        })?)),
    }
}

/// What polling a job has read already and will not change: the job's spec, its task indices, the attempt
/// records (each written once). `--wait` keeps one across polls, so a poll reads only what is new.
#[derive(Debug, Default)]
pub struct Seen {
    submission: Option<JobSubmission>,
    indices: Option<Vec<usize>>,
    records: std::collections::BTreeMap<String, AttemptRecord>,
}

pub async fn collect(ctx: &Ctx, layout: &JobLayout, seen: &mut Seen) -> anyhow::Result<JobStatus> {
    let job_id = layout.job_id.to_string();
    if seen.submission.is_none() {
        seen.submission = get_json::<JobSubmission>(ctx, layout, &layout.spec_key()).await?;
    }
    let Some(submission) = seen.submission.clone() else {
        return Err(InputError(vec![format!(
            "ecsub-cli: no job {job_id} in {}",
            layout.url(&layout.job_folder())
        )])
        .into());
    };
    if let Some(errors) = store::get(&ctx.s3, &layout.bucket, &layout.error_key()).await? {
        return Ok(JobStatus {
            job_id,
            state: "rejected".into(),
            errors: String::from_utf8_lossy(&errors)
                .lines()
                .map(str::to_owned)
                .collect(),
            execution_arn: None,
            tasks: Vec::new(),
        });
    }
    let started = get_json::<StartedRecord>(ctx, layout, &layout.started_key()).await?;
    let execution_arn = started.as_ref().map(|s| s.execution_arn.clone());
    // The execution is asked before the summary is read: the summary is written before the execution ends, so
    // an ended execution without a summary really ended without one.
    let mut execution_status = None;
    if let Some(arn) = &execution_arn {
        if let Ok(out) = ctx.sfn.describe_execution().execution_arn(arn).send().await {
            execution_status = Some(out.status().as_str().to_owned());
        }
    }
    if let Some(summary) = get_json::<Summary>(ctx, layout, &layout.summary_key()).await? {
        return Ok(JobStatus {
            job_id,
            state: if summary.failed == 0 {
                "succeeded"
            } else {
                "failed"
            }
            .into(),
            errors: Vec::new(),
            execution_arn,
            tasks: summary
                .tasks
                .into_iter()
                .map(|t| TaskStatus {
                    index: t.index,
                    state: t.outcome.as_str().into(),
                    attempts: t.attempts,
                    instance_type: t.instance_type,
                    spot: t.spot,
                    exit_code: t.exit_code,
                    reason: t.reason,
                })
                .collect(),
        });
    }
    if seen.indices.is_none() {
        if let Some(bytes) = store::get(&ctx.s3, &layout.bucket, &layout.tasks_key()).await? {
            let indices = match tasks::parse(&submission.tasks_file, &bytes) {
                Ok(file) => {
                    let all = 0..=file.tasks.len().saturating_sub(1);
                    let range = submission
                        .args
                        .task_range
                        .map_or(Ok(all), |r| r.select(file.tasks.len()));
                    range.map(Iterator::collect).unwrap_or_default()
                }
                Err(_) => Vec::new(),
            };
            seen.indices = Some(indices);
        }
    }
    let indices = seen.indices.clone().unwrap_or_default();
    for key in store::list(&ctx.s3, &layout.bucket, &layout.attempts_folder()).await? {
        if let std::collections::btree_map::Entry::Vacant(slot) = seen.records.entry(key) {
            if let Some(record) = get_json::<AttemptRecord>(ctx, layout, slot.key()).await? {
                slot.insert(record);
            }
        }
    }
    let records: Vec<&AttemptRecord> = seen.records.values().collect();
    let instances = tagged_instances(ctx, &layout.job_id).await?;
    let tasks = indices
        .iter()
        .map(|&index| {
            let last = records
                .iter()
                .filter(|r| r.index == index)
                .max_by_key(|r| r.attempt);
            let live = instances.iter().find(|(task, _, _)| *task == index);
            match (last, live) {
                (Some(r), _) if r.next_attempt.is_none() => TaskStatus {
                    index,
                    state: r.outcome.as_str().into(),
                    attempts: r.attempt,
                    instance_type: r.instance_type.clone(),
                    spot: r.spot,
                    exit_code: r.exit_code,
                    reason: r.reason.clone(),
                },
                (last, Some((_, instance_type, state))) => TaskStatus {
                    index,
                    state: if state == "running" {
                        "running".into()
                    } else {
                        format!("instance {state}")
                    },
                    attempts: last.map_or(1, |r| r.attempt + 1),
                    instance_type: Some(instance_type.clone()),
                    spot: false,
                    exit_code: None,
                    reason: last
                        .map(|r| format!("retrying after: {}", r.reason))
                        .unwrap_or_default(),
                },
                (Some(r), None) => TaskStatus {
                    index,
                    state: "retrying".into(),
                    attempts: r.attempt,
                    instance_type: r.instance_type.clone(),
                    spot: r.spot,
                    exit_code: r.exit_code,
                    reason: r.reason.clone(),
                },
                (None, None) => TaskStatus {
                    index,
                    state: "pending".into(),
                    attempts: 0,
                    instance_type: None,
                    spot: false,
                    exit_code: None,
                    reason: String::new(),
                },
            }
        })
        .collect();
    let mut state = if started.is_some() {
        "running".to_owned()
    } else {
        "submitted".to_owned()
    };
    if let Some(status) = execution_status.filter(|s| s != "RUNNING") {
        state = format!("execution {status}");
    }
    Ok(JobStatus {
        job_id,
        state,
        errors: Vec::new(),
        execution_arn,
        tasks,
    })
}

/// (task index, instance type, state) of the job's instances that are not terminated.
async fn tagged_instances(ctx: &Ctx, job: &JobId) -> anyhow::Result<Vec<(usize, String, String)>> {
    let instances =
        ecsub_aws::compute::instances(&ctx.ec2, None, Some(job), &["pending", "running"]).await?;
    Ok(instances
        .iter()
        .filter_map(|i| {
            let task = i
                .tags()
                .iter()
                .find(|t| t.key() == Some(TAG_TASK))?
                .value()?
                .parse()
                .ok()?;
            let kind = i
                .instance_type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default();
            let state = i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default();
            Some((task, kind, state))
        })
        .collect())
}

pub fn table(status: &JobStatus) -> String {
    let header = [
        "task",
        "state",
        "attempts",
        "instance_type",
        "spot",
        "exit_code",
        "reason",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for t in &status.tasks {
        rows.push(vec![
            format!("{:03}", t.index),
            t.state.clone(),
            t.attempts.to_string(),
            t.instance_type.clone().unwrap_or_else(|| "-".into()),
            if t.spot { "spot" } else { "on-demand" }.into(),
            t.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
            t.reason.clone(),
        ]);
    }
    format!(
        "job {}: {}\n{}",
        status.job_id,
        status.state,
        crate::report::align(&rows)
    )
}

fn print(status: &JobStatus, output: Output) -> anyhow::Result<()> {
    match output {
        Output::Text => {
            if status.state == "rejected" {
                println!("job {}: rejected", status.job_id);
                for line in &status.errors {
                    println!("  {line}");
                }
            } else {
                print!("{}", table(status));
            }
        }
        Output::Json => println!("{}", serde_json::to_string_pretty(status)?),
    }
    Ok(())
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

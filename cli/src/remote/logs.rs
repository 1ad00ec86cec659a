//! `ecsub-cli logs JOB [--task N] [--follow]`: the containers' output from CloudWatch Logs, one section per
//! attempt (recorded ones, then those still running). With `--follow` it keeps reading: new lines of every
//! stream as they arrive (each prefixed with its task and attempt when more than one task is followed), new
//! attempts as they start, until the job has ended and its streams are read to their end.

use super::collect::{get_json, read_records};
use super::{connect, job_layout, runtime};
use crate::args::LogsArgs;
use ecsub_aws::{store, Ctx};
use ecsub_core::chain::{log_stream, AttemptRecord, StartedRecord};
use ecsub_core::JobLayout;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

/// How often `--follow` looks for new lines and attempts.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// One attempt's stream and how far it has been read.
#[derive(Debug)]
struct Stream {
    state: String,
    name: String,
    token: Option<String>,
}

pub fn logs(args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("logs", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let ctx = connect().await?;
        let (_, spec) = super::collect::job_spec(&ctx, &layout, "logs").await?;
        let group = spec.log_group_name;
        // (task, attempt) → its stream, in that order.
        let mut streams: BTreeMap<(usize, u32), Stream> = BTreeMap::new();
        let prefixed = args.follow && args.task.is_none();
        // The attempt records read so far: --follow reads each once, not every round.
        let mut records = BTreeMap::new();
        let mut quiet_rounds = 0;
        loop {
            let ended = store::exists(&ctx.s3, &layout.bucket, &layout.summary_key()).await?;
            read_records(&ctx, &layout, &mut records).await?;
            for ((index, attempt), state, arn) in
                attempts(&ctx, &layout, &records, args.task).await?
            {
                let stream = streams.entry((index, attempt)).or_insert_with(|| {
                    println!(
                        "==> task {index:03}, attempt {attempt} ({state}): {group} {} <==",
                        log_stream(&arn)
                    );
                    Stream {
                        state: state.clone(),
                        name: log_stream(&arn),
                        token: None,
                    }
                });
                stream.state = state;
            }
            if streams.is_empty() && !args.follow {
                eprintln!("ecsub-cli: no task of job {} has run yet", layout.job_id);
            }
            let mut printed = 0;
            for (&(index, attempt), stream) in &mut streams {
                let prefix = prefixed.then(|| format!("[{index:03}.{attempt}] "));
                printed += read(&ctx, &group, stream, prefix.as_deref(), !args.follow).await?;
            }
            if !args.follow {
                return Ok(ExitCode::SUCCESS);
            }
            // Done once the job has ended and a round after that found nothing new (its last lines shipped).
            quiet_rounds = if ended && printed == 0 {
                quiet_rounds + 1
            } else {
                0
            };
            if quiet_rounds >= 2 {
                eprintln!("ecsub-cli: job {} has ended", layout.job_id);
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    })
}

/// The job's attempts with a task: recorded ones (their outcome) and those ECS runs now ("running").
async fn attempts(
    ctx: &Ctx,
    layout: &JobLayout,
    records: &BTreeMap<String, AttemptRecord>,
    only: Option<usize>,
) -> anyhow::Result<Vec<((usize, u32), String, String)>> {
    let mut found: BTreeMap<(usize, u32), (String, String)> = records
        .values()
        .filter_map(|r| {
            let arn = r.task_arn.clone()?;
            Some(((r.index, r.attempt), (r.outcome.as_str().to_owned(), arn)))
        })
        .collect();
    let started = get_json::<StartedRecord>(ctx, layout, &layout.started_key()).await?;
    // The job's cluster is named in started.json; before the job has started nothing runs (a guessed name would
    // be another cluster's, or one the user may not list).
    let running = match started.as_ref().map(|s| s.cluster.as_str()) {
        Some(cluster) if !cluster.is_empty() => {
            ecsub_aws::ecs_tasks::tasks(ctx, cluster, ecsub_aws::ecs_tasks::DesiredStatus::Running)
                .await?
        }
        _ => Vec::new(),
    };
    for task in running {
        let env = |name: &str| ecsub_aws::ecs_tasks::env_number(&task, name);
        let (Some(index), Some(attempt), Some(arn)) = (
            env("ECSUB_TASK_INDEX"),
            env("ECSUB_ATTEMPT"),
            task.task_arn(),
        ) else {
            continue;
        };
        let key = (
            usize::try_from(index).unwrap_or(usize::MAX),
            u32::try_from(attempt).unwrap_or(u32::MAX),
        );
        found
            .entry(key)
            .or_insert_with(|| ("running".to_owned(), arn.to_owned()));
    }
    Ok(found
        .into_iter()
        .filter(|((index, _), _)| only.is_none_or(|t| t == *index))
        .map(|(key, (state, arn))| (key, state, arn))
        .collect())
}

/// Prints what is new in a stream; the number of lines. `say_missing`: print that a stream has no log yet.
async fn read(
    ctx: &Ctx,
    group: &str,
    stream: &mut Stream,
    prefix: Option<&str>,
    say_missing: bool,
) -> anyhow::Result<usize> {
    let mut printed = 0;
    loop {
        let page = ctx
            .logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(&stream.name)
            .start_from_head(true)
            .set_next_token(stream.token.clone())
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e) if ecsub_aws::error::code(&e) == Some("ResourceNotFoundException") => {
                if say_missing {
                    println!("(no log yet: {})", stream.state);
                }
                return Ok(printed);
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "GetLogEvents {}: {}",
                    stream.name,
                    ecsub_aws::error::describe(&e)
                ))
            }
        };
        for event in page.events() {
            println!(
                "{}{}",
                prefix.unwrap_or_default(),
                event.message().unwrap_or_default()
            );
        }
        printed += page.events().len();
        let next = page.next_forward_token().map(str::to_owned);
        let done = page.events().is_empty() || next == stream.token;
        if next.is_some() {
            stream.token = next;
        }
        if done {
            return Ok(printed);
        }
    }
}

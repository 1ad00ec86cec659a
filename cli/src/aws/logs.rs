//! `ecsub-cli logs JOB [--task N] [--follow]`: the containers' output from CloudWatch Logs, one section per
//! attempt (recorded ones, then those still running). With `--follow` it keeps reading: new lines of every
//! stream as they arrive (each prefixed with its task and attempt when more than one task is followed), new
//! attempts as they start, until the job has ended and its streams are read to their end.

use super::records::{get_json, job_spec, read_records};
use super::session::{connect, runtime};
use crate::args::LogsArgs;
use crate::aws::job_layout;
use ecsub_aws::ecs_tasks::{self, DesiredStatus};
use ecsub_aws::{store, Clients};
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
        let aws = connect().await?;
        // The job must exist (a clear error otherwise); its log group is named where it started.
        job_spec(&aws, &layout, "logs").await?;
        let mut group = String::new();
        // (task, attempt) → its stream, in that order.
        let mut streams: BTreeMap<(usize, u32), Stream> = BTreeMap::new();
        let prefixed = args.follow && args.task.is_none();
        // The attempt records read so far: --follow reads each once, not every round.
        let mut records = BTreeMap::new();
        let mut quiet_rounds = 0;
        loop {
            let ended = store::exists(&aws.s3, &layout.bucket, &layout.summary_key()).await?;
            read_records(&aws, &layout, &mut records).await?;
            let (started, found) = attempts(&aws, &layout, &records, args.task).await?;
            if let Some(started) = started {
                group = started.log_group;
            }
            for ((index, attempt), state, arn) in found {
                let stream = streams.entry((index, attempt)).or_insert_with(|| {
                    show!(
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
                say!("ecsub-cli: no task of job {} has run yet", layout.job_id);
            }
            let mut printed = 0;
            for (&(index, attempt), stream) in &mut streams {
                let prefix = prefixed.then(|| format!("[{index:03}.{attempt}] "));
                printed += read(&aws, &group, stream, prefix.as_deref(), !args.follow).await?;
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
                say!("ecsub-cli: job {} has ended", layout.job_id);
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    })
}

/// Attempts with a task: (task, attempt), state, task ARN.
type Found = Vec<((usize, u32), String, String)>;

/// The job's `started.json` (once it started), and its attempts with a task: recorded ones (their outcome) and
/// those ECS runs now ("running").
async fn attempts(
    aws: &Clients,
    layout: &JobLayout,
    records: &BTreeMap<String, AttemptRecord>,
    only: Option<usize>,
) -> anyhow::Result<(Option<StartedRecord>, Found)> {
    let mut found: BTreeMap<(usize, u32), (String, String)> = records
        .values()
        .filter_map(|r| {
            let arn = r.task_arn.clone()?;
            Some(((r.index, r.attempt), (r.outcome.as_str().to_owned(), arn)))
        })
        .collect();
    let started = get_json::<StartedRecord>(aws, layout, &layout.started_key()).await?;
    // The job's cluster is named in started.json; before the job has started nothing runs (a guessed name would
    // be another cluster's, or one the user may not list).
    let running = match started.as_ref().map(|s| s.cluster.as_str()) {
        Some(cluster) if !cluster.is_empty() => {
            ecs_tasks::tasks(&aws.ecs, cluster, DesiredStatus::Running).await?
        }
        _ => Vec::new(),
    };
    for task in running {
        let Ok(Some(env)) = task.task_env() else {
            continue;
        };
        found
            .entry((env.index, env.attempt.number))
            .or_insert_with(|| ("running".to_owned(), task.task_arn.clone()));
    }
    let found = found
        .into_iter()
        .filter(|((index, _), _)| only.is_none_or(|t| t == *index))
        .map(|(key, (state, arn))| (key, state, arn))
        .collect();
    Ok((started, found))
}

/// Prints what is new in a stream; the number of lines. `say_missing`: print that a stream has no log yet.
async fn read(
    aws: &Clients,
    group: &str,
    stream: &mut Stream,
    prefix: Option<&str>,
    say_missing: bool,
) -> anyhow::Result<usize> {
    let mut printed = 0;
    loop {
        let page = ecsub_aws::logs::events(&aws.logs, group, &stream.name, stream.token.clone())
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        let Some(page) = page else {
            if say_missing {
                show!("(no log yet: {})", stream.state);
            }
            return Ok(printed);
        };
        for message in &page.messages {
            show!("{}{message}", prefix.unwrap_or_default());
        }
        printed += page.messages.len();
        let done = page.messages.is_empty() || page.next == stream.token;
        if page.next.is_some() {
            stream.token = page.next;
        }
        if done {
            return Ok(printed);
        }
    }
}

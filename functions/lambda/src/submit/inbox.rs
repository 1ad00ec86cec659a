//! Inbox drops and schedules become pushed jobs: the tasks file, the script and a `job.json` written the way
//! `ecsub-cli push` writes them (`job.json` last, and only if absent, so a duplicated event stops there). Scripts
//! (and a stored spec's tasks file) are read from the stack's own bucket only.

use super::reject::reject_at;
use super::INBOX_DEFAULTS_KEY;
use crate::events::ScheduleInput;
use crate::Ctx;
use ecsub_aws::store::{self, Bounded};
use ecsub_aws::FnError;
use ecsub_core::chain::admission::in_stack_bucket;
use ecsub_core::chain::JobSubmission;
use ecsub_core::tasks;
use ecsub_core::{JobArgs, JobId, JobLayout};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{info, warn};

/// An inbox drop becomes a pushed job: its tasks file, its script and a `job.json` (created only if absent, so
/// a duplicated event stops here). Errors go to `<key>.error.txt` beside the drop.
pub async fn from_inbox(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    suffix: &str,
) -> Result<Value, FnError> {
    let error_key = format!("{key}.error.txt");
    let name = key.rsplit('/').next().unwrap_or(key).to_owned();
    let bytes = match store::get_at_most(&ctx.aws.s3, bucket, key, tasks::MAX_FILE_BYTES).await? {
        Bounded::Bytes(bytes) => bytes,
        Bounded::Missing => {
            warn!(key, "the dropped tasks file is gone");
            return Ok(json!({ "ignored": key }));
        }
        Bounded::TooLarge(size) => {
            let line = tasks::too_large(&name, size);
            return reject_at(ctx, bucket, &error_key, &[line]).await;
        }
    };
    let tasks = match tasks::parse(&name, &bytes) {
        Ok(tasks) => tasks,
        Err(d) => return reject_at(ctx, bucket, &error_key, &d.lines()).await,
    };
    let directives = match JobArgs::parse_directives(&tasks) {
        Ok(d) => d,
        Err(d) => return reject_at(ctx, bucket, &error_key, &d.lines()).await,
    };
    let defaults = match store::get(&ctx.aws.s3, bucket, INBOX_DEFAULTS_KEY).await? {
        None => InboxDefaults::default(),
        Some(raw) => match serde_json::from_slice::<InboxDefaults>(&raw) {
            Ok(d) => d,
            Err(e) => {
                let line =
                    format!("s3://{bucket}/{INBOX_DEFAULTS_KEY}: not valid job options: {e}");
                return reject_at(ctx, bucket, &error_key, &[line]).await;
            }
        },
    };
    let args = directives.args.over(defaults.options);
    let Some(script_url) = directives.script.or(defaults.script) else {
        let line = format!(
            "{name}:1:1: no script: add a line `#ecsub: --script s3://BUCKET/KEY` before the header, \
             or a \"script\" in s3://{bucket}/{INBOX_DEFAULTS_KEY}"
        );
        return reject_at(ctx, bucket, &error_key, &[line]).await;
    };
    let script = match fetch_url(ctx, bucket, &script_url).await? {
        Ok(script) => script,
        Err(why) => {
            let line = format!("{name}: --script `{script_url}`: {why}");
            return reject_at(ctx, bucket, &error_key, &[line]).await;
        }
    };
    let job_name = args
        .task_name
        .clone()
        .unwrap_or_else(|| JobId::name_from_file(&name));
    let job_id = match JobId::new(&job_name, suffix) {
        Ok(id) => id,
        Err(e) => {
            return reject_at(
                ctx,
                bucket,
                &error_key,
                &[format!("{name}: --task-name: {e}")],
            )
            .await
        }
    };
    materialize(ctx, bucket, job_id, &bytes, script, args, &name, "inbox").await
}

/// Options for inbox drops that the file itself does not give.
#[derive(Debug, Default, Deserialize)]
struct InboxDefaults {
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    options: JobArgs,
}

/// A stored job spec, run by a schedule: `specs/<name>.json`.
#[derive(Debug, Deserialize)]
struct StoredSpec {
    tasks: String,
    script: String,
    #[serde(default)]
    options: JobArgs,
}

pub async fn from_schedule(ctx: &Ctx, schedule: &ScheduleInput) -> Result<Value, FnError> {
    let bucket = ctx.config.bucket.clone();
    let spec_name = schedule
        .spec
        .rsplit('/')
        .next()
        .unwrap_or(&schedule.spec)
        .to_owned();
    let error_key = format!("{}.error.txt", schedule.spec);
    let Some(raw) = store::get(&ctx.aws.s3, &bucket, &schedule.spec).await? else {
        let line = format!(
            "s3://{bucket}/{}: the stored job spec does not exist",
            schedule.spec
        );
        return reject_at(ctx, &bucket, &error_key, &[line]).await;
    };
    let spec: StoredSpec = match serde_json::from_slice(&raw) {
        Ok(spec) => spec,
        Err(e) => {
            let line = format!(
                "s3://{bucket}/{}: not a job spec ({{\"tasks\", \"script\", \"options\"}}): {e}",
                schedule.spec
            );
            return reject_at(ctx, &bucket, &error_key, &[line]).await;
        }
    };
    let (tasks_bytes, script) = match (
        fetch_url(ctx, &bucket, &spec.tasks).await?,
        fetch_url(ctx, &bucket, &spec.script).await?,
    ) {
        (Ok(tasks), Ok(script)) => (tasks, script),
        (tasks, script) => {
            let lines: Vec<String> = [
                ("tasks", &spec.tasks, tasks.err()),
                ("script", &spec.script, script.err()),
            ]
            .into_iter()
            .filter_map(|(what, url, why)| {
                why.map(|why| format!("{}: {what} `{url}`: {why}", schedule.spec))
            })
            .collect();
            return reject_at(ctx, &bucket, &error_key, &lines).await;
        }
    };
    let tasks_name = spec
        .tasks
        .rsplit('/')
        .next()
        .unwrap_or("tasks.tsv")
        .to_owned();
    let tasks = match tasks::parse(&tasks_name, &tasks_bytes) {
        Ok(t) => t,
        Err(d) => return reject_at(ctx, &bucket, &error_key, &d.lines()).await,
    };
    let file_args = JobArgs::from_directives(&tasks).unwrap_or_default();
    let args = spec.options.over(file_args);
    let job_name = args
        .task_name
        .clone()
        .unwrap_or_else(|| JobId::name_from_file(&spec_name));
    let job_id = JobId::new(
        &job_name,
        &JobId::suffix_for(&[&schedule.spec, &schedule.time, &schedule.id]),
    )
    .map_err(FnError::invalid_input)?;
    materialize(
        ctx,
        &bucket,
        job_id,
        &tasks_bytes,
        script,
        args,
        &tasks_name,
        "schedule",
    )
    .await
}

/// Reads an object of the stack's bucket by URL; `Err` says why it cannot be used (another bucket, none there).
async fn fetch_url(
    ctx: &Ctx,
    stack_bucket: &str,
    url: &str,
) -> Result<Result<Vec<u8>, String>, FnError> {
    if !in_stack_bucket(url, stack_bucket) {
        return Ok(Err(format!(
            "the stack reads scripts and tasks files from its own bucket only: copy it to s3://{stack_bucket}/…"
        )));
    }
    let Some((bucket, key)) = url.strip_prefix("s3://").and_then(|r| r.split_once('/')) else {
        return Ok(Err("not an s3:// URL".to_owned()));
    };
    Ok(store::get(&ctx.aws.s3, bucket, key)
        .await?
        .ok_or_else(|| "does not exist".to_owned()))
}

/// Writes a job the way `ecsub-cli push` does; `job.json` last and only if absent, which starts it.
#[allow(clippy::too_many_arguments)]
async fn materialize(
    ctx: &Ctx,
    bucket: &str,
    job_id: JobId,
    tasks_bytes: &[u8],
    script: Vec<u8>,
    args: JobArgs,
    tasks_file: &str,
    origin: &str,
) -> Result<Value, FnError> {
    let layout = JobLayout {
        bucket: bucket.to_owned(),
        prefix: String::new(),
        job_id: job_id.clone(),
    };
    if store::exists(&ctx.aws.s3, bucket, &layout.spec_key()).await? {
        info!(job_id = %job_id, "duplicate event: the job exists already");
        return Ok(json!({ "job_id": job_id, "duplicate": true }));
    }
    store::put(
        &ctx.aws.s3,
        bucket,
        &layout.tasks_key(),
        tasks_bytes.to_vec(),
        "text/tab-separated-values",
    )
    .await?;
    store::put(
        &ctx.aws.s3,
        bucket,
        &layout.script_key(),
        script,
        "text/x-shellscript",
    )
    .await?;
    let submission = JobSubmission {
        job_id: job_id.clone(),
        args,
        tasks_file: tasks_file.to_owned(),
        origin: origin.to_owned(),
        skipped: Vec::new(),
    };
    let body = serde_json::to_vec_pretty(&submission)
        .map_err(|e| FnError::invalid_input(e.to_string()))?;
    let created = store::put_new(
        &ctx.aws.s3,
        bucket,
        &layout.spec_key(),
        body,
        "application/json",
    )
    .await?;
    info!(job_id = %job_id, created, origin, "job written");
    Ok(json!({ "job_id": job_id, "duplicate": !created }))
}

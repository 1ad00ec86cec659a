//! Closing a job, whoever sees it end: finalize (the state machine's end) and the janitor (an execution that ended
//! FAILED, ABORTED or TIMED_OUT). Its instances are terminated, `summary.json` is written from the attempt records
//! (priced, unless `--skip-price`), its end is announced, and its cluster and task definition are removed (what ECS
//! will not let go yet is left to the janitor's sweep).

use crate::{layout_of, Ctx};
use ecsub_aws::cluster::remove_cluster;
use ecsub_aws::compute::{stack_instances, terminate_all};
use ecsub_aws::{notice, prices, store, FnError};
use ecsub_core::chain::hold::Hold;
use ecsub_core::chain::{AttemptRecord, JobRef, Summary, TaskItems, TaskRef};
use ecsub_core::JobLayout;
use serde_json::{json, Value};
use tracing::{info, warn};

/// Ends a job: terminates its instances, removes its cluster and task definition, and writes `summary.json`
/// from the attempt records. `ended_early` says why the job ended before its tasks did (its Map failed; the
/// janitor's case: its execution ended): the summary says so, and so does each task it cut short.
pub async fn close(
    ctx: &Ctx,
    job: &JobRef,
    items: &TaskItems,
    ended_early: Option<String>,
) -> Result<Value, FnError> {
    let layout = layout_of(job)?;
    let tasks = read_items(ctx, &layout, items).await?;
    let keys = store::list(&ctx.aws.s3, &layout.bucket, &layout.attempts_folder()).await?;
    let mut records = Vec::with_capacity(keys.len());
    for (key, bytes) in store::get_many(&ctx.aws.s3, &layout.bucket, keys).await? {
        match serde_json::from_slice::<AttemptRecord>(&bytes) {
            Ok(record) => records.push(record),
            Err(e) => warn!(key, error = %e, "unreadable attempt record; skipped"),
        }
    }
    // Held for a look (`--keep-on-failure`), by their records: task-stopped writes the record before it tags the
    // instance, and EC2 lists a new tag only after a while (eventual consistency).
    let now = crate::now_ms();
    let held: Vec<&str> = records
        .iter()
        .filter(|r| Hold::of(r.held_until.as_deref(), now).is_held())
        .filter_map(|r| r.instance_id.as_deref())
        .collect();
    let swept = sweep_instances(ctx, job, &held).await?;
    let mut summary = Summary::from_records(
        layout.job_id.clone(),
        &tasks,
        &records,
        crate::now_rfc3339(),
    );
    if let Some(why) = ended_early {
        warn!(job_id = %layout.job_id, why, "the job ended before its tasks did");
        summary.ended_early(why);
    }
    if !job.skip_price {
        let spans = prices::spans(&records, job.root_volume_gib());
        let prices = prices::gather(&ctx.aws, &spans).await;
        summary.priced(ecsub_core::cost::price(&spans, &prices));
    }
    let body =
        serde_json::to_vec_pretty(&summary).map_err(|e| FnError::invalid_input(e.to_string()))?;
    // The summary before the cluster: ECS may refuse to delete a cluster for a while (tasks it still counts on
    // just-terminated instances), and that must not keep the job from ending.
    store::put(
        &ctx.aws.s3,
        &layout.bucket,
        &layout.summary_key(),
        body,
        "application/json",
    )
    .await?;
    // Announced once the summary is there to read; a notice that cannot be sent does not undo the job's end.
    if let Err(e) = notice::job_ended(&ctx.aws.events, &ctx.config.stack, &layout, &summary).await {
        warn!(job_id = %layout.job_id, error = %e.message, "the job's end was not announced");
    }
    if let Err(e) = remove_cluster(&ctx.aws.ecs, &job.cluster, Some(&job.task_definition)).await {
        warn!(job_id = %layout.job_id, error = %e, "the cluster stays for the janitor's sweep");
    }
    let usd = summary.cost.as_ref().map(|c| c.usd);
    info!(job_id = %layout.job_id, succeeded = summary.succeeded, failed = summary.failed, swept, usd, job_error = ?summary.job_error, "job closed");
    Ok(
        json!({ "job_id": layout.job_id, "succeeded": summary.succeeded, "failed": summary.failed, "swept": swept }),
    )
}

/// The job's tasks, from the `items.json` the submit function wrote.
async fn read_items(
    ctx: &Ctx,
    layout: &JobLayout,
    items: &TaskItems,
) -> Result<Vec<TaskRef>, FnError> {
    let url = layout.url(&items.key);
    let bytes = store::get(&ctx.aws.s3, &layout.bucket, &items.key)
        .await?
        .ok_or_else(|| FnError::invalid_input(format!("{url} is gone")))?;
    let tasks: Vec<TaskRef> = serde_json::from_slice(&bytes)
        .map_err(|e| FnError::invalid_input(format!("{url}: {e}")))?;
    if tasks.len() != items.count {
        return Err(FnError::invalid_input(format!(
            "{url} holds {} tasks, the execution says {}",
            tasks.len(),
            items.count
        )));
    }
    Ok(tasks)
}

/// Terminates every instance still tagged with the job (pending, running, stopping or stopped) but those `held`
/// for a look; returns how many were terminated. One that could not be (the calls throttled or refused) stays for the janitor's sweep, which
/// terminates the instances of every job whose execution is not running: the job's end is not held up for it.
async fn sweep_instances(ctx: &Ctx, job: &JobRef, held: &[&str]) -> Result<usize, FnError> {
    let left = stack_instances(
        &ctx.aws.ec2,
        &ctx.config.stack,
        Some(&job.job_id),
        &["pending", "running", "stopping", "stopped"],
    )
    .await?;
    // An instance held for a look (`--keep-on-failure`) outlives its job: the sweep terminates it at its deadline.
    let ids: Vec<String> = left
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .filter(|id| !held.contains(&id.as_str()))
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    warn!(job_id = %job.job_id, count = ids.len(), ?ids, "terminating instances left at the end of the job");
    let done = terminate_all(&ctx.aws.ec2, &ids).await;
    if !done.left.is_empty() {
        let errors: Vec<String> = done.errors.iter().map(ToString::to_string).collect();
        warn!(job_id = %job.job_id, left = done.left.len(), ?errors, "instances not terminated yet: the janitor's sweep terminates them");
    }
    Ok(done.terminated.len())
}

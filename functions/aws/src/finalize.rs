//! The `finalize` function: closes what the state machine opened. For a task whose states failed (launch,
//! join, start, timeout) it terminates the instance and records the attempt; at the end of a job it terminates
//! any instance still tagged with the job, writes `summary.json`, and removes the cluster and the task
//! definition (what ECS will not let go yet is left to the janitor's sweep).

use crate::compute::{stack_instances, terminate, terminate_all};
use crate::ctx::Ctx;
use crate::error::{code, FnError};
use crate::store;
use ecsub_core::chain::{
    AttemptRecord, FinalizeInput, IterationState, JobRef, Outcome, Summary, TaskItems, TaskRef,
};
use ecsub_core::JobLayout;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use tracing::{info, warn};

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    let input: FinalizeInput = serde_json::from_value(event.payload)
        .map_err(|e| FnError::invalid_input(format!("finalize input: {e}")))?;
    match input {
        FinalizeInput::TaskError { state } => task_error(ctx, &state).await,
        FinalizeInput::JobEnd {
            job,
            items,
            map_error,
        } => {
            let why = map_error.map(|e| format!("the job's Map failed ({})", e.reason()));
            close_job(ctx, &job, &items, why).await
        }
    }
}

fn layout_of(job: &JobRef) -> Result<JobLayout, FnError> {
    JobLayout::from_url(&job.job_url)
        .ok_or_else(|| FnError::invalid_input(format!("`{}` is not a job folder", job.job_url)))
}

async fn task_error(ctx: &Ctx, state: &IterationState) -> Result<Value, FnError> {
    let layout = layout_of(&state.job)?;
    if let Some(instance) = &state.instance {
        terminate(ctx, &instance.instance_id).await?;
    }
    let error = state
        .error
        .clone()
        .unwrap_or_else(|| ecsub_core::chain::StatesError {
            error: "States.Unknown".into(),
            cause: None,
        });
    let reason = error.reason();
    let record = AttemptRecord {
        job_id: layout.job_id.clone(),
        index: state.task.index,
        attempt: state.attempt.number,
        spot: state.attempt.spot,
        instance_id: state.instance.as_ref().map(|i| i.instance_id.clone()),
        instance_type: state.instance.as_ref().map(|i| i.instance_type.clone()),
        task_arn: None,
        outcome: Outcome::InfrastructureError,
        exit_code: None,
        reason: reason.clone(),
        missing_outputs: Vec::new(),
        started_at: None,
        stopped_at: None,
        launched_at: state.instance.as_ref().map(|i| i.launched_at.clone()),
        availability_zone: state
            .instance
            .as_ref()
            .and_then(|i| i.availability_zone.clone()),
        recorded_at: crate::now_rfc3339(),
        recorded_by: "finalize".to_owned(),
        next_attempt: None,
    };
    let body =
        serde_json::to_vec_pretty(&record).map_err(|e| FnError::invalid_input(e.to_string()))?;
    let key = layout.attempt_key(state.task.index, state.attempt.number);
    let created = store::put_new(&ctx.s3, &layout.bucket, &key, body, "application/json").await?;
    warn!(job_id = %layout.job_id, task = state.task.index, reason, created, "task ended by an error");
    Ok(
        json!({ "index": state.task.index, "outcome": Outcome::InfrastructureError, "reason": reason }),
    )
}

/// Ends a job: terminates its instances, removes its cluster and task definition, and writes `summary.json`
/// from the attempt records. `ended_early` says why the job ended before its tasks did (its Map failed; the
/// janitor's case: its execution ended): the summary says so, and so does each task it cut short.
pub async fn close_job(
    ctx: &Ctx,
    job: &JobRef,
    items: &TaskItems,
    ended_early: Option<String>,
) -> Result<Value, FnError> {
    let layout = layout_of(job)?;
    let tasks = read_items(ctx, &layout, items).await?;
    let keys = store::list(&ctx.s3, &layout.bucket, &layout.attempts_folder()).await?;
    let mut records = Vec::with_capacity(keys.len());
    for (key, bytes) in store::get_many(&ctx.s3, &layout.bucket, keys).await? {
        match serde_json::from_slice::<AttemptRecord>(&bytes) {
            Ok(record) => records.push(record),
            Err(e) => warn!(key, error = %e, "unreadable attempt record; skipped"),
        }
    }
    let swept = sweep_instances(ctx, job).await?;
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
        let spans = crate::prices::spans(&records, job.root_volume_gib());
        let prices = crate::prices::gather(ctx, &spans).await;
        summary.priced(ecsub_core::cost::price(&spans, &prices));
    }
    let body =
        serde_json::to_vec_pretty(&summary).map_err(|e| FnError::invalid_input(e.to_string()))?;
    // The summary before the cluster: ECS may refuse to delete a cluster for a while (tasks it still counts on
    // just-terminated instances), and that must not keep the job from ending.
    store::put(
        &ctx.s3,
        &layout.bucket,
        &layout.summary_key(),
        body,
        "application/json",
    )
    .await?;
    // Announced once the summary is there to read; a notice that cannot be sent does not undo the job's end.
    if let Err(e) = crate::notice::job_ended(ctx, &layout, &summary).await {
        warn!(job_id = %layout.job_id, error = %e.message, "the job's end was not announced");
    }
    if let Err(e) = remove_cluster(ctx, &job.cluster, Some(&job.task_definition)).await {
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
    let bytes = store::get(&ctx.s3, &layout.bucket, &items.key)
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

/// Terminates every instance still tagged with the job (pending, running, stopping or stopped).
async fn sweep_instances(ctx: &Ctx, job: &JobRef) -> Result<usize, FnError> {
    let left = stack_instances(
        &ctx.ec2,
        &ctx.config.stack,
        Some(&job.job_id),
        &["pending", "running", "stopping", "stopped"],
    )
    .await?;
    let ids: Vec<String> = left
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect();
    if !ids.is_empty() {
        warn!(job_id = %job.job_id, ?ids, "terminating instances left at the end of the job");
        terminate_all(ctx, &ids).await?;
    }
    Ok(ids.len())
}

/// Removes a job's cluster (its container instances deregistered first, every page of them) and, if named, its
/// task definition. A cluster that is gone already is fine; one ECS will not delete yet is an error for the
/// caller to leave to a later sweep.
pub async fn remove_cluster(
    ctx: &Ctx,
    cluster: &str,
    task_definition: Option<&str>,
) -> Result<(), FnError> {
    let mut token: Option<String> = None;
    loop {
        let listed = ctx
            .ecs
            .list_container_instances()
            .cluster(cluster)
            .set_next_token(token.clone())
            .send()
            .await;
        let page = match listed {
            Ok(page) => page,
            Err(e) if code(&e) == Some("ClusterNotFoundException") => return Ok(()),
            Err(e) => {
                return Err(FnError::aws(
                    format!("ListContainerInstances {cluster}"),
                    &e,
                ))
            }
        };
        for arn in page.container_instance_arns() {
            ctx.ecs
                .deregister_container_instance()
                .cluster(cluster)
                .container_instance(arn)
                .force(true)
                .send()
                .await
                .map_err(|e| FnError::aws(format!("DeregisterContainerInstance {arn}"), &e))?;
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    if let Some(definition) = task_definition {
        deregister_definition(ctx, definition).await?;
    }
    delete_cluster(ctx, cluster).await
}

/// Deletes a cluster that has no container instances; one that is gone already is fine.
pub async fn delete_cluster(ctx: &Ctx, cluster: &str) -> Result<(), FnError> {
    match ctx.ecs.delete_cluster().cluster(cluster).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("ClusterNotFoundException") => Ok(()),
        Err(e) => Err(FnError::aws(format!("DeleteCluster {cluster}"), &e)),
    }
}

/// Deregisters a task definition revision; one that is gone or inactive already is fine.
pub async fn deregister_definition(ctx: &Ctx, definition: &str) -> Result<(), FnError> {
    match ctx
        .ecs
        .deregister_task_definition()
        .task_definition(definition)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                code(&e),
                Some("ClientException" | "InvalidParameterException")
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(FnError::aws(
            format!("DeregisterTaskDefinition {definition}"),
            &e,
        )),
    }
}

//! The `task-stopped` function: ECS says a task of one of this stack's clusters stopped. It classifies the attempt
//! (exit code, stop reason, declared outputs present), records it once (a conditional write, so the same event
//! delivered twice records nothing the second time), terminates the instance, and resumes the waiting execution
//! with the task token the task carries in its environment. Every step is idempotent, so a redelivered event (or
//! the janitor's reconciliation of a lost one, which calls [`process`] too) finishes what an earlier one left.

use crate::compute::terminate;
use crate::ctx::Ctx;
use crate::error::{code, FnError};
use crate::events::{EcsTaskDetail, EventBridgeEvent};
use crate::store::{self, Payer};
use ecsub_core::chain::{
    classify, job_of_cluster, next_attempt, Attempt, AttemptRecord, AttemptResult, Stopped,
};
use ecsub_core::tasks::{self, Cell};
use ecsub_core::JobLayout;
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use tracing::{info, warn};

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    let event: EventBridgeEvent<EcsTaskDetail> = serde_json::from_value(event.payload)
        .map_err(|e| FnError::invalid_input(format!("not an ECS task state change: {e}")))?;
    let delay_ms = event.time.map(|t| (now_ms() - t.timestamp_millis()).max(0));
    process(ctx, &event.detail, delay_ms).await
}

/// Handles one stopped task (from its event, or from DescribeTasks when its event was lost).
pub async fn process(
    ctx: &Ctx,
    task: &EcsTaskDetail,
    delay_ms: Option<i64>,
) -> Result<Value, FnError> {
    if task.last_status != "STOPPED" {
        return Ok(json!({ "ignored": task.task_arn, "status": task.last_status }));
    }
    if job_of_cluster(&ctx.config.stack, &task.cluster_arn).is_none() {
        info!(
            task_arn = task.task_arn,
            cluster = task.cluster_arn,
            "not a cluster of this stack; ignored"
        );
        return Ok(json!({ "ignored": task.task_arn }));
    }
    let (Some(token), Some(job_url)) = (task.env("ECSUB_TASK_TOKEN"), task.env("ECSUB_JOB_URL"))
    else {
        info!(
            task_arn = task.task_arn,
            "not started by ecsub's state machine; ignored"
        );
        return Ok(json!({ "ignored": task.task_arn }));
    };
    let layout = JobLayout::from_url(job_url).ok_or_else(|| {
        FnError::invalid_input(format!("ECSUB_JOB_URL `{job_url}` is not a job folder"))
    })?;
    let number = |name: &str| -> Result<u64, FnError> {
        task.env(name).and_then(|v| v.parse().ok()).ok_or_else(|| {
            FnError::invalid_input(format!("{name} is missing from {}", task.task_arn))
        })
    };
    let index = usize::try_from(number("ECSUB_TASK_INDEX")?).unwrap_or(usize::MAX);
    let attempt = Attempt {
        number: u32::try_from(number("ECSUB_ATTEMPT")?).unwrap_or(u32::MAX),
        spot: task.env("ECSUB_SPOT") == Some("true"),
    };
    let retry_od = task.env("ECSUB_RETRY_OD") == Some("true");
    let payer: Vec<String> = task
        .env("ECSUB_REQUEST_PAYER_BUCKETS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let instance_id = task.env("ECSUB_INSTANCE_ID").map(str::to_owned);
    let container = task.main_container();
    let exit_code = container.and_then(|c| c.exit_code);

    let missing = if exit_code == Some(0) {
        let started_ms = task
            .started_at
            .as_deref()
            .and_then(ecsub_core::time::rfc3339_ms);
        if started_ms.is_none() {
            warn!(job_id = %layout.job_id, task = index, "the event has no startedAt: outputs are checked for existence only");
        }
        missing_outputs(ctx, &layout, index, Payer(&payer), started_ms).await?
    } else {
        Vec::new()
    };
    let stopped = Stopped {
        exit_code,
        stop_code: task.stop_code.as_deref(),
        stopped_reason: task.stopped_reason.as_deref(),
        container_reason: container.and_then(|c| c.reason.as_deref()),
    };
    let (outcome, reason) = classify(&stopped, &missing);
    let record = AttemptRecord {
        job_id: layout.job_id.clone(),
        index,
        attempt: attempt.number,
        spot: attempt.spot,
        instance_id: instance_id.clone(),
        instance_type: task.env("ECSUB_INSTANCE_TYPE").map(str::to_owned),
        task_arn: Some(task.task_arn.clone()),
        outcome,
        exit_code,
        reason,
        missing_outputs: missing,
        started_at: task.started_at.clone(),
        stopped_at: task.stopped_at.clone(),
        launched_at: task.env("ECSUB_LAUNCHED_AT").map(str::to_owned),
        availability_zone: task
            .env("ECSUB_AVAILABILITY_ZONE")
            .filter(|z| !z.is_empty())
            .map(str::to_owned),
        recorded_at: crate::now_rfc3339(),
        recorded_by: "task-stopped".to_owned(),
        next_attempt: next_attempt(outcome, attempt, retry_od),
    };
    let body =
        serde_json::to_vec_pretty(&record).map_err(|e| FnError::invalid_input(e.to_string()))?;
    let key = layout.attempt_key(index, attempt.number);
    let created = store::put_new(&ctx.s3, &layout.bucket, &key, body, "application/json").await?;
    let record = if created {
        record
    } else {
        // Recorded already. By an earlier delivery of this very event, which may have died before it terminated
        // the instance or resumed the execution: both are done again (both are idempotent). By anyone else
        // (finalize, after a timeout or an error): nothing is left to do.
        let existing = store::get(&ctx.s3, &layout.bucket, &key)
            .await?
            .and_then(|bytes| serde_json::from_slice::<AttemptRecord>(&bytes).ok());
        match existing {
            Some(existing) if existing.task_arn.as_deref() == Some(task.task_arn.as_str()) => {
                info!(job_id = %layout.job_id, task = index, attempt = attempt.number, "duplicate event: the attempt is recorded already");
                existing
            }
            _ => {
                info!(job_id = %layout.job_id, task = index, attempt = attempt.number, "the attempt was recorded by the state machine's error path");
                return Ok(
                    json!({ "duplicate": true, "record": format!("s3://{}/{key}", layout.bucket) }),
                );
            }
        }
    };
    if let Some(id) = &instance_id {
        terminate(ctx, id).await?;
        info!(job_id = %layout.job_id, task = index, instance_id = id, delay_ms, "instance terminated");
    }
    let result = AttemptResult {
        outcome: record.outcome,
        exit_code: record.exit_code,
        reason: record.reason.clone(),
        next_attempt: record.next_attempt,
    };
    let output =
        serde_json::to_string(&result).map_err(|e| FnError::invalid_input(e.to_string()))?;
    let resumed = ctx
        .sfn
        .send_task_success()
        .task_token(token)
        .output(output)
        .send()
        .await;
    match resumed {
        Ok(_) => {}
        Err(e)
            if matches!(
                code(&e),
                Some("TaskTimedOut" | "InvalidToken" | "TaskDoesNotExist")
            ) =>
        {
            info!(job_id = %layout.job_id, task = index, "the execution no longer waits for this attempt");
        }
        Err(e) => return Err(FnError::aws("SendTaskSuccess", &e)),
    }
    info!(job_id = %layout.job_id, task = index, attempt = attempt.number, outcome = record.outcome.as_str(), "attempt recorded");
    serde_json::to_value(&record).map_err(|e| FnError::invalid_input(e.to_string()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The task's declared outputs that this attempt (started at `started_ms`) did not write to S3 (one that cannot
/// even be checked says why).
async fn missing_outputs(
    ctx: &Ctx,
    layout: &JobLayout,
    index: usize,
    payer: Payer<'_>,
    started_ms: Option<i64>,
) -> Result<Vec<String>, FnError> {
    let Some(bytes) = store::get(&ctx.s3, &layout.bucket, &layout.tasks_key()).await? else {
        return Err(FnError::invalid_input(format!(
            "{} is missing",
            layout.url(&layout.tasks_key())
        )));
    };
    let file =
        tasks::parse("tasks.tsv", &bytes).map_err(|d| FnError::invalid_input(d.to_string()))?;
    let Some(task) = file.tasks.iter().find(|t| t.index == index) else {
        return Err(FnError::invalid_input(format!(
            "task {index} is not in the job's tasks file"
        )));
    };
    let mut missing = Vec::new();
    for (column, cell) in file.columns.iter().zip(&task.cells) {
        if let (true, Cell::Path(path)) = (column.kind.is_output(), cell) {
            match store::location_written(&ctx.s3, path, payer, started_ms).await {
                Ok(true) => {}
                Ok(false) => missing.push(path.url()),
                Err(e) if !e.is_transient() => {
                    missing.push(format!("{} (cannot check: {})", path.url(), e.message));
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(missing)
}

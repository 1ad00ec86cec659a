//! How a stopped task's attempt ends, whoever saw it stop: task-stopped (its "Task State Change" event) and the
//! janitor (a STOPPED task whose event was lost, or whose handling Lambda gave up on). It classifies the attempt
//! (exit code, stop reason, declared outputs present), records it once (a conditional write, so the same event
//! delivered twice records nothing the second time), terminates the instance (or, for a task failed for good of a
//! job with `--keep-on-failure`, tags it held until its deadline: ecsub-core's `hold`), and resumes the waiting execution
//! with the task token the task carries in its environment (or, once that one is closed, the later one a retried
//! start recorded). Every step is idempotent, so a redelivered event (or a replay of a lost one) finishes what an
//! earlier one left.

use crate::Ctx;
use ecsub_aws::compute::terminate;
use ecsub_aws::ecs_tasks::EcsTaskDetail;
use ecsub_aws::hold::hold;
use ecsub_aws::store::{self, Payer};
use ecsub_aws::{execution, FnError};
use ecsub_core::chain::hold::hold_for;
use ecsub_core::chain::{
    classify, failure_class, job_of_cluster, next_attempt, retry_change, AttemptRecord,
    AttemptResult, Stopped,
};
use ecsub_core::outputs::{Window, S3_SLACK_MS};
use ecsub_core::tasks::{self, Cell};
use ecsub_core::time::rfc3339_of_ms;
use ecsub_core::JobLayout;
use serde_json::{json, Value};
use tracing::{info, warn};

/// Handles one stopped task (from its event, or from DescribeTasks when its event was lost).
pub async fn record(
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
    let env = match task.task_env() {
        Ok(Some(env)) => env,
        Ok(None) => {
            info!(
                task_arn = task.task_arn,
                "not started by ecsub's state machine; ignored"
            );
            return Ok(json!({ "ignored": task.task_arn }));
        }
        Err(why) => {
            return Err(FnError::invalid_input(format!("{}: {why}", task.task_arn)));
        }
    };
    let layout = JobLayout::from_url(&env.job_url).ok_or_else(|| {
        FnError::invalid_input(format!(
            "ECSUB_JOB_URL `{}` is not a job folder",
            env.job_url
        ))
    })?;
    let (index, attempt) = (env.index, env.attempt);
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
        // From the task's start to now, this function's clock: an object stamped later was not written by the
        // attempt (probe 2026-12, finding 10).
        let window = started_ms.map_or(Window::ANY, |ms| {
            Window::attempt(ms, crate::now_ms(), S3_SLACK_MS)
        });
        missing_outputs(
            ctx,
            &layout,
            index,
            Payer(&env.request_payer_buckets),
            window,
        )
        .await?
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
    let class = failure_class(&stopped, outcome);
    let next = next_attempt(outcome, exit_code, class, attempt, &env.retry_policy());
    let reason = match next.as_ref().and_then(|n| retry_change(&attempt, n)) {
        Some(change) => format!("{reason}; {change}"),
        None => reason,
    };
    // `--keep-on-failure`: a task failed for good keeps its instance for a look, until recorded_at + the keep.
    let recorded_ms = crate::now_ms();
    let held_until = hold_for(outcome, next.is_some(), env.keep_on_failure)
        .filter(|_| env.instance_id.is_some())
        .map(|keep| rfc3339_of_ms(recorded_ms + i64::from(keep) * 1000));
    let reason = match &held_until {
        Some(until) => format!("{reason}; its instance is held for a look until {until}"),
        None => reason,
    };
    let record = AttemptRecord {
        job_id: layout.job_id.clone(),
        index,
        attempt: attempt.number,
        spot: attempt.spot,
        instance_id: env.instance_id.clone(),
        instance_type: env.instance_type.clone(),
        task_arn: Some(task.task_arn.clone()),
        outcome,
        class,
        exit_code,
        reason,
        missing_outputs: missing,
        started_at: task.started_at.clone(),
        stopped_at: task.stopped_at.clone(),
        launched_at: env.launched_at.clone(),
        availability_zone: env.availability_zone.clone(),
        recorded_at: crate::now_rfc3339(),
        recorded_by: "task-stopped".to_owned(),
        next_attempt: next,
        held_until,
    };
    let body =
        serde_json::to_vec_pretty(&record).map_err(|e| FnError::invalid_input(e.to_string()))?;
    let key = layout.attempt_key(index, attempt.number);
    let created =
        store::put_new(&ctx.aws.s3, &layout.bucket, &key, body, "application/json").await?;
    let record = if created {
        record
    } else {
        // Recorded already. By an earlier delivery of this very event, which may have died before it terminated
        // the instance or resumed the execution: both are done again (both are idempotent). By anyone else
        // (finalize, after a timeout or an error): nothing is left to do.
        let existing = store::get(&ctx.aws.s3, &layout.bucket, &key)
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
    match (&env.instance_id, &record.held_until) {
        (Some(id), Some(until)) => {
            hold(&ctx.aws.ec2, id, until).await?;
            info!(job_id = %layout.job_id, task = index, instance_id = id, until, "failed for good: instance held for a look");
        }
        (Some(id), None) => {
            terminate(&ctx.aws.ec2, id).await?;
            info!(job_id = %layout.job_id, task = index, instance_id = id, delay_ms, "instance terminated");
        }
        (None, _) => {}
    }
    let result = AttemptResult {
        outcome: record.outcome,
        exit_code: record.exit_code,
        reason: record.reason.clone(),
        next_attempt: record.next_attempt,
    };
    let output =
        serde_json::to_string(&result).map_err(|e| FnError::invalid_input(e.to_string()))?;
    if !execution::resume(&ctx.aws.sfn, &env.task_token, output.clone()).await? {
        // The task's token is closed (TaskTimedOut: "the task associated with the token has already been
        // closed"). A start tried again after placing the task may have left the token the state waits with now.
        let key = layout.token_key(index, attempt.number);
        let later = store::get(&ctx.aws.s3, &layout.bucket, &key).await?;
        let resumed = match later.and_then(|bytes| String::from_utf8(bytes).ok()) {
            Some(token) if token != env.task_token => {
                execution::resume(&ctx.aws.sfn, &token, output).await?
            }
            _ => false,
        };
        if !resumed {
            info!(job_id = %layout.job_id, task = index, "the execution no longer waits for this attempt");
        }
    }
    info!(job_id = %layout.job_id, task = index, attempt = attempt.number, outcome = record.outcome.as_str(), "attempt recorded");
    serde_json::to_value(&record).map_err(|e| FnError::invalid_input(e.to_string()))
}

/// The task's declared outputs that this attempt did not write to S3 within `window` (one that cannot even be
/// checked says why).
async fn missing_outputs(
    ctx: &Ctx,
    layout: &JobLayout,
    index: usize,
    payer: Payer<'_>,
    window: Window,
) -> Result<Vec<String>, FnError> {
    let Some(bytes) = store::get(&ctx.aws.s3, &layout.bucket, &layout.tasks_key()).await? else {
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
            match store::location_written(&ctx.aws.s3, path, payer, window).await {
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

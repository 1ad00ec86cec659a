//! The `janitor` function: nothing of this stack keeps running, billing or waiting. It handles
//! - Step Functions "Execution Status Change" events for an execution that ended FAILED, ABORTED or TIMED_OUT
//!   (a cancel, a timeout, a bug): the job is closed as `finalize` would have (instances terminated, cluster
//!   removed, `summary.json` written, unfinished tasks said to have been cut short);
//! - its schedule (every 10 minutes), which runs, in order:
//!   1. [`failed`]: the events Lambda gave up on (the stack's OnFailure queue): a submit that kept failing gets
//!      its `error.txt`; a STOPPED event task-stopped could not handle is handled again;
//!   2. [`reconcile`]: for every running job of the stack, tasks ECS reports STOPPED that have no record (their
//!      event was lost) are handled as task-stopped would, so their instances end and their executions go on;
//!   3. [`sweep`]: instances of the stack's jobs whose execution is not running are terminated, and clusters of
//!      ended jobs removed.
//!
//! Only this stack's: every search is filtered on the stack's tag or its cluster prefix.

pub mod failed;
pub mod reconcile;
pub mod sweep;

use crate::events::EventBridgeEvent;
use crate::{job_end, Ctx};
use ecsub_aws::{execution, FnError};
use ecsub_core::chain::ExecutionInput;
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{error, info, warn};

/// `detail` of a "Step Functions Execution Status Change" event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionDetail {
    #[serde(default)]
    execution_arn: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    input: Option<String>,
}

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    let event: EventBridgeEvent<Value> = serde_json::from_value(event.payload)
        .map_err(|e| FnError::invalid_input(format!("not an EventBridge event: {e}")))?;
    match (event.source.as_str(), event.detail_type.as_str()) {
        ("aws.states", "Step Functions Execution Status Change") => {
            let detail: ExecutionDetail = serde_json::from_value(event.detail)
                .map_err(|e| FnError::invalid_input(format!("execution status change: {e}")))?;
            execution_ended(ctx, &detail).await
        }
        ("aws.events", "Scheduled Event") => scheduled(ctx).await,
        (source, kind) => {
            info!(source, kind, "not an event the janitor handles; ignored");
            Ok(json!({ "ignored": kind }))
        }
    }
}

/// One scheduled run: every part runs even when one before it failed (each failure is logged and listed in the
/// answer, and the next run tries again), so a failing job or queue never keeps another job's instances billing.
async fn scheduled(ctx: &Ctx) -> Result<Value, FnError> {
    let mut errors: Vec<String> = Vec::new();
    let mut note = |part: &str, e: FnError| {
        error!(part, error = %e, "janitor: not done this run; tried again on the next");
        errors.push(format!("{part}: {e}"));
    };
    let failed = failed::drain(ctx).await.unwrap_or_else(|e| {
        note("failed events", e);
        Vec::new()
    });
    let reconciled = reconcile::lost_stops(ctx).await.unwrap_or_else(|e| {
        note("reconcile", e);
        Vec::new()
    });
    let mut done = |part: &str, run: Result<sweep::Swept, FnError>| match run {
        Ok(swept) => {
            swept.errors.into_iter().for_each(|e| note(part, e));
            swept.done
        }
        Err(e) => {
            note(part, e);
            Vec::new()
        }
    };
    let terminated = done("instances", sweep::instances(ctx).await);
    let clusters = done("clusters", sweep::clusters(ctx).await);
    info!(
        failed_events = failed.len(),
        reconciled = reconciled.len(),
        terminated = terminated.len(),
        clusters_removed = clusters.len(),
        errors = errors.len(),
        "janitor run"
    );
    Ok(json!({
        "failed_events": failed,
        "reconciled": reconciled,
        "terminated": terminated,
        "clusters_removed": clusters,
        "errors": errors,
    }))
}

async fn execution_ended(ctx: &Ctx, detail: &ExecutionDetail) -> Result<Value, FnError> {
    if !matches!(detail.status.as_str(), "FAILED" | "ABORTED" | "TIMED_OUT") {
        return Ok(json!({ "ignored": detail.execution_arn, "status": detail.status }));
    }
    let input = match &detail.input {
        Some(input) => input.clone(),
        None => execution::input(&ctx.aws.sfn, &detail.execution_arn).await?,
    };
    let input: ExecutionInput = serde_json::from_str(&input).map_err(|e| {
        FnError::invalid_input(format!(
            "{}: not an ecsub execution: {e}",
            detail.execution_arn
        ))
    })?;
    let layout = crate::layout_of(&input.job)?;
    if ecsub_aws::store::exists(&ctx.aws.s3, &layout.bucket, &layout.error_key()).await? {
        // A refused job whose execution a copy of its event started, and the refusal stopped (submit's
        // `withdraw`): it has no summary and no end to announce; the sweep takes what the copy may have made.
        info!(job_id = %input.job.job_id, "the execution of a refused job was stopped; nothing to close");
        return Ok(json!({ "refused": input.job.job_id }));
    }
    warn!(job_id = %input.job.job_id, status = detail.status, "the execution ended early; closing the job");
    job_end::close(
        ctx,
        &input.job,
        &input.items,
        Some(format!("the job's execution ended {}", detail.status)),
    )
    .await
}

/// A job's execution status (`RUNNING`, `SUCCEEDED`, …), or `None` when it never started.
pub async fn execution_status(ctx: &Ctx, job: &str) -> Result<Option<String>, FnError> {
    let Some(arn) = ctx.config.execution_arn(job) else {
        return Err(FnError::invalid_input("ECSUB_STATE_MACHINE_ARN is not set"));
    };
    execution::status(&ctx.aws.sfn, &arn).await
}

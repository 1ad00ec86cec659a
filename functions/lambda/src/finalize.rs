//! The `finalize` function: closes what the state machine opened. For a task whose states failed (launch,
//! join, start, timeout) it terminates the instance and records the attempt; at the end of a job it closes the job
//! ([`job_end`]: instances, summary, notice, cluster).

use crate::Ctx;
use crate::{job_end, layout_of};
use ecsub_aws::compute::terminate;
use ecsub_aws::{store, FnError};
use ecsub_core::chain::hold::Hold;
use ecsub_core::chain::{AttemptRecord, FailureClass, FinalizeInput, IterationState, Outcome};
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
            job_end::close(ctx, &job, &items, why).await
        }
    }
}

async fn task_error(ctx: &Ctx, state: &IterationState) -> Result<Value, FnError> {
    let layout = layout_of(&state.job)?;
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
        class: Some(FailureClass::Infrastructure),
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
        held_until: None,
    };
    let body =
        serde_json::to_vec_pretty(&record).map_err(|e| FnError::invalid_input(e.to_string()))?;
    let key = layout.attempt_key(state.task.index, state.attempt.number);
    let created =
        store::put_new(&ctx.aws.s3, &layout.bucket, &key, body, "application/json").await?;
    // Recorded before the instance is terminated, never after: terminating it stops its ECS task with "Host EC2
    // terminated", whose event task-stopped would otherwise record first, as an interruption to be retried (a
    // timed-out task retried as if spot had taken it). A retry of this function after a failed terminate finds
    // the record and terminates again.
    if let Some(instance) = &state.instance {
        // Recorded already, by task-stopped, which may have held the instance for a look (`--keep-on-failure`):
        // its hold stands.
        if !created && held(ctx, &layout, &key).await? {
            info!(job_id = %layout.job_id, task = state.task.index, instance_id = instance.instance_id, "the instance is held for a look; not terminated");
        } else {
            terminate(&ctx.aws.ec2, &instance.instance_id).await?;
        }
    }
    warn!(job_id = %layout.job_id, task = state.task.index, reason, created, "task ended by an error");
    Ok(
        json!({ "index": state.task.index, "outcome": Outcome::InfrastructureError, "reason": reason }),
    )
}

/// Whether the attempt's record (written by someone else) holds its instance for a look until a time to come.
async fn held(ctx: &Ctx, layout: &JobLayout, key: &str) -> Result<bool, FnError> {
    let record = store::get(&ctx.aws.s3, &layout.bucket, key)
        .await?
        .and_then(|bytes| serde_json::from_slice::<AttemptRecord>(&bytes).ok());
    let until = record.and_then(|r| r.held_until);
    Ok(Hold::of(until.as_deref(), crate::now_ms()).is_held())
}

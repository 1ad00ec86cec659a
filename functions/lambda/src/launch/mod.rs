//! The `launch` function: the state machine's hands for one attempt of a task. It launches the attempt's
//! instance ([`run`]), checks that it joined the job's cluster (ecsub-aws's `cluster::joined`), and starts the task
//! on it with the state's task token ([`start`]); each is one action of [`LaunchRequest`].

pub mod run;
pub mod start;

use crate::Ctx;
use ecsub_aws::{cluster, compute, store, FnError};
use ecsub_core::chain::policy::{out_of_patience, worth_launching_again};
use ecsub_core::chain::{error_names, Attempt, JobRef, JoinCheck, LaunchRequest, TaskRef, Waiting};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    let request: LaunchRequest = serde_json::from_value(event.payload)
        .map_err(|e| FnError::invalid_input(format!("launch input: {e}")))?;
    let answer = match request {
        LaunchRequest::Launch {
            job,
            task,
            attempt,
            relaunch,
            asked_at,
        } => {
            let launched = run::launch(ctx, &job, task, attempt, relaunch).await;
            let launched = match launched {
                Err(e) if WAITS.contains(&e.name) => {
                    let e = patience(ctx, asked_at.as_deref(), e);
                    if e.name != error_names::THROTTLED {
                        say_why_it_waits(ctx, &job, task, attempt, &e).await;
                    }
                    Err(e)
                }
                other => other,
            };
            serde_json::to_value(launched?)
        }
        LaunchRequest::CheckJoined { job, instance } => {
            serde_json::to_value(check_joined(ctx, &job, &instance.instance_id).await?)
        }
        LaunchRequest::Start {
            token,
            job,
            task,
            attempt,
            instance,
            container_instance,
            retry,
        } => {
            let started = start::start(
                ctx,
                &start::StartRequest {
                    token: &token,
                    job: &job,
                    task,
                    attempt,
                    instance: &instance,
                    container_instance: &container_instance,
                    retry,
                },
            )
            .await?;
            Ok(serde_json::json!({ "task_arn": started }))
        }
    };
    answer.map_err(|e| FnError::invalid_input(e.to_string()))
}

/// What a launch waits for rather than fails on: the state machine tries again, as long as the stack's patience.
const WAITS: [&str; 3] = [
    error_names::THROTTLED,
    error_names::QUOTA_EXCEEDED,
    error_names::CAPACITY_UNAVAILABLE,
];

/// A refusal worth waiting for, or, once the attempt has waited the stack's `LaunchPatienceSeconds` since it asked
/// (the Launch state's entry, which its retries keep), `Ecsub.LaunchTimedOut` naming the wait and the last refusal.
fn patience(ctx: &Ctx, asked_at: Option<&str>, e: FnError) -> FnError {
    let Some(asked_ms) = asked_at.and_then(ecsub_core::time::rfc3339_ms) else {
        return e;
    };
    let now_ms = crate::now_ms();
    let patience = ctx.config.launch_patience;
    if !out_of_patience(asked_ms, now_ms, patience) {
        return e;
    }
    FnError::new(
        error_names::LAUNCH_TIMED_OUT,
        format!(
            "waited {} s for an instance since {} (the stack's LaunchPatienceSeconds is {patience}); the last refusal: \
             {}: {}",
            (now_ms - asked_ms) / 1000,
            asked_at.unwrap_or_default(),
            e.name,
            e.message
        ),
    )
}

/// Has the instance joined? One that has not is looked up in EC2. Gone by EC2's doing (it ended a pending
/// instance) is `lost`: the state machine launches again at once. Gone by its own doing or its request's (its user
/// data shut it down) is `ended`: the attempt fails at once, instead of polling until the join timeout. A stopped
/// one is terminated (nobody will start it again).
async fn check_joined(ctx: &Ctx, job: &JobRef, instance_id: &str) -> Result<JoinCheck, FnError> {
    let mut check = cluster::joined(&ctx.aws.ecs, &job.cluster, instance_id).await?;
    if check.joined {
        return Ok(check);
    }
    let Some(gone) = compute::gone(&ctx.aws.ec2, instance_id).await? else {
        return Ok(check);
    };
    if gone.state.starts_with("stop") {
        compute::terminate(&ctx.aws.ec2, instance_id).await?;
    }
    if worth_launching_again(&gone.code) {
        tracing::warn!(job_id = %job.job_id, instance_id, lost = gone.said, "EC2 ended the instance before it joined; launching again");
        check.lost = Some(gone.said);
    } else {
        tracing::warn!(job_id = %job.job_id, instance_id, ended = gone.said, "the instance ended before it joined");
        check.seen = format!("{}, then {}", check.seen, gone.said);
        check.ended = Some(gone.said);
    }
    Ok(check)
}

/// Records why the task's launch waits, for `status` (a failure to record is only logged: the launch's own error
/// is what the state machine acts on).
async fn say_why_it_waits(ctx: &Ctx, job: &JobRef, task: TaskRef, attempt: Attempt, e: &FnError) {
    let Some(layout) = ecsub_core::JobLayout::from_url(&job.job_url) else {
        return;
    };
    let waiting = Waiting {
        attempt: attempt.number,
        error: e.name.to_owned(),
        message: e.message.clone(),
        at: crate::now_rfc3339(),
    };
    let Ok(body) = serde_json::to_vec(&waiting) else {
        return;
    };
    let key = layout.waiting_key(task.index);
    if let Err(put) = store::put(&ctx.aws.s3, &layout.bucket, &key, body, "application/json").await
    {
        tracing::warn!(job_id = %job.job_id, task = task.index, error = %put.message, "why the launch waits was not recorded");
    }
}

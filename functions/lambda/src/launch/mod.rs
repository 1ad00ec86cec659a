//! The `launch` function: the state machine's hands for one attempt of a task once its instance is launched (by
//! the `launcher`): it waits for the instance's join ([`joined`]: ECS's event answers the wait), checks the join
//! itself when no event came (ecsub-aws's `cluster::joined`), and starts the task on it with the state's task token
//! ([`start`]); each is one action of [`LaunchRequest`], and ECS's "Container Instance State Change" events arrive
//! here too.

pub mod joined;
pub mod start;

use crate::Ctx;
use ecsub_aws::{cluster, compute, FnError};
use ecsub_core::chain::policy::worth_launching_again;
use ecsub_core::chain::{JobRef, JoinCheck, LaunchRequest};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    if event.payload.get("detail-type").is_some() {
        return joined::on_event(ctx, event.payload).await;
    }
    let request: LaunchRequest = serde_json::from_value(event.payload)
        .map_err(|e| FnError::invalid_input(format!("launch input: {e}")))?;
    let answer = match request {
        LaunchRequest::AwaitJoin {
            token,
            job,
            instance,
        } => return joined::await_join(ctx, &token, &job, &instance).await,
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

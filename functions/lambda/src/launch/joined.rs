//! The join, heard instead of polled. After its launch an attempt waits (the state machine's AwaitJoin) until its
//! instance has registered in the job's cluster with its agent connected; ECS says so with a "Container Instance
//! State Change" event ("Amazon ECS container instance state change events": sent when the agent first registers
//! the instance). Polling for it instead cost every task a join check every `--waiter-delay` (15 s) while its
//! instance booted: at 2 000 tasks at `--processes 500` about fourteen launch invocations a task, and as many ECS
//! reads from the account's shared read bucket.
//!
//! The wait and the event meet in the stack's bucket, by instance id (`names::join_key`): the wait writes its task
//! token and then reads whether the join was heard; the event's handler answers the token it finds, and when there
//! is none yet, writes that the instance joined and then reads the token again. S3 reads what was written before
//! (strong read-after-write consistency), so whichever of the two comes second sees the other's half and answers
//! the state (both may: the second answer finds the token closed and is dropped). On EC2 the wait has long begun
//! when the instance joins (a boot takes a minute or more): the event costs one read and one answer. ECS sends its events on a best-effort basis and a pending instance EC2 ends sends none to the
//! join, so the wait has a timeout (`JobRef::join_wait`), after which the state machine checks for itself
//! (CheckJoined) and waits again.

use crate::events::{ContainerInstanceDetail, EventBridgeEvent};
use crate::Ctx;
use ecsub_aws::{execution, store, FnError};
use ecsub_core::chain::names::{job_of_cluster, join_key, JoinPart};
use ecsub_core::chain::{Instance, JobRef, JoinCheck};
use serde_json::{json, Value};
use tracing::info;

/// The wait: keeps the state's token for the event's handler, then answers the state itself if the join was
/// heard before the token was kept.
pub async fn await_join(
    ctx: &Ctx,
    token: &str,
    job: &JobRef,
    instance: &Instance,
) -> Result<Value, FnError> {
    let bucket = &ctx.config.bucket;
    let id = &instance.instance_id;
    store::put(
        &ctx.aws.s3,
        bucket,
        &join_key(&job.job_id, id, JoinPart::Token),
        token.as_bytes().to_vec(),
        "text/plain",
    )
    .await?;
    let Some(heard) = heard(ctx, &join_key(&job.job_id, id, JoinPart::Joined)).await? else {
        return Ok(json!({ "waiting": true }));
    };
    let answered = execution::resume(&ctx.aws.sfn, token, heard).await?;
    info!(job_id = %job.job_id, instance_id = %id, answered, "the join was heard before the wait began");
    Ok(json!({ "waiting": false }))
}

/// The event: an instance of one of this stack's clusters is ACTIVE with its agent connected. Answers the attempt
/// waiting for it; when none waits yet, records the join for the wait to find, then looks once more (the wait may
/// have begun meanwhile). Other events are ignored: another stack's, an instance not connected. A later event of
/// the same instance (its task stopped and its resources freed, its agent reconnecting) finds the token already
/// answered and changes nothing.
pub async fn on_event(ctx: &Ctx, event: Value) -> Result<Value, FnError> {
    let event: EventBridgeEvent<ContainerInstanceDetail> = serde_json::from_value(event)
        .map_err(|e| FnError::invalid_input(format!("not an ECS container instance event: {e}")))?;
    let detail = &event.detail;
    let Some(job) = job_of_cluster(&ctx.config.stack, &detail.cluster_arn) else {
        return Ok(json!({ "ignored": "not a cluster of this stack" }));
    };
    if detail.status != "ACTIVE" || !detail.agent_connected || detail.ec2_instance_id.is_empty() {
        return Ok(
            json!({ "ignored": format!("{}, agent connected: {}", detail.status, detail.agent_connected) }),
        );
    }
    let id = &detail.ec2_instance_id;
    let check = JoinCheck {
        joined: true,
        container_instance_arn: Some(detail.container_instance_arn.clone()),
        seen: format!(
            "registered, ACTIVE, agent connected (ECS event{})",
            event
                .time
                .map(|t| format!(" of {}", t.to_rfc3339()))
                .unwrap_or_default()
        ),
        lost: None,
        ended: None,
    };
    let answer = to_json(&check)?;
    let token_key = join_key(&job, id, JoinPart::Token);
    let mut answered = answer_waiting(ctx, &token_key, &answer).await?;
    if answered.is_none() {
        store::put(
            &ctx.aws.s3,
            &ctx.config.bucket,
            &join_key(&job, id, JoinPart::Joined),
            answer.clone().into_bytes(),
            "application/json",
        )
        .await?;
        answered = answer_waiting(ctx, &token_key, &answer).await?;
    }
    match answered {
        Some(true) => info!(job_id = %job, instance_id = %id, "joined; its attempt goes on"),
        Some(false) => {
            info!(job_id = %job, instance_id = %id, "an event of a joined instance, or of one whose wait ran out; nothing waits for it")
        }
        None => {
            info!(job_id = %job, instance_id = %id, "joined before its attempt waits; the wait will find it")
        }
    }
    Ok(json!({ "answered": answered == Some(true) }))
}

/// Sends `answer` to the token kept at `token_key`: `None` when no token is kept there; whether the state took it.
async fn answer_waiting(ctx: &Ctx, token_key: &str, answer: &str) -> Result<Option<bool>, FnError> {
    let Some(token) = store::get(&ctx.aws.s3, &ctx.config.bucket, token_key).await? else {
        return Ok(None);
    };
    let token = String::from_utf8(token)
        .map_err(|_| FnError::invalid_input(format!("{token_key} is not a task token")))?;
    execution::resume(&ctx.aws.sfn, &token, answer.to_owned())
        .await
        .map(Some)
}

/// The join the event's handler recorded, if any.
async fn heard(ctx: &Ctx, key: &str) -> Result<Option<String>, FnError> {
    let Some(bytes) = store::get(&ctx.aws.s3, &ctx.config.bucket, key).await? else {
        return Ok(None);
    };
    let check: JoinCheck = serde_json::from_slice(&bytes)
        .map_err(|e| FnError::invalid_input(format!("{key}: {e}")))?;
    to_json(&check).map(Some)
}

fn to_json(check: &JoinCheck) -> Result<String, FnError> {
    serde_json::to_string(check).map_err(|e| FnError::invalid_input(e.to_string()))
}

//! Lost STOPPED events: EventBridge delivers at least once, not always, and Lambda discards an event it could not
//! handle after its retries. For every running job of this stack, the tasks ECS reports STOPPED (ECS keeps them
//! listed for at least an hour) that have no attempt record are handled as task-stopped would have: recorded,
//! their instance terminated, their execution resumed ([`attempt_end`]).

use super::execution_status;
use crate::{attempt_end, Ctx};
use ecsub_aws::cluster::stack_clusters;
use ecsub_aws::ecs_tasks::{self, DesiredStatus, EcsTaskDetail};
use ecsub_aws::{store, FnError};
use ecsub_core::chain::{job_of_cluster, STARTED_BY};
use ecsub_core::JobLayout;
use tracing::warn;

/// Handles the stopped tasks of running jobs that nobody recorded; returns their ARNs.
pub async fn lost_stops(ctx: &Ctx) -> Result<Vec<String>, FnError> {
    let mut handled = Vec::new();
    for cluster in stack_clusters(&ctx.aws.ecs, &ctx.config.stack).await? {
        let Some(job) = job_of_cluster(&ctx.config.stack, &cluster) else {
            continue;
        };
        if execution_status(ctx, job.as_str()).await?.as_deref() != Some("RUNNING") {
            continue;
        }
        for task in ecs_tasks::tasks(&ctx.aws.ecs, &cluster, DesiredStatus::Stopped).await? {
            if task.started_by.as_deref() != Some(STARTED_BY) || task.last_status != "STOPPED" {
                continue;
            }
            if recorded(ctx, &task).await? {
                continue;
            }
            warn!(job_id = %job, task_arn = task.task_arn, "a stopped task has no record (its event was lost); handling it");
            attempt_end::record(ctx, &task, None).await?;
            handled.push(task.task_arn.clone());
        }
    }
    Ok(handled)
}

/// Is the attempt this task ran recorded already? (One that is not the state machine's has nothing to reconcile.)
async fn recorded(ctx: &Ctx, task: &EcsTaskDetail) -> Result<bool, FnError> {
    let Ok(Some(env)) = task.task_env() else {
        return Ok(true);
    };
    let Some(layout) = JobLayout::from_url(&env.job_url) else {
        return Ok(true);
    };
    let key = layout.attempt_key(env.index, env.attempt.number);
    store::exists(&ctx.aws.s3, &layout.bucket, &key).await
}

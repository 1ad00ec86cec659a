//! Lost STOPPED events: EventBridge delivers at least once, not always, and Lambda discards an event it could not
//! handle after its retries. For every running job of this stack, the tasks ECS reports STOPPED (ECS keeps them
//! listed for at least an hour) that have no attempt record are handled as task-stopped would have: recorded,
//! their instance terminated, their execution resumed.

use super::execution_status;
use super::sweep::stack_clusters;
use crate::ctx::Ctx;
use crate::ecs_tasks::{self, DesiredStatus, Task};
use crate::error::FnError;
use crate::events::{EcsContainer, EcsContainerOverride, EcsKeyValue, EcsOverrides, EcsTaskDetail};
use crate::store;
use crate::task_stopped;
use ecsub_core::chain::{job_of_cluster, STARTED_BY};
use ecsub_core::JobLayout;
use tracing::warn;

/// Handles the stopped tasks of running jobs that nobody recorded; returns their ARNs.
pub async fn lost_stops(ctx: &Ctx) -> Result<Vec<String>, FnError> {
    let mut handled = Vec::new();
    for cluster in stack_clusters(ctx).await? {
        let Some(job) = job_of_cluster(&ctx.config.stack, &cluster) else {
            continue;
        };
        if execution_status(ctx, job.as_str()).await?.as_deref() != Some("RUNNING") {
            continue;
        }
        for task in ecs_tasks::tasks(ctx, &cluster, DesiredStatus::Stopped).await? {
            if task.started_by() != Some(STARTED_BY) || task.last_status() != Some("STOPPED") {
                continue;
            }
            let detail = detail_of(&task);
            if recorded(ctx, &detail).await? {
                continue;
            }
            warn!(job_id = %job, task_arn = detail.task_arn, "a stopped task has no record (its event was lost); handling it");
            task_stopped::process(ctx, &detail, None).await?;
            handled.push(detail.task_arn.clone());
        }
    }
    Ok(handled)
}

/// Is the attempt this task ran recorded already?
async fn recorded(ctx: &Ctx, task: &EcsTaskDetail) -> Result<bool, FnError> {
    let (Some(url), Some(index), Some(attempt)) = (
        task.env("ECSUB_JOB_URL"),
        task.env("ECSUB_TASK_INDEX").and_then(|v| v.parse().ok()),
        task.env("ECSUB_ATTEMPT").and_then(|v| v.parse().ok()),
    ) else {
        return Ok(true); // not one of the state machine's: nothing to reconcile
    };
    let Some(layout) = JobLayout::from_url(url) else {
        return Ok(true);
    };
    store::exists(&ctx.s3, &layout.bucket, &layout.attempt_key(index, attempt)).await
}

/// A DescribeTasks task in the shape of the "ECS Task State Change" event's detail.
pub fn detail_of(task: &Task) -> EcsTaskDetail {
    let time = |t: Option<&aws_sdk_ecs::primitives::DateTime>| {
        t.and_then(|t| {
            t.fmt(aws_sdk_ecs::primitives::DateTimeFormat::DateTime)
                .ok()
        })
    };
    EcsTaskDetail {
        cluster_arn: task.cluster_arn().unwrap_or_default().to_owned(),
        task_arn: task.task_arn().unwrap_or_default().to_owned(),
        last_status: task.last_status().unwrap_or_default().to_owned(),
        stop_code: task.stop_code().map(|c| c.as_str().to_owned()),
        stopped_reason: task.stopped_reason().map(str::to_owned),
        started_at: time(task.started_at()),
        stopped_at: time(task.stopped_at()),
        container_instance_arn: task.container_instance_arn().map(str::to_owned),
        containers: task
            .containers()
            .iter()
            .map(|c| EcsContainer {
                name: c.name().unwrap_or_default().to_owned(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_owned),
            })
            .collect(),
        overrides: EcsOverrides {
            container_overrides: task
                .overrides()
                .into_iter()
                .flat_map(|o| o.container_overrides())
                .map(|o| EcsContainerOverride {
                    name: o.name().unwrap_or_default().to_owned(),
                    environment: o
                        .environment()
                        .iter()
                        .map(|kv| EcsKeyValue {
                            name: kv.name().unwrap_or_default().to_owned(),
                            value: kv.value().unwrap_or_default().to_owned(),
                        })
                        .collect(),
                })
                .collect(),
        },
    }
}

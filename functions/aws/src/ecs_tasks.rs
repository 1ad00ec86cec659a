//! A cluster's tasks, described: every page of ListTasks, then DescribeTasks 100 at a time (the most it takes).

use crate::ctx::Ctx;
use crate::error::{code, FnError};
pub use aws_sdk_ecs::types::{DesiredStatus, Task};

/// The cluster's tasks whose desired status is `desired`; a cluster that is gone has none.
pub async fn tasks(ctx: &Ctx, cluster: &str, desired: DesiredStatus) -> Result<Vec<Task>, FnError> {
    let mut arns = Vec::new();
    let mut pages = ctx
        .ecs
        .list_tasks()
        .cluster(cluster)
        .desired_status(desired)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => arns.extend(page.task_arns().iter().cloned()),
            Err(e) if code(&e) == Some("ClusterNotFoundException") => return Ok(Vec::new()),
            Err(e) => return Err(FnError::aws(format!("ListTasks {cluster}"), &e)),
        }
    }
    let mut tasks = Vec::with_capacity(arns.len());
    for chunk in arns.chunks(100) {
        let described = ctx
            .ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| FnError::aws(format!("DescribeTasks {cluster}"), &e))?;
        tasks.extend(described.tasks().iter().cloned());
    }
    Ok(tasks)
}

/// A number ecsub put in the task's container environment (`ECSUB_TASK_INDEX`, `ECSUB_ATTEMPT`).
pub fn env_number(task: &Task, name: &str) -> Option<u64> {
    task.overrides()
        .into_iter()
        .flat_map(|o| o.container_overrides())
        .flat_map(|o| o.environment())
        .find(|kv| kv.name() == Some(name))
        .and_then(|kv| kv.value())
        .and_then(|v| v.parse().ok())
}

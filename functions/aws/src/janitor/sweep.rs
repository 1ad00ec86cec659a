//! The sweep: instances of this stack's jobs whose execution is not running are terminated; clusters of this
//! stack's jobs that ended (or whose submit died before the execution started, an hour on) are removed.

use super::execution_status;
use crate::compute::{stack_instances, tag_of, terminate_all};
use crate::ctx::Ctx;
use crate::error::FnError;
use crate::finalize::{deregister_definition, remove_cluster};
use aws_sdk_ecs::types::ClusterField;
use ecsub_core::chain::{job_of_cluster, TAG_JOB};
use std::collections::BTreeMap;
use tracing::warn;

/// Tag on each cluster: when submit made it (seconds since the epoch).
pub const TAG_CREATED: &str = "ecsub:created";
/// How long a cluster may exist without its job's execution (submit runs at most 15 minutes).
const ORPHAN_AFTER_SECONDS: u64 = 3600;

/// Terminates the stack's instances of jobs that are not running; returns their ids.
pub async fn instances(ctx: &Ctx) -> Result<Vec<String>, FnError> {
    let live = stack_instances(&ctx.ec2, &ctx.config.stack, None, &["pending", "running"]).await?;
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for instance in &live {
        if let (Some(job), Some(id)) = (tag_of(instance, TAG_JOB), instance.instance_id()) {
            by_job
                .entry(job.to_owned())
                .or_default()
                .push(id.to_owned());
        }
    }
    let mut terminated = Vec::new();
    for (job, ids) in by_job {
        if execution_status(ctx, &job).await?.as_deref() == Some("RUNNING") {
            continue;
        }
        terminate_all(ctx, &ids).await?;
        warn!(
            job_id = job,
            ?ids,
            "terminated instances of a job that is not running"
        );
        terminated.extend(ids);
    }
    Ok(terminated)
}

/// The ARNs of this stack's clusters (every page).
pub async fn stack_clusters(ctx: &Ctx) -> Result<Vec<String>, FnError> {
    let mut arns = Vec::new();
    let mut pages = ctx.ecs.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| FnError::aws("ListClusters", &e))?;
        arns.extend(
            page.cluster_arns()
                .iter()
                .filter(|arn| job_of_cluster(&ctx.config.stack, arn).is_some())
                .cloned(),
        );
    }
    Ok(arns)
}

/// Removes the stack's clusters whose job is over; returns their names.
pub async fn clusters(ctx: &Ctx) -> Result<Vec<String>, FnError> {
    let arns = stack_clusters(ctx).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut removed = Vec::new();
    for chunk in arns.chunks(100) {
        let described = ctx
            .ecs
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .send()
            .await
            .map_err(|e| FnError::aws("DescribeClusters", &e))?;
        for cluster in described.clusters() {
            let (Some(name), Some("ACTIVE")) = (cluster.cluster_name(), cluster.status()) else {
                continue;
            };
            let Some(job) = job_of_cluster(&ctx.config.stack, name) else {
                continue;
            };
            let created = cluster
                .tags()
                .iter()
                .find(|t| t.key() == Some(TAG_CREATED))
                .and_then(|t| t.value())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            let remove = match execution_status(ctx, job.as_str()).await?.as_deref() {
                Some("RUNNING") => false,
                Some(_) => true,
                None => now.saturating_sub(created) > ORPHAN_AFTER_SECONDS,
            };
            if !remove {
                continue;
            }
            let definitions = ctx
                .ecs
                .list_task_definitions()
                .family_prefix(name)
                .send()
                .await
                .map_err(|e| FnError::aws(format!("ListTaskDefinitions {name}"), &e))?;
            for definition in definitions.task_definition_arns() {
                deregister_definition(ctx, definition).await?;
            }
            match remove_cluster(ctx, name, None).await {
                Ok(()) => {
                    warn!(cluster = name, "removed the cluster of a job that is over");
                    removed.push(name.to_owned());
                }
                Err(e) => {
                    warn!(cluster = name, error = %e, "the cluster stays until the next sweep")
                }
            }
        }
    }
    Ok(removed)
}

//! The sweep: instances of this stack's jobs whose execution is not running are terminated; clusters of this
//! stack's jobs that ended (or whose submit died before the execution started, an hour on) are removed.

use super::execution_status;
use crate::Ctx;
use ecsub_aws::cluster::{self, deregister_definition, remove_cluster, stack_clusters};
use ecsub_aws::compute::{stack_instances, tag_of, terminate_all};
use ecsub_aws::FnError;
use ecsub_core::chain::{job_of_cluster, TAG_JOB};
use std::collections::BTreeMap;
use tracing::warn;

/// How long a cluster may exist without its job's execution (submit runs at most 15 minutes).
const ORPHAN_AFTER_SECONDS: u64 = 3600;

/// Terminates the stack's instances of jobs that are not running; returns their ids.
pub async fn instances(ctx: &Ctx) -> Result<Vec<String>, FnError> {
    let live = stack_instances(
        &ctx.aws.ec2,
        &ctx.config.stack,
        None,
        &["pending", "running"],
    )
    .await?;
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
        terminate_all(&ctx.aws.ec2, &ids).await?;
        warn!(
            job_id = job,
            ?ids,
            "terminated instances of a job that is not running"
        );
        terminated.extend(ids);
    }
    Ok(terminated)
}

/// Removes the stack's clusters whose job is over; returns their names.
pub async fn clusters(ctx: &Ctx) -> Result<Vec<String>, FnError> {
    let arns = stack_clusters(&ctx.aws.ecs, &ctx.config.stack).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut removed = Vec::new();
    for found in cluster::describe(&ctx.aws.ecs, &arns).await? {
        if !found.active {
            continue;
        }
        let name = found.name.as_str();
        let Some(job) = job_of_cluster(&ctx.config.stack, name) else {
            continue;
        };
        let remove = match execution_status(ctx, job.as_str()).await?.as_deref() {
            Some("RUNNING") => false,
            Some(_) => true,
            None => now.saturating_sub(found.created) > ORPHAN_AFTER_SECONDS,
        };
        if !remove {
            continue;
        }
        for definition in cluster::definitions(&ctx.aws.ecs, name).await? {
            deregister_definition(&ctx.aws.ecs, &definition).await?;
        }
        match remove_cluster(&ctx.aws.ecs, name, None).await {
            Ok(()) => {
                warn!(cluster = name, "removed the cluster of a job that is over");
                removed.push(name.to_owned());
            }
            Err(e) => {
                warn!(cluster = name, error = %e, "the cluster stays until the next sweep")
            }
        }
    }
    Ok(removed)
}

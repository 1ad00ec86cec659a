//! The sweep: instances of this stack's jobs whose execution is not running are terminated, but for those held for
//! a look (`--keep-on-failure`) until their deadline, and those past it whatever their job; clusters of this
//! stack's jobs that ended (or whose submit died before the execution started, an hour on) are removed.

use super::execution_status;
use crate::Ctx;
use ecsub_aws::cluster::{self, deregister_definition, remove_cluster, stack_clusters};
use ecsub_aws::compute::{stack_instances, tag_of, terminate_all};
use ecsub_aws::hold::hold_of;
use ecsub_aws::FnError;
use ecsub_core::chain::hold::Hold;
use ecsub_core::chain::{job_of_cluster, TAG_JOB};
use std::collections::BTreeMap;
use tracing::warn;

/// How long a cluster may exist without its job's execution (submit runs at most 15 minutes).
const ORPHAN_AFTER_SECONDS: u64 = 3600;

/// What a sweep did, and what it could not do: each error is one job's or one cluster's, and the others were
/// still swept; the next run (every 10 minutes) tries again.
#[derive(Debug, Default)]
pub struct Swept {
    pub done: Vec<String>,
    pub errors: Vec<FnError>,
}

/// Terminates the stack's instances of jobs that are not running; `done` has their ids.
pub async fn instances(ctx: &Ctx) -> Result<Swept, FnError> {
    let live = stack_instances(
        &ctx.aws.ec2,
        &ctx.config.stack,
        None,
        &["pending", "running"],
    )
    .await?;
    let now = crate::now_ms();
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut hold_over = Vec::new();
    for instance in &live {
        let (Some(job), Some(id)) = (tag_of(instance, TAG_JOB), instance.instance_id()) else {
            continue;
        };
        match hold_of(instance, now) {
            Hold::Until(_) => {}
            Hold::Over => hold_over.push(id.to_owned()),
            Hold::No => by_job
                .entry(job.to_owned())
                .or_default()
                .push(id.to_owned()),
        }
    }
    let mut swept = Swept::default();
    if !hold_over.is_empty() {
        let mut done = terminate_all(&ctx.aws.ec2, &hold_over).await;
        warn!(ids = ?done.terminated, left = done.left.len(), "terminated held instances at their deadline");
        swept.done.append(&mut done.terminated);
        swept.errors.append(&mut done.errors);
    }
    for (job, ids) in by_job {
        match execution_status(ctx, &job).await {
            Ok(Some(status)) if status == "RUNNING" => continue,
            Ok(_) => {}
            Err(e) => {
                warn!(job_id = job, error = %e, "the job's execution could not be read; its instances wait for the next sweep");
                swept.errors.push(e);
                continue;
            }
        }
        let mut done = terminate_all(&ctx.aws.ec2, &ids).await;
        warn!(
            job_id = job,
            count = done.terminated.len(),
            ids = ?done.terminated,
            left = done.left.len(),
            "terminated instances of a job that is not running"
        );
        swept.done.append(&mut done.terminated);
        swept.errors.append(&mut done.errors);
    }
    Ok(swept)
}

/// Removes the stack's clusters whose job is over; `done` has their names.
pub async fn clusters(ctx: &Ctx) -> Result<Swept, FnError> {
    let arns = stack_clusters(&ctx.aws.ecs, &ctx.config.stack).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut swept = Swept::default();
    for found in cluster::describe(&ctx.aws.ecs, &arns).await? {
        if !found.active {
            continue;
        }
        let name = found.name.as_str();
        let Some(job) = job_of_cluster(&ctx.config.stack, name) else {
            continue;
        };
        match remove_if_over(ctx, name, job.as_str(), now.saturating_sub(found.created)).await {
            Ok(true) => {
                warn!(cluster = name, "removed the cluster of a job that is over");
                swept.done.push(name.to_owned());
            }
            Ok(false) => {}
            Err(e) => {
                warn!(cluster = name, error = %e, "the cluster stays until the next sweep");
                swept.errors.push(e);
            }
        }
    }
    Ok(swept)
}

/// Removes a job's cluster (its task definitions first) if its execution is over, or never started and the
/// cluster is older than [`ORPHAN_AFTER_SECONDS`]; says whether it did.
async fn remove_if_over(ctx: &Ctx, name: &str, job: &str, age: u64) -> Result<bool, FnError> {
    let remove = match execution_status(ctx, job).await?.as_deref() {
        Some("RUNNING") => false,
        Some(_) => true,
        None => age > ORPHAN_AFTER_SECONDS,
    };
    if !remove {
        return Ok(false);
    }
    for definition in cluster::definitions(&ctx.aws.ecs, name).await? {
        deregister_definition(&ctx.aws.ecs, &definition).await?;
    }
    remove_cluster(&ctx.aws.ecs, name, None).await?;
    Ok(true)
}

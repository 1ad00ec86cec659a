//! The job's note on the account's vCPU quota: when the quota its first instance type draws on cannot hold
//! `--processes` instances at once, `started.json` says how many tasks run at once and how to ask for more
//! (`status` and `push` show it). A quota that cannot be read (no permission, throttled) costs the job nothing:
//! it is logged, and the job starts.

use crate::Ctx;
use ecsub_aws::quotas;
use ecsub_core::JobSpec;
use tracing::warn;

/// The notes for a job of `tasks` tasks (none when its quota holds it).
pub async fn notes(ctx: &Ctx, spec: &JobSpec, tasks: usize) -> Vec<String> {
    let Some(instance_type) = spec.instance_types.first() else {
        return Vec::new();
    };
    let at_once = spec.processes.min(u32::try_from(tasks).unwrap_or(u32::MAX));
    match quotas::job_advice(&ctx.aws, instance_type, spec.spot, at_once).await {
        Ok(advice) => advice.into_iter().collect(),
        Err(e) => {
            warn!(job_id = %spec.job_id, error = %e, "the vCPU quota was not read");
            Vec::new()
        }
    }
}

//! `push --dry-run`'s line on the account's vCPU quota: read with the user's own credentials when this machine has
//! any (a dry run without them stays offline, and says so), within a few seconds. Submit reads it again as the job
//! starts, and `status` shows its note.

use super::session::{connect, runtime};
use crate::plan::Plan;
use ecsub_aws::quotas;
use std::time::Duration;

/// How long the dry run waits for EC2 and Service Quotas.
const PATIENCE: Duration = Duration::from_secs(10);

/// Whether the environment names AWS credentials (or an endpoint): only then does a dry run ask AWS anything.
fn has_credentials() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let home_file = |rel: &str| {
        std::env::var_os("HOME").is_some_and(|h| std::path::Path::new(&h).join(rel).is_file())
    };
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
    ]
    .iter()
    .any(|v| set(v))
        || home_file(".aws/credentials")
        || home_file(".aws/config")
}

/// The dry run's line on the quota the job's first instance type draws on.
pub fn quota_line(plan: &Plan) -> String {
    if !has_credentials() {
        return "vCPU quota: not read (no AWS credentials here; submit reads it as the job starts)"
            .to_owned();
    }
    let Some(instance_type) = plan.spec.instance_types.first() else {
        return "vCPU quota: no instance type".to_owned();
    };
    let at_once = u32::try_from(plan.selected_tasks().len())
        .unwrap_or(u32::MAX)
        .min(plan.spec.processes);
    let read = runtime().and_then(|rt| {
        rt.block_on(async {
            let aws = connect().await?;
            let advice = tokio::time::timeout(
                PATIENCE,
                quotas::job_advice(&aws, instance_type, plan.spec.spot, at_once),
            )
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {} s", PATIENCE.as_secs()))??;
            anyhow::Ok(advice)
        })
    });
    match read {
        Ok(Some(advice)) => format!("vCPU quota: {advice}"),
        Ok(None) => format!(
            "vCPU quota: {at_once} × {instance_type} at once fit the account's quota (or its class has none here)"
        ),
        Err(e) => format!("vCPU quota: not read ({e:#})"),
    }
}

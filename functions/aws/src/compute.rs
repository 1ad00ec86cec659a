//! The EC2 operations every part of ecsub shares: finding a job's instances by tag, terminating one.

use crate::ctx::Ctx;
use crate::error::{code, FnError};
use aws_sdk_ec2::types::{Filter, Instance};
use ecsub_core::chain::TAG_JOB;
use ecsub_core::JobId;

/// The job's instances (by its tag) in any of `states` (`pending`, `running`, …).
pub async fn job_instances(
    ec2: &aws_sdk_ec2::Client,
    job: &JobId,
    states: &[&str],
) -> Result<Vec<Instance>, FnError> {
    let mut pages = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name(format!("tag:{TAG_JOB}"))
                .values(job.as_str())
                .build(),
        )
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(states.iter().map(|s| (*s).to_owned()).collect()))
                .build(),
        )
        .into_paginator()
        .send();
    let mut instances = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| FnError::aws(format!("DescribeInstances of job {job}"), &e))?;
        instances.extend(
            page.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .cloned(),
        );
    }
    Ok(instances)
}

/// Terminates an instance; one that is already gone is fine.
pub async fn terminate(ctx: &Ctx, instance_id: &str) -> Result<(), FnError> {
    match ctx
        .ec2
        .terminate_instances()
        .instance_ids(instance_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("InvalidInstanceID.NotFound") => Ok(()),
        Err(e) => Err(FnError::aws(
            format!("TerminateInstances {instance_id}"),
            &e,
        )),
    }
}

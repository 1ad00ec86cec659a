//! The EC2 operations every part of ecsub shares: finding a stack's (or one job's) instances by tag, terminating
//! one. Every search is filtered on the stack's tag, so one stack never sees another's instances.

use crate::ctx::Ctx;
use crate::error::{code, FnError};
use aws_sdk_ec2::types::{Filter, Instance};
use ecsub_core::chain::{TAG_JOB, TAG_STACK};
use ecsub_core::JobId;

fn tag(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// The stack's instances (by its tag), of one job if `job` is given, in any of `states` (`pending`, …).
pub async fn stack_instances(
    ec2: &aws_sdk_ec2::Client,
    stack: &str,
    job: Option<&JobId>,
    states: &[&str],
) -> Result<Vec<Instance>, FnError> {
    instances(ec2, Some(stack), job, states).await
}

/// Instances by ecsub's tags: of a stack, of a job, or both (the CLI knows the job, not the stack).
pub async fn instances(
    ec2: &aws_sdk_ec2::Client,
    stack: Option<&str>,
    job: Option<&JobId>,
    states: &[&str],
) -> Result<Vec<Instance>, FnError> {
    let mut request = ec2.describe_instances().filters(
        Filter::builder()
            .name("instance-state-name")
            .set_values(Some(states.iter().map(|s| (*s).to_owned()).collect()))
            .build(),
    );
    if let Some(stack) = stack {
        request = request.filters(tag(TAG_STACK, stack));
    }
    if let Some(job) = job {
        request = request.filters(tag(TAG_JOB, job.as_str()));
    }
    let mut pages = request.into_paginator().send();
    let mut instances = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| FnError::aws("DescribeInstances (ecsub's tags)", &e))?;
        instances.extend(
            page.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .cloned(),
        );
    }
    Ok(instances)
}

/// The value of one of an instance's tags.
pub fn tag_of<'a>(instance: &'a Instance, key: &str) -> Option<&'a str> {
    instance
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// Terminates an instance; one that is already gone is fine (terminating is idempotent).
pub async fn terminate(ctx: &Ctx, instance_id: &str) -> Result<(), FnError> {
    terminate_all(ctx, &[instance_id.to_owned()]).await
}

/// Terminates instances in one call (nothing to do for none).
pub async fn terminate_all(ctx: &Ctx, ids: &[String]) -> Result<(), FnError> {
    if ids.is_empty() {
        return Ok(());
    }
    match ctx
        .ec2
        .terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("InvalidInstanceID.NotFound") => Ok(()),
        Err(e) => Err(FnError::aws(format!("TerminateInstances {ids:?}"), &e)),
    }
}

//! Launching one attempt's EC2 instance: the ECS-optimized AMI of the instance type's architecture, the stack's
//! instance profile, user data that joins the job's cluster, tags naming the stack, the job, the task and the
//! attempt. The instance-type (and subnet) list is walked within the call on capacity refusals; a used-up quota is
//! reported as such (the state machine waits for it); the ClientToken makes a retried call return the instance the
//! first one made. What each refusal means is ecsub-core's `refusal`.

use crate::Ctx;
use ecsub_aws::compute::{self, terminate, Arch, Refused, RunRequest};
use ecsub_aws::{execution, FnError};
use ecsub_core::chain::limits::client_token;
use ecsub_core::chain::{
    error_names, user_data, Attempt, Instance, JobRef, Refusal, TaskRef, TAG_ATTEMPT, TAG_JOB,
    TAG_STACK, TAG_TASK,
};
use tracing::{info, warn};

/// One attempt of one task (launched again at join poll `relaunch` when its instance died before joining).
struct Launch<'a> {
    job: &'a JobRef,
    task: TaskRef,
    attempt: Attempt,
    relaunch: u32,
}

pub async fn launch(
    ctx: &Ctx,
    job: &JobRef,
    task: TaskRef,
    attempt: Attempt,
    relaunch: u32,
) -> Result<Instance, FnError> {
    let launch = Launch {
        job,
        task,
        attempt,
        relaunch,
    };
    let instance = walk(ctx, &launch).await?;
    still_wanted(ctx, job, task, &instance).await?;
    Ok(instance)
}

/// An instance launched while its job was being cancelled (RunInstances in flight when the execution was
/// stopped) may have come into being after the janitor's close looked for the job's instances: the execution is
/// checked once the instance exists, and one nobody waits for any more is terminated at once instead of at the
/// next sweep. A check that cannot be made is only logged (the sweep is still there).
async fn still_wanted(
    ctx: &Ctx,
    job: &JobRef,
    task: TaskRef,
    instance: &Instance,
) -> Result<(), FnError> {
    let Some(arn) = ctx.config.execution_arn(job.job_id.as_str()) else {
        return Ok(());
    };
    let status = match execution::status(&ctx.aws.sfn, &arn).await {
        Ok(status) => status,
        Err(e) => {
            warn!(job_id = %job.job_id, task = task.index, error = %e, "whether the job still runs is unknown; the instance stays");
            return Ok(());
        }
    };
    match status.as_deref() {
        Some("RUNNING") | None => Ok(()),
        Some(ended) => {
            terminate(&ctx.aws.ec2, &instance.instance_id).await?;
            warn!(job_id = %job.job_id, task = task.index, instance_id = instance.instance_id, ended, "the job ended while its instance launched: terminated at once");
            Err(FnError::new(
                error_names::LAUNCH_FAILED,
                format!(
                    "the job's execution ended ({ended}) while instance {} launched for task {}: it was terminated at once",
                    instance.instance_id, task.index
                ),
            ))
        }
    }
}

/// Walks the instance types (and subnets) until one launches.
async fn walk(ctx: &Ctx, input: &Launch<'_>) -> Result<Instance, FnError> {
    let job = input.job;
    let arches = compute::architectures(&ctx.aws.ec2, &job.instance_types).await?;
    let subnets: Vec<Option<&str>> = if job.subnet_ids.is_empty() {
        vec![None]
    } else {
        job.subnet_ids.iter().map(|s| Some(s.as_str())).collect()
    };
    let mut tried = Vec::new();
    let mut no_stager = Vec::new();
    for instance_type in &job.instance_types {
        let arch = arches.get(instance_type).copied().unwrap_or(Arch::X86_64);
        // The user data of an instance whose architecture has no stager would only shut it down.
        let uname = arch.uname();
        if !job.stagers.iter().any(|s| s.arch == uname) {
            no_stager.push(format!("{instance_type} ({uname})"));
            continue;
        }
        let parameter = match arch {
            Arch::X86_64 => &ctx.config.ami_parameter_x86_64,
            Arch::Arm64 => &ctx.config.ami_parameter_arm64,
        };
        let ami = compute::ami(&ctx.aws.ssm, parameter).await?;
        for subnet in &subnets {
            let request = request(ctx, input, instance_type, &ami, *subnet);
            match compute::run_instance(&ctx.aws.ec2, &request).await {
                Ok(instance) => {
                    info!(
                        job_id = %job.job_id, task = input.task.index, attempt = input.attempt.number,
                        instance_id = instance.instance_id, instance_type, spot = input.attempt.spot, "launched"
                    );
                    return Ok(instance);
                }
                Err(Refused {
                    refusal: Some(Refusal::Capacity),
                    detail,
                    ..
                }) => {
                    warn!(job_id = %job.job_id, task = input.task.index, instance_type, why = detail, "no capacity; trying the next");
                    tried.push(format!(
                        "{instance_type}{}: {detail}",
                        subnet.map(|s| format!(" in {s}")).unwrap_or_default()
                    ));
                }
                Err(refused) => return Err(failed(instance_type, input, refused)),
            }
        }
    }
    if !no_stager.is_empty() {
        let line = format!(
            "the stack published no stager for {}: publish one for that architecture (ecsub-cli publish-stager)",
            no_stager.join(", ")
        );
        if tried.is_empty() {
            return Err(FnError::new(error_names::LAUNCH_FAILED, line));
        }
        tried.push(line);
    }
    Err(FnError::new(
        error_names::CAPACITY_UNAVAILABLE,
        format!(
            "no capacity for task {} ({}): {}",
            input.task.index,
            market(input.attempt),
            tried.join("; ")
        ),
    ))
}

fn market(attempt: Attempt) -> &'static str {
    if attempt.spot {
        "spot"
    } else {
        "on demand"
    }
}

/// The attempt's RunInstances request for one type and subnet.
fn request<'a>(
    ctx: &'a Ctx,
    input: &'a Launch<'_>,
    instance_type: &'a str,
    ami: &'a str,
    subnet: Option<&'a str>,
) -> RunRequest<'a> {
    let job = input.job;
    let index = input.task.index.to_string();
    let attempt = input.attempt.number.to_string();
    let stack = ctx.config.stack.as_str();
    let relaunch = format!("relaunch {}", input.relaunch);
    let mut token_parts = vec![
        stack,
        job.job_id.as_str(),
        index.as_str(),
        attempt.as_str(),
        instance_type,
        subnet.unwrap_or_default(),
    ];
    // The first launch's token as it always was; a launch again after the instance died gets its own.
    if input.relaunch > 0 {
        token_parts.push(&relaunch);
    }
    RunRequest {
        ami,
        instance_type,
        client_token: client_token(&token_parts),
        user_data: user_data(&job.cluster, &job.bucket, &job.stagers),
        root_volume_gib: job.root_volume_gib(),
        tags: vec![
            ("Name", format!("{}.{:03}", job.job_id, input.task.index)),
            (TAG_STACK, stack.to_owned()),
            (TAG_JOB, job.job_id.to_string()),
            (TAG_TASK, index),
            (TAG_ATTEMPT, attempt),
        ],
        subnet,
        key_name: job.key_name.as_deref(),
        security_group: job.security_group_id.as_deref(),
        instance_profile_arn: ctx.config.instance_profile_arn.as_deref(),
        spot: input.attempt.spot,
    }
}

/// What a refused RunInstances (other than for capacity) means for the attempt.
fn failed(instance_type: &str, input: &Launch<'_>, refused: Refused) -> FnError {
    let what = format!("RunInstances {instance_type}");
    let detail = refused.detail;
    match refused.refusal {
        Some(Refusal::Quota) => FnError::new(
            error_names::QUOTA_EXCEEDED,
            format!(
                "{what} ({}): {detail}; the task waits until the account's instances leave room (request a higher \
                 quota in Service Quotas, or lower --processes)",
                market(input.attempt)
            ),
        ),
        Some(Refusal::Throttled | Refusal::Transient) | None => refused.error,
        Some(Refusal::NoSpotRole) => FnError::new(
            error_names::LAUNCH_FAILED,
            format!(
                "{what}: {detail}: create the role once with `aws iam create-service-linked-role --aws-service-name \
                 spot.amazonaws.com`, or deploy the stack's template again (it lets launch create it)"
            ),
        ),
        Some(Refusal::Permanent | Refusal::Capacity) => {
            FnError::new(error_names::LAUNCH_FAILED, format!("{what}: {detail}"))
        }
    }
}

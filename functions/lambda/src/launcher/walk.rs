//! One launch for a group of asks (one job, one market): the ECS-optimized AMI of each instance type's
//! architecture, the stack's instance profile, the job's user data (the same for every instance: it joins the
//! job's cluster), tags naming the stack and the job. RunInstances asks for every ask of the group at once
//! (MinCount 1, MaxCount n); what one type or subnet could not launch goes to the next, in the list's order; a
//! used-up quota, throttling or an error ends the walk, and the asks left wait. What each refusal means is
//! ecsub-core's `refusal`.

use crate::Ctx;
use ecsub_aws::compute::{self, run_instances, Arch, Refused, RunRequest};
use ecsub_aws::FnError;
use ecsub_core::chain::asks::batch_token;
use ecsub_core::chain::pace::Answer;
use ecsub_core::chain::sizes::{attempt_types, attempt_volume_gib, AttemptTypes};
use ecsub_core::chain::{
    error_names, user_data, Instance, JobRef, LaunchAsk, Refusal, TAG_JOB, TAG_STACK,
};
use tracing::{info, warn};

/// What the walk did: the asks launched for, each with its instance (in ask order), the asks left and why, and
/// EC2's answer to each call (for the launcher's pace).
#[derive(Debug)]
pub struct Walked {
    pub launched: Vec<(LaunchAsk, Instance)>,
    pub left: Vec<LaunchAsk>,
    /// Why the asks left were not launched for.
    pub why: Option<FnError>,
    /// (instances asked, EC2's answer) of each RunInstances.
    pub calls: Vec<(u32, Answer)>,
}

/// Walks the instance types (and subnets) until every ask has an instance or EC2 says to wait.
pub async fn walk(ctx: &Ctx, asks: Vec<LaunchAsk>) -> Walked {
    let mut walked = Walked {
        launched: Vec::new(),
        left: asks,
        why: None,
        calls: Vec::new(),
    };
    let Some(first) = walked.left.first() else {
        return walked;
    };
    let job = first.job.clone();
    let spot = first.attempt.spot;
    let volume_gib = attempt_volume_gib(job.root_volume_gib(), first.attempt.disk_doublings);
    let instance_types = match types_of(ctx, &job, first.attempt.larger).await {
        Ok(types) => types,
        Err(e) => {
            walked.why = Some(e);
            return walked;
        }
    };
    let facts = match compute::type_facts(&ctx.aws.ec2, &instance_types).await {
        Ok(facts) => facts,
        Err(e) => {
            walked.why = Some(e);
            return walked;
        }
    };
    let subnets: Vec<Option<&str>> = if job.subnet_ids.is_empty() {
        vec![None]
    } else {
        job.subnet_ids.iter().map(|s| Some(s.as_str())).collect()
    };
    let mut tried = Vec::new();
    let mut no_stager = Vec::new();
    for instance_type in &instance_types {
        let (arch, gpus) = facts
            .get(instance_type)
            .map_or((Arch::X86_64, 0), |f| (f.arch, f.gpus));
        // The user data of an instance whose architecture has no stager would only shut it down.
        let uname = arch.uname();
        if !job.stagers.iter().any(|s| s.arch == uname) {
            no_stager.push(format!("{instance_type} ({uname})"));
            continue;
        }
        // A GPU type gets the GPU-optimized AMI (x86_64 only: submit refuses arm64 GPU types).
        let parameter = match arch {
            _ if gpus > 0 => &ctx.config.ami_parameter_gpu,
            Arch::X86_64 => &ctx.config.ami_parameter_x86_64,
            Arch::Arm64 => &ctx.config.ami_parameter_arm64,
        };
        let ami = match compute::ami(&ctx.aws.ssm, parameter).await {
            Ok(ami) => ami,
            Err(e) => {
                walked.why = Some(e);
                return walked;
            }
        };
        for subnet in &subnets {
            let asked = u32::try_from(walked.left.len()).unwrap_or(u32::MAX);
            let batch: Vec<&LaunchAsk> = walked.left.iter().collect();
            let token = batch_token(
                &ctx.config.stack,
                job.job_id.as_str(),
                instance_type,
                *subnet,
                &batch,
            );
            let mut request = request(ctx, &job, spot, (instance_type, gpus), &ami, *subnet, token);
            request.root_volume_gib = volume_gib;
            match run_instances(&ctx.aws.ec2, &request, asked).await {
                Ok(instances) => {
                    let launched = u32::try_from(instances.len()).unwrap_or(u32::MAX);
                    walked.calls.push((asked, Answer::Launched(launched)));
                    info!(
                        job_id = %job.job_id, asked, launched, instance_type, spot, "launched"
                    );
                    let taken = instances.len().min(walked.left.len());
                    let asks: Vec<LaunchAsk> = walked.left.drain(..taken).collect();
                    walked.launched.extend(asks.into_iter().zip(instances));
                    if walked.left.is_empty() {
                        return walked;
                    }
                }
                Err(Refused {
                    refusal: Some(Refusal::Capacity),
                    detail,
                    ..
                }) => {
                    warn!(job_id = %job.job_id, instance_type, why = detail, "no capacity; trying the next");
                    tried.push(format!(
                        "{instance_type}{}: {detail}",
                        subnet.map(|s| format!(" in {s}")).unwrap_or_default()
                    ));
                }
                Err(refused) => {
                    if matches!(refused.refusal, Some(Refusal::Throttled)) {
                        walked.calls.push((asked, Answer::Throttled));
                    }
                    walked.why = Some(failed(instance_type, spot, refused));
                    return walked;
                }
            }
        }
    }
    let mut line = String::new();
    if !no_stager.is_empty() {
        line = format!(
            "the stack published no stager for {}: publish one for that architecture (ecsub-cli publish-stager)",
            no_stager.join(", ")
        );
        if tried.is_empty() {
            walked.why = Some(FnError::new(error_names::LAUNCH_FAILED, line));
            return walked;
        }
    }
    if !line.is_empty() {
        tried.push(line);
    }
    walked.why = Some(FnError::new(
        error_names::CAPACITY_UNAVAILABLE,
        format!("no capacity ({}): {}", market(spot), tried.join("; ")),
    ));
    walked
}

pub fn market(spot: bool) -> &'static str {
    if spot {
        "spot"
    } else {
        "on demand"
    }
}

/// The types an attempt `larger` sizes up runs on (`--retry-larger`): the job's from the `larger`-th on, or past
/// the list, the size of the last type's family that many steps up among those EC2 has (each checked once, and
/// kept for the process).
async fn types_of(ctx: &Ctx, job: &JobRef, larger: u32) -> Result<Vec<String>, FnError> {
    let (candidates, steps) = match attempt_types(&job.instance_types, larger) {
        AttemptTypes::Listed(types) => return Ok(types),
        AttemptTypes::Beyond { candidates, steps } => (candidates, steps),
    };
    let mut found = 0;
    for candidate in &candidates {
        match compute::type_facts(&ctx.aws.ec2, std::slice::from_ref(candidate)).await {
            Ok(facts) if facts.contains_key(candidate) => {
                found += 1;
                if found == steps {
                    return Ok(vec![candidate.clone()]);
                }
            }
            Ok(_) => {}
            Err(e) if e.is_transient() => return Err(e),
            Err(_) => {} // a size this family does not have
        }
    }
    let last = job.instance_types.last().map_or("", String::as_str);
    Err(FnError::new(
        error_names::LAUNCH_FAILED,
        format!(
            "--retry-larger: EC2 has no size {steps} above {last} in its family for this attempt (the job's types \
             and their family's larger sizes are used up); list larger types with --aws-ec2-instance-type"
        ),
    ))
}

/// The group's RunInstances request for one type and subnet.
fn request<'a>(
    ctx: &'a Ctx,
    job: &'a JobRef,
    spot: bool,
    (instance_type, gpus): (&'a str, u32),
    ami: &'a str,
    subnet: Option<&'a str>,
    client_token: String,
) -> RunRequest<'a> {
    RunRequest {
        ami,
        instance_type,
        client_token,
        user_data: user_data(&job.cluster, &job.bucket, &job.stagers, gpus > 0),
        root_volume_gib: job.root_volume_gib(),
        tags: [
            ("Name".to_owned(), job.job_id.to_string()),
            (TAG_STACK.to_owned(), ctx.config.stack.clone()),
            (TAG_JOB.to_owned(), job.job_id.to_string()),
        ]
        .into_iter()
        .chain(job.tags.iter().map(|t| (t.key.clone(), t.value.clone())))
        .collect(),
        subnet,
        key_name: job.key_name.as_deref(),
        security_group: job.security_group_id.as_deref(),
        // A job that may hold a failed task's instance launches them with Session Manager's rights, so the user can
        // get in without a key pair (a stack deployed before the held profile existed: the plain one).
        instance_profile_arn: job
            .keep_on_failure
            .and(ctx.config.held_instance_profile_arn.as_deref())
            .or(ctx.config.instance_profile_arn.as_deref()),
        spot,
        gpus,
    }
}

/// What a refused RunInstances (other than for capacity) means for the asks.
fn failed(instance_type: &str, spot: bool, refused: Refused) -> FnError {
    let what = format!("RunInstances {instance_type}");
    let detail = refused.detail;
    match refused.refusal {
        Some(Refusal::Quota) => FnError::new(
            error_names::QUOTA_EXCEEDED,
            format!(
                "{what} ({}): {detail}; the task waits until the account's instances leave room (request a higher \
                 quota in Service Quotas, or lower --processes)",
                market(spot)
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

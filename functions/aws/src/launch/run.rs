//! Launching one attempt's EC2 instance: the ECS-optimized AMI of the instance type's architecture, the stack's
//! instance profile, user data that joins the job's cluster, tags naming the stack, the job, the task and the
//! attempt. The instance-type (and subnet) list is walked within the call on capacity errors; a used-up quota is
//! reported as such (the state machine waits for it); the ClientToken makes a retried call return the instance the
//! first one made.

use crate::ctx::Ctx;
use crate::error::{code, describe, is_throttling, FnError};
use aws_sdk_ec2::types as ec2;
use base64::Engine as _;
use ecsub_core::chain::limits::client_token;
use ecsub_core::chain::{
    error_names, user_data, Attempt, Instance, JobRef, TaskRef, TAG_ATTEMPT, TAG_JOB, TAG_STACK,
    TAG_TASK,
};
use std::collections::HashMap;
use std::sync::Mutex;
use tracing::{info, warn};

/// EC2 error codes that mean "not here, not now": another type or subnet may work.
const CAPACITY_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "InsufficientHostCapacity",
    "InsufficientReservedInstanceCapacity",
    "InsufficientFreeAddressesInSubnet",
    "SpotMaxPriceTooLow",
    "UnfulfillableCapacity",
    "Unsupported",
];

/// EC2 error codes of an account quota: no other type helps soon, but waiting does (instances end).
const QUOTA_CODES: &[&str] = &[
    "VcpuLimitExceeded",
    "InstanceLimitExceeded",
    "MaxSpotInstanceCountExceeded",
];

/// Codes of service trouble worth the state machine's retry.
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "Unavailable",
];

/// Root volume of the ECS-optimized AMI.
const ROOT_DEVICE: &str = "/dev/xvda";

/// AMI ids by SSM parameter, kept for the life of the function instance.
static AMI_CACHE: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// Instance types' architectures, kept for the life of the function instance.
static ARCH_CACHE: Mutex<Option<HashMap<String, Arch>>> = Mutex::new(None);

/// One attempt of one task.
struct Launch<'a> {
    job: &'a JobRef,
    task: TaskRef,
    attempt: Attempt,
}

pub async fn launch(
    ctx: &Ctx,
    job: &JobRef,
    task: TaskRef,
    attempt: Attempt,
) -> Result<Instance, FnError> {
    let input = Launch { job, task, attempt };
    let arches = architectures(ctx, &job.instance_types).await?;
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
        let ami = ami(ctx, arch).await?;
        for subnet in &subnets {
            match run_instance(ctx, &input, instance_type, &ami, *subnet).await {
                Ok(instance) => {
                    info!(
                        job_id = %job.job_id, task = input.task.index, attempt = input.attempt.number,
                        instance_id = instance.instance_id, instance_type, spot = input.attempt.spot, "launched"
                    );
                    return Ok(instance);
                }
                Err(Refused::Capacity(why)) => {
                    warn!(job_id = %job.job_id, task = input.task.index, instance_type, why, "no capacity; trying the next");
                    tried.push(format!(
                        "{instance_type}{}: {why}",
                        subnet.map(|s| format!(" in {s}")).unwrap_or_default()
                    ));
                }
                Err(Refused::Failed(e)) => return Err(e),
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
            if input.attempt.spot {
                "spot"
            } else {
                "on demand"
            },
            tried.join("; ")
        ),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    /// As `uname -m` names it on the instance (the stager manifest's names).
    fn uname(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }
}

/// The architecture of each instance type: from this function instance's cache, else in one DescribeInstanceTypes
/// call for the types it has not seen (a type's architecture never changes).
async fn architectures(ctx: &Ctx, types: &[String]) -> Result<HashMap<String, Arch>, FnError> {
    let cached = |t: &String| {
        ARCH_CACHE
            .lock()
            .ok()
            .and_then(|c| c.as_ref().and_then(|m| m.get(t).copied()))
    };
    let unknown: Vec<ec2::InstanceType> = types
        .iter()
        .filter(|t| cached(t).is_none())
        .map(|t| ec2::InstanceType::from(t.as_str()))
        .collect();
    if !unknown.is_empty() {
        let found = describe_architectures(ctx, unknown, types).await?;
        if let Ok(mut cache) = ARCH_CACHE.lock() {
            cache.get_or_insert_with(HashMap::new).extend(found);
        }
    }
    Ok(types
        .iter()
        .filter_map(|t| Some((t.clone(), cached(t)?)))
        .collect())
}

async fn describe_architectures(
    ctx: &Ctx,
    unknown: Vec<ec2::InstanceType>,
    types: &[String],
) -> Result<HashMap<String, Arch>, FnError> {
    let out = ctx
        .ec2
        .describe_instance_types()
        .set_instance_types(Some(unknown))
        .send()
        .await
        .map_err(|e| match code(&e) {
            Some(c) if c.starts_with("InvalidInstanceType") => FnError::new(
                error_names::LAUNCH_FAILED,
                format!("unknown instance type in {types:?}: {}", describe(&e)),
            ),
            _ => FnError::aws("DescribeInstanceTypes", &e),
        })?;
    Ok(out
        .instance_types()
        .iter()
        .filter_map(|info| {
            let name = info.instance_type()?.as_str().to_owned();
            let arm = info
                .processor_info()
                .map(|p| {
                    p.supported_architectures()
                        .contains(&ec2::ArchitectureType::Arm64)
                })
                .unwrap_or(false);
            Some((name, if arm { Arch::Arm64 } else { Arch::X86_64 }))
        })
        .collect())
}

/// The recommended ECS-optimized Amazon Linux 2023 AMI for the architecture (SSM public parameter).
async fn ami(ctx: &Ctx, arch: Arch) -> Result<String, FnError> {
    let parameter = match arch {
        Arch::X86_64 => &ctx.config.ami_parameter_x86_64,
        Arch::Arm64 => &ctx.config.ami_parameter_arm64,
    };
    if let Some(id) = AMI_CACHE
        .lock()
        .ok()
        .and_then(|c| c.as_ref().and_then(|m| m.get(parameter).cloned()))
    {
        return Ok(id);
    }
    let out = ctx
        .ssm
        .get_parameter()
        .name(parameter)
        .send()
        .await
        .map_err(|e| FnError::aws(format!("GetParameter {parameter}"), &e))?;
    let id = out
        .parameter()
        .and_then(|p| p.value())
        .map(str::to_owned)
        .ok_or_else(|| {
            FnError::new(
                error_names::LAUNCH_FAILED,
                format!("SSM parameter {parameter} has no value"),
            )
        })?;
    if let Ok(mut cache) = AMI_CACHE.lock() {
        cache
            .get_or_insert_with(HashMap::new)
            .insert(parameter.clone(), id.clone());
    }
    Ok(id)
}

enum Refused {
    Capacity(String),
    Failed(FnError),
}

async fn run_instance(
    ctx: &Ctx,
    input: &Launch<'_>,
    instance_type: &str,
    ami: &str,
    subnet: Option<&str>,
) -> Result<Instance, Refused> {
    let job = input.job;
    let index = input.task.index.to_string();
    let attempt = input.attempt.number.to_string();
    let stack = ctx.config.stack.as_str();
    let token = client_token(&[
        stack,
        job.job_id.as_str(),
        &index,
        &attempt,
        instance_type,
        subnet.unwrap_or_default(),
    ]);
    let tags = [
        ("Name", format!("{}.{:03}", job.job_id, input.task.index)),
        (TAG_STACK, stack.to_owned()),
        (TAG_JOB, job.job_id.to_string()),
        (TAG_TASK, index),
        (TAG_ATTEMPT, attempt),
    ];
    let tag_spec = |kind: ec2::ResourceType| {
        tags.iter()
            .fold(
                ec2::TagSpecification::builder().resource_type(kind),
                |b, (k, v)| b.tags(ec2::Tag::builder().key(*k).value(v).build()),
            )
            .build()
    };
    let disk = ec2::BlockDeviceMapping::builder()
        .device_name(ROOT_DEVICE)
        .ebs(
            ec2::EbsBlockDevice::builder()
                .volume_size(i32::try_from(job.root_volume_gib()).unwrap_or(i32::MAX))
                .volume_type(ec2::VolumeType::Gp3)
                .delete_on_termination(true)
                .build(),
        )
        .build();
    let mut request = ctx
        .ec2
        .run_instances()
        .image_id(ami)
        .instance_type(ec2::InstanceType::from(instance_type))
        .client_token(token)
        .min_count(1)
        .max_count(1)
        .user_data(base64::engine::general_purpose::STANDARD.encode(user_data(
            &job.cluster,
            &job.bucket,
            &job.stagers,
        )))
        .block_device_mappings(disk)
        .instance_initiated_shutdown_behavior(ec2::ShutdownBehavior::Terminate)
        .tag_specifications(tag_spec(ec2::ResourceType::Instance))
        .tag_specifications(tag_spec(ec2::ResourceType::Volume))
        .set_subnet_id(subnet.map(str::to_owned))
        .set_key_name(job.key_name.clone());
    if let Some(group) = &job.security_group_id {
        request = request.security_group_ids(group);
    }
    if let Some(profile) = &ctx.config.instance_profile_arn {
        request = request.iam_instance_profile(
            ec2::IamInstanceProfileSpecification::builder()
                .arn(profile)
                .build(),
        );
    }
    if input.attempt.spot {
        request = request.instance_market_options(
            ec2::InstanceMarketOptionsRequest::builder()
                .market_type(ec2::MarketType::Spot)
                .spot_options(
                    ec2::SpotMarketOptions::builder()
                        .spot_instance_type(ec2::SpotInstanceType::OneTime)
                        .instance_interruption_behavior(
                            ec2::InstanceInterruptionBehavior::Terminate,
                        )
                        .build(),
                )
                .build(),
        );
    }
    // No retry inside the function: a throttled or failed call returns at once and the state machine retries it
    // with jitter (Ecsub.Throttled, Ecsub.AwsError), so a launch waiting for EC2's tokens holds no Lambda (which
    // would bill its sleep, and hold a process of the emulated Lambda ahead of other tasks' calls).
    let once = aws_sdk_ec2::config::Builder::default()
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled());
    match request.customize().config_override(once).send().await {
        Ok(out) => {
            let Some(instance) = out.instances().first() else {
                return Err(Refused::Failed(FnError::new(
                    error_names::LAUNCH_FAILED,
                    "RunInstances returned no instance",
                )));
            };
            Ok(Instance {
                instance_id: instance.instance_id().unwrap_or_default().to_owned(),
                instance_type: instance_type.to_owned(),
                spot: input.attempt.spot,
                subnet_id: instance.subnet_id().map(str::to_owned),
                // EC2's own launch time (what billing counts from); ours if the answer has none.
                launched_at: instance
                    .launch_time()
                    .and_then(|t| {
                        t.fmt(aws_sdk_ec2::primitives::DateTimeFormat::DateTime)
                            .ok()
                    })
                    .unwrap_or_else(crate::now_rfc3339),
                availability_zone: instance
                    .placement()
                    .and_then(|p| p.availability_zone())
                    .map(str::to_owned),
            })
        }
        Err(e) => Err(refused(instance_type, input, &e)),
    }
}

/// What a refused RunInstances means for the attempt.
fn refused<E>(
    instance_type: &str,
    input: &Launch<'_>,
    e: &aws_sdk_ec2::error::SdkError<E>,
) -> Refused
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let what = format!("RunInstances {instance_type}");
    match code(e) {
        Some(c) if CAPACITY_CODES.contains(&c) => Refused::Capacity(describe(e)),
        Some(c) if QUOTA_CODES.contains(&c) => Refused::Failed(FnError::new(
            error_names::QUOTA_EXCEEDED,
            format!(
                "{what} ({}): {}; the task waits until the account's instances leave room (request a higher quota \
                 in Service Quotas, or lower --processes)",
                if input.attempt.spot { "spot" } else { "on demand" },
                describe(e)
            ),
        )),
        Some(c) if is_throttling(c) || TRANSIENT_CODES.contains(&c) => {
            Refused::Failed(FnError::aws(what, e))
        }
        None => Refused::Failed(FnError::aws(what, e)),
        Some("AuthFailure.ServiceLinkedRoleCreationNotPermitted") => Refused::Failed(FnError::new(
            error_names::LAUNCH_FAILED,
            format!(
                "{what}: {}: create the role once with `aws iam create-service-linked-role --aws-service-name \
                 spot.amazonaws.com`, or deploy the stack's template again (it lets launch create it)",
                describe(e)
            ),
        )),
        Some(_) => Refused::Failed(FnError::new(
            error_names::LAUNCH_FAILED,
            format!("{what}: {}", describe(e)),
        )),
    }
}

//! EC2: what an instance type is (architecture, size), the ECS-optimized AMI, launching one instance, finding a
//! stack's (or one job's) instances by tag, terminating them. Every search is filtered on ecsub's tags, so one
//! stack never sees another's instances. What a refusal means is ecsub-core's [`refusal`]; a launch reports it.

use crate::error::{code, describe, message, FnError};
use aws_sdk_ec2::types as ec2;
use aws_sdk_ec2::types::{Filter, Instance};
use aws_sdk_ec2::Client;
use base64::Engine as _;
use ecsub_core::chain::limits::{
    terminate_throttle_wait, TERMINATE_IDS_PER_CALL, TERMINATE_THROTTLE_BUDGET_SECONDS,
};
use ecsub_core::chain::policy::instance_ids_in;
use ecsub_core::chain::{error_names, refusal, Refusal, TAG_JOB, TAG_STACK};
use ecsub_core::JobId;
use std::collections::HashMap;
use std::sync::Mutex;

/// An instance type's architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    /// As EC2 names it (DescribeInstanceTypes' `SupportedArchitectures`).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    /// As `uname -m` names it on the instance (the stager manifest's names).
    pub fn uname(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }
}

/// What DescribeInstanceTypes says of a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    pub name: String,
    pub arch: Arch,
    pub vcpus: Option<u32>,
    pub memory_mib: Option<u64>,
    /// NVIDIA GPUs (the only ones ECS gives a container: "Amazon ECS task definitions for GPU workloads").
    pub gpus: u32,
}

/// What the launch needs of a type: its architecture, its vCPUs (0 if EC2 did not say) and its NVIDIA GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeFacts {
    pub arch: Arch,
    pub vcpus: u32,
    pub gpus: u32,
}

/// Instance types' facts, kept for the life of the process (a type's architecture and GPUs never change).
static TYPE_CACHE: Mutex<Option<HashMap<String, TypeFacts>>> = Mutex::new(None);

/// AMI ids by SSM parameter, kept for the life of the process.
static AMI_CACHE: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);

/// The types, described (every page: EC2 answers at most 100 a page, "DescribeInstanceTypes", MaxResults); an
/// unknown type fails the call (`Ecsub.LaunchFailed`: retrying will not make it known).
pub async fn describe_types(ec2: &Client, types: &[String]) -> Result<Vec<TypeInfo>, FnError> {
    let mut pages = ec2
        .describe_instance_types()
        .set_instance_types(Some(
            types
                .iter()
                .map(|t| ec2::InstanceType::from(t.as_str()))
                .collect(),
        ))
        .into_paginator()
        .send();
    let mut described = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| match code(&e) {
            Some(c) if c.starts_with("InvalidInstanceType") => FnError::new(
                error_names::LAUNCH_FAILED,
                format!("unknown instance type in {types:?}: {}", describe(&e)),
            ),
            _ => FnError::aws("DescribeInstanceTypes", &e),
        })?;
        described.extend(page.instance_types().iter().filter_map(type_info));
    }
    Ok(described)
}

fn type_info(info: &ec2::InstanceTypeInfo) -> Option<TypeInfo> {
    let arm = info.processor_info().is_some_and(|p| {
        p.supported_architectures()
            .contains(&ec2::ArchitectureType::Arm64)
    });
    Some(TypeInfo {
        name: info.instance_type()?.as_str().to_owned(),
        arch: if arm { Arch::Arm64 } else { Arch::X86_64 },
        vcpus: info
            .v_cpu_info()
            .and_then(|v| v.default_v_cpus())
            .and_then(|n| u32::try_from(n).ok()),
        memory_mib: info
            .memory_info()
            .and_then(|m| m.size_in_mib())
            .and_then(|n| u64::try_from(n).ok()),
        gpus: info.gpu_info().map_or(0, |g| {
            g.gpus()
                .iter()
                .filter(|d| {
                    d.manufacturer()
                        .is_some_and(|m| m.eq_ignore_ascii_case("NVIDIA"))
                })
                .map(|d| u32::try_from(d.count().unwrap_or(0)).unwrap_or(0))
                .sum()
        }),
    })
}

/// The architecture and GPUs of each type: from this process's cache, else in one call for the types it has not
/// seen.
pub async fn type_facts(
    ec2: &Client,
    types: &[String],
) -> Result<HashMap<String, TypeFacts>, FnError> {
    let cached = |t: &String| {
        TYPE_CACHE
            .lock()
            .ok()
            .and_then(|c| c.as_ref().and_then(|m| m.get(t).copied()))
    };
    let unknown: Vec<String> = types
        .iter()
        .filter(|t| cached(t).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        let found = describe_types(ec2, &unknown).await?;
        if let Ok(mut cache) = TYPE_CACHE.lock() {
            cache
                .get_or_insert_with(HashMap::new)
                .extend(found.into_iter().map(|t| {
                    (
                        t.name,
                        TypeFacts {
                            arch: t.arch,
                            vcpus: t.vcpus.unwrap_or(0),
                            gpus: t.gpus,
                        },
                    )
                }));
        }
    }
    Ok(types
        .iter()
        .filter_map(|t| Some((t.clone(), cached(t)?)))
        .collect())
}

/// Whether the region has a default VPC, where an instance launched without a subnet goes. Accounts made by
/// Control Tower or a landing zone often have none; there RunInstances without a subnet fails with
/// VPCIdNotSpecified ("No default VPC for this user": EC2 API error codes), which would fail every task.
pub async fn has_default_vpc(ec2: &Client) -> Result<bool, FnError> {
    let out = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("is-default").values("true").build())
        .send()
        .await
        .map_err(|e| FnError::aws("DescribeVpcs", &e))?;
    Ok(!out.vpcs().is_empty())
}

/// The AMI id an SSM public parameter names (the recommended ECS-optimized AMI), kept for the process's life.
pub async fn ami(ssm: &aws_sdk_ssm::Client, parameter: &str) -> Result<String, FnError> {
    if let Some(id) = AMI_CACHE
        .lock()
        .ok()
        .and_then(|c| c.as_ref().and_then(|m| m.get(parameter).cloned()))
    {
        return Ok(id);
    }
    let out = ssm
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
            .insert(parameter.to_owned(), id.clone());
    }
    Ok(id)
}

/// Root volume of the ECS-optimized AMI.
const ROOT_DEVICE: &str = "/dev/xvda";

/// One instance to launch.
#[derive(Debug, Clone)]
pub struct RunRequest<'a> {
    pub ami: &'a str,
    pub instance_type: &'a str,
    /// Makes a retried call return the instance the first one made.
    pub client_token: String,
    /// The user data, as text (it is sent base64-encoded).
    pub user_data: String,
    pub root_volume_gib: u32,
    /// Put on the instance and its volume: ecsub's own, then the job's `--tag`s.
    pub tags: Vec<(String, String)>,
    pub subnet: Option<&'a str>,
    pub key_name: Option<&'a str>,
    pub security_group: Option<&'a str>,
    pub instance_profile_arn: Option<&'a str>,
    pub spot: bool,
    /// The type's NVIDIA GPUs (recorded with each instance: its task asks for them all).
    pub gpus: u32,
}

/// The instance metadata service answers the instance itself and nothing behind it. The task's container runs in
/// bridge mode, one network hop from the host, and could otherwise take the *instance* role's credentials from
/// 169.254.169.254, bypassing the task role (ECS Developer Guide, "Amazon ECS task IAM role", additional
/// configuration for EC2 instances). The ECS-optimized AL2023 AMI is registered with ImdsSupport v2.0, which makes
/// its instances' default HttpTokens `required` but HttpPutResponseHopLimit **2** (EC2 API reference, `Image`:
/// "HttpPutResponseHopLimit is set to 2"): a bridged container gets a token. With a hop limit of 1 the token's
/// answer dies one hop out (EC2 User Guide, "Use the Instance Metadata Service": "the PUT response hop limit …
/// containers"); with tokens required, no tokenless (IMDSv1) request is answered. The user data and the ECS agent
/// run on the host (the agent in host network mode) and still reach it.
fn host_only_metadata() -> ec2::InstanceMetadataOptionsRequest {
    ec2::InstanceMetadataOptionsRequest::builder()
        .http_endpoint(ec2::InstanceMetadataEndpointState::Enabled)
        .http_tokens(ec2::HttpTokensState::Required)
        .http_put_response_hop_limit(1)
        .build()
}

/// A launch EC2 refused (or that got no answer): what its code means, the service's words, and the error to
/// pass on when nothing else is made of it.
#[derive(Debug, Clone)]
pub struct Refused {
    /// `None`: no code (the network, a timeout).
    pub refusal: Option<Refusal>,
    /// `Code: message`.
    pub detail: String,
    pub error: FnError,
}

/// RunInstances for up to `count` instances (MinCount 1, MaxCount `count`: EC2 launches as many as it can, at
/// least one, or refuses), tried once: a throttled or failed call returns at once and the caller decides, so a
/// launch waiting for EC2's tokens holds no Lambda sleeping.
pub async fn run_instances(
    ec2: &Client,
    r: &RunRequest<'_>,
    count: u32,
) -> Result<Vec<ecsub_core::chain::Instance>, Refused> {
    let tag_spec = |kind: ec2::ResourceType| {
        r.tags
            .iter()
            .fold(
                ec2::TagSpecification::builder().resource_type(kind),
                |b, (k, v)| b.tags(ec2::Tag::builder().key(k).value(v).build()),
            )
            .build()
    };
    let disk = ec2::BlockDeviceMapping::builder()
        .device_name(ROOT_DEVICE)
        .ebs(
            ec2::EbsBlockDevice::builder()
                .volume_size(i32::try_from(r.root_volume_gib).unwrap_or(i32::MAX))
                .volume_type(ec2::VolumeType::Gp3)
                .delete_on_termination(true)
                .build(),
        )
        .build();
    let mut request = ec2
        .run_instances()
        .image_id(r.ami)
        .instance_type(ec2::InstanceType::from(r.instance_type))
        .client_token(&r.client_token)
        .min_count(1)
        .max_count(i32::try_from(count.max(1)).unwrap_or(i32::MAX))
        .user_data(base64::engine::general_purpose::STANDARD.encode(&r.user_data))
        .block_device_mappings(disk)
        .instance_initiated_shutdown_behavior(ec2::ShutdownBehavior::Terminate)
        .metadata_options(host_only_metadata())
        .tag_specifications(tag_spec(ec2::ResourceType::Instance))
        .tag_specifications(tag_spec(ec2::ResourceType::Volume))
        .set_subnet_id(r.subnet.map(str::to_owned))
        .set_key_name(r.key_name.map(str::to_owned));
    if let Some(group) = r.security_group {
        request = request.security_group_ids(group);
    }
    if let Some(profile) = r.instance_profile_arn {
        request = request.iam_instance_profile(
            ec2::IamInstanceProfileSpecification::builder()
                .arn(profile)
                .build(),
        );
    }
    if r.spot {
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
    let once = aws_sdk_ec2::config::Builder::default()
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled());
    let what = format!("RunInstances {}", r.instance_type);
    let out = request
        .customize()
        .config_override(once)
        .send()
        .await
        .map_err(|e| Refused {
            refusal: code(&e).map(refusal),
            detail: describe(&e),
            error: FnError::aws(&what, &e),
        })?;
    if out.instances().is_empty() {
        let error = FnError::new(
            error_names::LAUNCH_FAILED,
            "RunInstances returned no instance",
        );
        return Err(Refused {
            refusal: Some(Refusal::Permanent),
            detail: error.message.clone(),
            error,
        });
    }
    Ok(out
        .instances()
        .iter()
        .map(|instance| ecsub_core::chain::Instance {
            instance_id: instance.instance_id().unwrap_or_default().to_owned(),
            instance_type: r.instance_type.to_owned(),
            spot: r.spot,
            subnet_id: instance.subnet_id().map(str::to_owned),
            // EC2's own launch time (what billing counts from); ours if the answer has none.
            launched_at: instance
                .launch_time()
                .and_then(|t| {
                    t.fmt(aws_sdk_ec2::primitives::DateTimeFormat::DateTime)
                        .ok()
                })
                .unwrap_or_else(crate::now_rfc3339),
            gpus: r.gpus,
            availability_zone: instance
                .placement()
                .and_then(|p| p.availability_zone())
                .map(str::to_owned),
        })
        .collect())
}

/// Pauses before asking again about an id EC2 said it does not know: "Eventual consistency in the Amazon EC2 API"
/// (a CreateTags, DescribeInstances or TerminateInstances right after RunInstances may answer
/// `InvalidInstanceID.NotFound` for a few seconds; "use an exponential backoff").
const FRESH_ID_PAUSES_MS: [u64; 4] = [500, 1_000, 2_000, 4_000];

/// Tags one instance (and nothing else): what tells a batch's instances apart, put on after the launch. A
/// just-launched id EC2 does not know yet is tagged again after a pause ([`FRESH_ID_PAUSES_MS`]).
pub async fn tag_instance(
    ec2: &Client,
    instance_id: &str,
    tags: &[(&str, String)],
) -> Result<(), FnError> {
    let tags: Vec<ec2::Tag> = tags
        .iter()
        .map(|(k, v)| ec2::Tag::builder().key(*k).value(v).build())
        .collect();
    let mut pauses = FRESH_ID_PAUSES_MS.iter();
    loop {
        let sent = ec2
            .create_tags()
            .resources(instance_id)
            .set_tags(Some(tags.clone()))
            .send()
            .await;
        match sent {
            Ok(_) => return Ok(()),
            Err(e) if code(&e) == Some("InvalidInstanceID.NotFound") => match pauses.next() {
                Some(ms) => tokio::time::sleep(std::time::Duration::from_millis(*ms)).await,
                None => return Err(FnError::aws(format!("CreateTags {instance_id}"), &e)),
            },
            Err(e) => return Err(FnError::aws(format!("CreateTags {instance_id}"), &e)),
        }
    }
}

fn tag(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// The stack's instances (by its tag), of one job if `job` is given, in any of `states` (`pending`, …).
pub async fn stack_instances(
    ec2: &Client,
    stack: &str,
    job: Option<&JobId>,
    states: &[&str],
) -> Result<Vec<Instance>, FnError> {
    instances(ec2, Some(stack), job, states).await
}

/// Instances by ecsub's tags: of a stack, of a job, or both (the CLI knows the job, not the stack).
pub async fn instances(
    ec2: &Client,
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

/// An instance's state name (`pending`, `running`, …).
pub fn state_of(instance: &Instance) -> &str {
    instance
        .state()
        .and_then(|s| s.name())
        .map_or("", |n| n.as_str())
}

/// An instance that is no longer pending or running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    /// `shutting-down`, `terminated`, `stopping` or `stopped`.
    pub state: String,
    /// EC2's state reason code (`Server.InternalError`, `Client.UserInitiatedShutdown`, …), if it gave one.
    pub code: String,
    /// The state and EC2's reason, to be read.
    pub said: String,
}

/// Whether an instance is gone, or `None` while it is pending or running. An id EC2 does not know yet (a
/// just-launched instance, seen by a DescribeInstances that has not caught up: "Eventual consistency in the Amazon
/// EC2 API") is not gone.
pub async fn gone(ec2: &Client, instance_id: &str) -> Result<Option<Gone>, FnError> {
    let described = match ec2
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if code(&e) == Some("InvalidInstanceID.NotFound") => return Ok(None),
        Err(e) => return Err(FnError::aws(format!("DescribeInstances {instance_id}"), &e)),
    };
    let Some(instance) = described
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
    else {
        return Ok(None);
    };
    let state = state_of(instance);
    if matches!(state, "pending" | "running" | "") {
        return Ok(None);
    }
    let reason = instance.state_reason();
    let code = reason.and_then(|r| r.code()).unwrap_or_default();
    let message = reason
        .and_then(|r| r.message())
        .or(instance.state_transition_reason())
        .filter(|r| !r.is_empty())
        .unwrap_or("no reason given");
    Ok(Some(Gone {
        state: state.to_owned(),
        code: code.to_owned(),
        said: format!("{state}: {message}"),
    }))
}

/// Terminates an instance; one that is already gone is fine (terminating is idempotent).
pub async fn terminate(ec2: &Client, instance_id: &str) -> Result<(), FnError> {
    let done = terminate_all(ec2, &[instance_id.to_owned()]).await;
    match done.errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// What terminating many instances did. An id in neither list was unknown to EC2 (`InvalidInstanceID.NotFound`:
/// long gone, or too new for this endpoint to know yet).
#[derive(Debug, Default)]
pub struct Terminated {
    /// Terminated by these calls (or already shutting down or terminated: EC2 answers for those too).
    pub terminated: Vec<String>,
    /// Not terminated: their call failed (throttled, refused); `errors` says why. A later try takes them.
    pub left: Vec<String>,
    pub errors: Vec<FnError>,
}

/// Terminates instances, at most [`TERMINATE_IDS_PER_CALL`] a call (EC2 refuses a call of more than 1 000 whole).
/// A call that names an id EC2 does not know acts on none of its ids: it is sent again without the ids the
/// error names, and those are asked again after pauses ([`FRESH_ID_PAUSES_MS`]: a just-launched instance may be
/// unknown for a few seconds; an id still unknown after them is long gone). A call EC2 throttles after the SDK's
/// own retries is sent again once EC2 has refilled its ids' instance tokens, within
/// [`TERMINATE_THROTTLE_BUDGET_SECONDS`] in all. A call that fails otherwise leaves its ids in [`Terminated::left`]
/// and the next call still goes.
pub async fn terminate_all(ec2: &Client, ids: &[String]) -> Terminated {
    let mut done = Terminated::default();
    let mut budget = TERMINATE_THROTTLE_BUDGET_SECONDS;
    let mut unknown = terminate_known(ec2, ids, &mut done, &mut budget).await;
    for ms in FRESH_ID_PAUSES_MS {
        if unknown.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        unknown = terminate_known(ec2, &unknown, &mut done, &mut budget).await;
    }
    done
}

/// One pass of [`terminate_all`]; returns the ids EC2 said it does not know. `budget`: the seconds left to wait
/// for EC2's tokens.
async fn terminate_known(
    ec2: &Client,
    ids: &[String],
    done: &mut Terminated,
    budget: &mut f64,
) -> Vec<String> {
    let mut unknown_ids = Vec::new();
    for chunk in ids.chunks(TERMINATE_IDS_PER_CALL) {
        let mut chunk = chunk.to_vec();
        while !chunk.is_empty() {
            match ec2
                .terminate_instances()
                .set_instance_ids(Some(chunk.clone()))
                .send()
                .await
            {
                Ok(_) => {
                    done.terminated.append(&mut chunk);
                }
                Err(e) if code(&e) == Some("InvalidInstanceID.NotFound") => {
                    let unknown: Vec<String> = instance_ids_in(message(&e).unwrap_or_default())
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                    let before = chunk.len();
                    chunk.retain(|id| !unknown.contains(id));
                    unknown_ids.extend(unknown);
                    if chunk.len() == before {
                        // The message named none of the call's ids: nothing to drop, so the call would fail again.
                        done.errors.push(FnError::aws(
                            format!("TerminateInstances of {} instances", chunk.len()),
                            &e,
                        ));
                        done.left.append(&mut chunk);
                    }
                }
                Err(e)
                    if code(&e) == Some("RequestLimitExceeded")
                        && *budget >= terminate_throttle_wait(chunk.len()) =>
                {
                    let wait = terminate_throttle_wait(chunk.len());
                    *budget -= wait;
                    tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
                }
                Err(e) => {
                    done.errors.push(FnError::aws(
                        format!(
                            "TerminateInstances of {} instances ({} …)",
                            chunk.len(),
                            chunk[0]
                        ),
                        &e,
                    ));
                    done.left.append(&mut chunk);
                }
            }
        }
    }
    unknown_ids
}

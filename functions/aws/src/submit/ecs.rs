//! A job's ECS side: its log group (with the stack's retention), its cluster and its task definition (the stack's
//! task role, passed by ARN; the entry point ecsub needs whatever the image's; the region), and their removal when
//! the job does not start after all.

use crate::ctx::Ctx;
use crate::error::{code, FnError};
use crate::finalize::{delete_cluster, deregister_definition};
use crate::janitor::sweep::TAG_CREATED;
use aws_sdk_ecs::types as ecs;
use ecsub_core::chain::stager::STAGER_DIR;
use ecsub_core::chain::{
    container_command, CONTAINER_NAME, CONTAINER_SHELL, LOG_STREAM_PREFIX, TAG_JOB, TAG_STACK,
};
use ecsub_core::JobSpec;
use tracing::warn;

/// How many times the stager (or an AWS CLI or SDK in the task) tries one request (`AWS_MAX_ATTEMPTS`, standard retry mode).
const TASK_AWS_ATTEMPTS: &str = "8";

fn tags(ctx: &Ctx, spec: &JobSpec) -> Vec<ecs::Tag> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    [
        (TAG_STACK, ctx.config.stack.clone()),
        (TAG_JOB, spec.job_id.to_string()),
        (TAG_CREATED, now.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| ecs::Tag::builder().key(k).value(v).build())
    .collect()
}

/// The job's log group, cluster and task definition; returns the task definition's ARN. What it made is removed
/// again if a later step fails.
pub async fn prepare(
    ctx: &Ctx,
    spec: &JobSpec,
    cluster: &str,
    account: Option<&str>,
) -> Result<String, FnError> {
    log_group(ctx, &spec.log_group_name).await?;
    ctx.ecs
        .create_cluster()
        .cluster_name(cluster)
        .set_tags(Some(tags(ctx, spec)))
        .send()
        .await
        .map_err(|e| FnError::aws(format!("CreateCluster {cluster}"), &e))?;
    match task_definition(ctx, spec, cluster, account).await {
        Ok(arn) => Ok(arn),
        Err(e) => {
            if let Err(cleanup) = delete_cluster(ctx, cluster).await {
                warn!(cluster, error = %cleanup, "the cluster stays for the janitor's sweep");
            }
            Err(e)
        }
    }
}

/// Removes what [`prepare`] made (the log group stays: it holds nothing, and expires). No instance has joined the
/// cluster yet, so there is none to deregister.
pub async fn remove(ctx: &Ctx, cluster: &str, task_definition: &str) -> Result<(), FnError> {
    deregister_definition(ctx, task_definition).await?;
    delete_cluster(ctx, cluster).await
}

async fn log_group(ctx: &Ctx, name: &str) -> Result<(), FnError> {
    match ctx
        .logs
        .create_log_group()
        .log_group_name(name)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if code(&e) == Some("ResourceAlreadyExistsException") => {}
        Err(e) => return Err(FnError::aws(format!("CreateLogGroup {name}"), &e)),
    }
    ctx.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(ctx.config.log_retention_days)
        .send()
        .await
        .map_err(|e| FnError::aws(format!("PutRetentionPolicy {name}"), &e))?;
    Ok(())
}

/// The image's full name: in this account's ECR with `--use-amazon-ecr`.
fn image(ctx: &Ctx, spec: &JobSpec, account: Option<&str>) -> String {
    match (spec.use_amazon_ecr, account) {
        (true, Some(account)) => {
            let suffix = if ctx.config.partition == "aws-cn" {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("{account}.dkr.ecr.{}.{suffix}/{}", ctx.region, spec.image)
        }
        _ => spec.image.clone(),
    }
}

async fn task_definition(
    ctx: &Ctx,
    spec: &JobSpec,
    family: &str,
    account: Option<&str>,
) -> Result<String, FnError> {
    let log = ecs::LogConfiguration::builder()
        .log_driver(ecs::LogDriver::Awslogs)
        .options("awslogs-group", &spec.log_group_name)
        .options("awslogs-region", &ctx.region)
        .options("awslogs-stream-prefix", LOG_STREAM_PREFIX)
        .build()
        .map_err(|e| FnError::invalid_input(e.to_string()))?;
    // The ECS agent on EC2 sets no region in the container (aws/amazon-ecs-agent#3106 until 2026): the stager (the
    // AWS SDK's region chain) would ask for one.
    let pair =
        |name: &str, value: &str| ecs::KeyValuePair::builder().name(name).value(value).build();
    let region = |name: &str| pair(name, &ctx.region);
    let mut container = ecs::ContainerDefinition::builder()
        .name(CONTAINER_NAME)
        .image(image(ctx, spec, account))
        .essential(true)
        .memory_reservation(256)
        .set_entry_point(Some(CONTAINER_SHELL.map(str::to_owned).to_vec()))
        .command(container_command(&spec.setup_container_cmd))
        .environment(region("AWS_REGION"))
        .environment(region("AWS_DEFAULT_REGION"))
        // Every task of a job reads the same objects (its scripts, setenv.sh) as it starts: S3 answers 503 SlowDown
        // past 5 500 GETs a second per prefix ("Best practices design patterns: optimizing Amazon S3 performance"),
        // and the SDKs try a request 3 times by default ("Retry behavior", AWS SDKs and Tools reference). A task that
        // waited minutes for its instance tries 8 times, with the standard mode's jittered backoff, before it fails
        // its setup (the stager reads these two variables, as a user's own AWS CLI or SDK in the task does).
        .environment(pair("AWS_RETRY_MODE", "standard"))
        .environment(pair("AWS_MAX_ATTEMPTS", TASK_AWS_ATTEMPTS))
        .working_directory("/scratch")
        .mount_points(
            ecs::MountPoint::builder()
                .source_volume("scratch")
                .container_path("/scratch")
                .build(),
        )
        // The stager the instance fetched at boot (`ecsub-cli publish-stager`, the user data): every copy of the
        // task goes through it, so the image needs only /bin/sh.
        .mount_points(
            ecs::MountPoint::builder()
                .source_volume("ecsub-bin")
                .container_path(STAGER_DIR)
                .read_only(true)
                .build(),
        )
        .log_configuration(log)
        .privileged(spec.goofys);
    let host = |name: &str, path: &str| {
        ecs::Volume::builder()
            .name(name)
            .host(
                ecs::HostVolumeProperties::builder()
                    .source_path(path)
                    .build(),
            )
            .build()
    };
    let mut volumes = vec![host("scratch", "/scratch"), host("ecsub-bin", STAGER_DIR)];
    if spec.dind {
        container = container.mount_points(
            ecs::MountPoint::builder()
                .source_volume("docker-sock")
                .container_path("/var/run/docker.sock")
                .build(),
        );
        volumes.push(host("docker-sock", "/var/run/docker.sock"));
    }
    if spec.goofys {
        let fuse = ecs::Device::builder()
            .host_path("/dev/fuse")
            .build()
            .map_err(|e| FnError::invalid_input(e.to_string()))?;
        container =
            container.linux_parameters(ecs::LinuxParameters::builder().devices(fuse).build());
    }
    let registered = ctx
        .ecs
        .register_task_definition()
        .family(family)
        .network_mode(ecs::NetworkMode::Bridge)
        .container_definitions(container.build())
        .set_volumes(Some(volumes))
        .set_task_role_arn(ctx.config.task_role_arn.clone())
        .set_tags(Some(tags(ctx, spec)))
        .send()
        .await
        .map_err(|e| FnError::aws(format!("RegisterTaskDefinition {family}"), &e))?;
    registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| FnError::invalid_input("RegisterTaskDefinition returned no ARN"))
}

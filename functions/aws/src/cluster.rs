//! A job's ECS side, made and removed in one place: its log group (with the stack's retention), its cluster and its
//! task definition (the stack's task role, passed by ARN; the entry point ecsub needs whatever the image's; the
//! region); whether an attempt's instance has joined the cluster; the stack's clusters, as the janitor's sweep
//! finds them; and their removal (at a job's end, by the sweep, or when a job does not start after all).

use crate::clients::Clients;
use crate::error::{code, FnError};
use aws_sdk_ecs::types as ecs;
use aws_sdk_ecs::types::ClusterField;
use ecsub_core::chain::stager::STAGER_DIR;
use ecsub_core::chain::{
    container_command, container_image, job_of_cluster, log_group, JoinCheck, CONTAINER_NAME,
    CONTAINER_SHELL, LOG_STREAM_PREFIX, TAG_CREATED, TAG_JOB, TAG_STACK,
};
use ecsub_core::tasks::secret::secret_arn;
use ecsub_core::JobSpec;
use tracing::warn;

/// The stack's side of a job's ECS resources: who owns them and what they may do.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The stack's name: the cluster's and task definition's tag.
    pub stack: &'a str,
    /// `aws`, `aws-cn`, `aws-us-gov`: the image's ECR host.
    pub partition: &'a str,
    /// The stack's account (for `--use-amazon-ecr`).
    pub account: Option<&'a str>,
    /// Days the containers' log group keeps their events.
    pub log_retention_days: i32,
    /// The tasks' role.
    pub task_role_arn: Option<&'a str>,
    /// The role ECS itself uses for a task whose image needs registry credentials (`--image-credentials`): it
    /// reads them from Secrets Manager at each pull ("Private registry authentication for tasks").
    pub execution_role_arn: Option<&'a str>,
}

/// How many times the stager (or an AWS CLI or SDK in the task) tries one request (`AWS_MAX_ATTEMPTS`, standard retry mode).
const TASK_AWS_ATTEMPTS: &str = "8";

fn tags(owner: &Owner<'_>, spec: &JobSpec) -> Vec<ecs::Tag> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    [
        (TAG_STACK, owner.stack.to_owned()),
        (TAG_JOB, spec.job_id.to_string()),
        (TAG_CREATED, now.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(spec.tags.iter().map(|t| (t.key.clone(), t.value.clone())))
    .map(|(k, v)| ecs::Tag::builder().key(k).value(v).build())
    .collect()
}

/// The log group's tags: the stack and the job, then the job's `--tag`s.
fn log_group_tags(owner: &Owner<'_>, spec: &JobSpec) -> std::collections::HashMap<String, String> {
    [
        (TAG_STACK.to_owned(), owner.stack.to_owned()),
        (TAG_JOB.to_owned(), spec.job_id.to_string()),
    ]
    .into_iter()
    .chain(spec.tags.iter().map(|t| (t.key.clone(), t.value.clone())))
    .collect()
}

/// The job's log group, cluster and task definition; returns the task definition's ARN. What it made is removed
/// again if a later step fails.
pub async fn prepare(
    aws: &Clients,
    owner: &Owner<'_>,
    spec: &JobSpec,
    cluster: &str,
) -> Result<String, FnError> {
    create_log_group(
        aws,
        owner,
        &log_group(owner.stack, &spec.log_group_name),
        log_group_tags(owner, spec),
    )
    .await?;
    aws.ecs
        .create_cluster()
        .cluster_name(cluster)
        .set_tags(Some(tags(owner, spec)))
        .send()
        .await
        .map_err(|e| FnError::aws(format!("CreateCluster {cluster}"), &e))?;
    match task_definition(aws, owner, spec, cluster).await {
        Ok(arn) => Ok(arn),
        Err(e) => {
            if let Err(cleanup) = delete_cluster(&aws.ecs, cluster).await {
                warn!(cluster, error = %cleanup, "the cluster stays for the janitor's sweep");
            }
            Err(e)
        }
    }
}

/// Creates the log group with its tags. A group that is there already (an `--aws-log-group-name` jobs share) keeps
/// the tags it was made with: a job's tags are on its log streams' group only when the job made it.
async fn create_log_group(
    aws: &Clients,
    owner: &Owner<'_>,
    name: &str,
    tags: std::collections::HashMap<String, String>,
) -> Result<(), FnError> {
    match aws
        .logs
        .create_log_group()
        .log_group_name(name)
        .set_tags(Some(tags))
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if code(&e) == Some("ResourceAlreadyExistsException") => {}
        Err(e) => return Err(FnError::aws(format!("CreateLogGroup {name}"), &e)),
    }
    aws.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(owner.log_retention_days)
        .send()
        .await
        .map_err(|e| FnError::aws(format!("PutRetentionPolicy {name}"), &e))?;
    Ok(())
}

async fn task_definition(
    aws: &Clients,
    owner: &Owner<'_>,
    spec: &JobSpec,
    family: &str,
) -> Result<String, FnError> {
    let log = ecs::LogConfiguration::builder()
        .log_driver(ecs::LogDriver::Awslogs)
        .options(
            "awslogs-group",
            log_group(owner.stack, &spec.log_group_name),
        )
        .options("awslogs-region", &aws.region)
        .options("awslogs-stream-prefix", LOG_STREAM_PREFIX)
        .build()
        .map_err(|e| FnError::invalid_input(e.to_string()))?;
    // The ECS agent on EC2 sets no region in the container (aws/amazon-ecs-agent#3106 until 2026): the stager (the
    // AWS SDK's region chain) would ask for one.
    let pair =
        |name: &str, value: &str| ecs::KeyValuePair::builder().name(name).value(value).build();
    let region = |name: &str| pair(name, &aws.region);
    let mut container = ecs::ContainerDefinition::builder()
        .name(CONTAINER_NAME)
        .image(container_image(
            spec,
            owner.account,
            &aws.region,
            owner.partition,
        ))
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
    if let Some(credentials) = &spec.image_credentials {
        let name = credentials
            .strip_prefix("secretsmanager:")
            .unwrap_or(credentials);
        let arn = secret_arn(
            name,
            [
                owner.partition,
                &aws.region,
                owner.account.unwrap_or_default(),
            ],
        );
        container = container.repository_credentials(
            ecs::RepositoryCredentials::builder()
                .credentials_parameter(arn)
                .build()
                .map_err(|e| FnError::invalid_input(e.to_string()))?,
        );
    }
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
    let registered = aws
        .ecs
        .register_task_definition()
        .family(family)
        .network_mode(ecs::NetworkMode::Bridge)
        .container_definitions(container.build())
        .set_volumes(Some(volumes))
        .set_task_role_arn(owner.task_role_arn.map(str::to_owned))
        // Only a job that pulls with credentials gets the execution role: ECS otherwise pulls and logs with the
        // instance's role, as before.
        .set_execution_role_arn(
            spec.image_credentials
                .as_ref()
                .and(owner.execution_role_arn.map(str::to_owned)),
        )
        .set_tags(Some(tags(owner, spec)))
        .send()
        .await
        .map_err(|e| FnError::aws(format!("RegisterTaskDefinition {family}"), &e))?;
    registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| FnError::invalid_input("RegisterTaskDefinition returned no ARN"))
}

/// Has the instance joined the cluster? Registered, ACTIVE and with its agent connected: only such an instance
/// accepts a task (ECS ContainerInstance: "Only instances connected to an agent can accept task placement
/// requests").
pub async fn joined(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    instance_id: &str,
) -> Result<JoinCheck, FnError> {
    let listed = ecs
        .list_container_instances()
        .cluster(cluster)
        .filter(format!("ec2InstanceId == {instance_id}"))
        .send()
        .await;
    let arns = match listed {
        Ok(out) => out.container_instance_arns().to_vec(),
        Err(e) if code(&e) == Some("ClusterNotFoundException") => {
            return Err(FnError::invalid_input(format!(
                "the job's cluster {cluster} does not exist"
            )))
        }
        Err(e) => {
            return Err(FnError::aws(
                format!("ListContainerInstances {cluster}"),
                &e,
            ))
        }
    };
    let Some(arn) = arns.first() else {
        return Ok(JoinCheck {
            joined: false,
            container_instance_arn: None,
            seen: "not registered".to_owned(),
            lost: None,
            ended: None,
        });
    };
    let described = ecs
        .describe_container_instances()
        .cluster(cluster)
        .container_instances(arn)
        .send()
        .await
        .map_err(|e| FnError::aws(format!("DescribeContainerInstances {arn}"), &e))?;
    let Some(found) = described.container_instances().first() else {
        return Ok(JoinCheck {
            joined: false,
            container_instance_arn: Some(arn.clone()),
            seen: "registered, then gone".to_owned(),
            lost: None,
            ended: None,
        });
    };
    let status = found.status().unwrap_or("UNKNOWN");
    let connected = found.agent_connected();
    Ok(JoinCheck {
        joined: connected && status == "ACTIVE",
        container_instance_arn: Some(arn.clone()),
        seen: format!(
            "registered, {status}, agent {}",
            if connected {
                "connected"
            } else {
                "disconnected"
            }
        ),
        lost: None,
        ended: None,
    })
}

/// The ARNs of `stack`'s clusters (every page).
pub async fn stack_clusters(
    ecs: &aws_sdk_ecs::Client,
    stack: &str,
) -> Result<Vec<String>, FnError> {
    let mut arns = Vec::new();
    let mut pages = ecs.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| FnError::aws("ListClusters", &e))?;
        arns.extend(
            page.cluster_arns()
                .iter()
                .filter(|arn| job_of_cluster(stack, arn).is_some())
                .cloned(),
        );
    }
    Ok(arns)
}

/// A cluster as the sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    pub name: String,
    pub active: bool,
    /// Its [`TAG_CREATED`] (seconds since the epoch; 0 when it has none).
    pub created: u64,
}

/// The clusters named (ARNs or names), described 100 at a time (the most DescribeClusters takes).
pub async fn describe(
    ecs: &aws_sdk_ecs::Client,
    clusters: &[String],
) -> Result<Vec<ClusterInfo>, FnError> {
    let mut found = Vec::with_capacity(clusters.len());
    for chunk in clusters.chunks(100) {
        let described = ecs
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .send()
            .await
            .map_err(|e| FnError::aws("DescribeClusters", &e))?;
        for cluster in described.clusters() {
            let Some(name) = cluster.cluster_name() else {
                continue;
            };
            let created = cluster
                .tags()
                .iter()
                .find(|t| t.key() == Some(TAG_CREATED))
                .and_then(|t| t.value())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            found.push(ClusterInfo {
                name: name.to_owned(),
                active: cluster.status() == Some("ACTIVE"),
                created,
            });
        }
    }
    Ok(found)
}

/// The ACTIVE task definition revisions of a family (a job's cluster name), every page ("ListTaskDefinitions": up
/// to 100 a page). The API's filter is a prefix, so another job's family that begins with this one's name (a job
/// named after this job's id) is left out.
pub async fn definitions(ecs: &aws_sdk_ecs::Client, family: &str) -> Result<Vec<String>, FnError> {
    let mut pages = ecs
        .list_task_definitions()
        .family_prefix(family)
        .into_paginator()
        .send();
    let mut arns = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| FnError::aws(format!("ListTaskDefinitions {family}"), &e))?;
        arns.extend(
            page.task_definition_arns()
                .iter()
                .filter(|arn| {
                    arn.rsplit_once(":task-definition/")
                        .and_then(|(_, rest)| rest.rsplit_once(':'))
                        .is_some_and(|(name, _)| name == family)
                })
                .cloned(),
        );
    }
    Ok(arns)
}

/// Removes a job's cluster (its container instances deregistered first, every page of them) and, if named, its
/// task definition. A cluster that is gone already is fine; one ECS will not delete yet is an error for the
/// caller to leave to a later sweep.
pub async fn remove_cluster(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    task_definition: Option<&str>,
) -> Result<(), FnError> {
    let mut token: Option<String> = None;
    loop {
        let listed = ecs
            .list_container_instances()
            .cluster(cluster)
            .set_next_token(token.clone())
            .send()
            .await;
        let page = match listed {
            Ok(page) => page,
            Err(e) if code(&e) == Some("ClusterNotFoundException") => return Ok(()),
            Err(e) => {
                return Err(FnError::aws(
                    format!("ListContainerInstances {cluster}"),
                    &e,
                ))
            }
        };
        for arn in page.container_instance_arns() {
            ecs.deregister_container_instance()
                .cluster(cluster)
                .container_instance(arn)
                .force(true)
                .send()
                .await
                .map_err(|e| FnError::aws(format!("DeregisterContainerInstance {arn}"), &e))?;
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    if let Some(definition) = task_definition {
        deregister_definition(ecs, definition).await?;
    }
    delete_cluster(ecs, cluster).await
}

/// Deletes a cluster that has no container instances; one that is gone already is fine.
pub async fn delete_cluster(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Result<(), FnError> {
    match ecs.delete_cluster().cluster(cluster).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("ClusterNotFoundException") => Ok(()),
        Err(e) => Err(FnError::aws(format!("DeleteCluster {cluster}"), &e)),
    }
}

/// Deregisters a task definition revision; one that is gone or inactive already is fine.
pub async fn deregister_definition(
    ecs: &aws_sdk_ecs::Client,
    definition: &str,
) -> Result<(), FnError> {
    match ecs
        .deregister_task_definition()
        .task_definition(definition)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                code(&e),
                Some("ClientException" | "InvalidParameterException")
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(FnError::aws(
            format!("DeregisterTaskDefinition {definition}"),
            &e,
        )),
    }
}

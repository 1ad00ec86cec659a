//! A cluster's tasks, in the shape ECS's "Task State Change" events carry them ([`EcsTaskDetail`]): the event's
//! detail and DescribeTasks's answer are read the same way, and the task's container environment with them
//! ([`TaskEnv`]). Starting a task on an attempt's instance.

use crate::error::{code, describe, FnError};
use aws_sdk_ecs::types as ecs;
pub use aws_sdk_ecs::types::DesiredStatus;
use ecsub_core::chain::{is_throttling, TaskEnv, CONTAINER_NAME, STARTED_BY};
use serde::{Deserialize, Serialize};

/// `detail` of an ECS "Task State Change" event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsTaskDetail {
    #[serde(default)]
    pub cluster_arn: String,
    #[serde(default)]
    pub task_arn: String,
    #[serde(default)]
    pub last_status: String,
    /// `startedBy` (ecsub's tasks: [`STARTED_BY`]).
    #[serde(default)]
    pub started_by: Option<String>,
    #[serde(default)]
    pub stop_code: Option<String>,
    #[serde(default)]
    pub stopped_reason: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub stopped_at: Option<String>,
    #[serde(default)]
    pub container_instance_arn: Option<String>,
    #[serde(default)]
    pub containers: Vec<EcsContainer>,
    #[serde(default)]
    pub overrides: EcsOverrides,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsContainer {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsOverrides {
    #[serde(default)]
    pub container_overrides: Vec<EcsContainerOverride>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EcsContainerOverride {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub environment: Vec<EcsKeyValue>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EcsKeyValue {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

impl EcsTaskDetail {
    /// A variable of the main container's environment override (where the state machine put the task token).
    pub fn env(&self, name: &str) -> Option<&str> {
        self.overrides
            .container_overrides
            .iter()
            .filter(|o| o.name == ecsub_core::chain::CONTAINER_NAME)
            .flat_map(|o| &o.environment)
            .find(|kv| kv.name == name)
            .map(|kv| kv.value.as_str())
    }

    /// The container environment ecsub's state machine gave the task (`Ok(None)`: not started by it).
    pub fn task_env(&self) -> Result<Option<TaskEnv>, String> {
        TaskEnv::read(|name| self.env(name))
    }

    pub fn main_container(&self) -> Option<&EcsContainer> {
        self.containers
            .iter()
            .find(|c| c.name == ecsub_core::chain::CONTAINER_NAME)
    }
}

/// The cluster's tasks whose desired status is `desired`: every page of ListTasks, then DescribeTasks 100 at a time
/// (the most it takes). A cluster that is gone has none.
pub async fn tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    desired: DesiredStatus,
) -> Result<Vec<EcsTaskDetail>, FnError> {
    let list = ecs.list_tasks().cluster(cluster).desired_status(desired);
    let Some(arns) = list_all(list, cluster).await? else {
        return Ok(Vec::new());
    };
    describe_all(ecs, cluster, &arns).await
}

/// ecsub's tasks on one container instance, running or stopped: an attempt's instance is its own, so any is the
/// attempt's (a start tried again finds the one an earlier try started).
pub async fn on_instance(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    container_instance: &str,
) -> Result<Vec<EcsTaskDetail>, FnError> {
    let mut arns = Vec::new();
    for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let list = ecs
            .list_tasks()
            .cluster(cluster)
            .container_instance(container_instance)
            .started_by(STARTED_BY)
            .desired_status(desired);
        arns.extend(list_all(list, cluster).await?.unwrap_or_default());
    }
    describe_all(ecs, cluster, &arns).await
}

/// Every page of a ListTasks request; `None` when the cluster is gone.
async fn list_all(
    list: aws_sdk_ecs::operation::list_tasks::builders::ListTasksFluentBuilder,
    cluster: &str,
) -> Result<Option<Vec<String>>, FnError> {
    let mut arns = Vec::new();
    let mut pages = list.into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => arns.extend(page.task_arns().iter().cloned()),
            Err(e) if code(&e) == Some("ClusterNotFoundException") => return Ok(None),
            Err(e) => return Err(FnError::aws(format!("ListTasks {cluster}"), &e)),
        }
    }
    Ok(Some(arns))
}

/// DescribeTasks, 100 at a time (the most it takes).
async fn describe_all(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arns: &[String],
) -> Result<Vec<EcsTaskDetail>, FnError> {
    let mut tasks = Vec::with_capacity(arns.len());
    for chunk in arns.chunks(100) {
        let described = ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| FnError::aws(format!("DescribeTasks {cluster}"), &e))?;
        tasks.extend(described.tasks().iter().map(detail_of));
    }
    Ok(tasks)
}

/// A DescribeTasks task in the shape of the "ECS Task State Change" event's detail.
fn detail_of(task: &ecs::Task) -> EcsTaskDetail {
    let time = |t: Option<&aws_sdk_ecs::primitives::DateTime>| {
        t.and_then(|t| {
            t.fmt(aws_sdk_ecs::primitives::DateTimeFormat::DateTime)
                .ok()
        })
    };
    EcsTaskDetail {
        cluster_arn: task.cluster_arn().unwrap_or_default().to_owned(),
        task_arn: task.task_arn().unwrap_or_default().to_owned(),
        last_status: task.last_status().unwrap_or_default().to_owned(),
        started_by: task.started_by().map(str::to_owned),
        stop_code: task.stop_code().map(|c| c.as_str().to_owned()),
        stopped_reason: task.stopped_reason().map(str::to_owned),
        started_at: time(task.started_at()),
        stopped_at: time(task.stopped_at()),
        container_instance_arn: task.container_instance_arn().map(str::to_owned),
        containers: task
            .containers()
            .iter()
            .map(|c| EcsContainer {
                name: c.name().unwrap_or_default().to_owned(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_owned),
            })
            .collect(),
        overrides: EcsOverrides {
            container_overrides: task
                .overrides()
                .into_iter()
                .flat_map(|o| o.container_overrides())
                .map(|o| EcsContainerOverride {
                    name: o.name().unwrap_or_default().to_owned(),
                    environment: o
                        .environment()
                        .iter()
                        .map(|kv| EcsKeyValue {
                            name: kv.name().unwrap_or_default().to_owned(),
                            value: kv.value().unwrap_or_default().to_owned(),
                        })
                        .collect(),
                })
                .collect(),
        },
    }
}

/// A task to start on an attempt's own instance.
#[derive(Debug, Clone)]
pub struct StartTask<'a> {
    pub cluster: &'a str,
    pub task_definition: &'a str,
    pub container_instance: &'a str,
    /// The main container's environment overrides.
    pub environment: Vec<(&'static str, String)>,
    /// Put on the task: ecsub's own, then the job's `--tag`s (an empty list puts none).
    pub tags: Vec<(String, String)>,
    /// The instance's NVIDIA GPUs, all asked for (`resourceRequirements` GPU); 0: none, the default runtime.
    pub gpus: u32,
}

/// Why StartTask started no task.
#[derive(Debug, Clone)]
pub enum NotStarted {
    /// Throttled, refused before anything was placed: no task exists, so trying again cannot start a second one.
    Throttled(String),
    /// ECS answered with `failures` and no task (AGENT, RESOURCE:*, …: "API failure reasons"): no task exists and
    /// no STOPPED event will come.
    Failures(Vec<String>),
    /// Any other error.
    Failed(FnError),
}

/// StartTask, `startedBy` ecsub; the task's ARN.
pub async fn start_task(
    ecs: &aws_sdk_ecs::Client,
    r: &StartTask<'_>,
) -> Result<String, NotStarted> {
    let environment = r
        .environment
        .iter()
        .map(|(name, value)| {
            ecs::KeyValuePair::builder()
                .name(*name)
                .value(value)
                .build()
        })
        .collect();
    let overrides = ecs::TaskOverride::builder()
        .container_overrides(
            ecs::ContainerOverride::builder()
                .name(CONTAINER_NAME)
                .set_environment(Some(environment))
                .set_resource_requirements(
                    (r.gpus > 0)
                        .then(|| {
                            ecs::ResourceRequirement::builder()
                                .r#type(ecs::ResourceType::Gpu)
                                .value(r.gpus.to_string())
                                .build()
                                .ok()
                        })
                        .flatten()
                        .map(|gpu| vec![gpu]),
                )
                .build(),
        )
        .build();
    let out = match ecs
        .start_task()
        .cluster(r.cluster)
        .task_definition(r.task_definition)
        .container_instances(r.container_instance)
        .started_by(STARTED_BY)
        .overrides(overrides)
        .set_tags((!r.tags.is_empty()).then(|| {
            r.tags
                .iter()
                .map(|(k, v)| ecs::Tag::builder().key(k).value(v).build())
                .collect()
        }))
        // Sent once: StartTask has no idempotency token, and the SDK's own retry of a call whose answer was lost
        // (a 5xx after ECS placed the task) would start a second task. The caller looks before trying again.
        .customize()
        .config_override(
            aws_sdk_ecs::config::Builder::default()
                .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if code(&e).is_some_and(is_throttling) => {
            return Err(NotStarted::Throttled(format!(
                "StartTask: {}",
                describe(&e)
            )))
        }
        Err(e) => return Err(NotStarted::Failed(FnError::aws("StartTask", &e))),
    };
    if let Some(task) = out.tasks().first() {
        return Ok(task.task_arn().unwrap_or_default().to_owned());
    }
    Err(NotStarted::Failures(
        out.failures()
            .iter()
            .map(|f| {
                format!(
                    "{} ({})",
                    f.reason().unwrap_or("unknown"),
                    f.detail().or(f.arn()).unwrap_or_default()
                )
            })
            .collect(),
    ))
}

//! StartTask on an attempt's own instance, with the state's task token in the container's environment (the
//! task-stopped function sends it back when the task stops). ECS answers a task it could not place with HTTP 200
//! and `failures` (AGENT, RESOURCE:*, …: "API failure reasons"); then no task exists and no STOPPED event will
//! ever come, so that is an error the state machine retries (`Ecsub.StartFailed`) instead of waiting for days.

use crate::ctx::Ctx;
use crate::error::{code, describe, is_throttling, FnError};
use aws_sdk_ecs::types as ecs;
use ecsub_core::chain::{
    error_names, Attempt, Instance, JobRef, TaskRef, CONTAINER_NAME, STARTED_BY,
};
use tracing::info;

#[derive(Debug)]
pub struct StartRequest<'a> {
    pub token: &'a str,
    pub job: &'a JobRef,
    pub task: TaskRef,
    pub attempt: Attempt,
    pub instance: &'a Instance,
    pub container_instance: &'a str,
}

/// The container's environment overrides: where the job is, which task and attempt this is, and the token.
fn environment(r: &StartRequest<'_>) -> Vec<ecs::KeyValuePair> {
    let vars = [
        ("ECSUB_JOB_URL", r.job.job_url.clone()),
        ("ECSUB_TASK_INDEX", r.task.index.to_string()),
        ("ECSUB_ATTEMPT", r.attempt.number.to_string()),
        ("ECSUB_SPOT", r.attempt.spot.to_string()),
        ("ECSUB_RETRY_OD", r.job.retry_od.to_string()),
        ("ECSUB_INSTANCE_ID", r.instance.instance_id.clone()),
        ("ECSUB_INSTANCE_TYPE", r.instance.instance_type.clone()),
        // For the attempt's cost, recorded by task-stopped.
        ("ECSUB_LAUNCHED_AT", r.instance.launched_at.clone()),
        (
            "ECSUB_AVAILABILITY_ZONE",
            r.instance.availability_zone.clone().unwrap_or_default(),
        ),
        (
            "ECSUB_REQUEST_PAYER_BUCKETS",
            r.job.request_payer_buckets.join(" "),
        ),
        ("ECSUB_TASK_TOKEN", r.token.to_owned()),
    ];
    vars.into_iter()
        .map(|(name, value)| ecs::KeyValuePair::builder().name(name).value(value).build())
        .collect()
}

/// Starts the task; returns its ARN.
pub async fn start(ctx: &Ctx, r: &StartRequest<'_>) -> Result<String, FnError> {
    let overrides = ecs::TaskOverride::builder()
        .container_overrides(
            ecs::ContainerOverride::builder()
                .name(CONTAINER_NAME)
                .set_environment(Some(environment(r)))
                .build(),
        )
        .build();
    let started = ctx
        .ecs
        .start_task()
        .cluster(&r.job.cluster)
        .task_definition(&r.job.task_definition)
        .container_instances(r.container_instance)
        .started_by(STARTED_BY)
        .overrides(overrides)
        .send()
        .await;
    let out = match started {
        Ok(out) => out,
        Err(e) if code(&e).is_some_and(is_throttling) => {
            // Refused before anything was placed: no task exists, so trying again cannot start a second one.
            return Err(FnError::new(
                error_names::START_FAILED,
                format!("StartTask: {}", describe(&e)),
            ));
        }
        Err(e) => return Err(FnError::aws("StartTask", &e)),
    };
    if let Some(task) = out.tasks().first() {
        let arn = task.task_arn().unwrap_or_default().to_owned();
        info!(job_id = %r.job.job_id, task = r.task.index, attempt = r.attempt.number, task_arn = arn, "task started");
        return Ok(arn);
    }
    let failures: Vec<String> = out
        .failures()
        .iter()
        .map(|f| {
            format!(
                "{} ({})",
                f.reason().unwrap_or("unknown"),
                f.detail().or(f.arn()).unwrap_or_default()
            )
        })
        .collect();
    Err(FnError::new(
        error_names::START_FAILED,
        format!(
            "StartTask on instance {} started no task: {}",
            r.instance.instance_id,
            if failures.is_empty() {
                "no task and no failure in the answer".to_owned()
            } else {
                failures.join("; ")
            }
        ),
    ))
}

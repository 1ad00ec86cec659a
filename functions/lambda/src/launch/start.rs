//! StartTask on an attempt's own instance, with the state's task token in the container's environment (the
//! task-stopped function sends it back when the task stops). ECS answers a task it could not place with HTTP 200
//! and `failures` (AGENT, RESOURCE:*, …: "API failure reasons"); then no task exists and no STOPPED event will
//! ever come, so that is an error the state machine retries (`Ecsub.StartFailed`) instead of waiting for days.

use crate::Ctx;
use ecsub_aws::ecs_tasks::{self, NotStarted, StartTask};
use ecsub_aws::FnError;
use ecsub_core::chain::{error_names, Attempt, Instance, JobRef, TaskEnv, TaskRef};
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

/// The container's environment: where the job is, which task and attempt this is, its instance, and the token.
fn environment(r: &StartRequest<'_>) -> TaskEnv {
    TaskEnv {
        job_url: r.job.job_url.clone(),
        index: r.task.index,
        attempt: r.attempt,
        retry_od: r.job.retry_od,
        instance_id: Some(r.instance.instance_id.clone()),
        instance_type: Some(r.instance.instance_type.clone()),
        // For the attempt's cost, recorded by task-stopped.
        launched_at: Some(r.instance.launched_at.clone()),
        availability_zone: r.instance.availability_zone.clone(),
        request_payer_buckets: r.job.request_payer_buckets.clone(),
        task_token: r.token.to_owned(),
    }
}

/// Starts the task; returns its ARN.
pub async fn start(ctx: &Ctx, r: &StartRequest<'_>) -> Result<String, FnError> {
    let started = ecs_tasks::start_task(
        &ctx.aws.ecs,
        &StartTask {
            cluster: &r.job.cluster,
            task_definition: &r.job.task_definition,
            container_instance: r.container_instance,
            environment: environment(r).pairs(),
        },
    )
    .await;
    match started {
        Ok(arn) => {
            info!(job_id = %r.job.job_id, task = r.task.index, attempt = r.attempt.number, task_arn = arn, "task started");
            Ok(arn)
        }
        // Refused before anything was placed: no task exists, so trying again cannot start a second one.
        Err(NotStarted::Throttled(why)) => Err(FnError::new(error_names::START_FAILED, why)),
        Err(NotStarted::Failures(failures)) => Err(FnError::new(
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
        )),
        Err(NotStarted::Failed(e)) => Err(e),
    }
}

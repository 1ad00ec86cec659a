//! StartTask on an attempt's own instance, with the state's task token in the container's environment (the
//! task-stopped function sends it back when the task stops). ECS answers a task it could not place with HTTP 200
//! and `failures` (AGENT, RESOURCE:*, …: "API failure reasons"); then no task exists and no STOPPED event will
//! ever come, so that is an error the state machine retries (`Ecsub.StartFailed`) instead of waiting for days.
//!
//! A task never starts twice. The state machine retries this function after a Lambda service error (AWS review
//! 2026-12, finding 3: "Handle transient Lambda service exceptions"), and a try may have started the task before
//! its answer was lost; so every try after the first (the state's `$$.State.RetryCount`) first looks for ecsub's
//! task on the instance (the attempt's own: any task on it is this attempt's) and answers with it. If that task
//! carries another token than this try's, the new token is written to the job's `tokens/` for task-stopped. A
//! StartTask that fails with a 5xx or the network (it may or may not have placed the task) is answered by looking
//! again: a task there is the one it started; none means trying again cannot start a second.

use crate::Ctx;
use ecsub_aws::ecs_tasks::{self, NotStarted, StartTask};
use ecsub_aws::{store, FnError};
use ecsub_core::chain::{
    error_names, Attempt, Instance, JobRef, TaskEnv, TaskRef, TAG_ATTEMPT, TAG_JOB, TAG_STACK,
    TAG_TASK,
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
    /// The state's retry count: 0 on its first try.
    pub retry: u32,
}

/// The container's environment: where the job is, which task and attempt this is, its instance, and the token.
fn environment(r: &StartRequest<'_>) -> TaskEnv {
    TaskEnv {
        job_url: r.job.job_url.clone(),
        index: r.task.index,
        attempt: r.attempt,
        retry_od: r.job.retry_od,
        spot_attempts: r.job.spot_attempts,
        retries: r.job.retries,
        retry_on_exit: r.job.retry_on_exit.clone(),
        retry_larger: r.job.retry_larger,
        keep_on_failure: r.job.keep_on_failure,
        instance_id: Some(r.instance.instance_id.clone()),
        instance_type: Some(r.instance.instance_type.clone()),
        // For the attempt's cost, recorded by task-stopped.
        launched_at: Some(r.instance.launched_at.clone()),
        availability_zone: r.instance.availability_zone.clone(),
        request_payer_buckets: r.job.request_payer_buckets.clone(),
        task_token: r.token.to_owned(),
    }
}

/// The task's tags: the stack, job, task and attempt (as its instance has them), then the job's `--tag`s.
fn tags(stack: &str, r: &StartRequest<'_>) -> Vec<(String, String)> {
    [
        (TAG_STACK, stack.to_owned()),
        (TAG_JOB, r.job.job_id.to_string()),
        (TAG_TASK, r.task.index.to_string()),
        (TAG_ATTEMPT, r.attempt.number.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(r.job.tags.iter().map(|t| (t.key.clone(), t.value.clone())))
    .collect()
}

/// Starts the task, or finds the one an earlier try started; returns its ARN.
pub async fn start(ctx: &Ctx, r: &StartRequest<'_>) -> Result<String, FnError> {
    if r.retry > 0 {
        if let Some(arn) = started_before(ctx, r).await? {
            return Ok(arn);
        }
    }
    let request = StartTask {
        cluster: &r.job.cluster,
        task_definition: &r.job.task_definition,
        container_instance: r.container_instance,
        environment: environment(r).pairs(),
        tags: tags(&ctx.config.stack, r),
        gpus: r.instance.gpus,
    };
    // The SDK sends StartTask once (ecs_tasks::start_task); a throttled call placed nothing, so it is sent again
    // here, as the SDK's own retries would have (three tries, 1 and 2 s apart), before the state machine's turn.
    let mut started = ecs_tasks::start_task(&ctx.aws.ecs, &request).await;
    for pause in [1, 2] {
        if !matches!(started, Err(NotStarted::Throttled(_))) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(pause)).await;
        started = ecs_tasks::start_task(&ctx.aws.ecs, &request).await;
    }
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
        // A 5xx or the network: ECS may have placed the task. Look; none there means a retry starts only one.
        Err(NotStarted::Failed(e)) if e.is_transient() => match started_before(ctx, r).await? {
            Some(arn) => Ok(arn),
            None => Err(FnError::new(
                error_names::START_FAILED,
                format!(
                    "{} (no task on instance {}: tried again)",
                    e.message, r.instance.instance_id
                ),
            )),
        },
        Err(NotStarted::Failed(e)) => Err(e),
    }
}

/// The task an earlier try of this start placed on the instance, if any. When it carries another token than this
/// try's, this try's token is recorded for task-stopped (the job's `tokens/`).
async fn started_before(ctx: &Ctx, r: &StartRequest<'_>) -> Result<Option<String>, FnError> {
    let found = ecs_tasks::on_instance(&ctx.aws.ecs, &r.job.cluster, r.container_instance).await?;
    let Some(task) = found.first() else {
        return Ok(None);
    };
    let carried = task.env(ecsub_core::chain::task_env::names::TASK_TOKEN);
    if carried != Some(r.token) {
        let layout = crate::layout_of(r.job)?;
        let key = layout.token_key(r.task.index, r.attempt.number);
        store::put(
            &ctx.aws.s3,
            &layout.bucket,
            &key,
            r.token.as_bytes().to_vec(),
            "text/plain",
        )
        .await?;
    }
    info!(
        job_id = %r.job.job_id, task = r.task.index, attempt = r.attempt.number, task_arn = task.task_arn,
        same_token = carried == Some(r.token), "the task was started by an earlier try; not started again"
    );
    Ok(Some(task.task_arn.clone()))
}

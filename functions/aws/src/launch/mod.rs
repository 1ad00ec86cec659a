//! The `launch` function: the state machine's hands for one attempt of a task. It launches the attempt's
//! instance ([`run`]), checks that it joined the job's cluster ([`join`]), and starts the task on it with the
//! state's task token ([`start`]); each is one action of [`LaunchRequest`].

pub mod join;
pub mod run;
pub mod start;

use crate::ctx::Ctx;
use crate::error::FnError;
use ecsub_core::chain::LaunchRequest;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    let request: LaunchRequest = serde_json::from_value(event.payload)
        .map_err(|e| FnError::invalid_input(format!("launch input: {e}")))?;
    let answer = match request {
        LaunchRequest::Launch { job, task, attempt } => {
            serde_json::to_value(run::launch(ctx, &job, task, attempt).await?)
        }
        LaunchRequest::CheckJoined { job, instance } => {
            serde_json::to_value(join::check(ctx, &job, &instance).await?)
        }
        LaunchRequest::Start {
            token,
            job,
            task,
            attempt,
            instance,
            container_instance,
        } => {
            let started = start::start(
                ctx,
                &start::StartRequest {
                    token: &token,
                    job: &job,
                    task,
                    attempt,
                    instance: &instance,
                    container_instance: &container_instance,
                },
            )
            .await?;
            Ok(serde_json::json!({ "task_arn": started }))
        }
    };
    answer.map_err(|e| FnError::invalid_input(e.to_string()))
}

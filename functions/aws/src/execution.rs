//! Step Functions: a job's execution (named after the job id) started, asked for its status or its input, resumed
//! with an attempt's result, stopped.

use crate::error::{code, FnError};
use aws_sdk_sfn::Client;

/// The execution's status (`RUNNING`, `SUCCEEDED`, `FAILED`, …), or `None` when there is no such execution.
pub async fn status(sfn: &Client, execution_arn: &str) -> Result<Option<String>, FnError> {
    match sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out.status().as_str().to_owned())),
        Err(e) if code(&e) == Some("ExecutionDoesNotExist") => Ok(None),
        Err(e) => Err(FnError::aws(
            format!("DescribeExecution {execution_arn}"),
            &e,
        )),
    }
}

/// The input the execution was started with.
pub async fn input(sfn: &Client, execution_arn: &str) -> Result<String, FnError> {
    let out = sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
        .map_err(|e| FnError::aws(format!("DescribeExecution {execution_arn}"), &e))?;
    Ok(out.input().unwrap_or_default().to_owned())
}

/// What StartExecution did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Started: its ARN.
    Now(String),
    /// An execution of that name exists already (another delivery of the same event started it).
    Already,
}

/// Starts an execution named `name` with `input` (JSON text).
pub async fn start(
    sfn: &Client,
    state_machine_arn: &str,
    name: &str,
    input: String,
) -> Result<Started, FnError> {
    match sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(name)
        .input(input)
        .send()
        .await
    {
        Ok(out) => Ok(Started::Now(out.execution_arn().to_owned())),
        Err(e) if code(&e) == Some("ExecutionAlreadyExists") => Ok(Started::Already),
        Err(e) => Err(FnError::aws(format!("StartExecution {name}"), &e)),
    }
}

/// Resumes the state waiting for `token` with `output` (JSON text); `false` when nothing waits for it any more
/// (the state timed out, the execution ended).
pub async fn resume(sfn: &Client, token: &str, output: String) -> Result<bool, FnError> {
    let sent = sfn
        .send_task_success()
        .task_token(token)
        .output(output)
        .send()
        .await;
    taken(sent, "SendTaskSuccess")
}

/// Fails the state waiting for `token` with an error name its Retry and Catch match and a cause; `false` when
/// nothing waits for it any more.
pub async fn fail_task(
    sfn: &Client,
    token: &str,
    error: &str,
    cause: &str,
) -> Result<bool, FnError> {
    let sent = sfn
        .send_task_failure()
        .task_token(token)
        .error(error)
        .cause(cause)
        .send()
        .await;
    taken(sent, "SendTaskFailure")
}

/// Whether a state took the answer sent to its token: `false` when its token is closed (it timed out, it was
/// answered, its execution ended).
fn taken<T, E>(
    sent: Result<T, aws_sdk_sfn::error::SdkError<E>>,
    what: &str,
) -> Result<bool, FnError>
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match sent {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                code(&e),
                Some("TaskTimedOut" | "InvalidToken" | "TaskDoesNotExist")
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(FnError::aws(what, &e)),
    }
}

/// Stops an execution with an error name and a cause.
pub async fn stop(
    sfn: &Client,
    execution_arn: &str,
    error: &str,
    cause: &str,
) -> Result<(), FnError> {
    sfn.stop_execution()
        .execution_arn(execution_arn)
        .error(error)
        .cause(cause)
        .send()
        .await
        .map_err(|e| FnError::aws(format!("StopExecution {execution_arn}"), &e))?;
    Ok(())
}

//! The events Lambda gave up on: after an asynchronous invocation failed its retries, Lambda sends a record of it
//! (the event, the last error) to the stack's OnFailure queue ("Capturing records of Lambda asynchronous
//! invocations"). And the events EventBridge could not deliver at all (the function's permission gone, the
//! function deleted, its retry policy run out): the rules' targets send them, as they were, to the same queue, with
//! why in the message attributes ("Using dead-letter queues to process undelivered events"). Without this they
//! would be gone: a submit that kept failing would leave its job "submitted" forever, a STOPPED event task-stopped
//! could not handle would leave an instance billing and an execution waiting.
//! - a submit's event: the job (or the inbox drop, or the schedule's spec) gets its `error.txt`, saying why;
//! - a task-stopped event: handled again (its steps are idempotent); kept in the queue if it fails again;
//! - a join event: dropped (the attempt waiting for it checks the join itself when its wait runs out);
//! - anything else: logged.

use crate::events::{EcsTaskDetail, EventBridgeEvent, S3ObjectDetail, ScheduleInput};
use crate::{attempt_end, Ctx};
use ecsub_aws::{queue, store, FnError};
use ecsub_core::JobLayout;
use serde::Deserialize;
use serde_json::Value;
use tracing::{info, warn};

/// Messages read per run at most (ten per ReceiveMessage).
const MAX_MESSAGES: usize = 200;

/// What Lambda sends to an OnFailure destination.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailureRecord {
    #[serde(default)]
    request_context: RequestContext,
    #[serde(default)]
    request_payload: Value,
    #[serde(default)]
    response_payload: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    #[serde(default)]
    function_arn: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    approximate_invoke_count: u32,
}

/// A failed event as the queue holds it: the event, and why it was not handled.
struct Failed {
    payload: Value,
    /// What could not handle it: a function's ARN, or a rule's.
    by: String,
    why: String,
}

impl Failed {
    fn of(message: &queue::Message) -> Result<Failed, String> {
        let body: Value = serde_json::from_str(&message.body).map_err(|e| e.to_string())?;
        if body.get("detail-type").is_some() {
            // An event EventBridge could not deliver, as it was.
            let attribute = |name: &str| message.attributes.get(name).cloned().unwrap_or_default();
            return Ok(Failed {
                payload: body,
                by: attribute("RULE_ARN"),
                why: format!(
                    "EventBridge could not deliver the event to the stack's function ({}: {})",
                    attribute("ERROR_CODE"),
                    attribute("ERROR_MESSAGE")
                ),
            });
        }
        let record: FailureRecord = serde_json::from_value(body).map_err(|e| e.to_string())?;
        if record.request_payload.is_null() {
            return Err("no requestPayload".to_owned());
        }
        Ok(Failed {
            why: format!(
                "the stack's submit function failed {} times ({}), last with {}",
                record.request_context.approximate_invoke_count.max(1),
                record.request_context.condition,
                record.error()
            ),
            by: record.request_context.function_arn,
            payload: record.request_payload,
        })
    }
}

impl FailureRecord {
    /// The last error, as `Type: message`.
    fn error(&self) -> String {
        let kind = self.response_payload["errorType"]
            .as_str()
            .unwrap_or("Error");
        let message = self.response_payload["errorMessage"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| self.response_payload.to_string());
        format!("{kind}: {message}")
    }
}

/// Reads the failed events and handles each; returns a line per event handled.
pub async fn drain(ctx: &Ctx) -> Result<Vec<String>, FnError> {
    let Some(url) = ctx.config.failed_events_queue.clone() else {
        return Ok(Vec::new());
    };
    let mut handled = Vec::new();
    let mut seen = 0;
    while seen < MAX_MESSAGES {
        let messages = queue::receive(&ctx.aws.sqs, &url, 120).await?;
        if messages.is_empty() {
            break;
        }
        seen += messages.len();
        for message in messages {
            let outcome = match Failed::of(&message) {
                Ok(failed) => handle(ctx, &failed).await,
                Err(e) => Ok(format!(
                    "neither a Lambda failure record nor an undelivered event ({e}); dropped"
                )),
            };
            match outcome {
                Ok(line) => {
                    info!(line, "failed event handled");
                    handled.push(line);
                    if let Some(receipt) = &message.receipt {
                        queue::delete(&ctx.aws.sqs, &url, receipt).await?;
                    }
                }
                Err(e) => warn!(error = %e, "a failed event failed again; it stays in the queue"),
            }
        }
    }
    Ok(handled)
}

async fn handle(ctx: &Ctx, failed: &Failed) -> Result<String, FnError> {
    let payload = &failed.payload;
    let source = payload["source"].as_str().unwrap_or_default();
    let why = &failed.why;
    if source == "aws.ecs" && payload["detail-type"] == "ECS Container Instance State Change" {
        return Ok(format!(
            "a join event of {} not handled ({why}); its attempt checks the join itself after its wait",
            payload["detail"]["ec2InstanceId"].as_str().unwrap_or("an instance")
        ));
    }
    if source == "aws.ecs" {
        let event: EventBridgeEvent<EcsTaskDetail> = serde_json::from_value(payload.clone())
            .map_err(|e| FnError::invalid_input(format!("failed ECS event: {e}")))?;
        attempt_end::record(ctx, &event.detail, None).await?;
        return Ok(format!(
            "STOPPED event of {} handled again",
            event.detail.task_arn
        ));
    }
    if source == "aws.s3" {
        let event: EventBridgeEvent<S3ObjectDetail> = serde_json::from_value(payload.clone())
            .map_err(|e| FnError::invalid_input(format!("failed S3 event: {e}")))?;
        let (bucket, key) = (&event.detail.bucket.name, &event.detail.object.key);
        if let Some((layout, _)) = JobLayout::from_key(bucket, key) {
            if store::exists(&ctx.aws.s3, bucket, &layout.started_key()).await?
                || store::exists(&ctx.aws.s3, bucket, &layout.error_key()).await?
            {
                return Ok(format!("job {} has started or ended since", layout.job_id));
            }
            write(ctx, bucket, &layout.error_key(), why).await?;
            return Ok(format!("job {}: {why}", layout.job_id));
        }
        write(ctx, bucket, &format!("{key}.error.txt"), why).await?;
        return Ok(format!("s3://{bucket}/{key}: {why}"));
    }
    if let Some(schedule) = payload.get("schedule") {
        let schedule: ScheduleInput = serde_json::from_value(schedule.clone())
            .map_err(|e| FnError::invalid_input(format!("failed schedule input: {e}")))?;
        let key = format!("{}.error.txt", schedule.spec);
        write(ctx, &ctx.config.bucket, &key, why).await?;
        return Ok(format!("schedule of {}: {why}", schedule.spec));
    }
    Ok(format!(
        "{} could not handle an event ({why}); logged: {payload}",
        failed.by
    ))
}

async fn write(ctx: &Ctx, bucket: &str, key: &str, why: &str) -> Result<(), FnError> {
    store::put(
        &ctx.aws.s3,
        bucket,
        key,
        format!("{why}\n").into_bytes(),
        "text/plain; charset=utf-8",
    )
    .await
}

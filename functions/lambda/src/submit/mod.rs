//! The `submit` function: a job arrives (a pushed `job.json`, a tasks file dropped into `inbox/`, a schedule
//! naming a stored spec) and is validated, admitted by the stack, its scripts generated, its cluster and task
//! definition created, and its execution started under the job id. A duplicated event starts nothing new; a bad
//! job writes a readable error object and starts nothing; so does a job the stack cannot start for a reason
//! retrying will not fix (a transient failure is left to Lambda's retries, and then to the janitor).
//!
//! - [`inbox`]: inbox drops and schedules become pushed jobs;
//! - [`after`]: a job that waits for others (`--after`) is parked, and decided again when one of them ends;
//! - [`start`]: a pushed job is checked and started;
//! - [`preflight`]: ecsub's check that every input exists;
//! - [`reject`]: a refused job's `error.txt`.
//!
//! The job's ECS side (log group, cluster, task definition) is ecsub-aws's `cluster`.

pub mod after;
pub mod inbox;
pub mod preflight;
pub mod quota;
pub mod reject;
pub mod start;

use crate::events::{EventBridgeEvent, S3ObjectDetail, ScheduleInput};
use crate::Ctx;
use ecsub_aws::FnError;
use ecsub_core::{JobId, JobLayout};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use tracing::info;

/// Where inbox drops may take their options from when the file has no `#ecsub:` lines for them.
pub const INBOX_DEFAULTS_KEY: &str = "inbox/defaults.json";

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    let account = account_of(&event.context.invoked_function_arn);
    let payload = event.payload;
    if let Some(schedule) = payload.get("schedule") {
        let schedule: ScheduleInput = serde_json::from_value(schedule.clone())
            .map_err(|e| FnError::invalid_input(format!("schedule input: {e}")))?;
        return inbox::from_schedule(ctx, &schedule).await;
    }
    if payload.get("detail-type").and_then(Value::as_str) == Some(ecsub_aws::notice::DETAIL_TYPE) {
        return after::on_job_end(ctx, &payload["detail"], account.as_deref()).await;
    }
    let event: EventBridgeEvent<S3ObjectDetail> = serde_json::from_value(payload)
        .map_err(|e| FnError::invalid_input(format!("not an S3 event: {e}")))?;
    let bucket = event.detail.bucket.name.clone();
    // EventBridge's S3 events carry the key as it is (classic S3 notifications URL-encode it; these do not).
    let key = event.detail.object.key.clone();
    if let Some((layout, name)) = JobLayout::from_key(&bucket, &key) {
        if name == "job.json" {
            let answer = start::start_job(ctx, &layout, account.as_deref()).await?;
            // The jobs parked on a refused job are refused in turn: refused by this delivery or an earlier one
            // (whose release may have failed), or cancelled while it waited (`error.txt` is what says so).
            let decided_before =
                answer.get("rejected").is_some() || answer.get("duplicate").is_some();
            if decided_before && after::refused(ctx, &layout).await? {
                after::release(ctx, &layout, account.as_deref()).await?;
            }
            return Ok(answer);
        }
    }
    if key.starts_with("inbox/") && key.ends_with(".tsv") {
        return inbox::from_inbox(ctx, &bucket, &key, &inbox_identity(&event.detail)).await;
    }
    info!(bucket, key, "not a job or an inbox tasks file; ignored");
    Ok(json!({ "ignored": key }))
}

/// The job id suffix of an inbox drop: the same for every delivery of the same write (EventBridge delivers at
/// least once, with a new event id each time), different for every new write of the key (S3's sequencer grows
/// with each write of a key; the version id, when the bucket keeps versions, names the write).
pub fn inbox_identity(detail: &S3ObjectDetail) -> String {
    JobId::suffix_for(&[
        &detail.object.key,
        detail.object.sequencer.as_deref().unwrap_or_default(),
        detail.object.version_id.as_deref().unwrap_or_default(),
        detail.object.etag.as_deref().unwrap_or_default(),
    ])
}

/// The account id out of a function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
fn account_of(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbox_drop_is_known_by_its_write_not_by_its_delivery() {
        let raw = include_str!("../../../../tests/fixtures/events/s3-object-created.json");
        let event: EventBridgeEvent<S3ObjectDetail> = serde_json::from_str(raw).unwrap();
        let again: EventBridgeEvent<S3ObjectDetail> =
            serde_json::from_str(&raw.replace("17793124-05d4", "99999999-0000")).unwrap();
        assert_ne!(event.id, again.id);
        let identity = inbox_identity(&event.detail);
        assert_eq!(identity, inbox_identity(&again.detail));
        let mut rewritten = event.detail.clone();
        rewritten.object.sequencer = Some("00617F08299329D19A".into());
        assert_ne!(identity, inbox_identity(&rewritten));
    }
}

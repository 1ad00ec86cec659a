//! The notice of a job's end: one event on the account's default EventBridge bus, source `ecsub`, detail-type
//! `ecsub Job State Change`, with the job's id, state, counts, cost and the summary's URL. A rule matches it
//! (`{"source": ["ecsub"], "detail-type": ["ecsub Job State Change"]}`) to mail, chat or start what comes next; the
//! template's `NotifyTopicArn` parameter makes one that tells an SNS topic.

use crate::error::FnError;
use ecsub_core::chain::Summary;
use ecsub_core::JobLayout;
use serde_json::json;
use std::collections::BTreeMap;
use tracing::info;

pub const SOURCE: &str = "ecsub";
pub const DETAIL_TYPE: &str = "ecsub Job State Change";

/// The event's detail.
pub fn detail(stack: &str, layout: &JobLayout, summary: &Summary) -> serde_json::Value {
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for task in &summary.tasks {
        *outcomes.entry(task.outcome.as_str()).or_default() += 1;
    }
    json!({
        "stack": stack,
        "job_id": layout.job_id,
        "state": if summary.failed == 0 { "SUCCEEDED" } else { "FAILED" },
        "tasks": summary.tasks.len(),
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "outcomes": outcomes,
        "usd": summary.cost.as_ref().map(|c| c.usd),
        "job_error": summary.job_error,
        "summary_url": layout.url(&layout.summary_key()),
        "finished_at": summary.finished_at,
    })
}

/// Puts the job's end on the default bus. PutEvents answers 200 with a failed entry when it refuses one (EventBridge
/// API reference, "PutEvents": FailedEntryCount and each entry's ErrorCode), so the entry is checked too.
pub async fn job_ended(
    events: &aws_sdk_eventbridge::Client,
    stack: &str,
    layout: &JobLayout,
    summary: &Summary,
) -> Result<(), FnError> {
    let detail = detail(stack, layout, summary);
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source(SOURCE)
        .detail_type(DETAIL_TYPE)
        .resources(layout.url(&layout.job_folder()))
        .detail(detail.to_string())
        .build();
    let out = events
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| FnError::aws("PutEvents", &e))?;
    if out.failed_entry_count() > 0 {
        let why = out
            .entries()
            .iter()
            .filter_map(|e| {
                Some(format!(
                    "{}: {}",
                    e.error_code()?,
                    e.error_message().unwrap_or_default()
                ))
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(FnError::new(
            ecsub_core::chain::error_names::AWS_ERROR,
            format!("PutEvents refused the job's end: {why}"),
        ));
    }
    let id = out
        .entries()
        .first()
        .and_then(|e| e.event_id())
        .unwrap_or_default();
    info!(job_id = %layout.job_id, event_id = id, "the job's end is on the default event bus");
    Ok(())
}

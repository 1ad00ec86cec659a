//! CloudWatch Logs: the containers' output, a page at a time.

use crate::error::{code, FnError};

/// A page of a stream's events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub messages: Vec<String>,
    /// Where the next page starts (the same token again when there is nothing new).
    pub next: Option<String>,
}

/// The events of a stream from the head, or from `token`; `None` when the stream does not exist (yet).
pub async fn events(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    token: Option<String>,
) -> Result<Option<Page>, FnError> {
    let page = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(true)
        .set_next_token(token)
        .send()
        .await;
    match page {
        Ok(page) => Ok(Some(Page {
            messages: page
                .events()
                .iter()
                .map(|e| e.message().unwrap_or_default().to_owned())
                .collect(),
            next: page.next_forward_token().map(str::to_owned),
        })),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(None),
        Err(e) => Err(FnError::aws(format!("GetLogEvents {stream}"), &e)),
    }
}

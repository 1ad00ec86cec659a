//! SQS: the stack's queue of the events Lambda gave up on (its functions' OnFailure destination), and the launch
//! queue's asks sent back to wait.

use crate::error::FnError;
use aws_sdk_sqs::Client;

/// A message received, and what deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub body: String,
    pub receipt: Option<String>,
    /// Its string message attributes (EventBridge's dead-letter messages say why in `ERROR_CODE` and
    /// `ERROR_MESSAGE`).
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// Up to ten messages, hidden from other readers for `hide_seconds`; none when the queue is empty.
pub async fn receive(
    sqs: &Client,
    queue: &str,
    hide_seconds: i32,
) -> Result<Vec<Message>, FnError> {
    let received = sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .visibility_timeout(hide_seconds)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| FnError::aws("ReceiveMessage (failed events)", &e))?;
    Ok(received
        .messages()
        .iter()
        .map(|m| Message {
            body: m.body().unwrap_or_default().to_owned(),
            receipt: m.receipt_handle().map(str::to_owned),
            attributes: m
                .message_attributes()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_owned())))
                .collect(),
        })
        .collect())
}

/// Deletes a message once it is handled.
pub async fn delete(sqs: &Client, queue: &str, receipt: &str) -> Result<(), FnError> {
    sqs.delete_message()
        .queue_url(queue)
        .receipt_handle(receipt)
        .send()
        .await
        .map_err(|e| FnError::aws("DeleteMessage (failed events)", &e))?;
    Ok(())
}

/// Sends a message, delivered after `delay_seconds` (0 to 900).
pub async fn send(
    sqs: &Client,
    queue: &str,
    body: String,
    delay_seconds: u32,
) -> Result<(), FnError> {
    sqs.send_message()
        .queue_url(queue)
        .message_body(body)
        .delay_seconds(i32::try_from(delay_seconds.min(900)).unwrap_or(900))
        .send()
        .await
        .map_err(|e| FnError::aws("SendMessage (launch queue)", &e))?;
    Ok(())
}

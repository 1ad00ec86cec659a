//! `--keep-on-failure`'s instances (ecsub-core's [`hold`](ecsub_core::chain::hold)): tagging one held, and
//! telling the held ones from those a sweep or a job's end terminates.

use crate::compute::tag_of;
use crate::error::FnError;
use aws_sdk_ec2::types::{Instance, Tag};
use aws_sdk_ec2::Client;
use ecsub_core::chain::hold::{Hold, TAG_HELD_UNTIL};

/// Tags the instance held until `until` (RFC 3339) instead of terminating it. The stack's roles may add only this
/// tag, and only to the stack's instances (template.yaml: task-stopped's `HoldInstance`).
pub async fn hold(ec2: &Client, instance_id: &str, until: &str) -> Result<(), FnError> {
    ec2.create_tags()
        .resources(instance_id)
        .tags(Tag::builder().key(TAG_HELD_UNTIL).value(until).build())
        .send()
        .await
        .map_err(|e| FnError::aws(format!("CreateTags {instance_id} {TAG_HELD_UNTIL}"), &e))?;
    Ok(())
}

/// The instance's hold at `now_ms`.
pub fn hold_of(instance: &Instance, now_ms: i64) -> Hold {
    Hold::of(tag_of(instance, TAG_HELD_UNTIL), now_ms)
}

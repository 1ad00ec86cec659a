//! A refused job: the reasons, one per line, in its `error.txt` (or beside an inbox drop or a stored spec), and
//! nothing started. `status` and `push --wait` show them.

use crate::Ctx;
use ecsub_aws::{store, FnError};
use serde_json::{json, Value};
use tracing::warn;

/// Writes the reasons a job is refused (one per line) and starts nothing.
pub async fn reject_at(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    lines: &[String],
) -> Result<Value, FnError> {
    let mut text = lines.join("\n");
    text.push('\n');
    store::put(
        &ctx.aws.s3,
        bucket,
        key,
        text.into_bytes(),
        "text/plain; charset=utf-8",
    )
    .await?;
    warn!(key, errors = lines.len(), "job rejected");
    Ok(json!({ "rejected": format!("s3://{bucket}/{key}"), "errors": lines }))
}

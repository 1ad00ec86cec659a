//! `--after`: a pushed job whose jobs before it have not all succeeded is parked (its `after.json`, and a mark
//! under each job it waits for), and decided again when one of those ends (its "ecsub Job State Change" event) or
//! is refused: started, or refused naming the job that failed. The decision is ecsub-core's
//! ([`ecsub_core::chain::after`]); this reads the jobs' folders and writes the marks.
//!
//! A job that ends between the first read and its mark is not missed: the mark is written before the second read,
//! and the job's end is announced after its summary is written, so either the second read sees the summary or the
//! end's handler sees the mark (S3's reads and lists are strongly consistent). Both may start the job; the second
//! start finds its execution and starts nothing.

use super::start::start_job;
use crate::Ctx;
use ecsub_aws::{store, FnError};
use ecsub_core::chain::after::{gate as decide, AfterRecord, Before, Gate};
use ecsub_core::chain::Summary;
use ecsub_core::{JobId, JobLayout};
use serde_json::{json, Value};
use tracing::{info, warn};

/// What becomes of the job `layout` (its `--after` jobs `after`): parked jobs are marked under each job they wait
/// for.
pub async fn gate(ctx: &Ctx, layout: &JobLayout, after: &[JobId]) -> Result<Gate, FnError> {
    let first = decide(&read(ctx, layout, after).await?);
    let Gate::Wait(pending) = first else {
        return Ok(first);
    };
    let s3 = &ctx.aws.s3;
    for id in &pending {
        let mark = layout.sibling(id.clone()).successor_key(&layout.job_id);
        store::put(
            s3,
            &layout.bucket,
            &mark,
            Vec::new(),
            "application/octet-stream",
        )
        .await?;
    }
    let record = AfterRecord {
        waiting_for: pending,
        since: ecsub_aws::now_rfc3339(),
    };
    let body = serde_json::to_vec(&record).map_err(|e| FnError::invalid_input(e.to_string()))?;
    store::put(
        s3,
        &layout.bucket,
        &layout.after_key(),
        body,
        "application/json",
    )
    .await?;
    // Again, now that the marks are there (see the module's comment).
    Ok(decide(&read(ctx, layout, after).await?))
}

/// What each job of `after` is now, from its folder.
async fn read(
    ctx: &Ctx,
    layout: &JobLayout,
    after: &[JobId],
) -> Result<Vec<(JobId, Before)>, FnError> {
    let s3 = &ctx.aws.s3;
    let mut out = Vec::with_capacity(after.len());
    for id in after {
        let before = layout.sibling(id.clone());
        let state =
            if let Some(bytes) = store::get(s3, &before.bucket, &before.summary_key()).await? {
                match serde_json::from_slice::<Summary>(&bytes) {
                    Ok(s) if s.failed == 0 && s.job_error.is_none() => Before::Succeeded,
                    Ok(s) => Before::Failed {
                        failed: s.failed,
                        tasks: s.tasks.len(),
                        why: s.job_error,
                    },
                    Err(e) => Before::Refused(format!("its summary.json cannot be read: {e}")),
                }
            } else if let Some(error) = store::get(s3, &before.bucket, &before.error_key()).await? {
                let text = String::from_utf8_lossy(&error);
                Before::Refused(text.lines().next().unwrap_or_default().to_owned())
            } else if store::exists(s3, &before.bucket, &before.spec_key()).await? {
                Before::Pending
            } else {
                Before::Missing
            };
        out.push((id.clone(), state));
    }
    Ok(out)
}

/// Has the job been refused (its `error.txt`)?
pub async fn refused(ctx: &Ctx, layout: &JobLayout) -> Result<bool, FnError> {
    store::exists(&ctx.aws.s3, &layout.bucket, &layout.error_key()).await
}

/// The job `ended` has ended or was refused: each job parked on it is decided again, and so on down the chain (a
/// refused job refuses the jobs waiting for it). Each is decided on its own: one that cannot be (its folder gone,
/// AWS failing) does not keep the others parked; the first such error is returned once all were tried, so that
/// the event is delivered again (a job decided already finds its execution or its refusal, and is left as it is).
pub async fn release(
    ctx: &Ctx,
    ended: &JobLayout,
    account: Option<&str>,
) -> Result<Vec<Value>, FnError> {
    let mut answers = Vec::new();
    let mut first_error = None;
    let mut queue = vec![ended.clone()];
    let mut seen = std::collections::HashSet::new();
    while let Some(before) = queue.pop() {
        let prefix = before.successors_prefix();
        for key in store::list(&ctx.aws.s3, &before.bucket, &prefix).await? {
            let Some(Ok(id)) = key
                .strip_prefix(&prefix)
                .map(|id| JobId::try_from(id.to_owned()))
            else {
                continue;
            };
            if !seen.insert(id.clone()) {
                continue;
            }
            let waiting = before.sibling(id);
            info!(job_id = %waiting.job_id, after = %before.job_id, "deciding a job parked by --after");
            match start_job(ctx, &waiting, account).await {
                Ok(answer) => answers.push(answer),
                Err(e) => {
                    warn!(job_id = %waiting.job_id, error = %e.message, "a job parked by --after could not be decided");
                    first_error.get_or_insert(e);
                }
            }
            if refused(ctx, &waiting).await? {
                queue.push(waiting.clone());
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(answers),
    }
}

/// An "ecsub Job State Change" event of this stack: the jobs parked on that job are decided again.
pub async fn on_job_end(
    ctx: &Ctx,
    detail: &Value,
    account: Option<&str>,
) -> Result<Value, FnError> {
    if detail["stack"].as_str() != Some(ctx.config.stack.as_str()) {
        return Ok(json!({ "ignored": "another stack's job" }));
    }
    let layout = detail["summary_url"]
        .as_str()
        .and_then(|url| url.strip_prefix("s3://"))
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(bucket, key)| JobLayout::from_key(bucket, key))
        .map(|(layout, _)| layout)
        .ok_or_else(|| {
            FnError::invalid_input(format!("a job's end without a summary_url: {detail}"))
        })?;
    let answers = release(ctx, &layout, account).await?;
    Ok(json!({ "job_id": layout.job_id, "released": answers }))
}

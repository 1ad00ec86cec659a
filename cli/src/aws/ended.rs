//! `push --rerun-failed JOB`'s reads: JOB's submission, summary, tasks file and script, from its folder.

use super::session::{connect, runtime};
use crate::aws::EndedJob;
use crate::error::InputError;
use anyhow::Context as _;
use ecsub_aws::store;
use ecsub_core::JobLayout;

/// Reads JOB's summary, submission, tasks file and script; a job that has not ended is an input error.
pub fn ended_job(layout: &JobLayout) -> anyhow::Result<EndedJob> {
    runtime()?.block_on(read(layout))
}

async fn read(layout: &JobLayout) -> anyhow::Result<EndedJob> {
    let aws = connect().await?;
    let job = &layout.job_id;
    let get = |key: String| {
        let aws = &aws;
        async move {
            store::get(&aws.s3, &layout.bucket, &key)
                .await
                .with_context(|| format!("reading {}", layout.url(&key)))
        }
    };
    let Some(submission) = get(layout.spec_key()).await? else {
        return Err(InputError::new(format!(
            "--rerun-failed: no job {job} in {}",
            layout.url(&layout.job_folder())
        ))
        .into());
    };
    let Some(summary) = get(layout.summary_key()).await? else {
        return Err(InputError::new(format!(
            "--rerun-failed: {job} has not ended (it has no summary.json yet): wait for it (ecsub-cli status \
             {job}) or cancel it (ecsub-cli cancel {job}) first"
        ))
        .into());
    };
    let tasks = get(layout.tasks_key())
        .await?
        .with_context(|| format!("{} is gone", layout.url(&layout.tasks_key())))?;
    let script = get(layout.script_key())
        .await?
        .with_context(|| format!("{} is gone", layout.url(&layout.script_key())))?;
    Ok(EndedJob {
        submission: serde_json::from_slice(&submission).with_context(|| {
            format!("{} is not what ecsub wrote", layout.url(&layout.spec_key()))
        })?,
        summary: serde_json::from_slice(&summary).with_context(|| {
            format!(
                "{} is not what ecsub wrote",
                layout.url(&layout.summary_key())
            )
        })?,
        tasks,
        script,
    })
}

//! Reading what the stack wrote in a job's folder: its JSON objects, its spec as resolved, its attempt records (a
//! few at a time, each once).

use crate::error::InputError;
use anyhow::Context as _;
use ecsub_aws::{store, Clients};
use ecsub_core::chain::{AttemptRecord, JobSubmission};
use ecsub_core::JobLayout;
use std::collections::BTreeMap;

/// One of the job's JSON objects, or `None` when it is not there.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    aws: &Clients,
    layout: &JobLayout,
    key: &str,
) -> anyhow::Result<Option<T>> {
    match store::get(&aws.s3, &layout.bucket, key).await? {
        None => Ok(None),
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
            format!("{} is not what ecsub wrote", layout.url(key))
        })?)),
    }
}

/// A job's job.json and its options as resolved from it; a job that is not there is an input error.
pub async fn job_spec(
    aws: &Clients,
    layout: &JobLayout,
    command: &str,
) -> anyhow::Result<(JobSubmission, ecsub_core::JobSpec)> {
    let Some(submission) = get_json::<JobSubmission>(aws, layout, &layout.spec_key()).await? else {
        return Err(InputError::new(format!(
            "ecsub-cli {command}: no job {} in {}",
            layout.job_id,
            layout.url(&layout.job_folder())
        ))
        .into());
    };
    let spec = submission
        .args
        .clone()
        .resolve(layout.job_id.clone())
        .map_err(|e| anyhow::anyhow!("job.json of {}: {}", layout.job_id, e.join("; ")))?;
    Ok((submission, spec))
}

/// Reads the job's attempt records not in `records` yet (key → record; each is written once and never changes):
/// one LIST per 1 000 keys, then a GET per new record, a few at a time. `true` if there were new ones.
pub async fn read_records(
    aws: &Clients,
    layout: &JobLayout,
    records: &mut BTreeMap<String, AttemptRecord>,
) -> anyhow::Result<bool> {
    let unread: Vec<String> = store::list(&aws.s3, &layout.bucket, &layout.attempts_folder())
        .await?
        .into_iter()
        .filter(|key| !records.contains_key(key))
        .collect();
    let new = !unread.is_empty();
    for (key, bytes) in store::get_many(&aws.s3, &layout.bucket, unread).await? {
        let record: AttemptRecord = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not what ecsub wrote", layout.url(&key)))?;
        records.insert(key, record);
    }
    Ok(new)
}

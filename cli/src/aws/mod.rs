//! Everything the CLI does with AWS: the commands that read or stop a pushed job (`status`, `watch`, `ls`,
//! `report`, `logs`, `cancel`, `release`) and the uploads of the others (`push`, `push --skip-existing`'s checks, `push
//! --rerun-failed`'s reads, `publish-stager`). Every call goes through ecsub-aws.
//!
//! The `aws` feature is decided here, once: [`enabled.rs`](enabled) with it, [`disabled.rs`](disabled) without (a
//! CLI built without the SDK, which still validates, runs jobs locally and prints push plans, says plainly what it
//! cannot do). The rest of the CLI calls these functions and never asks which build it is.

#[cfg(feature = "aws")]
#[path = "enabled.rs"]
mod imp;

#[cfg(not(feature = "aws"))]
#[path = "disabled.rs"]
mod imp;

pub use imp::{
    cancel, ddel, dstat, ended_job, existing_outputs, logs, ls, publish_stager, quota_line,
    release, report, status, upload, watch,
};

use crate::error::InputError;
use ecsub_core::chain::stager::StagerRef;
use ecsub_core::chain::{JobSubmission, Summary};
use ecsub_core::{JobId, JobLayout};

/// A job that has ended, as `push --rerun-failed` reads it from its folder.
#[derive(Debug)]
pub struct EndedJob {
    pub submission: JobSubmission,
    pub summary: Summary,
    pub tasks: Vec<u8>,
    pub script: Vec<u8>,
}

/// A stager binary ready to publish: its entry in the manifest, and its bytes.
#[derive(Debug)]
pub struct Stager {
    pub entry: StagerRef,
    // Only uploaded: a build without AWS refuses before it would send them.
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    pub bytes: Vec<u8>,
}

/// The layout of the job a command names, from its id and the bucket flag (or `ECSUB_BUCKET`).
pub fn job_layout(command: &str, job: &str, bucket: Option<&str>) -> Result<JobLayout, InputError> {
    let Some(bucket) = bucket else {
        return Err(InputError::new(format!(
            "ecsub-cli {command}: no bucket: pass --aws-s3-bucket s3://BUCKET or set ECSUB_BUCKET"
        )));
    };
    let job_id = JobId::try_from(job.to_owned())
        .map_err(|e| InputError::new(format!("ecsub-cli {command}: {e}")))?;
    JobLayout::new(bucket, job_id).map_err(|e| InputError::new(format!("--aws-s3-bucket: {e}")))
}

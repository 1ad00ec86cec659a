//! The job as the stack sees it: `status` and `push --wait` read it from the bucket (job.json, error.txt,
//! started.json, attempts/, summary.json), the execution, and the instances tagged with the job — never from a
//! local folder, so any machine can follow any job (the attempt records read are kept in a local cache, since they
//! never change: `cache`).

mod cache;
mod cancel;
mod collect;
mod logs;
mod ls;
mod report;
mod view;
mod watch;

pub use cancel::cancel;
pub use logs::logs;
pub use ls::ls;
pub use report::report;
pub use watch::{wait, watch};

use crate::args::StatusArgs;
use crate::InputError;
use anyhow::Context as _;
use collect::{collect, Seen};
use ecsub_aws::Ctx;
use ecsub_core::{JobId, JobLayout};
use std::process::ExitCode;
use view::print;

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Clients from the standard AWS chain (credentials, region, `AWS_ENDPOINT_URL`).
pub async fn connect() -> anyhow::Result<Ctx> {
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    if shared.region().is_none() {
        return Err(InputError(vec![
            "ecsub-cli: no AWS region: set AWS_REGION (or a profile with a region)".into(),
        ])
        .into());
    }
    Ok(Ctx::new(ecsub_aws::ctx::StackConfig::default(), &shared))
}

/// The layout of the job a command names, from its id and the bucket flag (or `ECSUB_BUCKET`).
pub(crate) fn job_layout(
    command: &str,
    job: &str,
    bucket: Option<&str>,
) -> Result<JobLayout, InputError> {
    let Some(bucket) = bucket else {
        return Err(InputError(vec![format!(
            "ecsub-cli {command}: no bucket: pass --aws-s3-bucket s3://BUCKET or set ECSUB_BUCKET"
        )]));
    };
    let job_id = JobId::try_from(job.to_owned())
        .map_err(|e| InputError(vec![format!("ecsub-cli {command}: {e}")]))?;
    JobLayout::new(bucket, job_id).map_err(|e| InputError(vec![format!("--aws-s3-bucket: {e}")]))
}

pub fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("status", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let ctx = connect().await?;
        let status = collect(&ctx, &layout, &mut Seen::default()).await?;
        print(&status, args.output)?;
        Ok(ExitCode::SUCCESS)
    })
}

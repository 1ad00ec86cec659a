//! `ecsub-cli status JOB`: the job as the stack sees it, read from the bucket, the execution and the instances
//! tagged with the job — never from a local folder, so any machine can follow any job.

use super::collect::{collect, Seen};
use super::release::still_held;
use super::session::{connect, runtime};
use super::view::print;
use crate::args::StatusArgs;
use crate::aws::job_layout;
use std::process::ExitCode;

pub fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("status", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let aws = connect().await?;
        let mut status = collect(&aws, &layout, &mut Seen::default()).await?;
        still_held(&aws, &layout.job_id, &mut status).await?;
        print(&status, args.output)?;
        Ok(ExitCode::SUCCESS)
    })
}

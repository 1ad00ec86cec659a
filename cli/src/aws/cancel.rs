//! `ecsub-cli cancel JOB`: stops the job's execution; the stack's janitor then terminates its instances, removes
//! its cluster and writes its summary (the tasks it cut short say so).

use super::collect::{collect, Seen};
use super::session::{connect, runtime};
use crate::args::CancelArgs;
use crate::aws::job_layout;
use ecsub_aws::execution;
use std::process::ExitCode;

/// A job the stack parked (`--after`, [`super::collect::parked`]) is cancelled by its refusal: its `error.txt`,
/// which the submit function reads first (and again once it has started an execution), so it never starts; then its
/// `job.json` is written again, whose event makes the submit function refuse the jobs waiting for it in turn.
/// `false`: its job.json is gone.
pub async fn cancel_parked(
    aws: &ecsub_aws::Clients,
    layout: &ecsub_core::JobLayout,
) -> anyhow::Result<bool> {
    let Some(spec) = ecsub_aws::store::get(&aws.s3, &layout.bucket, &layout.spec_key()).await?
    else {
        return Ok(false);
    };
    let why = "cancelled while it waited for the jobs before it (--after)\n";
    ecsub_aws::store::put(
        &aws.s3,
        &layout.bucket,
        &layout.error_key(),
        why.into(),
        "text/plain; charset=utf-8",
    )
    .await?;
    ecsub_aws::store::put(
        &aws.s3,
        &layout.bucket,
        &layout.spec_key(),
        spec,
        "application/json",
    )
    .await?;
    Ok(true)
}

/// Stops the job's execution; the janitor (on the execution's end event) terminates its instances, removes its
/// cluster and writes its summary.
pub fn cancel(args: &CancelArgs) -> anyhow::Result<ExitCode> {
    let layout = job_layout("cancel", &args.job, args.aws_s3_bucket.as_deref())?;
    runtime()?.block_on(async {
        let aws = connect().await?;
        let status = collect(&aws, &layout, &mut Seen::default()).await?;
        if status.finished() {
            say!("ecsub-cli: job {} has ended already ({})", status.job_id, status.state);
            return Ok(ExitCode::SUCCESS);
        }
        if super::collect::parked(&status) && cancel_parked(&aws, &layout).await? {
            show!("{}", status.job_id);
            say!(
                "ecsub-cli: job {} cancelled while it waited (--after): it will not start, and the jobs waiting for \
                 it are refused",
                status.job_id
            );
            return Ok(ExitCode::SUCCESS);
        }
        let Some(arn) = status.execution_arn else {
            return Err(anyhow::anyhow!(
                "job {} has not started yet (the submit function has not run): try again in a moment",
                status.job_id
            ));
        };
        execution::stop(
            &aws.sfn,
            &arn,
            "Ecsub.Cancelled",
            "cancelled with ecsub-cli cancel",
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
        show!("{}", status.job_id);
        say!(
            "ecsub-cli: job {} cancelled; its instances are being terminated (ecsub-cli status {} shows the end)",
            status.job_id, status.job_id
        );
        Ok(ExitCode::SUCCESS)
    })
}

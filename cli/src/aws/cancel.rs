//! `ecsub-cli cancel JOB`: stops the job's execution; the stack's janitor then terminates its instances, removes
//! its cluster and writes its summary (the tasks it cut short say so).

use super::collect::{collect, Seen};
use super::session::{connect, runtime};
use crate::args::CancelArgs;
use crate::aws::job_layout;
use ecsub_aws::execution;
use std::process::ExitCode;

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

//! `ecsub-cli push`: a job to the stack's bucket. The rows are chosen — a tasks file's, the failed tasks of an
//! ended job ([`rerun`]), less those whose outputs all exist already ([`skip`], with [`subset`]) — then planned
//! (`crate::plan`), then sent ([`send`]): the tasks file, the script, and `job.json`, whose arrival starts it. With
//! `--dry-run` the plan is printed and nothing is touched; with `--wait` the job is followed to its end.

mod rerun;
mod send;
mod skip;
mod subset;

use crate::args::PushArgs;
use crate::aws;
use crate::error::InputError;
use crate::plan::{self, Source};
use std::process::ExitCode;

pub fn run(args: &PushArgs) -> anyhow::Result<ExitCode> {
    let Some(bucket) = args.aws_s3_bucket.as_deref() else {
        return Err(InputError::new(
            "ecsub-cli push: no bucket: pass --aws-s3-bucket s3://BUCKET or set ECSUB_BUCKET",
        )
        .into());
    };
    let source = match &args.rerun_failed {
        Some(job) => match rerun::failed_rows(args, bucket, job)? {
            Some(source) => source,
            None => return Ok(ExitCode::SUCCESS),
        },
        None => {
            let input = args.input().ok_or_else(|| {
                InputError::new(
                    "ecsub-cli push: --tasks and --script are needed (or --rerun-failed JOB)",
                )
            })?;
            Source::read(&input)?
        }
    };
    Ok(run_source(args, bucket, source, &plan::random_suffix())?.code)
}

/// What a push did: its exit code, and whether a job was sent (`--skip-existing` may leave nothing to run).
pub struct Pushed {
    pub code: ExitCode,
    pub sent: bool,
}

/// Plans the job `source` describes (its id made with `suffix`, which a job left with fewer tasks by
/// `--skip-existing` keeps) and sends it.
pub fn run_source(
    args: &PushArgs,
    bucket: &str,
    source: Source,
    suffix: &str,
) -> anyhow::Result<Pushed> {
    let plan = plan::build(source, suffix)?;
    if args.skip_existing {
        let outputs = skip::declared_outputs(&plan);
        let skipped = aws::existing_outputs(&outputs, &plan.spec.request_payer_buckets)?;
        if !skipped.is_empty() {
            let Some(rest) = skip::the_rest(&plan, &skipped) else {
                show!("every task's outputs exist: nothing to run, no job started");
                return Ok(Pushed {
                    code: ExitCode::SUCCESS,
                    sent: false,
                });
            };
            let plan = plan::build(rest, suffix)?;
            let skipped: Vec<usize> = skipped.into_iter().collect();
            return Ok(Pushed {
                code: send::send(args, bucket, &plan, &skipped)?,
                sent: true,
            });
        }
    }
    Ok(Pushed {
        code: send::send(args, bucket, &plan, &[])?,
        sent: true,
    })
}

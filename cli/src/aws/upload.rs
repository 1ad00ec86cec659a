//! `push`'s upload: the tasks file, the script, then `job.json` — created only if absent, whose arrival starts the
//! job — and, with `--wait`, the job followed to its end.

use super::session::{connect, runtime};
use super::watch::wait;
use crate::args::PushArgs;
use crate::plan::Plan;
use anyhow::Context as _;
use ecsub_aws::store;
use ecsub_core::JobLayout;
use std::process::ExitCode;

/// Uploads the job: the tasks file, the script, then `job.json` (created only if absent), which starts it; with
/// `--wait`, follows it to its end.
pub fn upload(
    args: &PushArgs,
    plan: &Plan,
    layout: &JobLayout,
    job_json: String,
) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let aws = connect().await?;
        let uploads = [
            (
                layout.tasks_key(),
                plan.tasks_bytes.clone(),
                "text/tab-separated-values",
            ),
            (
                layout.script_key(),
                plan.script_bytes.clone(),
                "text/x-shellscript",
            ),
        ];
        for (key, body, content_type) in uploads {
            store::put(&aws.s3, &layout.bucket, &key, body, content_type)
                .await
                .with_context(|| format!("uploading {}", layout.url(&key)))?;
        }
        let created = store::put_new(
            &aws.s3,
            &layout.bucket,
            &layout.spec_key(),
            job_json.into_bytes(),
            "application/json",
        )
        .await
        .with_context(|| format!("uploading {}", layout.url(&layout.spec_key())))?;
        anyhow::ensure!(
            created,
            "{} exists already: push again (a new job id is drawn)",
            layout.url(&layout.spec_key())
        );
        show!("{}", plan.spec.job_id);
        say!(
            "ecsub-cli: pushed job {} ({} tasks) to {}",
            plan.spec.job_id,
            plan.selected_tasks().len(),
            layout.url(&layout.job_folder())
        );
        if args.wait {
            wait(
                &aws,
                layout,
                args.poll,
                std::time::Duration::from_secs(args.pickup_timeout),
            )
            .await
        } else {
            say!(
                "ecsub-cli: follow it with: ecsub-cli status {}",
                plan.spec.job_id
            );
            Ok(ExitCode::SUCCESS)
        }
    })
}

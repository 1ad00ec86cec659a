//! `ecsub-cli push`: uploads the job to the stack's bucket — the tasks file, the script, then `job.json`, whose
//! arrival starts it — and prints the job id. With `--dry-run`, the plan is printed (job id, every object key in
//! upload order, every generated script) and nothing is touched; with `--wait`, the job is followed to its end.

use crate::args::PushArgs;
use crate::plan::{self, Plan};
use crate::InputError;
use ecsub_core::chain::JobSubmission;
use ecsub_core::JobLayout;
use std::process::ExitCode;

pub fn run(args: &PushArgs) -> anyhow::Result<ExitCode> {
    let Some(bucket) = args.aws_s3_bucket.as_deref() else {
        return Err(InputError(vec![
            "ecsub-cli push: no bucket: pass --aws-s3-bucket s3://BUCKET or set ECSUB_BUCKET"
                .into(),
        ])
        .into());
    };
    let plan = plan::build(&args.input, &plan::random_suffix())?;
    let layout = JobLayout::new(bucket, plan.spec.job_id.clone())
        .map_err(|e| InputError(vec![format!("--aws-s3-bucket: {e}")]))?;
    let submission = JobSubmission {
        job_id: plan.spec.job_id.clone(),
        args: plan.args.clone(),
        tasks_file: plan
            .tasks
            .file
            .rsplit('/')
            .next()
            .unwrap_or(&plan.tasks.file)
            .to_owned(),
        origin: "ecsub-cli".to_owned(),
    };
    let job_json = serde_json::to_string_pretty(&submission)?;
    if args.dry_run {
        print_plan(&plan, &layout, &job_json);
        return Ok(ExitCode::SUCCESS);
    }
    upload(args, &plan, &layout, job_json)
}

#[cfg(not(feature = "aws"))]
fn upload(_: &PushArgs, _: &Plan, _: &JobLayout, _: String) -> anyhow::Result<ExitCode> {
    Err(crate::without_aws("push (without --dry-run)"))
}

/// Uploads the job: the tasks file, the script, then `job.json` (created only if absent), which starts it.
#[cfg(feature = "aws")]
fn upload(
    args: &PushArgs,
    plan: &Plan,
    layout: &JobLayout,
    job_json: String,
) -> anyhow::Result<ExitCode> {
    use crate::remote;
    use anyhow::Context as _;
    let runtime = remote::runtime()?;
    runtime.block_on(async {
        let ctx = remote::connect().await?;
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
            ecsub_aws::store::put(&ctx.s3, &layout.bucket, &key, body, content_type)
                .await
                .with_context(|| format!("uploading {}", layout.url(&key)))?;
        }
        let created = ecsub_aws::store::put_new(
            &ctx.s3,
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
        println!("{}", plan.spec.job_id);
        eprintln!(
            "ecsub-cli: pushed job {} ({} tasks) to {}",
            plan.spec.job_id,
            plan.selected_tasks().len(),
            layout.url(&layout.job_folder())
        );
        if args.wait {
            remote::wait(
                &ctx,
                layout,
                args.poll,
                std::time::Duration::from_secs(args.pickup_timeout),
            )
            .await
        } else {
            eprintln!(
                "ecsub-cli: follow it with: ecsub-cli status {}",
                plan.spec.job_id
            );
            Ok(ExitCode::SUCCESS)
        }
    })
}

fn print_plan(plan: &Plan, layout: &JobLayout, job_json: &str) {
    let uploads = [
        (layout.tasks_key(), plan.tasks_bytes.len()),
        (layout.script_key(), plan.script_bytes.len()),
        (layout.spec_key(), job_json.len()),
    ];
    let generated = [
        (layout.run_sh_key(), &plan.run_sh),
        (layout.setenv_key(), &plan.setenv_sh),
    ];
    println!("job id: {}", plan.spec.job_id);
    println!(
        "tasks: {} of {} in {} ({})",
        plan.selected_tasks().len(),
        plan.tasks.tasks.len(),
        plan.tasks.file,
        plan.tasks.column_summary()
    );
    println!("would upload, in this order (the last object starts the job):");
    for (key, size) in &uploads {
        println!("  {}  ({size} bytes)", layout.url(key));
    }
    println!("the submit function would then write:");
    for (key, text) in &generated {
        println!("  {}  ({} bytes)", layout.url(key), text.len());
    }
    println!("nothing was uploaded (--dry-run)");
    println!("\n==> {} <==\n{job_json}", layout.url(&layout.spec_key()));
    println!(
        "\n==> resolved options <==\n{}",
        serde_json::to_string_pretty(&plan.spec).unwrap_or_default()
    );
    for (key, text) in generated {
        println!("\n==> {} <==\n{text}", layout.url(&key));
    }
}

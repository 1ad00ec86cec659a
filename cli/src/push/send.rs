//! Sending a planned job: its `job.json`, then the uploads (ecsub-aws, through the CLI's `aws` module) — or, with
//! `--dry-run`, the plan printed: the job id, every object key in upload order, every generated script, and what
//! the job burns per hour. A job every stack refuses (too many tasks, too many `--processes`) is neither sent nor
//! previewed: the dry run says what submit would say.

use crate::args::PushArgs;
use crate::aws;
use crate::error::InputError;
use crate::plan::Plan;
use ecsub_core::chain::JobSubmission;
use ecsub_core::JobLayout;
use std::process::ExitCode;

/// Uploads the job (or prints its plan with --dry-run).
/// `skipped`: the tasks `--skip-existing` left out, recorded in job.json for the job's report.
pub fn send(
    args: &PushArgs,
    bucket: &str,
    plan: &Plan,
    skipped: &[usize],
) -> anyhow::Result<ExitCode> {
    let over = plan.stack_limits();
    if !over.is_empty() {
        return Err(InputError(over).into());
    }
    let layout = JobLayout::new(bucket, plan.spec.job_id.clone())
        .map_err(|e| InputError::new(format!("--aws-s3-bucket: {e}")))?;
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
        skipped: skipped.to_vec(),
    };
    let job_json = serde_json::to_string_pretty(&submission)?;
    if args.dry_run {
        print_plan(plan, &layout, &job_json);
        return Ok(ExitCode::SUCCESS);
    }
    aws::upload(args, plan, &layout, job_json)
}

fn print_plan(plan: &Plan, layout: &JobLayout, job_json: &str) {
    let uploads = [
        (layout.tasks_key(), plan.tasks_bytes.len()),
        (layout.script_key(), plan.script_bytes.len()),
        (layout.spec_key(), job_json.len()),
    ];
    let generated = [
        (layout.run_sh_key(), plan.run_script()),
        (layout.setenv_key(), plan.setenv_script()),
    ];
    show!("job id: {}", plan.spec.job_id);
    show!(
        "tasks: {} of {} in {} ({})",
        plan.selected_tasks().len(),
        plan.tasks.tasks.len(),
        plan.tasks.file,
        plan.tasks.column_summary()
    );
    if !plan.spec.skip_price {
        show!("{}", burn_rate(plan));
    }
    show!("{}", aws::quota_line(plan));
    if !plan.spec.tags.is_empty() {
        let tags: Vec<String> = plan.spec.tags.iter().map(ToString::to_string).collect();
        show!(
            "tags on everything the job makes and pays for: {}",
            tags.join(", ")
        );
    }
    if let Some(keep) = plan.spec.keep_on_failure {
        show!(
            "a task that fails for good keeps its instance (billed) for {} for a look, ended by the janitor's next \
             sweep (every 10 minutes): ecsub-cli status JOB says how to get in, ecsub-cli release JOB [TASK] ends it \
             sooner",
            ecsub_core::chain::hold::words(keep)
        );
    }
    show!("would upload, in this order (the last object starts the job):");
    for (key, size) in &uploads {
        show!("  {}  ({size} bytes)", layout.url(key));
    }
    show!("the submit function would then write:");
    for (key, text) in &generated {
        show!("  {}  ({} bytes)", layout.url(key), text.len());
    }
    show!("nothing was uploaded (--dry-run)");
    show!("\n==> {} <==\n{job_json}", layout.url(&layout.spec_key()));
    show!(
        "\n==> resolved options <==\n{}",
        serde_json::to_string_pretty(&plan.spec).unwrap_or_default()
    );
    for (key, text) in generated {
        show!("\n==> {} <==\n{text}", layout.url(&key));
    }
}

/// What the job burns per hour while `--processes` of its tasks run at once, at the on-demand list price of its
/// first instance type with its volume (from the price table shipped with ecsub: a dry run asks AWS nothing).
fn burn_rate(plan: &Plan) -> String {
    use ecsub_core::chain::BASE_DISK_GIB;
    use ecsub_core::cost::{format_usd, hourly_burn, snapshot};
    let spec = &plan.spec;
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok()
        .filter(|r| !r.is_empty());
    let priced_in = region.as_deref().unwrap_or("us-east-1");
    let instances = u32::try_from(plan.selected_tasks().len())
        .unwrap_or(u32::MAX)
        .min(spec.processes);
    let Some(instance_type) = spec.instance_types.first() else {
        return "burn rate: no instance type".to_owned();
    };
    let gib = BASE_DISK_GIB.saturating_add(spec.disk_size);
    let prices = snapshot::prices(priced_in);
    match hourly_burn(&prices, instance_type, gib, instances) {
        Some(usd) => format!(
            "burn rate: at most {} per hour: {instances} × {instance_type} on demand with {gib} GiB gp3 each \
             (list prices of {priced_in}{}, ecsub's table of {}){}",
            format_usd(usd),
            if region.is_none() {
                ", AWS_REGION unset"
            } else {
                ""
            },
            snapshot::as_of(),
            if spec.spot {
                "; spot usually costs less"
            } else {
                ""
            }
        ),
        None => format!(
            "burn rate: unknown: ecsub's price table has no {instance_type} in {priced_in} (the job's end prices \
             it from the Pricing API)"
        ),
    }
}

//! `ecsub-cli push`: uploads the job to the stack's bucket — the tasks file, the script, then `job.json`, whose
//! arrival starts it — and prints the job id. With `--dry-run`, the plan is printed (job id, every object key in
//! upload order, every generated script) and nothing is touched; with `--wait`, the job is followed to its end.

use crate::args::{JobInput, PushArgs};
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
    if let Some(job) = &args.rerun_failed {
        #[cfg(feature = "aws")]
        return crate::rerun::run(args, bucket, job);
        #[cfg(not(feature = "aws"))]
        return Err(crate::without_aws(&format!("push --rerun-failed {job}")));
    }
    let input = args.input().ok_or_else(|| {
        InputError(vec![
            "ecsub-cli push: --tasks and --script are needed (or --rerun-failed JOB)".into(),
        ])
    })?;
    push(args, bucket, &input)
}

/// Pushes the job `input` describes to `bucket` (or prints its plan with --dry-run).
pub fn push(args: &PushArgs, bucket: &str, input: &JobInput) -> anyhow::Result<ExitCode> {
    let plan = plan::build(input, &plan::random_suffix())?;
    #[cfg(feature = "aws")]
    if args.skip_existing {
        let skipped = crate::skip::existing(&plan)?;
        if !skipped.is_empty() {
            return push_the_rest(args, bucket, input, &plan, &skipped);
        }
    }
    send(args, bucket, &plan, &[])
}

/// `--skip-existing` found tasks whose outputs all exist: the job is pushed without them (or not at all).
#[cfg(feature = "aws")]
fn push_the_rest(
    args: &PushArgs,
    bucket: &str,
    input: &JobInput,
    plan: &Plan,
    skipped: &std::collections::BTreeSet<usize>,
) -> anyhow::Result<ExitCode> {
    let numbers = |set: &std::collections::BTreeSet<usize>| {
        set.iter()
            .map(|i| format!("{i:03}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let keep: std::collections::BTreeSet<usize> = plan
        .selected
        .clone()
        .filter(|i| !skipped.contains(i))
        .collect();
    eprintln!(
        "ecsub-cli: --skip-existing: {} of {} tasks have every output already and are skipped: {}",
        skipped.len(),
        plan.selected_tasks().len(),
        numbers(skipped)
    );
    if keep.is_empty() {
        println!("every task's outputs exist: nothing to run, no job started");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "ecsub-cli: running the other {} ({}), numbered 000 to {:03} in the job",
        keep.len(),
        numbers(&keep),
        keep.len() - 1
    );
    let folder = crate::subset::Folder::new("skip")?;
    let rows = crate::subset::rows(&plan.tasks_bytes, &plan.tasks, &keep);
    let rest = JobInput {
        tasks: folder.write(&plan.tasks.file, &rows)?,
        script: input.script.clone(),
        // The options as merged from the command line and the file's `#ecsub:` lines (which the rows left out),
        // without --task-range: the rows are picked already.
        job: ecsub_core::JobArgs {
            task_range: None,
            ..plan.args.clone()
        },
    };
    let plan = plan::build(&rest, &plan::random_suffix())?;
    drop(folder);
    let skipped: Vec<usize> = skipped.iter().copied().collect();
    send(args, bucket, &plan, &skipped)
}

/// Uploads the job (or prints its plan with --dry-run).
/// `skipped`: the tasks `--skip-existing` left out, recorded in job.json for the job's report.
fn send(args: &PushArgs, bucket: &str, plan: &Plan, skipped: &[usize]) -> anyhow::Result<ExitCode> {
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
        skipped: skipped.to_vec(),
    };
    let job_json = serde_json::to_string_pretty(&submission)?;
    if args.dry_run {
        print_plan(plan, &layout, &job_json);
        return Ok(ExitCode::SUCCESS);
    }
    upload(args, plan, &layout, job_json)
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
    if !plan.spec.skip_price {
        println!("{}", burn_rate(plan));
    }
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

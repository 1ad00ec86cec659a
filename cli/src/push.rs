//! `ecsub-cli push`: the job's objects for the stack's bucket. With `--dry-run`, the plan is printed — job id,
//! every object key in upload order, every generated script — and nothing is touched.

use crate::args::PushArgs;
use crate::plan;
use crate::InputError;
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
    if !args.dry_run {
        return Err(InputError(vec![
            "ecsub-cli push: this build cannot upload yet (the serverless stack is not part of it); \
             --dry-run prints what would be uploaded"
                .into(),
        ])
        .into());
    }
    let spec_json = serde_json::to_string_pretty(&plan.spec)?;
    let uploads = [
        (layout.tasks_key(), plan.tasks_bytes.len()),
        (layout.script_key(), plan.script_bytes.len()),
        (layout.spec_key(), spec_json.len()),
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
    println!("\n==> {} <==\n{spec_json}", layout.url(&layout.spec_key()));
    for (key, text) in generated {
        println!("\n==> {} <==\n{text}", layout.url(&key));
    }
    Ok(ExitCode::SUCCESS)
}

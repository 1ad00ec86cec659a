//! `ecsub-cli validate`: check a tasks file and its `#ecsub:` options, print a one-line summary. What every stack
//! refuses (more tasks than a job holds, more `--processes` than it runs at once) is an error here too.

use crate::args::{Output, ValidateArgs};
use crate::error::InputError;
use crate::plan::read_tasks;
use ecsub_core::plan::{plan, Identity, Options, Request};
use ecsub_core::JobArgs;
use std::process::ExitCode;

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let (name, bytes) = read_tasks(&args.tasks)?;
    // The pipeline `run` and `push` use, with nothing typed: every error of the file's options at once (the job
    // name, the resolved options, the task range), each at its place in the file.
    let planned = plan(&Request {
        file: &name,
        bytes: &bytes,
        options: Options::Typed(&JobArgs::default()),
        identity: Identity::Draw("check"),
    });
    let plan = match planned {
        Ok(plan) => plan,
        Err(refused) => return Err(InputError(refused.errors).into()),
    };
    for warning in &plan.tasks.warnings {
        say!("{warning}");
    }
    let mut over = plan.stack_limits(&bytes, Some(&JobArgs::default()));
    if !over.is_empty() {
        for finding in &mut over {
            finding
                .message
                .push_str(" (a job on AWS; run --local has no such limit)");
        }
        return Err(InputError(over).into());
    }
    let tasks = plan.tasks;
    match args.output {
        Output::Text => {
            let options = if tasks.directives.is_empty() {
                String::new()
            } else {
                let words: Vec<_> = tasks
                    .directives
                    .iter()
                    .flat_map(|d| d.words.iter().cloned())
                    .collect();
                format!("; options from the file: {}", words.join(" "))
            };
            show!(
                "{}: {} tasks, {} columns ({}){options}",
                tasks.file,
                tasks.tasks.len(),
                tasks.columns.len(),
                tasks.column_summary()
            );
        }
        Output::Json => {
            let summary = serde_json::json!({
                "file": tasks.file,
                "tasks": tasks.tasks.len(),
                "columns": tasks.columns,
                "directives": tasks.directives,
                "warnings": tasks.warnings,
            });
            show!("{}", serde_json::to_string_pretty(&summary)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

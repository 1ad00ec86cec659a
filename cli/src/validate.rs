//! `ecsub-cli validate`: check a tasks file and its `#ecsub:` options, print a one-line summary.

use crate::args::{Output, ValidateArgs};
use crate::plan::read_tasks;
use crate::InputError;
use ecsub_core::{JobArgs, JobId};
use std::process::ExitCode;

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let tasks = read_tasks(&args.tasks)?.parsed.map_err(InputError)?;
    let options = JobArgs::from_directives(&tasks).map_err(|d| InputError(d.lines()))?;
    let range = options.task_range;
    let id = JobId::new(&JobId::name_from_file(&tasks.file), "check")
        .map_err(|e| InputError(vec![e]))?;
    options.resolve(id).map_err(|e| {
        InputError(
            e.into_iter()
                .map(|m| format!("{}: {m}", tasks.file))
                .collect(),
        )
    })?;
    if let Some(range) = range {
        range
            .select(tasks.tasks.len())
            .map_err(|m| InputError(vec![format!("{}: {m}", tasks.file)]))?;
    }
    for warning in &tasks.warnings {
        eprintln!("{warning}");
    }
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
            println!(
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
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

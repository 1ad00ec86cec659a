//! `ecsub-cli validate`: check a tasks file and its `#ecsub:` options, print a one-line summary.

use crate::args::{Output, ValidateArgs};
use crate::plan::{locate_option_error, read_tasks};
use crate::InputError;
use ecsub_core::{job, JobArgs, JobId};
use std::process::ExitCode;

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let read = read_tasks(&args.tasks)?;
    let tasks = read.parsed.map_err(InputError)?;
    // Every option error at once: the directives, the job name (`--task-name`, as `run` and `push` check it), the
    // resolved options and the task range.
    let mut errors = Vec::new();
    let options = JobArgs::from_directives(&tasks).unwrap_or_else(|d| {
        errors.extend(d.lines());
        JobArgs::default()
    });
    let name = options
        .task_name
        .clone()
        .unwrap_or_else(|| JobId::name_from_file(&tasks.file));
    if let Err(why) = job::check_name(&name) {
        errors.push(locate_option_error(
            &tasks,
            &read.bytes,
            None,
            &format!("--task-name: {why}"),
        ));
    }
    // The other options are checked under a valid name, whatever the given one.
    let id = JobId::new(&name, "check")
        .or_else(|_| JobId::new(&JobId::name_from_file(&tasks.file), "check"))
        .map_err(|e| InputError(vec![e]))?;
    if let Err(e) = options.clone().resolve(id) {
        errors.extend(
            e.iter()
                .map(|m| locate_option_error(&tasks, &read.bytes, None, m)),
        );
    }
    if let Some(range) = options.task_range {
        if let Err(m) = range.select(tasks.tasks.len()) {
            errors.push(locate_option_error(&tasks, &read.bytes, None, &m));
        }
    }
    if !errors.is_empty() {
        return Err(InputError(errors).into());
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

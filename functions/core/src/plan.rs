//! The planning pipeline every job goes through, wherever it starts: `ecsub-cli validate`, `run --local`, `push`
//! (and its `--dry-run`), and the submit function with a pushed `job.json`. It goes parse the tasks file → merge
//! its `#ecsub:` options under the typed ones → name the job → select the task range → resolve the options, and
//! gathers every problem on the way (one run of `validate` says all that is wrong, not the first thing); the
//! scripts come from the finished [`Plan`].
//!
//! Pure: the callers read the files (bounded) and act on the plan.

use crate::diag::Diagnostic;
use crate::job::{self, JobId};
use crate::options::{JobArgs, JobSpec};
use crate::script::{run_script, setenv_script};
use crate::tasks::{self, Task, TasksFile};
use std::ops::RangeInclusive;

/// Where a job's options come from.
#[derive(Debug, Clone, Copy)]
pub enum Options<'a> {
    /// Typed on a command line: they win over the file's `#ecsub:` lines, which are merged under them. An error
    /// about an option the file gave points at its line.
    Typed(&'a JobArgs),
    /// As `job.json` holds them: merged already (the file's lines are not read again).
    Merged(&'a JobArgs),
}

/// How the job is named.
#[derive(Debug, Clone)]
pub enum Identity<'a> {
    /// A new job: its name from `--task-name` or the file's name, made unique with this suffix.
    Draw(&'a str),
    /// A job named already (a pushed job's id).
    Given(JobId),
}

/// A tasks file and how to plan the job it describes.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The file's name, for messages (`tasks.tsv:12:3: …`).
    pub file: &'a str,
    pub bytes: &'a [u8],
    pub options: Options<'a>,
    pub identity: Identity<'a>,
}

/// A job ready to run or upload.
#[derive(Debug, Clone)]
pub struct Plan {
    pub tasks: TasksFile,
    /// The options as merged (typed over the file's lines), before defaults: what `job.json` holds.
    pub args: JobArgs,
    pub spec: JobSpec,
    /// The task indices the job runs (all of them unless `--task-range` says otherwise).
    pub selected: RangeInclusive<usize>,
}

impl Plan {
    pub fn selected_tasks(&self) -> &[Task] {
        &self.tasks.tasks[self.selected.clone()]
    }

    /// The job's `run.sh`.
    pub fn run_script(&self) -> String {
        run_script(&self.spec, &self.tasks.columns)
    }

    /// The job's indexed `setenv.sh`, of the selected tasks.
    pub fn setenv_script(&self) -> String {
        setenv_script(&self.tasks.file, &self.tasks.columns, self.selected_tasks())
    }
}

/// Why there is no plan: every error found, and the file's warnings (which hold whether or not it is used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub errors: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

/// Parses a tasks file; when it does not parse, the errors of its `#ecsub:` lines come too, so that nothing
/// waits for the next run to be found.
pub fn parse_tasks(file: &str, bytes: &[u8]) -> Result<TasksFile, Vec<String>> {
    tasks::parse(file, bytes).map_err(|d| {
        let found = tasks::directives(file, bytes);
        let mut lines = match JobArgs::parse_directive_lines(file, &found) {
            Err(directive_errors) => directive_errors.lines(),
            Ok(_) => Vec::new(),
        };
        lines.extend(d.lines());
        lines
    })
}

/// Runs the pipeline: a plan, or every reason there is none.
pub fn plan(request: &Request<'_>) -> Result<Plan, Refused> {
    let tasks = parse_tasks(request.file, request.bytes).map_err(|errors| Refused {
        errors,
        warnings: Vec::new(),
    })?;
    let mut errors = Vec::new();
    let typed = match request.options {
        Options::Typed(typed) => Some(typed),
        Options::Merged(_) => None,
    };
    let locate = |message: &str| match typed {
        Some(typed) => locate_option_error(&tasks, request.bytes, Some(typed), message),
        None => message.to_owned(),
    };
    let args = match request.options {
        Options::Typed(typed) => {
            let from_file = JobArgs::from_directives(&tasks).unwrap_or_else(|d| {
                errors.extend(d.lines());
                JobArgs::default()
            });
            typed.clone().over(from_file)
        }
        Options::Merged(args) => args.clone(),
    };
    let job_id = match &request.identity {
        Identity::Given(id) => id.clone(),
        Identity::Draw(suffix) => {
            let name = args
                .task_name
                .clone()
                .unwrap_or_else(|| JobId::name_from_file(&tasks.file));
            match job::check_name(&name).and_then(|()| JobId::new(&name, suffix)) {
                Ok(id) => id,
                Err(why) => {
                    errors.push(locate(&format!("--task-name: {why}")));
                    // The other options are checked under a valid name, whatever the given one.
                    JobId::new(&JobId::name_from_file(&tasks.file), suffix)
                        .or_else(|_| JobId::new("job", suffix))
                        .map_err(|e| Refused {
                            errors: vec![e],
                            warnings: tasks.warnings.clone(),
                        })?
                }
            }
        }
    };
    let selected = match args.task_range {
        Some(range) => range
            .select(tasks.tasks.len())
            .map_err(|why| errors.push(locate(&why)))
            .ok(),
        None => Some(0..=tasks.tasks.len() - 1),
    };
    let spec = args
        .clone()
        .resolve(job_id)
        .map_err(|e| errors.extend(e.iter().map(|m| locate(m))))
        .ok();
    match (spec, selected) {
        (Some(spec), Some(selected)) if errors.is_empty() => Ok(Plan {
            tasks,
            args,
            spec,
            selected,
        }),
        _ => Err(Refused {
            errors,
            warnings: tasks.warnings,
        }),
    }
}

/// Puts a position on an option error (`--processes: must be at least 1`) when the option came from one of the
/// file's `#ecsub:` directives: `FILE:LINE:COL: message`, pointing at the flag in its line. An error about an
/// option typed on the command line (`typed`: the command line's options, which win) says so; one about no
/// option says `FILE: message`.
pub fn locate_option_error(
    tasks: &TasksFile,
    bytes: &[u8],
    typed: Option<&JobArgs>,
    message: &str,
) -> String {
    let unplaced = || format!("{}: {message}", tasks.file);
    let Some(flag) = message
        .strip_prefix("--")
        .and_then(|m| m.split([':', ' ']).next())
        .map(|f| format!("--{f}"))
    else {
        return unplaced();
    };
    let field = flag.trim_start_matches('-').replace('-', "_");
    let from_command_line = typed
        .and_then(|t| serde_json::to_value(t).ok())
        .and_then(|v| v.get(&field).cloned())
        .is_some_and(|v| !(v.is_null() || v == false || v.as_array().is_some_and(Vec::is_empty)));
    if from_command_line {
        return format!("{message} (on the command line)");
    }
    let directive = tasks.directives.iter().rev().find(|d| {
        d.words
            .iter()
            .any(|w| *w == flag || w.starts_with(&format!("{flag}=")))
    });
    let Some(directive) = directive else {
        return unplaced();
    };
    let text = bytes
        .split(|&b| b == b'\n')
        .nth(directive.line - 1)
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let column = text
        .find(&flag)
        .map_or(1, |at| text[..at].chars().count() + 1);
    format!("{}:{}:{column}: {message}", tasks.file, directive.line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(request_bytes: &[u8], args: &JobArgs) -> Result<Plan, Refused> {
        plan(&Request {
            file: "jobs.tsv",
            bytes: request_bytes,
            options: Options::Typed(args),
            identity: Identity::Draw("abcde"),
        })
    }

    #[test]
    fn a_good_file_plans_a_job_named_after_it_with_the_files_options_under_the_typed_ones() {
        let text = b"#ecsub: --processes 3 --spot\n--env N\n1\n2\n3\n";
        let args = JobArgs {
            processes: Some(5),
            ..JobArgs::default()
        };
        let plan = typed(text, &args).unwrap_or_else(|r| panic!("{r:?}"));
        assert_eq!(plan.spec.job_id.as_str(), "jobs-abcde");
        assert_eq!(plan.spec.processes, 5, "typed wins");
        assert!(plan.spec.spot, "the file fills what was not typed");
        assert_eq!(plan.selected, 0..=2);
        assert_eq!(plan.selected_tasks().len(), 3);
        assert!(plan.run_script().starts_with("#!/bin/sh"));
        assert!(plan.setenv_script().contains("N="));
    }

    #[test]
    fn every_error_is_gathered_and_those_of_the_files_options_are_placed() {
        let text = b"#ecsub: --processes 0 --task-range 5-9\n--env N\n1\n2\n";
        let args = JobArgs {
            task_name: Some("Bad Name!".into()),
            ..JobArgs::default()
        };
        let refused = typed(text, &args).map(|_| ()).unwrap_err();
        assert_eq!(refused.errors.len(), 3, "{:?}", refused.errors);
        assert!(refused.errors[0].starts_with("--task-name: "));
        assert!(refused.errors[0].ends_with("(on the command line)"));
        assert!(
            refused.errors[1].starts_with("jobs.tsv:1:"),
            "{:?}",
            refused.errors
        );
        assert!(refused
            .errors
            .iter()
            .any(|e| e.starts_with("jobs.tsv:1:9: --processes")));
    }

    #[test]
    fn a_pushed_jobs_options_are_used_as_merged_and_its_id_as_given() {
        let text = b"#ecsub: --processes 3\n--env N\n1\n2\n";
        let id = JobId::new("pushed", "zzzzz").unwrap_or_else(|e| panic!("{e}"));
        let merged = JobArgs {
            task_range: Some(crate::options::TaskRange {
                first: 1,
                last: Some(1),
            }),
            ..JobArgs::default()
        };
        let plan = plan(&Request {
            file: "jobs.tsv",
            bytes: text,
            options: Options::Merged(&merged),
            identity: Identity::Given(id.clone()),
        })
        .unwrap_or_else(|r| panic!("{r:?}"));
        assert_eq!(plan.spec.job_id, id);
        assert_eq!(
            plan.spec.processes,
            crate::options::DEFAULT_PROCESSES,
            "the file's lines are not merged again"
        );
        assert_eq!(plan.selected, 1..=1);
        let bad = JobArgs {
            processes: Some(0),
            ..JobArgs::default()
        };
        let refused = super::plan(&Request {
            file: "jobs.tsv",
            bytes: text,
            options: Options::Merged(&bad),
            identity: Identity::Given(id),
        })
        .map(|_| ())
        .unwrap_err();
        assert_eq!(refused.errors.len(), 1);
        assert!(
            refused.errors[0].starts_with("--processes"),
            "unplaced: {:?}",
            refused.errors
        );
    }

    #[test]
    fn a_file_that_does_not_parse_says_its_option_lines_errors_too() {
        let text = b"#ecsub: --no-such-flag\n--env N\t--bogus X\n1\t2\n";
        let refused = typed(text, &JobArgs::default()).map(|_| ()).unwrap_err();
        assert!(refused.errors.len() >= 2, "{:?}", refused.errors);
        assert!(refused.errors[0].contains("--no-such-flag"));
    }
}

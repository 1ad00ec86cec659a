//! The planning pipeline every job goes through, wherever it starts: `ecsub-cli validate`, `run --local`, `push`
//! (and its `--dry-run`), and the submit function with a pushed `job.json`. It goes parse the tasks file → merge
//! its `#ecsub:` options under the typed ones → name the job → select the task range → resolve the options, and
//! gathers every problem on the way (one run of `validate` says all that is wrong, not the first thing); the
//! scripts come from the finished [`Plan`].
//!
//! Pure: the callers read the files (bounded) and act on the plan.

use crate::chain::limits;
use crate::diag::{Diagnostic, Finding};
use crate::job::{self, JobId};
use crate::options::{JobArgs, JobSpec};
use crate::script::{run_script, setenv_overflow, setenv_script, MAX_SETENV_BYTES};
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

    /// What every stack refuses of this job, whatever its parameters (submit checks them again, with the stack's
    /// own): more tasks than one job holds, more `--processes` than one execution and one cluster run at once.
    /// `bytes` and `typed` as for [`plan`] (`None`: the options are merged already): the `--processes` error
    /// points at its `#ecsub:` line or says it was typed, the tasks' at the first row past the limit. `run
    /// --local` has no such limits and does not ask.
    pub fn stack_limits(&self, bytes: &[u8], typed: Option<&JobArgs>) -> Vec<Finding> {
        let mut found = Vec::new();
        if let Some(why) = limits::check_processes(self.spec.processes) {
            found.push(locate_option_error(&self.tasks, bytes, typed, &why));
        }
        let tasks = self.selected_tasks();
        if let Some(why) = limits::check_tasks(tasks.len()) {
            found.push(match tasks.get(limits::MAX_TASKS) {
                Some(first_over) => Finding::at(&self.tasks.file, first_over.line, 1, why),
                None => Finding::in_file(&self.tasks.file, why),
            });
        }
        found
    }
}

/// Why there is no plan: every error found, and the file's warnings (which hold whether or not it is used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Diagnostic>,
}

impl Refused {
    /// One line per error, as printed (`FILE:LINE:COL: message`, `FILE: message` or `message`).
    pub fn lines(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }
}

/// Parses a tasks file; when it does not parse, the errors of its `#ecsub:` lines come too, so that nothing
/// waits for the next run to be found.
pub fn parse_tasks(file: &str, bytes: &[u8]) -> Result<TasksFile, Vec<Finding>> {
    tasks::parse(file, bytes).map_err(|d| {
        let found = tasks::directives(file, bytes);
        let mut errors: Vec<Finding> = match JobArgs::parse_directive_lines(file, &found) {
            Err(directive_errors) => directive_errors.into(),
            Ok(_) => Vec::new(),
        };
        errors.extend(Vec::<Finding>::from(d));
        errors
    })
}

/// Runs the pipeline: a plan, or every reason there is none.
pub fn plan(request: &Request<'_>) -> Result<Plan, Refused> {
    let mut tasks = parse_tasks(request.file, request.bytes).map_err(|errors| Refused {
        errors,
        warnings: Vec::new(),
    })?;
    // Once per job (not in `tasks::parse`, which the task-stopped function runs for every task, also of jobs
    // accepted before a check existed).
    let overlapping = tasks::outputs_over_own_inputs(&tasks, request.bytes);
    if !overlapping.is_empty() {
        return Err(Refused {
            errors: overlapping.into_iter().map(Finding::from).collect(),
            warnings: tasks.warnings,
        });
    }
    tasks
        .warnings
        .extend(tasks::shared_outputs(&tasks, request.bytes));
    tasks.warnings.sort_by_key(|d| d.line);
    let mut errors = Vec::new();
    let typed = match request.options {
        Options::Typed(typed) => Some(typed),
        Options::Merged(_) => None,
    };
    let locate = |message: &str| match typed {
        Some(typed) => locate_option_error(&tasks, request.bytes, Some(typed), message),
        None => Finding::error(message),
    };
    let args = match request.options {
        Options::Typed(typed) => {
            let from_file = JobArgs::from_directives(&tasks).unwrap_or_else(|d| {
                errors.extend(Vec::<Finding>::from(d));
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
                            errors: vec![Finding::error(e)],
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
    if let Some(selected) = &selected {
        let chosen = &tasks.tasks[selected.clone()];
        if let Some((task, bytes)) =
            setenv_overflow(&tasks.file, &tasks.columns, chosen, MAX_SETENV_BYTES)
        {
            errors.push(Finding::at(
                &tasks.file,
                task.line,
                1,
                format!(
                    "the tasks up to this row need a setenv.sh (every task's environment, one file a job) of \
                     {bytes} bytes, over the {} MiB ecsub writes; split the rows into several jobs (or run \
                     parts of them with --task-range)",
                    MAX_SETENV_BYTES >> 20
                ),
            ));
        }
    }
    let mut spec = args
        .clone()
        .resolve(job_id)
        .map_err(|e| errors.extend(e.iter().map(|m| locate(m))))
        .ok();
    // `--logging`: a job of one task names its files without a task id (dsub's job without --tasks).
    if let (Some(spec), Some(uri), [_]) = (
        spec.as_mut(),
        args.logging.as_deref(),
        tasks.tasks.as_slice(),
    ) {
        spec.logging =
            crate::dsub::logging::for_job(uri, spec.job_id.as_str(), false, spec.retries > 0).ok();
    }
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
/// file's `#ecsub:` directives: at `FILE:LINE:COL`, pointing at the flag in its line. An error about an option
/// typed on the command line (`typed`: the command line's options, which win) says so, with no place; one about
/// no option is placed in the file alone.
pub fn locate_option_error(
    tasks: &TasksFile,
    bytes: &[u8],
    typed: Option<&JobArgs>,
    message: &str,
) -> Finding {
    let unplaced = || Finding::in_file(&tasks.file, message);
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
        return Finding::error(format!("{message} (on the command line)"));
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
    Finding::at(&tasks.file, directive.line, column, message)
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
        let lines = refused.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("--task-name: "));
        assert!(lines[0].ends_with("(on the command line)"));
        assert_eq!(refused.errors[0].file, None, "typed: no place");
        assert!(lines[1].starts_with("jobs.tsv:1:"), "{lines:?}");
        let processes = refused
            .errors
            .iter()
            .find(|e| e.message.starts_with("--processes"))
            .unwrap_or_else(|| panic!("{lines:?}"));
        assert_eq!(
            (processes.file.as_deref(), processes.line, processes.column),
            (Some("jobs.tsv"), Some(1), Some(9))
        );
    }

    #[test]
    fn the_limits_every_stack_has_are_placed_where_the_option_or_the_row_is() {
        // Probe 2026-12, finding 20: what submit refuses, said before anything is sent.
        let rows: String = (0..=crate::chain::limits::MAX_TASKS)
            .map(|i| format!("{i}\n"))
            .collect();
        let text = format!("#ecsub: --processes 10001\n--env N\n{rows}");
        let plan = typed(text.as_bytes(), &JobArgs::default()).unwrap_or_else(|r| panic!("{r:?}"));
        let found = plan.stack_limits(text.as_bytes(), Some(&JobArgs::default()));
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "jobs.tsv:1:9: --processes 10001: one job runs at most 10000 tasks at once (Step Functions' \
                 Distributed Map); use --processes 10000 or fewer",
                "jobs.tsv:100003:1: the job has 100001 tasks, but a job holds at most 100000: split it with \
                 --task-range into jobs of at most 100000 tasks",
            ]
        );
        let typed_processes = JobArgs {
            processes: Some(5001),
            task_range: Some(crate::options::TaskRange {
                first: 1,
                last: None,
            }),
            ..JobArgs::default()
        };
        let plan = typed(text.as_bytes(), &typed_processes).unwrap_or_else(|r| panic!("{r:?}"));
        let found = plan.stack_limits(text.as_bytes(), Some(&typed_processes));
        assert_eq!(found.len(), 1, "a range of 100 000 tasks fits: {found:?}");
        assert_eq!(found[0].file, None);
        assert!(
            found[0].message.starts_with(
                "--processes 5001: a job's tasks run on the instances of one ECS cluster"
            ) && found[0].message.ends_with("(on the command line)"),
            "{found:?}"
        );
        let small = typed(b"--env N\n1\n", &JobArgs::default()).unwrap_or_else(|r| panic!("{r:?}"));
        assert!(small.stack_limits(b"--env N\n1\n", None).is_empty());
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
            refused.errors[0].message.starts_with("--processes")
                && refused.errors[0].file.is_none(),
            "unplaced: {:?}",
            refused.errors
        );
    }

    #[test]
    fn a_file_that_does_not_parse_says_its_option_lines_errors_too() {
        let text = b"#ecsub: --no-such-flag\n--env N\t--bogus X\n1\t2\n";
        let refused = typed(text, &JobArgs::default()).map(|_| ()).unwrap_err();
        assert!(refused.errors.len() >= 2, "{:?}", refused.errors);
        assert!(refused.errors[0].message.contains("--no-such-flag"));
    }
}

//! Flags + files → a validated job plan, before anything runs or is written ("plan, then act").
//!
//! Reading the two input files is the only I/O here; every rule is ecsub-core's. Every problem found is returned
//! at once as an [`InputError`].

use crate::args::JobInput;
use crate::InputError;
use ecsub_core::script::{run_script, setenv_script};
use ecsub_core::tasks::{self, TasksFile};
use ecsub_core::{job, JobArgs, JobId, JobSpec, Task};
use std::hash::{BuildHasher, Hasher};
use std::ops::RangeInclusive;

/// A job ready to run or upload.
#[derive(Debug)]
pub struct Plan {
    pub tasks_bytes: Vec<u8>,
    pub tasks: TasksFile,
    pub script_bytes: Vec<u8>,
    pub spec: JobSpec,
    /// The options as merged (command line over the file's directives), before defaults: what `job.json` holds.
    pub args: JobArgs,
    /// The task indices the job runs (all of them unless --task-range says otherwise).
    pub selected: RangeInclusive<usize>,
    pub run_sh: String,
    pub setenv_sh: String,
    /// Flags typed on the command line that only mean something on AWS.
    pub aws_only_flags: Vec<String>,
}

impl Plan {
    pub fn selected_tasks(&self) -> &[Task] {
        &self.tasks.tasks[self.selected.clone()]
    }
}

/// A tasks file as read: its bytes, and the parsed file or every message against it.
#[derive(Debug)]
pub struct ReadTasks {
    pub bytes: Vec<u8>,
    pub parsed: Result<TasksFile, Vec<String>>,
}

/// Reads a tasks file and parses it, or says why it cannot be read, naming the file.
pub fn read_tasks(path: &std::path::Path) -> Result<ReadTasks, InputError> {
    let name = path.display().to_string();
    let bytes = read_at_most(path, tasks::MAX_FILE_BYTES)
        .map_err(|e| InputError(vec![format!("{name}: cannot read the tasks file: {e}")]))?
        .map_err(|size| InputError(vec![tasks::too_large(&name, size)]))?;
    let parsed = tasks::parse(&name, &bytes).map_err(|d| {
        // The directives' own errors too, so that nothing waits for the next run to be found.
        let found = tasks::directives(&name, &bytes);
        let mut lines = match JobArgs::parse_directive_lines(&name, &found) {
            Err(directive_errors) => directive_errors.lines(),
            Ok(_) => Vec::new(),
        };
        lines.extend(d.lines());
        lines
    });
    Ok(ReadTasks { bytes, parsed })
}

/// Puts a position on an option error (`--processes: must be at least 1`) when the option came from one of the
/// file's `#ecsub:` directives: `FILE:LINE:COL: message`, pointing at the flag in its line. An error about an
/// option typed on the command line (`typed`: the command line's options, which win) or about no option says
/// `FILE: message`.
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

/// Reads a file of at most `max` bytes; `Err(size)` for a larger one (or an endless one, like `/dev/zero`):
/// reading stops just past the limit.
fn read_at_most(path: &std::path::Path, max: u64) -> std::io::Result<Result<Vec<u8>, u64>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    let read = bytes.len() as u64;
    Ok(if read > max { Err(read) } else { Ok(bytes) })
}

/// Builds the plan for `input`; `suffix` makes the job id unique.
pub fn build(input: &JobInput, suffix: &str) -> Result<Plan, InputError> {
    let mut errors = Vec::new();
    let ReadTasks {
        bytes: tasks_bytes,
        parsed,
    } = read_tasks(&input.tasks)?;
    let script_name = input.script.display().to_string();
    let script_bytes = match read_at_most(&input.script, tasks::MAX_SCRIPT_BYTES) {
        Ok(Err(size)) => {
            errors.push(format!(
                "{script_name}: the script is {size} bytes or more, over the {} MiB ecsub takes",
                tasks::MAX_SCRIPT_BYTES >> 20
            ));
            Vec::new()
        }
        Ok(Ok(bytes)) if bytes.iter().all(u8::is_ascii_whitespace) => {
            errors.push(format!("{script_name}: the script is empty"));
            bytes
        }
        Ok(Ok(bytes)) => bytes,
        Err(e) => {
            errors.push(format!("{script_name}: cannot read the script: {e}"));
            Vec::new()
        }
    };
    let tasks = match parsed {
        Ok(tasks) => tasks,
        Err(lines) => {
            errors.extend(lines);
            return Err(InputError(errors));
        }
    };
    for warning in &tasks.warnings {
        eprintln!("{warning}");
    }
    let from_file = JobArgs::from_directives(&tasks).unwrap_or_else(|d| {
        errors.extend(d.lines());
        JobArgs::default()
    });
    let args = input.job.clone().over(from_file);
    let name = args
        .task_name
        .clone()
        .unwrap_or_else(|| JobId::name_from_file(&tasks.file));
    let job_id = match job::check_name(&name).and_then(|()| JobId::new(&name, suffix)) {
        Ok(id) => Some(id),
        Err(why) => {
            errors.push(format!("--task-name: {why}"));
            None
        }
    };
    let selected = match args.task_range {
        Some(range) => range
            .select(tasks.tasks.len())
            .map_err(|why| errors.push(why))
            .ok(),
        None => Some(0..=tasks.tasks.len() - 1),
    };
    let spec = job_id.and_then(|id| {
        args.clone()
            .resolve(id)
            .map_err(|e| {
                errors.extend(
                    e.iter()
                        .map(|m| locate_option_error(&tasks, &tasks_bytes, Some(&input.job), m)),
                );
            })
            .ok()
    });
    let (Some(spec), Some(selected)) = (spec, selected) else {
        return Err(InputError(errors));
    };
    if !errors.is_empty() {
        return Err(InputError(errors));
    }
    let run_sh = run_script(&spec, &tasks.columns);
    let setenv_sh = setenv_script(&tasks.file, &tasks.columns, &tasks.tasks[selected.clone()]);
    Ok(Plan {
        aws_only_flags: input.job.aws_only_flags(),
        args,
        tasks_bytes,
        tasks,
        script_bytes,
        spec,
        selected,
        run_sh,
        setenv_sh,
    })
}

/// Five random lowercase letters or digits for a job id, from the standard library's randomly seeded hasher.
pub fn random_suffix() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    JobId::suffix_from(hasher.finish())
}

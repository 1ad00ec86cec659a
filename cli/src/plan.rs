//! Flags + files → a validated job plan, before anything runs or is written ("plan, then act").
//!
//! Reading the two input files (bounded) is the only I/O here; the pipeline and every rule are ecsub-core's
//! ([`ecsub_core::plan`]). Every problem found is returned at once as an [`InputError`].

use crate::args::JobInput;
use crate::error::InputError;
use ecsub_core::plan::{self, Identity, Options, Request};
use ecsub_core::tasks;
use ecsub_core::{Finding, JobArgs, JobId};
use std::hash::{BuildHasher, Hasher};

/// A job ready to run or upload: ecsub-core's plan, and the files' bytes as read.
#[derive(Debug)]
pub struct Plan {
    pub plan: plan::Plan,
    pub tasks_bytes: Vec<u8>,
    pub script_bytes: Vec<u8>,
    /// The options typed on the command line (which win over the file's `#ecsub:` lines).
    pub typed: JobArgs,
    /// Where each line of `tasks_bytes` starts, made when a message first needs a cell's column.
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl Plan {
    /// What every stack refuses of this job (`push` says it before anything is sent; `run --local` has no such
    /// limits), each placed where its option or row is.
    pub fn stack_limits(&self) -> Vec<Finding> {
        self.plan.stack_limits(&self.tasks_bytes, Some(&self.typed))
    }

    /// An error at cell `cell` (0-based, header order) of `task`'s row: `FILE:LINE:COL`, the column where the cell
    /// starts (while the file's bytes are held: before a run lets them go, the row alone otherwise).
    pub fn error_at_cell(
        &self,
        task: &tasks::Task,
        cell: usize,
        message: impl Into<String>,
    ) -> Finding {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(
                    self.tasks_bytes
                        .iter()
                        .enumerate()
                        .filter(|(_, &b)| b == b'\n')
                        .map(|(at, _)| at + 1),
                )
                .collect()
        });
        let line = task.line.saturating_sub(1);
        let row = match (starts.get(line), starts.get(line + 1)) {
            (Some(&start), Some(&end)) => self.tasks_bytes.get(start..end - 1),
            (Some(&start), None) => self.tasks_bytes.get(start..),
            _ => None,
        };
        let row = String::from_utf8_lossy(row.unwrap_or_default());
        let column = ecsub_core::diag::cell_column(&row, cell);
        Finding::at(&self.tasks.file, task.line, column, message)
    }
}

impl std::ops::Deref for Plan {
    type Target = plan::Plan;

    fn deref(&self) -> &plan::Plan {
        &self.plan
    }
}

/// Reads a tasks file (at most [`tasks::MAX_FILE_BYTES`]): its name for messages and its bytes, or why it cannot
/// be read, naming the file.
pub fn read_tasks(path: &std::path::Path) -> Result<(String, Vec<u8>), InputError> {
    let name = path.display().to_string();
    let bytes = read_at_most(path, tasks::MAX_FILE_BYTES)
        .map_err(|e| InputError::in_file(&name, format!("cannot read the tasks file: {e}")))?
        .map_err(|size| {
            let message = tasks::too_large(&name, size);
            // ecsub-core's message starts with the file's name, given here: the rest is about the file.
            InputError(vec![match message.strip_prefix(&format!("{name}: ")) {
                Some(rest) => Finding::in_file(&name, rest),
                None => Finding::error(message),
            }])
        })?;
    Ok((name, bytes))
}

/// Reads a file of at most `max` bytes; `Err(size)` for a larger one (or an endless one, like `/dev/zero`):
/// reading stops just past the limit.
fn read_at_most(path: &std::path::Path, max: u64) -> std::io::Result<Result<Vec<u8>, u64>> {
    read_bounded(std::fs::File::open(path)?, max)
}

/// Reads at most `max` bytes of `reader`; `Err(size)` when it has more: reading stops just past the limit, so
/// `size` is what was read, the least the source holds. Every read of a file a user names goes through here.
pub fn read_bounded(reader: impl std::io::Read, max: u64) -> std::io::Result<Result<Vec<u8>, u64>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    let read = bytes.len() as u64;
    Ok(if read > max { Err(read) } else { Ok(bytes) })
}

/// Reads the user script (bounded): its bytes, or why it cannot be used.
pub fn read_script(path: &std::path::Path) -> Result<Vec<u8>, Finding> {
    let name = path.display().to_string();
    let why = match read_at_most(path, tasks::MAX_SCRIPT_BYTES) {
        Ok(Err(size)) => format!(
            "the script is {size} bytes or more, over the {} MiB ecsub takes",
            tasks::MAX_SCRIPT_BYTES >> 20
        ),
        Ok(Ok(bytes)) if bytes.iter().all(u8::is_ascii_whitespace) => {
            "the script is empty".to_owned()
        }
        Ok(Ok(bytes)) => return Ok(bytes),
        Err(e) => format!("cannot read the script: {e}"),
    };
    Err(Finding::in_file(&name, why))
}

/// What a job is planned from: a tasks file and a script (read from files, or made from an earlier job's), and
/// the options typed for it.
#[derive(Debug)]
pub struct Source {
    /// The tasks file's name as given (its messages and the job's name come from it).
    pub tasks_name: String,
    pub tasks_bytes: Vec<u8>,
    /// The script, or why it cannot be used.
    pub script: Result<Vec<u8>, Finding>,
    pub typed: ecsub_core::JobArgs,
}

impl Source {
    /// The files `input` names, read (bounded).
    pub fn read(input: &JobInput) -> Result<Source, InputError> {
        let (tasks_name, tasks_bytes) = read_tasks(&input.tasks)?;
        Ok(Source {
            tasks_name,
            tasks_bytes,
            script: read_script(&input.script),
            typed: input.job.clone(),
        })
    }
}

/// Builds the plan of `source`; `suffix` makes the job id unique. The file's warnings go to stderr whether or not
/// the plan is made.
pub fn build(source: Source, suffix: &str) -> Result<Plan, InputError> {
    let planned = plan::plan(&Request {
        file: &source.tasks_name,
        bytes: &source.tasks_bytes,
        options: Options::Typed(&source.typed),
        identity: Identity::Draw(suffix),
    });
    let warnings = match &planned {
        Ok(plan) => &plan.tasks.warnings,
        Err(refused) => &refused.warnings,
    };
    for warning in warnings {
        say!("{warning}");
    }
    match (source.script, planned) {
        (Ok(script_bytes), Ok(plan)) => Ok(Plan {
            plan,
            tasks_bytes: source.tasks_bytes,
            script_bytes,
            typed: source.typed,
            line_starts: std::sync::OnceLock::new(),
        }),
        (script, planned) => {
            let mut errors: Vec<Finding> = script.err().into_iter().collect();
            errors.extend(planned.err().map(|r| r.errors).unwrap_or_default());
            Err(InputError(errors))
        }
    }
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

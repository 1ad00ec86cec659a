//! Flags + files → a validated job plan, before anything runs or is written ("plan, then act").
//!
//! Reading the two input files (bounded) is the only I/O here; the pipeline and every rule are ecsub-core's
//! ([`ecsub_core::plan`]). Every problem found is returned at once as an [`InputError`].

use crate::args::JobInput;
use crate::error::InputError;
use ecsub_core::plan::{self, Identity, Options, Request};
use ecsub_core::tasks;
use ecsub_core::JobId;
use std::hash::{BuildHasher, Hasher};

/// A job ready to run or upload: ecsub-core's plan, and the files' bytes as read.
#[derive(Debug)]
pub struct Plan {
    pub plan: plan::Plan,
    pub tasks_bytes: Vec<u8>,
    pub script_bytes: Vec<u8>,
    /// Flags typed on the command line that only mean something on AWS.
    pub aws_only_flags: Vec<String>,
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
        .map_err(|e| InputError(vec![format!("{name}: cannot read the tasks file: {e}")]))?
        .map_err(|size| InputError(vec![tasks::too_large(&name, size)]))?;
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
pub fn read_script(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let name = path.display().to_string();
    match read_at_most(path, tasks::MAX_SCRIPT_BYTES) {
        Ok(Err(size)) => Err(format!(
            "{name}: the script is {size} bytes or more, over the {} MiB ecsub takes",
            tasks::MAX_SCRIPT_BYTES >> 20
        )),
        Ok(Ok(bytes)) if bytes.iter().all(u8::is_ascii_whitespace) => {
            Err(format!("{name}: the script is empty"))
        }
        Ok(Ok(bytes)) => Ok(bytes),
        Err(e) => Err(format!("{name}: cannot read the script: {e}")),
    }
}

/// What a job is planned from: a tasks file and a script (read from files, or made from an earlier job's), and
/// the options typed for it.
#[derive(Debug)]
pub struct Source {
    /// The tasks file's name as given (its messages and the job's name come from it).
    pub tasks_name: String,
    pub tasks_bytes: Vec<u8>,
    /// The script, or why it cannot be used.
    pub script: Result<Vec<u8>, String>,
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
        eprintln!("{warning}");
    }
    match (source.script, planned) {
        (Ok(script_bytes), Ok(plan)) => Ok(Plan {
            plan,
            tasks_bytes: source.tasks_bytes,
            script_bytes,
            aws_only_flags: source.typed.aws_only_flags(),
        }),
        (script, planned) => {
            let mut errors: Vec<String> = script.err().into_iter().collect();
            errors.extend(planned.err().map(|r| r.errors).unwrap_or_default());
            Err(InputError(errors))
        }
    }
}

/// Reads the files `input` names and plans the job.
pub fn read_and_build(input: &JobInput, suffix: &str) -> Result<Plan, InputError> {
    build(Source::read(input)?, suffix)
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

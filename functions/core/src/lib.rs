//! ecsub-core: the domain of ecsub, shared by the Lambda handlers, the CLI and the stager.
//!
//! - [`dsub`]: dsub's command line (its tasks files, names, ids, log paths) as an ecsub job;
//! - [`tasks`]: the tasks-file engine (columns, rows, `#ecsub:` lines, limits);
//! - [`options`]: job options ([`JobArgs`] as typed, [`JobSpec`] resolved), task ranges;
//! - [`plan`]: the planning pipeline every job goes through (parse → options → name → range → resolve);
//! - [`job`]: job identity and the job's object layout in the bucket;
//! - [`script`]: the generated container scripts (`run.sh`, the indexed `setenv.sh`);
//! - [`chain`]: the serverless chain's contract (names, wire types, records, the task's container environment)
//!   and its policies (attempts, retries, EC2 refusals, limits, admission);
//! - [`tags`]: the user's `--tag`s and AWS's tag rules;
//! - [`status`]: a job's and each task's state, derived from what the stack recorded;
//! - [`cost`]: what a job's attempts cost, from prices;
//! - [`outputs`]: when an output counts as written by an attempt; [`staging`]: the stager's part files and the
//!   names it can stage; [`s3path`]: `s3://` paths; [`exit`]: the exit codes `run.sh` gives; [`diag`]: diagnostics
//!   with file, line and column; [`time`]: RFC 3339 times.
//!
//! It must not depend on the AWS SDK, an async runtime or the filesystem: callers read and write, this crate
//! decides.

pub mod chain;
pub mod cost;
pub mod diag;
pub mod dsub;
pub mod exit;
pub mod job;
pub mod options;
pub mod outputs;
pub mod plan;
pub mod s3path;
pub mod script;
pub mod staging;
pub mod status;
pub mod tags;
pub mod tasks;
pub mod time;

pub use diag::{Diagnostic, Diagnostics, Finding, Severity};
pub use job::{JobId, JobLayout};
pub use options::{JobArgs, JobSpec, TaskRange};
pub use s3path::S3Path;
pub use tasks::{Cell, Column, ColumnKind, Task, TasksFile};

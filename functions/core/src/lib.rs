//! ecsub-core: the domain of ecsub, shared by the Lambdas and the CLI.
//!
//! It holds the tasks-file engine ([`tasks`]), job options ([`options`]), job identity and object layout
//! ([`job`]), the generated container scripts ([`script`]) and the exit-code policy ([`exit`]). It must not
//! depend on the AWS SDK, an async runtime or the filesystem: callers read and write, this crate decides.

pub mod chain;
pub mod cost;
pub mod diag;
pub mod exit;
pub mod job;
pub mod options;
pub mod outputs;
pub mod s3path;
pub mod script;
pub mod tasks;
pub mod time;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use job::{JobId, JobLayout};
pub use options::{JobArgs, JobSpec, TaskRange};
pub use s3path::S3Path;
pub use tasks::{Cell, Column, ColumnKind, Task, TasksFile};

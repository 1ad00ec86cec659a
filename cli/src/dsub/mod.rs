//! dsub's three commands on this stack: `dsub` ([`submit`]), `dstat` and `ddel`, with dsub's flags
//! ([`args`]) and streams ([`streams`]). dsub's documents are the specification; `docs/dsub.md` says what each
//! flag does here. The decisions that need no files or AWS are ecsub-core's (`ecsub_core::dsub`).

pub mod args;
mod streams;
mod submit;

pub use submit::run as dsub;

/// The names a user may give this binary (a link on PATH) to run one of dsub's commands as dsub's own.
pub const ENTRY_POINTS: [&str; 3] = ["dsub", "dstat", "ddel"];

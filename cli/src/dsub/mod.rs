//! dsub's three commands on this stack: `dsub` ([`submit`]), `dstat` and `ddel`, with dsub's flags
//! ([`args`]) and streams ([`streams`]). dsub's documents are the specification; `docs/dsub.md` says what each
//! flag does here. The decisions that need no files or AWS are ecsub-core's (`ecsub_core::dsub`).

pub mod args;
mod streams;
mod submit;

pub use submit::run as dsub;

/// The names a user may give this binary (a link on PATH) to run one of dsub's commands as dsub's own.
pub const ENTRY_POINTS: [&str; 3] = ["dsub", "dstat", "ddel"];

/// dsub's user id: `--user`, else `$USER`, else `$LOGNAME`, as a label (dstat's and ddel's default `--users` too).
pub fn user_id(given: Option<&str>) -> String {
    let user = given
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "user".to_owned());
    ecsub_core::dsub::label_chars(&user)
}

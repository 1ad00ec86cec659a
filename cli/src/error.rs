//! What every command reports besides its results: bad input ([`InputError`], exit 2, nothing run or written) and
//! the exit codes, decided once in `main.rs`.
//!
//! Exit codes: 0 every task succeeded (or the command did what it was asked), 1 some task failed, 2 usage or input
//! error, 3 runtime error; `run --local` stopped by a signal: 130 (Ctrl-C), 143 (SIGTERM), 129 (SIGHUP).

use ecsub_core::Finding;

/// Bad input: every finding is shown (as text on stderr, or its fields under `--output json`), nothing was run or
/// written, the exit code is 2. The findings stay values until `main.rs` prints them.
#[derive(Debug)]
pub struct InputError(pub Vec<Finding>);

impl InputError {
    /// One error about no file: a flag, the command itself.
    pub fn new(message: impl Into<String>) -> Self {
        Self(vec![Finding::error(message)])
    }

    /// One error about a file as a whole.
    pub fn in_file(file: &str, message: impl Into<String>) -> Self {
        Self(vec![Finding::in_file(file, message)])
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, finding) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{finding}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

pub const EXIT_TASK_FAILED: u8 = 1;
pub const EXIT_INPUT: u8 = 2;
pub const EXIT_RUNTIME: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

//! What every command reports besides its results: bad input ([`InputError`], exit 2, nothing run or written) and
//! the exit codes, decided once in `main.rs`.
//!
//! Exit codes: 0 every task succeeded (or the command did what it was asked), 1 some task failed, 2 usage or input
//! error, 3 runtime error; `run --local` stopped by a signal: 130 (Ctrl-C), 143 (SIGTERM), 129 (SIGHUP).

/// Bad input: every line is shown, nothing was run or written, the exit code is 2.
#[derive(Debug)]
pub struct InputError(pub Vec<String>);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for InputError {}

pub const EXIT_TASK_FAILED: u8 = 1;
pub const EXIT_INPUT: u8 = 2;
pub const EXIT_RUNTIME: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

//! Exit codes with a fixed meaning, shared by the generated scripts, the local runner and the result records.
//!
//! A task's exit code is its user script's; `run.sh` uses these three for failures outside the script. They are
//! above the codes scripts commonly use and below the shell's own (126 and up).

/// An input could not be downloaded; the user script did not run.
pub const EXIT_INPUT_FAILED: i32 = 120;
/// The script exited 0 but an output it created could not be uploaded.
pub const EXIT_OUTPUT_FAILED: i32 = 121;
/// The task could not be set up (scratch folder, environment, secrets); the user script did not run.
pub const EXIT_SETUP_FAILED: i32 = 122;

/// A short note for a report, for the codes that do not come from the user script.
pub fn describe(code: i32) -> Option<&'static str> {
    match code {
        EXIT_INPUT_FAILED => Some("input download failed"),
        EXIT_OUTPUT_FAILED => Some("output upload failed"),
        EXIT_SETUP_FAILED => Some("task setup failed"),
        126 => Some("script not executable"),
        127 => Some("command not found"),
        c if c > 128 && c < 160 => Some("killed by a signal"),
        _ => None,
    }
}

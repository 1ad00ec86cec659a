//! Exit codes with a fixed meaning, shared by the generated scripts, the local runner and the result records, and
//! the steps of `run.sh` a task can end in.
//!
//! A task's exit code is its user script's; `run.sh` uses these four for failures outside the script (and 123 for
//! a script that failed on a full disk). They are
//! above the codes scripts commonly use and below the shell's own (126 and up), but a script may exit with them
//! too: where `run.sh` records the step it ended in ([`Phase`]), the note comes from the step ([`describe_in`]);
//! from the code alone ([`describe`]) it is a guess.

/// An input could not be downloaded; the user script did not run.
pub const EXIT_INPUT_FAILED: i32 = 120;
/// The script exited 0 but an output it created could not be uploaded.
pub const EXIT_OUTPUT_FAILED: i32 = 121;
/// The task could not be set up (scratch folder, environment, secrets); the user script did not run.
pub const EXIT_SETUP_FAILED: i32 = 122;
/// The task's scratch filesystem was full (under 1 % free) when its script or an input's download failed: the
/// task needs more disk, not another try as it is. The script's own code is in the log.
pub const EXIT_DISK_FULL: i32 = 123;

/// A short note for a report, for the codes that do not come from the user script, from the code alone (what the
/// stack knows of an attempt on AWS: ECS's exit code).
pub fn describe(code: i32) -> Option<&'static str> {
    match code {
        EXIT_INPUT_FAILED => Some("input download failed"),
        EXIT_OUTPUT_FAILED => Some("output upload failed"),
        EXIT_SETUP_FAILED => Some("task setup failed"),
        EXIT_DISK_FULL => Some("the task's disk was full"),
        126 => Some("script not executable"),
        127 => Some("command not found"),
        c if killed(c) => Some("killed by a signal"),
        _ => None,
    }
}

/// The step of `run.sh` a task was in when it ended. `run.sh` records each step as it enters it (in
/// `ECSUB_PHASE_FILE`, which `run --local` sets), so that a failure is named by where it happened: a script
/// that exits 120 itself is not an input download that failed, and a script's shell that cannot start (an
/// environment over the system's limit, E2BIG) is not a script without its execute bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The task's scratch folder and environment (secrets included).
    Setup,
    /// The inputs' downloads.
    Inputs,
    /// The user script.
    Script,
    /// The outputs' uploads.
    Outputs,
    /// Everything done: the script exited 0 and its outputs are uploaded.
    Done,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Setup,
        Phase::Inputs,
        Phase::Script,
        Phase::Outputs,
        Phase::Done,
    ];

    /// The word `run.sh` records for the step (`ecsub_phase WORD`).
    pub fn word(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Inputs => "inputs",
            Phase::Script => "script",
            Phase::Outputs => "outputs",
            Phase::Done => "done",
        }
    }

    /// The step a record names (its word, with the newline `run.sh` writes after it); `None` for anything else.
    pub fn from_record(text: &str) -> Option<Phase> {
        let word = text.trim_end_matches('\n');
        Phase::ALL.into_iter().find(|p| p.word() == word)
    }
}

/// A shell's status for a process a signal ended (128 + the signal).
fn killed(code: i32) -> bool {
    code > 128 && code < 160
}

/// The note for a task that ended with `code` (not 0) in `phase`, from what `run.sh` recorded rather than from
/// the code: `None` when the code is the script's own and says nothing more.
pub fn describe_in(phase: Phase, code: i32) -> Option<&'static str> {
    let signal = killed(code);
    match phase {
        Phase::Setup if signal => Some("killed by a signal while the task was set up"),
        Phase::Setup => Some("task setup failed"),
        Phase::Inputs if signal => Some("killed by a signal while the inputs were downloaded"),
        Phase::Inputs if code == EXIT_DISK_FULL => Some("an input did not fit on the task's disk"),
        Phase::Inputs => Some("input download failed"),
        Phase::Script => match code {
            126 => Some(
                "the script, or a command it ran, could not be executed: not executable, or its arguments and \
                 environment over the system's limit (see the log)",
            ),
            127 => Some("command not found: the script's shell, or a command the script ran (see the log)"),
            EXIT_DISK_FULL => Some("the script failed with the task's disk full (see the log for its own code)"),
            EXIT_INPUT_FAILED | EXIT_OUTPUT_FAILED | EXIT_SETUP_FAILED => {
                Some("the script's own exit code: its inputs were downloaded")
            }
            c if killed(c) => Some("the script was killed by a signal"),
            _ => None,
        },
        Phase::Outputs if signal => Some("killed by a signal while the outputs were uploaded"),
        Phase::Outputs => Some("output upload failed"),
        Phase::Done if signal => Some("killed by a signal after the outputs were uploaded"),
        Phase::Done => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_run_sh_records_names_the_failure_whatever_the_code() {
        // Probe 2026-12, finding 15: a script exiting 120 itself, and a shell that cannot start the script.
        assert_eq!(
            describe_in(Phase::Script, EXIT_INPUT_FAILED),
            Some("the script's own exit code: its inputs were downloaded")
        );
        assert_eq!(describe(EXIT_INPUT_FAILED), Some("input download failed"));
        assert!(
            describe_in(Phase::Script, 126).is_some_and(|n| n.contains("over the system's limit"))
        );
        assert_eq!(describe_in(Phase::Script, 3), None);
        assert_eq!(
            describe_in(Phase::Inputs, EXIT_INPUT_FAILED),
            Some("input download failed")
        );
        assert_eq!(
            describe_in(Phase::Outputs, EXIT_OUTPUT_FAILED),
            Some("output upload failed")
        );
        assert_eq!(
            describe_in(Phase::Setup, EXIT_SETUP_FAILED),
            Some("task setup failed")
        );
        assert_eq!(
            describe_in(Phase::Inputs, 137),
            Some("killed by a signal while the inputs were downloaded")
        );
    }

    #[test]
    fn every_step_is_recorded_by_run_sh_and_read_back() {
        let run_sh = include_str!("script/run.sh");
        for phase in Phase::ALL {
            assert!(
                run_sh.contains(&format!("ecsub_phase {}\n", phase.word())),
                "run.sh does not record {phase:?}"
            );
            assert_eq!(
                Phase::from_record(&format!("{}\n", phase.word())),
                Some(phase)
            );
        }
        assert_eq!(Phase::from_record("inputs\nscript\n"), None);
        assert_eq!(Phase::from_record(""), None);
    }
}

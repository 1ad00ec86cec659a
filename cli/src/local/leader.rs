//! The leader of one local task: the process `run --local` starts for each task (`ecsub-cli lead-task`), which
//! runs the task's `run.sh` and sees that nothing the task starts outlives it. What it guarantees:
//!
//! - **No controlling terminal.** The leader starts a session of its own (`setsid`, so its process group too,
//!   pgid = sid = its pid), as a container's process has none: opening `/dev/tty` fails (ENXIO) instead of
//!   stopping the task with SIGTTIN while the run waits for ever. The runner's signals to the task's process
//!   group reach `run.sh` and what it starts in that group.
//! - **No zombie.** The leader is the child subreaper of the task's processes (`PR_SET_CHILD_SUBREAPER`): every
//!   process the task starts stays its descendant whatever it does (a background child, a double fork,
//!   `setsid` as `ssh-agent` does, a shell with job control), is re-parented to the leader when its parent
//!   ends, and is reaped by it as soon as it ends (SIGCHLD).
//! - **A task's processes end with it.** When `run.sh` ends, the leader kills (SIGKILL) every descendant left,
//!   then exits with `run.sh`'s status (128 + the signal if a signal ended it), as a container's end does on AWS.
//! - **A task ends with the CLI.** The CLI's death, even by SIGKILL, is the leader's signal
//!   (`PR_SET_PDEATHSIG`): it kills the task's processes and exits, so no task runs, and no output is uploaded,
//!   with no CLI to record it.
//!
//! What escapes it: a process that is no descendant of the task (started for it by another service:
//! `systemd-run`, `at`, a D-Bus activation), and the task's processes once the leader itself is killed by
//! SIGKILL (the runner does that at the end of a stop's grace, or the OOM killer might): those become the CLI's
//! (see [`super::lifetime`]), which kills every descendant it has when the job ends.
//!
//! It is another process: it shares no state with the runner, only this file's command line. Linux only.

use super::lifetime;
use ecsub_core::exit::EXIT_SETUP_FAILED;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// `ecsub-cli lead-task CLI_PID PROGRAM ARGS…` runs `PROGRAM ARGS…` as a task under its leader (hidden from the
/// help: the runner's, not a user's).
pub const LEAD: &str = "lead-task";

/// The signal the kernel sends the leader when the CLI dies.
const CLI_GONE: libc::c_int = libc::SIGHUP;

/// The exit status of a leader whose CLI is gone (nobody reads it: a shell's 128 + SIGHUP).
const EXIT_CLI_GONE: u8 = 129;

/// The command that runs `program args…` as a task under its leader; `exe` is this program. The leader starts in
/// a session of its own, with the death of this process (the CLI) as its signal.
#[allow(unsafe_code)]
pub fn command(exe: &Path, program: &str, args: &[&OsStr]) -> tokio::process::Command {
    let cli = std::process::id();
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg(LEAD).arg(cli.to_string()).arg(program).args(args);
    // SAFETY: the closure runs in the forked child before exec; setsid, prctl and getppid are async-signal-safe,
    // and it allocates nothing (an io::Error made from an OS error code holds no heap memory).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0
                || libc::prctl(libc::PR_SET_PDEATHSIG, CLI_GONE as libc::c_ulong, 0, 0, 0) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The CLI died before the signal was set: it will never come.
            if libc::getppid() as u32 != cli {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    cmd
}

/// The leader's life (`args` after `lead-task`): runs the task, reaps what ends, and kills what is left when the
/// task or the CLI ends. Its messages go to the task's log (its stderr).
pub fn lead_task(mut args: impl Iterator<Item = OsString>) -> ExitCode {
    let cli = args
        .next()
        .and_then(|a| a.to_str().and_then(|s| s.parse::<libc::pid_t>().ok()));
    let (Some(cli), Some(program)) = (cli, args.next()) else {
        say!("ecsub-cli {LEAD}: usage: ecsub-cli {LEAD} CLI_PID PROGRAM [ARGS...] (run --local starts it)");
        return ExitCode::from(EXIT_SETUP_FAILED as u8);
    };
    // Blocked before anything can send them, and taken by `wait_signal` only: none is missed between a check
    // and the wait. The task's processes start with an empty mask (std's spawn resets it). SIGTERM and SIGINT
    // are the runner's to the task's group: `run.sh` has them too, and the leader waits for its end.
    let signals = block(&[libc::SIGCHLD, CLI_GONE, libc::SIGTERM, libc::SIGINT]);
    if parent() != cli {
        return ExitCode::from(EXIT_CLI_GONE);
    }
    if !lifetime::become_subreaper() {
        say!(
            "ecsub-cli: cannot become the task's subreaper: a process the task leaves may live until the job ends"
        );
    }
    let task = match start(&program, args.collect()) {
        Ok(pid) => pid,
        Err(e) => {
            say!("ecsub-cli: cannot run `{}`: {e}", program.to_string_lossy());
            return ExitCode::from(EXIT_SETUP_FAILED as u8);
        }
    };
    let status = loop {
        if let Some(status) = reap(task) {
            break Some(status);
        }
        if parent() != cli {
            break None;
        }
        // A second at most: the signals wake it, the timeout is only a safety net.
        wait_signal(&signals, Duration::from_secs(1));
    };
    lifetime::kill_descendants();
    match status {
        Some(status) => ExitCode::from(shell_status(status)),
        None => ExitCode::from(EXIT_CLI_GONE),
    }
}

/// Starts the task's first process; a fork refused for want of processes is tried again for a few seconds, as
/// other tasks' ends give them back.
fn start(program: &OsStr, args: Vec<OsString>) -> io::Result<libc::pid_t> {
    let mut tries = 0;
    loop {
        match std::process::Command::new(program).args(&args).spawn() {
            // The child is reaped by `reap`, not through this handle.
            Ok(child) => return Ok(child.id() as libc::pid_t),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Reaps every child that has ended; gives the wait status of `task` if it was one of them.
#[allow(unsafe_code)]
fn reap(task: libc::pid_t) -> Option<libc::c_int> {
    let mut found = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into the integer we own; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return found;
        }
        if pid == task {
            found = Some(status);
        }
    }
}

/// A shell's view of a wait status: the exit code, or 128 + the signal that ended the process.
fn shell_status(status: libc::c_int) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else {
        (128 + libc::WTERMSIG(status)).clamp(0, 255) as u8
    }
}

#[allow(unsafe_code)]
fn parent() -> libc::pid_t {
    // SAFETY: getppid has no preconditions.
    unsafe { libc::getppid() }
}

/// Blocks `signals` in this (single) thread; gives the set for [`wait_signal`].
#[allow(unsafe_code)]
fn block(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use; pthread_sigmask reads the set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Waits until one of the blocked `signals` is pending (and takes it), or `timeout` passes.
#[allow(unsafe_code)]
fn wait_signal(signals: &libc::sigset_t, timeout: Duration) {
    // SAFETY: timespec is plain data; sigtimedwait reads the set and the timeout we own, and a null siginfo
    // pointer is allowed.
    unsafe {
        let mut wait: libc::timespec = std::mem::zeroed();
        wait.tv_sec = timeout.as_secs() as libc::time_t;
        wait.tv_nsec = timeout.subsec_nanos() as libc::c_long;
        libc::sigtimedwait(signals, std::ptr::null_mut(), &wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_as_a_shell_would_say_it() {
        // Wait statuses as the kernel encodes them: the code in the second byte, or the signal in the first.
        assert_eq!(shell_status(0), 0);
        assert_eq!(shell_status(3 << 8), 3);
        assert_eq!(shell_status(libc::SIGKILL), 137);
        assert_eq!(shell_status(libc::SIGTERM), 143);
    }
}

//! dsub's streams: its stdout holds one line, the job id, so that `JOB=$(dsub ...)` works; everything else a
//! command says goes to stderr. The commands `dsub` hands the job to (`push`, `run --local`) print their own
//! lines to stdout, so for their length stdout is stderr (the file descriptor, which their tasks inherit too),
//! and the job id goes to the real stdout at the end.

use anyhow::Context as _;
use std::io::Write as _;

/// stdout turned to stderr until [`JobIdOnStdout::finish`].
pub struct JobIdOnStdout {
    saved: libc::c_int,
}

impl JobIdOnStdout {
    #[allow(unsafe_code)]
    pub fn start() -> anyhow::Result<JobIdOnStdout> {
        let _ = std::io::stdout().flush();
        // SAFETY: dup and dup2 on the process's own standard descriptors; no memory is touched.
        let saved = unsafe { libc::dup(1) };
        if saved < 0 || unsafe { libc::dup2(2, 1) } < 0 {
            return Err(std::io::Error::last_os_error()).context("cannot turn stdout to stderr");
        }
        Ok(JobIdOnStdout { saved })
    }

    /// Gives stdout back and prints `job_id` on it (nothing when the command failed before a job was made).
    #[allow(unsafe_code)]
    pub fn finish(self, job_id: Option<&str>) {
        let _ = std::io::stdout().flush();
        // SAFETY: as above; `saved` is the descriptor `start` duplicated, closed once here.
        unsafe {
            libc::dup2(self.saved, 1);
            libc::close(self.saved);
        }
        if let Some(id) = job_id {
            let _ = writeln!(std::io::stdout(), "{id}");
            let _ = std::io::stdout().flush();
        }
    }
}

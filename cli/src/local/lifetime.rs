//! The lifetime of a local job's processes: nothing a task starts outlives the CLI.
//!
//! Each task runs in its own process group, which is killed when the task's `run.sh` ends (as a container's end
//! kills everything in it on AWS). A process that leaves its group (`setsid`, a shell with job control) is still
//! a descendant: the CLI is the child subreaper of its tasks (`PR_SET_CHILD_SUBREAPER`), so such a process is
//! re-parented to the CLI, not to init, when its parent dies, and is killed with every other descendant when the
//! job ends, whatever it does with its signals.

use std::collections::HashMap;
use std::fs;

/// Makes orphaned descendants of the tasks the CLI's children instead of init's (Linux 3.4+). Without it (another
/// OS, or a kernel that refuses) only the tasks' process groups are killed.
#[allow(unsafe_code)]
pub fn become_subreaper() -> bool {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
}

/// Sends `signal` to the process group `pgid` (a task's); a group that is gone already is fine.
#[allow(unsafe_code)]
pub fn signal_group(pgid: Option<i32>, signal: libc::c_int) {
    if let Some(pgid) = pgid.filter(|&p| p > 1) {
        // SAFETY: killpg has no memory-safety preconditions; a group that is already gone gives ESRCH, ignored.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}

/// Kills every descendant of this process with SIGKILL and reaps the ones that became its children, until none
/// is left (a killed process's own children are re-parented here in turn). Returns how many were killed. Call it
/// when no task is running: a running task's processes are descendants too.
#[allow(unsafe_code)]
pub fn kill_descendants() -> usize {
    let me = std::process::id() as i32;
    let mut killed = 0;
    for _ in 0..100 {
        let family = descendants(me);
        if family.is_empty() {
            break;
        }
        for &pid in &family {
            // SAFETY: kill has no memory-safety preconditions; a process that is gone already gives ESRCH.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        killed += family.len();
        // Reap the ones that are (or were re-parented as) our children, so they do not linger as zombies.
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status into the integer we own; WNOHANG never blocks.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    killed
}

/// The live (not zombie) descendants of `root`, from /proc.
fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let Some(ppid) = fields.next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if state != "Z" && state != "X" {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if let Some(kids) = children.get(&pid) {
            for &kid in kids {
                found.push(kid);
                stack.push(kid);
            }
        }
    }
    found
}

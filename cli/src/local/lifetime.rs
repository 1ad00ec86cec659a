//! The lifetime of a local job's processes, as the CLI sees it: nothing a task starts outlives the job.
//!
//! Each task runs under its own leader ([`super::leader`]): a session of its own, killed with the CLI, and the
//! subreaper of the task's processes, which reaps them as they end and kills what is left when the task's
//! `run.sh` ends. This module is the CLI's side, for what reaches it anyway: the CLI is the child subreaper of
//! its tasks (`PR_SET_CHILD_SUBREAPER`), so the processes of a task whose leader was killed (by the runner at
//! the end of a stop's grace, or by the OOM killer) are re-parented to the CLI, not to init. It reaps those
//! that end while the job runs, and kills every descendant left when the job ends, whatever it does with its
//! signals.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read as _;

/// Makes this process the child subreaper of its descendants (Linux 3.4+): an orphaned descendant becomes its child
/// instead of init's. Without it (a kernel that refuses) an orphan escapes the kills of [`kill_descendants`].
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
/// when no child is waited for elsewhere: in the CLI when no task is running (a running task's processes are
/// descendants too), in a task's leader when its `run.sh` has been reaped.
#[allow(unsafe_code)]
pub fn kill_descendants() -> usize {
    let me = std::process::id() as i32;
    let mut killed = HashSet::new();
    for _ in 0..100 {
        // No child at all (not even a zombie) is no descendant at all: the usual case, with no look at /proc.
        if !reap_all() {
            break;
        }
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
        killed.extend(family);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    reap_all();
    killed.len()
}

/// Reaps every child of this process that has ended, whichever it is. Returns whether children are left.
#[allow(unsafe_code)]
fn reap_all() -> bool {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into the integer we own; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid == 0 {
            return true;
        }
        if pid < 0 {
            return false;
        }
    }
}

/// Reaps the children of this process that have ended, except `leaders` (the tasks' leaders, whose statuses the
/// runner waits for): processes re-parented to the CLI.
#[allow(unsafe_code)]
pub fn reap_orphans(leaders: &HashSet<i32>) {
    for pid in children() {
        if !leaders.contains(&pid) {
            let mut status = 0;
            // SAFETY: waitpid writes the status into the integer we own; WNOHANG never blocks. `pid` is a child
            // that no one else waits for.
            unsafe {
                libc::waitpid(pid, &mut status, libc::WNOHANG);
            }
        }
    }
}

/// The children of this process, zombies included: from `/proc/self/task/*/children` (any thread may be a
/// re-parented process's parent), or, where the kernel has no such file, from every process's parent in /proc.
fn children() -> Vec<i32> {
    let mut found = Vec::new();
    let mut listed = false;
    for thread in fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let mut text = String::new();
        // At most a megabyte: about 140 000 children, more than the machine's processes by default.
        if fs::File::open(thread.path().join("children"))
            .and_then(|f| f.take(1 << 20).read_to_string(&mut text))
            .is_ok()
        {
            listed = true;
            found.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    if !listed {
        let me = std::process::id() as i32;
        found = processes()
            .into_iter()
            .filter(|p| p.ppid == me)
            .map(|p| p.pid)
            .collect();
    }
    found
}

/// A process as /proc/PID/stat shows it.
struct Proc {
    pid: i32,
    ppid: i32,
    zombie: bool,
}

/// Every process in /proc.
fn processes() -> Vec<Proc> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let mut stat = String::new();
        // The kernel's line is short; a kilobyte holds its first fields whatever the command's name.
        if fs::File::open(entry.path().join("stat"))
            .and_then(|f| f.take(1024).read_to_string(&mut stat))
            .is_err()
        {
            continue;
        }
        // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let Some(ppid) = fields.next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        found.push(Proc {
            pid,
            ppid,
            zombie: state == "Z" || state == "X",
        });
    }
    found
}

/// The live (not zombie) descendants of `root`, from /proc.
fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in processes() {
        if !p.zombie {
            children.entry(p.ppid).or_default().push(p.pid);
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

//! No process of a local job outlives it, and a signal mid-run loses nothing (local review 2026-11, findings 2,
//! 5 and 17): tasks that fork background children, leave their process group, ignore SIGTERM and write large
//! outputs are stopped by SIGINT, SIGTERM and SIGHUP in turn; afterwards no process of the job exists, every
//! output is whole (its old bytes or its new ones), and the table and `report.json` are there.
//!
//! Probe 2026-12, findings 1, 5, 6, 17 and 18: a task has no controlling terminal and its own session; orphans
//! are reaped as they appear and each task's processes end with it (and with a CLI killed by SIGKILL); the
//! scratch clean-up never crosses a mount point.

#![allow(clippy::unwrap_used)]

mod common;
use common::LocalJob;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The processes whose environment names this S3 root, as (pid, command line): every process a task of the job
/// started (they inherit `ECSUB_LOCAL_S3_ROOT`), wherever it went (another group, another session).
fn job_processes(s3_root: &Path) -> Vec<(i32, String)> {
    let marker = format!("ECSUB_LOCAL_S3_ROOT={}", s3_root.display());
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie
            && environ
                .split(|&b| b == 0)
                .any(|var| var == marker.as_bytes())
        {
            let cmd = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    found
}

/// The same, as `pid: command line` for messages.
fn processes_of(s3_root: &Path) -> Vec<String> {
    job_processes(s3_root)
        .into_iter()
        .map(|(pid, cmd)| format!("{pid}: {cmd}"))
        .collect()
}

#[allow(unsafe_code)]
fn kill(pid: i32, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Kills, when dropped (a test that failed included), the CLI and every process of the job still alive: a test
/// that found a leak or a hang does not leave it running on the machine.
struct Cleanup {
    s3_root: PathBuf,
    cli: Option<Child>,
}

impl Cleanup {
    /// Starts the CLI as `cmd` says (its stdio set by the caller), to be killed with its job's processes at the end.
    fn spawn(s3_root: PathBuf, cmd: &mut Command) -> Cleanup {
        Cleanup {
            s3_root,
            cli: Some(cmd.spawn().unwrap()),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(cli) = &mut self.cli {
            kill(cli.id() as i32, libc::SIGKILL);
            let _ = cli.wait();
        }
        for (pid, _) in job_processes(&self.s3_root) {
            kill(pid, libc::SIGKILL);
        }
    }
}

/// The children of `parent` that are zombies (ended, not reaped).
fn zombie_children(parent: u32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if state == "Z" && ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// Everything `reader` gives, collected by a thread as it comes (a pipe the CLI writes must not fill).
fn collect(mut reader: impl std::io::Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

const OLD: &[u8] = b"the old, good output\n";
const BIG: usize = 200_000_000;

fn stop_mid_run(signal: libc::c_int, expected_exit: i32) {
    // Task 0 writes a large output and exits 0, so its upload is under way; task 1 ignores SIGTERM, has a
    // background child (which inherits that) and a child in its own session; task 2 waits for a slot.
    let job = LocalJob::new(
        "--env KIND\t--output OUT\nbig\ts3://bkt/out/big.bin\nstubborn\ts3://bkt/out/stubborn.txt\n\
         queued\ts3://bkt/out/queued.txt\n",
        "mkdir -p \"${OUT%/*}\"\n\
         if [ \"$KIND\" = big ]; then head -c 200000000 /dev/zero | tr '\\0' n > \"$OUT\"; exit 0; fi\n\
         trap '' TERM\n\
         sleep 3791 &\n\
         setsid sleep 3792 &\n\
         echo started > \"$OUT\"\n\
         sleep 3793\n",
    );
    job.put("bkt/out/big.bin", OLD);
    let s3_root = fs::canonicalize(job.path("s3")).unwrap();
    let mut cmd = job.command(&["--processes", "2"]);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = job.path("work");
    let log_says = |index: &str, text: &str| {
        fs::read_dir(&logs).ok().is_some_and(|jobs| {
            jobs.flatten().any(|j| {
                fs::read_to_string(j.path().join(format!("logs/{index}.log")))
                    .is_ok_and(|log| log.contains(text))
            })
        })
    };
    wait_for("task 1's script", Duration::from_secs(30), || {
        log_says("001", "running the script") && processes_of(&s3_root).len() >= 4
    });
    wait_for("task 0's upload", Duration::from_secs(60), || {
        log_says("000", "uploading outputs")
    });
    // SAFETY: kill has no memory-safety preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(expected_exit), "{stdout}\n{stderr}");

    let left = processes_of(&s3_root);
    assert!(
        left.is_empty(),
        "processes of the job survived it: {left:?}"
    );

    let table: Vec<&str> = stdout.lines().collect();
    assert_eq!(table.len(), 4, "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&fs::read(job.job_dir().join("report.json")).unwrap()).unwrap();
    assert_eq!(report.as_array().unwrap().len(), 3);

    let big = fs::read(job.path("s3/bkt/out/big.bin")).unwrap();
    assert!(
        big == OLD || (big.len() == BIG && big.iter().all(|&b| b == b'n')),
        "big.bin is neither its old bytes nor its new ones: {} bytes",
        big.len()
    );
}

#[test]
fn sigint_mid_run_leaves_no_process_and_whole_outputs() {
    stop_mid_run(libc::SIGINT, 130);
}

#[test]
fn sigterm_mid_run_leaves_no_process_and_whole_outputs() {
    stop_mid_run(libc::SIGTERM, 143);
}

#[test]
fn sighup_mid_run_leaves_no_process_and_whole_outputs() {
    stop_mid_run(libc::SIGHUP, 129);
}

#[test]
fn background_children_and_escaped_sessions_end_with_the_job() {
    let job = LocalJob::new(
        "--env N\n1\n",
        "sleep 3771 &\nsetsid sleep 3772 &\nnohup sleep 3773 >/dev/null 2>&1 &\nexit 0\n",
    );
    let s3_root = fs::canonicalize(job.path("s3")).unwrap();
    let out = job.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let left = processes_of(&s3_root);
    assert!(
        left.is_empty(),
        "processes of the job survived it: {left:?}"
    );
}

/// Local review finding 3: two runs writing one output key at the same moment leave one whole version of it,
/// never a mix of both (each copy lands by rename).
#[test]
fn two_runs_writing_one_key_at_once_leave_one_whole_version() {
    let job = LocalJob::new("--env CH\t--env N\t--output OUT\n", "true\n");
    let start_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let script = format!(
        "head -c \"$N\" /dev/zero | tr '\\0' \"$CH\" > big.part\n\
         while [ \"$(date +%s)\" -lt {start_at} ]; do sleep 0.01; done\n\
         mkdir -p \"${{OUT%/*}}\" && mv big.part \"$OUT\"\n"
    );
    fs::write(job.path("script.sh"), script).unwrap();
    let sizes = [("a", 120_000_000usize), ("b", 60_000_000)];
    let children: Vec<_> = sizes
        .iter()
        .map(|(ch, n)| {
            let file = format!("{ch}.tsv");
            fs::write(
                job.path(&file),
                format!("--env CH\t--env N\t--output OUT\n{ch}\t{n}\ts3://bkt/conc/out.bin\n"),
            )
            .unwrap();
            common::cli()
                .current_dir(job.dir.path())
                .args(["run", "--local", "--tasks", &file, "--script", "script.sh"])
                .args(["--s3-root", "s3", "--wdir", "work"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let bytes = fs::read(job.path("s3/bkt/conc/out.bin")).unwrap();
    let whole = sizes
        .iter()
        .any(|(ch, n)| bytes.len() == *n && bytes.iter().all(|&b| b == ch.as_bytes()[0]));
    assert!(whole, "a torn output: {} bytes", bytes.len());
}

/// A pseudo-terminal: the master side (what a terminal emulator reads) and the path of its slave side.
struct Pty {
    master: fs::File,
    slave: PathBuf,
}

#[allow(unsafe_code)]
fn open_pty() -> Pty {
    use std::os::fd::FromRawFd as _;
    // SAFETY: posix_openpt returns a new descriptor we own (checked); grantpt, unlockpt and ptsname_r take it and
    // a buffer we own of the length passed.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = fs::File::from_raw_fd(fd);
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let slave = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_str()
            .unwrap()
            .into();
        Pty { master, slave }
    }
}

/// Probe 2026-12, finding 1: a CLI started from a terminal (here a pseudo-terminal that is its controlling
/// terminal, the CLI in the foreground) runs a task that reads `/dev/tty`. The task has no controlling terminal:
/// the open fails and so does the task, where it used to be stopped by SIGTTIN and the run hung for ever.
#[test]
#[allow(unsafe_code)]
fn a_task_reading_the_terminal_fails_instead_of_hanging_the_run() {
    use std::os::unix::process::CommandExt as _;
    let job = LocalJob::new(
        "--env A\nx\n",
        "set -e\nread answer < /dev/tty\necho \"answered: $answer\"\n",
    );
    let s3_root = fs::canonicalize(job.path("s3")).unwrap();
    let pty = open_pty();
    let slave = || {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&pty.slave)
            .unwrap()
    };
    let mut cmd = job.command(&[]);
    cmd.stdin(slave()).stdout(Stdio::piped()).stderr(slave());
    // SAFETY: setsid and ioctl are async-signal-safe and touch no memory of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut cleanup = Cleanup::spawn(s3_root, &mut cmd);
    let terminal = collect(pty.master.try_clone().unwrap());
    let stdout = collect(cleanup.cli.as_mut().unwrap().stdout.take().unwrap());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = cleanup.cli.as_mut().unwrap().try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the run hung (the task was stopped by the terminal?): {:?}\n{}",
            processes_of(&cleanup.s3_root),
            terminal.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    cleanup.cli = None;
    let terminal = terminal.lock().unwrap().clone();
    assert_eq!(
        status.code(),
        Some(1),
        "{}\n{terminal}",
        stdout.lock().unwrap()
    );
    let log = fs::read_to_string(job.job_dir().join("logs/000.log")).unwrap();
    assert!(log.contains("/dev/tty: No such device or address"), "{log}");
    assert!(!log.contains("answered:"), "{log}");
}

/// Probe 2026-12, findings 5 and 18: each of twelve tasks leaves a background child and a daemon in a session of
/// its own (as `ssh-agent` does). While a later task still runs, none of them is left, and the CLI has no zombie
/// child: what a task leaves ends with it, and its end is reaped at once, not when the job ends.
#[test]
fn each_task_s_processes_end_with_it_and_leave_no_zombie() {
    let job = LocalJob::new("--env N\n", "");
    let flag = job.path("go-on");
    let rows: String = (0..12).map(|i| format!("{i}\n")).collect();
    fs::write(job.path("tasks.tsv"), format!("--env N\n{rows}last\n")).unwrap();
    fs::write(
        job.path("script.sh"),
        format!(
            "if [ \"$N\" = last ]; then\n\
             \x20 i=0; while [ ! -e '{}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done\n\
             \x20 exit 0\n\
             fi\n\
             sleep 3761 &\n\
             setsid sleep 3762 &\n\
             exit 0\n",
            flag.display()
        ),
    )
    .unwrap();
    let s3_root = fs::canonicalize(job.path("s3")).unwrap();
    let mut cmd = job.command(&["--processes", "4"]);
    let mut cleanup = Cleanup::spawn(s3_root, cmd.stdout(Stdio::null()).stderr(Stdio::piped()));
    let cli = cleanup.cli.as_mut().unwrap();
    let cli_pid = cli.id();
    let stderr = collect(cli.stderr.take().unwrap());
    wait_for(
        "the first twelve tasks to end",
        Duration::from_secs(60),
        || stderr.lock().unwrap().matches(" exited ").count() >= 12,
    );
    // Each task's processes are ended and reaped by the time its end is reported; a second is the slack for the
    // CLI's own reaping of what reached it.
    let start = Instant::now();
    let left = loop {
        let sleeps: Vec<String> = processes_of(&cleanup.s3_root)
            .into_iter()
            .filter(|p| p.contains("sleep 376"))
            .collect();
        let zombies = zombie_children(cli_pid);
        if sleeps.is_empty() && zombies.is_empty() {
            break None;
        }
        if start.elapsed() > Duration::from_secs(3) {
            break Some((sleeps, zombies));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let cli = cleanup.cli.as_mut().unwrap();
    assert!(
        cli.try_wait().unwrap().is_none(),
        "the last task should still run: {}",
        stderr.lock().unwrap()
    );
    assert_eq!(
        left, None,
        "(processes the ended tasks left, zombie children of the CLI) while a later task runs"
    );
    fs::write(&flag, "").unwrap();
    let status = cli.wait().unwrap();
    cleanup.cli = None;
    assert_eq!(status.code(), Some(0), "{}", stderr.lock().unwrap());
}

/// Probe 2026-12, finding 17: the CLI is killed with SIGKILL while two tasks run. Everything they started ends
/// with it (their run.sh, their scripts, a daemon in its own session), and no output is uploaded after it.
#[test]
fn a_cli_killed_by_sigkill_takes_its_running_tasks_with_it() {
    let job = LocalJob::new(
        "--env N\t--output OUT\n1\ts3://bkt/out/1.txt\n2\ts3://bkt/out/2.txt\n",
        "setsid sleep 3785 &\nsleep 3786 &\necho started\nsleep 3\nmkdir -p \"${OUT%/*}\"\necho \"$N\" > \"$OUT\"\n",
    );
    let s3_root = fs::canonicalize(job.path("s3")).unwrap();
    let mut cmd = job.command(&["--processes", "2"]);
    let mut cleanup = Cleanup::spawn(s3_root, cmd.stdout(Stdio::null()).stderr(Stdio::null()));
    let logs = job.path("work");
    wait_for("both tasks' scripts", Duration::from_secs(30), || {
        ["000", "001"].iter().all(|index| {
            fs::read_dir(&logs).ok().is_some_and(|jobs| {
                jobs.flatten().any(|j| {
                    fs::read_to_string(j.path().join(format!("logs/{index}.log")))
                        .is_ok_and(|log| log.contains("started"))
                })
            })
        })
    });
    let mut cli = cleanup.cli.take().unwrap();
    kill(cli.id() as i32, libc::SIGKILL);
    cli.wait().unwrap();
    let start = Instant::now();
    while !processes_of(&cleanup.s3_root).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "processes of the job outlived the killed CLI: {:?}",
            processes_of(&cleanup.s3_root)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for key in ["bkt/out/1.txt", "bkt/out/2.txt"] {
        assert!(
            !job.path(&format!("s3/{key}")).exists(),
            "{key} was uploaded after the CLI was killed"
        );
    }
}

/// Can this process make mount namespaces (root, and util-linux `unshare`)?
fn can_unshare_mounts() -> bool {
    std::process::Command::new("unshare")
        .args(["-m", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Probe 2026-12, finding 6: a task bind-mounts a folder of the user's into its scratch folder and succeeds. The
/// clean-up of the scratch does not follow the mount: the folder's data is kept, and so is the scratch, with a
/// warning that names the mount. The CLI runs in a mount namespace of its own, so nothing stays mounted after.
#[test]
fn a_mount_left_in_the_scratch_folder_keeps_its_data() {
    if !can_unshare_mounts() {
        eprintln!(
            "skipped: bind-mounting needs root and util-linux `unshare -m` (not available here)"
        );
        return;
    }
    let job = LocalJob::new("--env A\nx\n", "");
    let precious = job.path("precious");
    fs::create_dir(&precious).unwrap();
    fs::write(precious.join("reference.fa"), "KEEP\n").unwrap();
    fs::write(
        job.path("script.sh"),
        format!(
            "mkdir -p ref other && mount --bind '{}' ref && mount -t tmpfs none other && cat ref/reference.fa\n",
            precious.display()
        ),
    )
    .unwrap();
    let out = common::run(
        std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "--"])
            .arg(env!("CARGO_BIN_EXE_ecsub-cli"))
            .current_dir(job.dir.path())
            .args([
                "run",
                "--local",
                "--tasks",
                "tasks.tsv",
                "--script",
                "script.sh",
            ])
            .args(["--s3-root", "s3", "--wdir", "work"])
            .env_remove("ECSUB_BUCKET"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        fs::read_to_string(precious.join("reference.fa"))
            .ok()
            .as_deref(),
        Some("KEEP\n"),
        "the bind-mounted folder was emptied: {}",
        out.stderr
    );
    let scratch = fs::canonicalize(job.job_dir().join("tasks/000")).unwrap();
    assert!(
        out.stderr.contains(&format!(
            "ecsub-cli: task 000: kept its scratch folder {}: a mount is inside it ({}/other, {}/ref)",
            scratch.display(),
            scratch.display(),
            scratch.display()
        )),
        "{}",
        out.stderr
    );
}

//! The stager against the AWS CLI on the same transfers through the emulated S3: a 200 MiB file up and down, each
//! tool in turn, best of three, the bytes checked after every download. Prints the wall times and the stager's
//! ratio to the CLI (below 1: the stager is faster).
//!
//! Run with `cargo run -p ecsub-e2e --bin stage-bench [-- --stager PATH] [--mib N]` after `tests/run.sh` (it needs
//! the venv and the binaries). The default stager is the workspace's debug build; name a release build
//! (`cargo build --release -p ecsub-stage`) to measure what the stack ships. Both tools sign as the same
//! administrator and reach the emulator through the same gateway.

use ecsub_e2e::{bin_dir, pattern, repo, Sandbox};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;

/// Runs one transfer; its wall time, or why it failed.
fn timed(mut cmd: Command) -> Result<Duration, String> {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(took)
}

/// Makes the command that copies SRC to DST.
type CopyCommand<'a> = Box<dyn Fn(&str, &str) -> Command + 'a>;

struct Tool<'a> {
    name: &'static str,
    copy: CopyCommand<'a>,
}

fn main() {
    let mut stager = bin_dir().join("ecsub-stage");
    let mut mib = 200usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--stager", Some(path)) => stager = PathBuf::from(path),
            ("--mib", Some(n)) => {
                mib = n.parse().unwrap_or_else(|_| {
                    eprintln!("stage-bench: --mib takes a whole number, not `{n}`");
                    std::process::exit(2)
                })
            }
            _ => {
                eprintln!("usage: stage-bench [--stager PATH] [--mib N]");
                std::process::exit(2)
            }
        }
    }
    if !stager.is_file() {
        eprintln!(
            "stage-bench: {} is missing: build it (`cargo build -p ecsub-stage`) or name one with --stager",
            stager.display()
        );
        std::process::exit(1);
    }

    let sandbox = Sandbox::start();
    sandbox.deliver_exactly_once();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = pattern(mib << 20);
    let local = dir.path().join("up.bin");
    std::fs::write(&local, &data).expect("the test file is written");
    let aws = repo().join(".venv/bin/aws");

    let sb = &sandbox;
    let stager_path = stager.clone();
    let tools = [
        Tool {
            name: "ecsub-stage",
            copy: Box::new(move |src, dst| {
                let mut cmd = Command::new(&stager_path);
                sb.env(&mut cmd, "harness");
                cmd.env("ECSUB_TRANSPORT", "s3")
                    .args(["copy", "file", src, dst]);
                cmd
            }),
        },
        Tool {
            name: "aws s3 cp",
            copy: Box::new(move |src, dst| {
                let mut cmd = Command::new(&aws);
                sb.env(&mut cmd, "harness");
                cmd.args(["s3", "cp", "--no-progress", "--only-show-errors", src, dst]);
                cmd
            }),
        },
    ];

    let mut best = [[Duration::MAX; 2]; 2];
    let mut failed = Vec::new();
    for round in 0..ROUNDS {
        for (t, tool) in tools.iter().enumerate() {
            let url = format!("s3://{}/bench/{round}/{t}.bin", sandbox.bucket());
            let down = dir.path().join(format!("down-{t}.bin"));
            let _ = std::fs::remove_file(&down);
            let measured =
                timed((tool.copy)(local.to_str().expect("UTF-8"), &url)).and_then(|up| {
                    timed((tool.copy)(&url, down.to_str().expect("UTF-8"))).map(|d| (up, d))
                });
            match measured {
                Ok((up, d)) => {
                    if !same_bytes(&down, &data) {
                        failed.push(format!(
                            "{}: round {round}: the downloaded bytes differ",
                            tool.name
                        ));
                    }
                    println!(
                        "round {round}: {:<12} up {:>6.2} s  down {:>6.2} s",
                        tool.name,
                        up.as_secs_f64(),
                        d.as_secs_f64()
                    );
                    best[t][0] = best[t][0].min(up);
                    best[t][1] = best[t][1].min(d);
                }
                Err(e) => failed.push(format!("{}: round {round}: {e}", tool.name)),
            }
        }
    }
    if !failed.is_empty() {
        for line in &failed {
            eprintln!("stage-bench: {line}");
        }
        std::process::exit(1);
    }
    let mbps = |d: Duration| mib as f64 / d.as_secs_f64();
    println!(
        "{mib} MiB through the emulated S3, best of {ROUNDS} (stager: {}):",
        stager.display()
    );
    for (t, tool) in tools.iter().enumerate() {
        println!(
            "  {:<12} up {:>6.2} s ({:>5.1} MiB/s)  down {:>6.2} s ({:>5.1} MiB/s)",
            tool.name,
            best[t][0].as_secs_f64(),
            mbps(best[t][0]),
            best[t][1].as_secs_f64(),
            mbps(best[t][1])
        );
    }
    println!(
        "  stager / CLI wall time: up {:.2}x, down {:.2}x",
        best[0][0].as_secs_f64() / best[1][0].as_secs_f64(),
        best[0][1].as_secs_f64() / best[1][1].as_secs_f64()
    );
}

fn same_bytes(path: &Path, expected: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes == expected)
}

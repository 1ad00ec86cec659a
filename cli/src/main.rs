//! ecsub-cli: the edge that turns flags and files into a validated plan (ecsub-core), then acts on it. This file
//! is the entry point only: it parses the command line, runs the command, and maps its outcome to an exit code
//! (the codes are in [`error`]). Under `--output json`, input errors are a JSON document on stdout: each finding's
//! own fields (file, line, column where it has them), never read back from its text.
//!
//! - [`validate`], [`local`] (`run --local`), [`push`], [`publish`] (`publish-stager`): the commands that start
//!   from files;
//! - [`aws`]: everything done with AWS (status, watch, ls, report, logs, cancel, and the uploads), behind the one
//!   gate of the `aws` feature;
//! - [`plan`]: flags and files into a plan; [`args`]: the command line; [`table`]: tables and times.

/// `println!`, `print!`, `eprintln!` and `eprint!` that a closed or broken stdout or stderr (`>&-`, `2>&-`, a
/// pager that quit) cannot turn into a panic halfway through a command, between a push's uploads or a run's
/// tasks: the text is lost, the work and the exit code are not.
macro_rules! show {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
#[allow(unused_macros)] // used by the AWS commands' tables only, which a build without AWS leaves out
macro_rules! show_inline {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
macro_rules! say_inline {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod aws;
mod dsub;
mod error;
mod local;
mod plan;
mod publish;
mod push;
mod table;
mod validate;

use args::{Cli, Command};
use clap::Parser;
use ecsub_core::Finding;
use error::{InputError, EXIT_INPUT, EXIT_RUNTIME};
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The hidden commands of `run --local`'s tasks, before the command line's parser: `stage` for their copies,
    // `lead-task` for the process each task runs under.
    match std::env::args_os().nth(1) {
        Some(a) if a == local::STAGE => return ecsub_stage::main_with(std::env::args_os().skip(1)),
        Some(a) if a == local::LEAD => return local::lead_task(std::env::args_os().skip(2)),
        _ => {}
    }
    let cli = Cli::parse_from(with_entry_point(std::env::args_os()));
    let json = match &cli.command {
        Command::Validate(a) => a.output == args::Output::Json,
        Command::Run(a) => a.output == args::Output::Json,
        Command::Status(a) => a.output == args::Output::Json,
        Command::Ls(a) => a.output == args::Output::Json,
        Command::Report(a) => a.output == args::ReportOutput::Json,
        Command::Push(_)
        | Command::Watch(_)
        | Command::Logs(_)
        | Command::Cancel(_)
        | Command::Release(_)
        | Command::Dsub(_)
        | Command::Dstat(_)
        | Command::Ddel(_)
        | Command::PublishStager(_) => false,
    };
    let outcome = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Run(args) => local::run(args),
        Command::Push(args) => push::run(&args),
        Command::PublishStager(args) => publish::run(&args),
        Command::Status(args) => aws::status(&args),
        Command::Ls(args) => aws::ls(&args),
        Command::Watch(args) => aws::watch(&args),
        Command::Report(args) => aws::report(&args),
        Command::Logs(args) => aws::logs(&args),
        Command::Cancel(args) => aws::cancel(&args),
        Command::Release(args) => aws::release(&args),
        Command::Dsub(args) => dsub::dsub(&args),
        Command::Dstat(args) => aws::dstat(&args),
        Command::Ddel(args) => aws::ddel(&args),
    };
    // Written, not printed: a closed stdout or stderr (a pager that quit) costs the message, never a panic.
    match outcome {
        Ok(code) => code,
        Err(error) => match error.downcast_ref::<InputError>() {
            Some(InputError(findings)) if json => {
                let _ = writeln!(std::io::stdout(), "{}", errors_as_json(findings));
                ExitCode::from(EXIT_INPUT)
            }
            Some(InputError(findings)) => {
                let mut err = std::io::stderr().lock();
                for finding in findings {
                    let _ = writeln!(err, "{finding}");
                }
                ExitCode::from(EXIT_INPUT)
            }
            None => {
                let _ = writeln!(std::io::stderr(), "ecsub-cli: error: {error:#}");
                ExitCode::from(EXIT_RUNTIME)
            }
        },
    }
}

/// The command line as the parser reads it: this binary run by the name of one of dsub's commands (a link
/// `dsub` → `ecsub-cli` on PATH) is that command.
fn with_entry_point(args: std::env::ArgsOs) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = args.collect();
    let name = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .map(str::to_owned);
    if let Some(name) = name.filter(|n| dsub::ENTRY_POINTS.contains(&n.as_str())) {
        args[0] = "ecsub-cli".into();
        args.insert(1, name.into());
    }
    args
}

/// Input errors under `--output json`: `{"errors": [...]}`, each finding with the fields it has (`file`, `line`,
/// `column`, `severity`, `message`).
fn errors_as_json(findings: &[Finding]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "errors": findings })).unwrap_or_default()
}

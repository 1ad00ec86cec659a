//! ecsub-cli: the edge that turns flags and files into a validated plan (ecsub-core), then acts on it.
//!
//! Exit codes: 0 every task succeeded (or the command did what it was asked), 1 some task failed, 2 usage or
//! input error (nothing was run or written), 3 runtime error; `run --local` stopped by a signal: 130 (Ctrl-C),
//! 143 (SIGTERM), 129 (SIGHUP). Under `--output json`, input errors are a JSON document on stdout.

mod args;
#[cfg(feature = "aws")]
mod job_report;
mod local;
mod plan;
mod publish;
mod push;
#[cfg(feature = "aws")]
mod remote;
mod report;
#[cfg(feature = "aws")]
mod rerun;
#[cfg(feature = "aws")]
mod skip;
#[cfg(feature = "aws")]
mod subset;
mod validate;

use args::{Cli, Command};
use clap::Parser;
use ecsub_core::diag::{cut, printable};
use ecsub_core::Diagnostic;
use std::process::ExitCode;

/// Bad input: every line is shown, nothing was run or written, the exit code is 2.
#[derive(Debug)]
pub struct InputError(pub Vec<String>);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for InputError {}

/// The error of a command that needs the AWS SDK in a CLI built without it.
#[cfg(not(feature = "aws"))]
pub fn without_aws(what: &str) -> anyhow::Error {
    InputError(vec![format!(
        "ecsub-cli: this build has no AWS support (built with --no-default-features), which {what} requires; \
         build with the default features (cargo build -p ecsub-cli)"
    )])
    .into()
}

pub const EXIT_TASK_FAILED: u8 = 1;
pub const EXIT_INPUT: u8 = 2;
pub const EXIT_RUNTIME: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;

/// `ecsub-cli stage ARGS` is `ecsub-stage ARGS` with the local transport only: what `run --local`'s tasks call
/// for their copies (hidden from the help: run.sh's, not a user's).
pub const STAGE: &str = "stage";

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == STAGE) {
        return ecsub_stage::main_with(std::env::args_os().skip(1));
    }
    let cli = Cli::parse();
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
        | Command::PublishStager(_) => false,
    };
    let outcome = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Run(args) => local::run(args),
        Command::Push(args) => push::run(&args),
        Command::PublishStager(args) => publish::run(&args),
        #[cfg(feature = "aws")]
        Command::Status(args) => remote::status(&args),
        #[cfg(feature = "aws")]
        Command::Ls(args) => remote::ls(&args),
        #[cfg(feature = "aws")]
        Command::Watch(args) => remote::watch(&args),
        #[cfg(feature = "aws")]
        Command::Report(args) => remote::report(&args),
        #[cfg(feature = "aws")]
        Command::Logs(args) => remote::logs(&args),
        #[cfg(feature = "aws")]
        Command::Cancel(args) => remote::cancel(&args),
        #[cfg(not(feature = "aws"))]
        Command::Status(_)
        | Command::Ls(_)
        | Command::Watch(_)
        | Command::Report(_)
        | Command::Logs(_)
        | Command::Cancel(_) => Err(without_aws("status, ls, watch, report, logs and cancel")),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => match error.downcast_ref::<InputError>() {
            Some(InputError(lines)) if json => {
                println!("{}", errors_as_json(lines));
                ExitCode::from(EXIT_INPUT)
            }
            Some(InputError(lines)) => {
                for line in lines {
                    eprintln!("{}", printable(&cut(line)));
                }
                ExitCode::from(EXIT_INPUT)
            }
            None => {
                eprintln!("ecsub-cli: error: {error:#}");
                ExitCode::from(EXIT_RUNTIME)
            }
        },
    }
}

/// Input errors under `--output json`: `{"errors": [...]}` on stdout, each with its file, line and column where
/// the message has them (`FILE:LINE:COL: message`), else the message alone.
fn errors_as_json(lines: &[String]) -> String {
    let errors: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| match Diagnostic::parse_line(line) {
            Some(d) => serde_json::to_value(d).unwrap_or_default(),
            None => serde_json::json!({ "severity": "error", "message": cut(line) }),
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "errors": errors })).unwrap_or_default()
}

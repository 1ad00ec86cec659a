//! ecsub-stage: every copy a task's `run.sh` makes between S3 and its container — one file, a folder (recursive),
//! the files of a folder whose names match a `*` pattern, in either direction — and the byte ranges a task reads
//! of its job's `setenv.sh`. Two transports with the same rules: S3 (the SDK's default credential chain: on ECS the
//! task role) and local (`s3://B/K` is the file `ROOT/B/K`, for `ecsub-cli run --local`).
//!
//! The rules both keep, those `run.sh` has always promised:
//! - a file lands whole: it is written under a part name in its folder, then renamed; a copy stopped by a
//!   signal or an error leaves the old bytes or none, never a part;
//! - a part file (`.ecsub-part.<pid>.<n>`, see [`ecsub_core::staging`]) is never an object: no folder copy or
//!   wildcard takes one, a copy of one by name is refused, and a stale one (its writer killed) is removed when a
//!   copy meets it;
//! - a folder copy takes every file at any depth (dotfiles too) and nothing outside the folder (`s3://b/data` is
//!   `data/`, never `data2/`); a key that would land outside the destination is refused;
//! - a wildcard matches the files directly in the folder, `*` matching any run of characters (a leading dot too,
//!   as S3 names have no hidden files);
//! - into the task, a symbolic link is never followed or copied; out of it, a link to a file goes up as the file's
//!   bytes, a link to a folder is refused (it could lead anywhere, or loop); the local root holds only files and
//!   folders: a path in it through a link is refused.
//!
//! Exit status: 0 done; 1 the copy failed (why, on standard error, as `ecsub: …` lines like `run.sh`'s own); 2 the
//! command line is wrong; 129, 130, 143 stopped by SIGHUP, SIGINT, SIGTERM (nothing partly written is left).

pub mod local;
mod part;
pub use part::meet_part;
// The SDK's configuration, shared by the S3 transport and the secrets.
#[cfg(any(feature = "s3", feature = "secrets"))]
mod sdk;
mod secrets;
mod transport;

use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::process::ExitCode;

/// Why a copy failed: what `run.sh` logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageError(pub String);

impl std::fmt::Display for StageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StageError {}

/// The stager's exit status when a copy failed because its destination's filesystem is full: `run.sh` names such
/// a download's failure "out of disk" (exit 123) rather than a failed input (120).
pub const EXIT_NO_SPACE: u8 = 3;

impl StageError {
    /// Did the copy fail for want of space (ENOSPC, 28 on Linux)? Every failed write's message carries the
    /// `std::io::Error` it got, whose text for an OS error ends in `(os error N)`.
    pub fn out_of_space(&self) -> bool {
        self.0.contains("(os error 28)")
    }
}

pub type Result<T> = std::result::Result<T, StageError>;

pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(StageError(message.into()))
}

/// What a copy takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// One file to one file.
    File,
    /// A folder, recursively, into a folder.
    Dir,
    /// The files directly in a folder whose names match the pattern, into a folder.
    Glob(String),
}

/// Which way a copy goes: into the task (from `s3://`) or out of it (to `s3://`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    Get,
    Put,
}

/// One copy, checked: exactly one side is an `s3://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    pub mode: Mode,
    pub src: String,
    pub dst: String,
}

impl Copy {
    pub fn new(mode: Mode, src: &str, dst: &str) -> Result<Copy> {
        match (is_url(src), is_url(dst)) {
            (true, false) | (false, true) => {}
            _ => {
                return fail(format!(
                "copy {src} {dst}: exactly one side must be an s3:// URL, the other a local path"
            ))
            }
        }
        let url = if is_url(src) { src } else { dst };
        if mode == Mode::File && ecsub_core::staging::is_part_key(url) {
            return fail(format!(
                "refused: `{url}` is named as a part file (`{}<pid>.…`): such names are the stager's, never objects",
                ecsub_core::staging::PART_PREFIX
            ));
        }
        if let Mode::Glob(pattern) = &mode {
            if pattern.is_empty() || pattern.contains('/') {
                return fail(format!(
                    "`{pattern}`: a pattern is one file name, with `*` for any characters"
                ));
            }
        }
        Ok(Copy {
            mode,
            src: src.to_owned(),
            dst: dst.to_owned(),
        })
    }

    pub fn way(&self) -> Way {
        if is_url(&self.src) {
            Way::Get
        } else {
            Way::Put
        }
    }

    /// The `s3://` side.
    pub fn url(&self) -> &str {
        match self.way() {
            Way::Get => &self.src,
            Way::Put => &self.dst,
        }
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("s3://")
}

/// `s3://bucket/key` split; the key may be empty (a bucket's root).
pub fn split_url(url: &str) -> Result<(&str, &str)> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| StageError(format!("`{url}` is not an s3:// URL")))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    ecsub_core::s3path::check_bucket(bucket)
        .map_err(|why| StageError(format!("`{url}`: {why}")))?;
    Ok((bucket, key))
}

/// A relative path (of a key under a folder's prefix, or of a file under a local folder) that stays inside its
/// folder: no empty, `.` or `..` segment, not absolute.
pub fn inside(relative: &str) -> bool {
    !relative.is_empty()
        && relative
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

#[derive(Debug, Parser)]
#[command(
    name = "ecsub-stage",
    version,
    about = "Copies a task's inputs and outputs between S3 and its container, reads byte ranges of objects, and \
reads the task's secrets.",
    long_about = "Copies a task's inputs and outputs between S3 and its container, reads byte ranges of \
objects, and reads the task's secrets (KMS, SSM, Secrets Manager). run.sh calls it for every copy; it needs \
nothing from the image but a place to run.\n\n\
Over S3 it uses the AWS SDK's default credential chain (on ECS: the task role), AWS_REGION, and \
AWS_ENDPOINT_URL when set. With --transport local, s3://BUCKET/KEY is the file ROOT/BUCKET/KEY.\n\n\
Exit status: 0 done; 1 the copy or read failed (why, on standard error); 2 usage; 129, 130, 143 stopped by a signal \
(no partly written file is left)."
)]
pub struct Args {
    /// s3, or local (s3://B/K is the file $ECSUB_LOCAL_S3_ROOT/B/K).
    #[arg(long, env = "ECSUB_TRANSPORT", default_value = "s3", global = true)]
    pub transport: Transport,
    /// The local transport's root folder.
    #[arg(long, env = "ECSUB_LOCAL_S3_ROOT", global = true)]
    pub local_root: Option<std::path::PathBuf>,
    /// Buckets whose requests are made with the requester paying (space-separated).
    #[arg(
        long,
        env = "ECSUB_REQUEST_PAYER_BUCKETS",
        default_value = "",
        global = true
    )]
    pub request_payer_buckets: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    S3,
    Local,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copies SRC to DST; one is an s3:// URL, the other a local path. `file SRC DST`: one file (DST is the
    /// file's new path). `dir SRC/ DST/`: a folder, recursively. `glob SRC/ DST/ PATTERN`: the files directly in
    /// SRC whose names match PATTERN (`*`: any characters).
    Copy {
        #[arg(value_enum)]
        mode: ModeArg,
        src: String,
        dst: String,
        /// For `glob`: the file-name pattern.
        pattern: Option<String>,
    },
    /// Writes LENGTH bytes of the object at URL, from byte OFFSET, to standard output.
    Range {
        url: String,
        offset: u64,
        length: u64,
    },
    /// Writes a secret's value to standard output, byte for byte, read with the environment's credentials (on
    /// ECS: the task role). `kms BASE64`: a KMS ciphertext decrypted (`--secret-env`). `ssm NAME`: an SSM
    /// parameter, a SecureString decrypted. `secretsmanager ID`: a Secrets Manager secret (name or ARN).
    Secret {
        #[arg(value_enum)]
        kind: SecretKind,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecretKind {
    Kms,
    Ssm,
    Secretsmanager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    File,
    Dir,
    Glob,
}

/// The buckets named in `ECSUB_REQUEST_PAYER_BUCKETS`.
pub fn payer_buckets(list: &str) -> Vec<String> {
    list.split_whitespace().map(str::to_owned).collect()
}

/// Runs ecsub-stage with these arguments (the first is the program's name): the `ecsub-stage` binary's main, and
/// `ecsub-cli stage`'s.
pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args = match Args::try_parse_from(argv) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ecsub: ecsub-stage cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        tokio::select! {
            outcome = run(args) => match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ecsub: {e}");
                    ExitCode::from(if e.out_of_space() { EXIT_NO_SPACE } else { 1 })
                }
            },
            // The work is dropped, and with it every part file it was writing.
            code = part::stopped() => ExitCode::from(code),
        }
    })
}

async fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Copy {
            mode,
            src,
            dst,
            pattern,
        } => {
            let mode = match (mode, pattern) {
                (ModeArg::File, None) => Mode::File,
                (ModeArg::Dir, None) => Mode::Dir,
                (ModeArg::Glob, Some(pattern)) => Mode::Glob(pattern),
                (ModeArg::Glob, None) => return fail("copy glob needs a PATTERN"),
                (_, Some(extra)) => {
                    return fail(format!(
                        "copy file and copy dir take no pattern (`{extra}`)"
                    ))
                }
            };
            let copy = Copy::new(mode, &src, &dst)?;
            match args.transport {
                Transport::Local => local::Root::new(args.local_root)?.copy(&copy).await,
                Transport::S3 => transport::copy(&copy, &args.request_payer_buckets).await,
            }
        }
        Command::Range {
            url,
            offset,
            length,
        } => {
            let bytes = match args.transport {
                Transport::Local => {
                    local::Root::new(args.local_root)?
                        .range(&url, offset, length)
                        .await?
                }
                Transport::S3 => {
                    transport::range(&url, offset, length, &args.request_payer_buckets).await?
                }
            };
            write_stdout(&bytes).await
        }
        Command::Secret { kind, value } => write_stdout(&secrets::read(kind, value).await?).await,
    }
}

async fn write_stdout(bytes: &[u8]) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut out = tokio::io::stdout();
    out.write_all(bytes)
        .await
        .and(out.flush().await)
        .map_err(|e| StageError(format!("cannot write to standard output: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_has_exactly_one_s3_side_and_a_pattern_is_one_name() {
        assert!(Copy::new(Mode::File, "s3://b/k", "/tmp/k").is_ok());
        assert_eq!(
            Copy::new(Mode::File, "/tmp/k", "s3://b/k").map(|c| c.way()),
            Ok(Way::Put)
        );
        assert!(Copy::new(Mode::File, "s3://b/k", "s3://b/j").is_err());
        assert!(Copy::new(Mode::File, "/a", "/b").is_err());
        assert!(Copy::new(Mode::Glob("a/*".into()), "s3://b/k/", "/t/").is_err());
        assert!(Copy::new(Mode::Glob(String::new()), "s3://b/k/", "/t/").is_err());
        assert_eq!(
            Copy::new(Mode::File, "s3://b/res/.ecsub-part.1628.big.bin", "/t/x"),
            Err(StageError(
                "refused: `s3://b/res/.ecsub-part.1628.big.bin` is named as a part file (`.ecsub-part.<pid>.…`): \
                 such names are the stager's, never objects"
                    .into()
            ))
        );
        assert!(Copy::new(Mode::File, "/t/x", "s3://b/.ecsub-part.1.x").is_err());
        assert!(Copy::new(Mode::File, "/t/.ecsub-part.1.x", "s3://b/x").is_ok());
    }

    #[test]
    fn a_relative_path_stays_inside_its_folder() {
        assert!(inside("a/b.txt"));
        assert!(inside(".hidden"));
        assert!(inside("..a"));
        for outside in ["", "/etc/passwd", "a/../../x", "..", "a//b", "./a", "a/"] {
            assert!(!inside(outside), "{outside}");
        }
    }

    #[test]
    fn urls_split_into_a_valid_bucket_and_a_key() {
        assert_eq!(split_url("s3://bkt/a/b"), Ok(("bkt", "a/b")));
        assert_eq!(split_url("s3://bkt"), Ok(("bkt", "")));
        assert!(split_url("s3://Bad_Bucket/a").is_err());
        assert!(split_url("/local").is_err());
    }

    #[test]
    fn a_write_that_found_no_space_is_told_from_other_failures() {
        let full = std::io::Error::from_raw_os_error(28);
        assert!(StageError(format!("cannot write /s/a.part: {full}")).out_of_space());
        let denied = std::io::Error::from_raw_os_error(13);
        assert!(!StageError(format!("cannot write /s/a.part: {denied}")).out_of_space());
        assert!(!StageError("s3://b/k: not found".into()).out_of_space());
    }
}

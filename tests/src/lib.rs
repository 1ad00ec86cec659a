//! The harness of the end-to-end tests: starts the emulated cloud (`python -m tests.emulator.sandbox`: moto with the
//! stack created from template.yaml, the real handler binaries, the stand-in ECS agent) on free ports, and runs
//! the real `ecsub-cli` and the real `aws` CLI against it.
//!
//! Needs the Python venv (`tests/run.sh` makes it) and the workspace's binaries built (`cargo build --bins`).

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

mod containers;
mod deploy;
pub mod instances;
pub mod jobs;
pub mod metrics;
use std::time::{Duration, Instant};

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository exists")
}

/// The folder with the workspace's binaries (`target/debug`), found from the running test executable.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its executable");
    let mut dir = exe
        .parent()
        .expect("the executable has a folder")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// Bytes that differ along the whole length (a misplaced part would show).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 4099) % 251) as u8)
        .collect()
}

fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries first (`cargo build --workspace --bins`; tests/run.sh does)",
        path.display()
    );
    path
}

pub fn venv_bin(name: &str) -> PathBuf {
    let path = repo().join(".venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run tests/run.sh once (it makes the venv)",
        path.display()
    );
    path
}

/// A running emulated cloud; stopped when dropped.
#[derive(Debug)]
pub struct Sandbox {
    child: Child,
    pub dir: tempfile::TempDir,
    pub info: Value,
}

/// What a command printed and how it exited.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn ran(output: Output) -> Ran {
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// How to start a sandbox: its stacks (name → template parameters; the first is the one the helpers use) and how
/// much faster than AWS's own schedules it runs (None: the sandbox's default, a minute in a second).
#[derive(Debug, Clone)]
pub struct Options {
    pub stacks: Vec<(String, Vec<(String, String)>)>,
    pub time_scale: Option<f64>,
    /// Handler processes per function (the emulated Lambda's concurrency; default 2). Lambda itself runs up to
    /// 1 000 at once: a job of hundreds of tasks at once needs more than 2 here, or its invocations queue.
    pub lambda_processes: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stacks: vec![("ecsub".to_owned(), Vec::new())],
            time_scale: None,
            lambda_processes: None,
        }
    }
}

impl Options {
    /// The one stack, with these template parameters.
    pub fn with_parameters(parameters: &[(&str, &str)]) -> Options {
        Options {
            stacks: vec![(
                "ecsub".to_owned(),
                parameters
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )],
            time_scale: None,
            lambda_processes: None,
        }
    }
}

impl Sandbox {
    /// Starts a fresh sandbox with one stack and waits (up to a minute) until it is ready.
    pub fn start() -> Sandbox {
        Sandbox::start_with(&Options::default())
    }

    /// Starts a fresh sandbox as `options` say and waits (up to a minute) until it is ready.
    pub fn start_with(options: &Options) -> Sandbox {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let log = std::fs::File::create(dir.path().join("sandbox.stderr")).expect("a log file");
        let stacks: serde_json::Map<String, Value> = options
            .stacks
            .iter()
            .map(|(name, parameters)| {
                let parameters: serde_json::Map<String, Value> = parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                (name.clone(), Value::Object(parameters))
            })
            .collect();
        let mut command = Command::new(venv_bin("python"));
        // A module of the emulator's package, found from the repository root.
        command
            .current_dir(repo())
            .args(["-m", "tests.emulator.sandbox"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--bin-dir")
            .arg(bin_dir())
            .arg("--stacks")
            .arg(Value::Object(stacks).to_string());
        if let Some(scale) = options.time_scale {
            command.arg("--time-scale").arg(scale.to_string());
        }
        if let Some(processes) = options.lambda_processes {
            command.arg("--processes").arg(processes.to_string());
        }
        // Delivery is at-least-once and sometimes late in every test, drawn from a seed; ECSUB_EMULATOR_SEED
        // replays a failed test's draws (printed below, shown with the failure).
        if let Ok(seed) = std::env::var("ECSUB_EMULATOR_SEED") {
            command.arg("--seed").arg(seed);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python starts");
        let mut sandbox = Sandbox {
            child,
            dir,
            info: Value::Null,
        };
        let ready = sandbox.dir.path().join("sandbox.json");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            if let Ok(Some(status)) = sandbox.child.try_wait() {
                panic!("the sandbox exited ({status}):\n{}", sandbox.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "the sandbox did not start:\n{}",
                sandbox.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let text = std::fs::read_to_string(&ready).expect("sandbox.json is readable");
        sandbox.info = serde_json::from_str(&text).expect("sandbox.json is JSON");
        eprintln!(
            "emulated cloud: delivery seed {0} (ECSUB_EMULATOR_SEED={0} draws the same duplicates and delays)",
            sandbox.info["seed"]
        );
        sandbox.publish_stagers();
        sandbox
    }

    pub fn log_tail(&self) -> String {
        let agent_errors =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.control_get("/info")))
                .map(|info| info["agent_errors"].to_string())
                .unwrap_or_default();
        let denials = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.control_get("/denials")
        }))
        .map(|d| d.to_string())
        .unwrap_or_default();
        let mut out = format!(
            "--- delivery seed: {}\n--- agent errors: {agent_errors}\n--- IAM denials: {denials}\n",
            self.info["seed"]
        );
        let mut names = vec!["sandbox.stderr".to_owned()];
        for stack in self.info["stacks"]
            .as_object()
            .into_iter()
            .flat_map(|s| s.values())
        {
            for function in stack["functions"]
                .as_object()
                .into_iter()
                .flat_map(|f| f.values())
            {
                names.push(format!(
                    "lambda-{}.log",
                    function.as_str().unwrap_or_default()
                ));
            }
        }
        for name in &names {
            let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            out.push_str(&format!("--- {name}\n{tail}\n"));
        }
        out.push_str(&containers::unfinished(self.dir.path()));
        out
    }

    pub fn endpoint(&self) -> &str {
        self.info["endpoint"].as_str().expect("an endpoint")
    }

    /// The (first) stack's bucket.
    pub fn bucket(&self) -> &str {
        self.info["bucket"].as_str().expect("a bucket")
    }

    /// A stack's part of sandbox.json (bucket, state machine, functions, rules, outputs).
    pub fn stack(&self, name: &str) -> &Value {
        &self.info["stacks"][name]
    }

    /// The environment of a client pointed at the sandbox, signing as `principal` ("cli": the user the stack's
    /// UserPolicy is attached to; "harness": an administrator, for setting up and inspecting).
    pub fn env(&self, cmd: &mut Command, principal: &str) {
        let credentials = &self.info["principals"][principal];
        cmd.env("AWS_ENDPOINT_URL", self.endpoint())
            .env(
                "AWS_ACCESS_KEY_ID",
                credentials["access_key_id"]
                    .as_str()
                    .expect("a known principal"),
            )
            .env(
                "AWS_SECRET_ACCESS_KEY",
                credentials["secret_access_key"]
                    .as_str()
                    .expect("a known principal"),
            )
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("ECSUB_BUCKET", format!("s3://{}", self.bucket()))
            .env_remove("AWS_PROFILE");
    }

    /// `ecsub-cli ARGS` against the sandbox; one that has not ended after four minutes is killed and the test
    /// fails with the sandbox's logs (every job here ends well within that, or something hangs).
    pub fn cli(&self, args: &[&str]) -> Ran {
        self.cli_within(args, Duration::from_secs(240))
    }

    /// `ecsub-cli ARGS` against the sandbox, killed (and the test failed) after `limit`: for the few jobs that
    /// take longer than four minutes on a 2-core machine.
    pub fn cli_within(&self, args: &[&str], limit: Duration) -> Ran {
        self.cli_with(&[], args, limit)
    }

    /// `ecsub-cli ARGS` against the sandbox with `env` added, killed (and the test failed) after `limit`.
    pub fn cli_with(&self, env: &[(&str, &str)], args: &[&str], limit: Duration) -> Ran {
        let mut cmd = Command::new(binary("ecsub-cli"));
        self.env(&mut cmd, "cli");
        cmd.envs(env.iter().copied()).args(args).current_dir(repo());
        let out = self.bounded(cmd, limit);
        assert!(
            !out.stderr.contains("this build has no AWS support"),
            "{} was built without AWS support (the README's local command does that): \
             rebuild it with `cargo build --workspace --bins`",
            binary("ecsub-cli").display()
        );
        out
    }

    /// `ecsub-stage ARGS` over the sandbox's S3, signing as `principal`, with `env` added.
    pub fn stage(&self, principal: &str, env: &[(&str, &str)], args: &[&str]) -> Ran {
        let mut cmd = Command::new(binary("ecsub-stage"));
        self.env(&mut cmd, principal);
        cmd.env("ECSUB_TRANSPORT", "s3")
            .env_remove("ECSUB_REQUEST_PAYER_BUCKETS")
            .envs(env.iter().copied())
            .args(args);
        self.bounded(cmd, Duration::from_secs(120))
    }

    /// `ecsub-cli ARGS` against the sandbox with `ECSUB_BUCKET` set to another stack's bucket.
    pub fn cli_for(&self, stack: &str, args: &[&str]) -> Ran {
        let mut cmd = Command::new(binary("ecsub-cli"));
        self.env(&mut cmd, "cli");
        cmd.env(
            "ECSUB_BUCKET",
            format!(
                "s3://{}",
                self.stack(stack)["bucket"].as_str().expect("a bucket")
            ),
        );
        cmd.args(args).current_dir(repo());
        self.bounded(cmd, Duration::from_secs(240))
    }

    /// Runs a command, killing it (and failing the test with the sandbox's logs) if it runs past `limit`.
    fn bounded(&self, mut cmd: Command, limit: Duration) -> Ran {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the command starts");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let out = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stdout.read_to_end(&mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            text
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("the command can be waited for") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
                panic!(
                    "{cmd:?} did not end within {limit:?}:\n{stderr}\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        ran(Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        })
    }

    /// Injects a fault (see tests/emulator/faults.py); answers the faults left.
    pub fn fault(&self, spec: &Value) -> Value {
        let answer = self.control_post("/fault", spec);
        assert!(answer.get("error").is_none(), "fault {spec}: {answer}");
        answer
    }

    /// Every event delivered once and on time, for a measurement that counts calls: by default the emulated
    /// cloud delivers at least once and sometimes late, as AWS does (tests/emulator/faults.py, DEFAULT_DELIVERY).
    pub fn deliver_exactly_once(&self) {
        self.fault(
            &serde_json::json!({ "kind": "delivery", "function": null, "duplicate": 0, "late": 0 }),
        );
    }

    /// The real `aws` CLI against the sandbox (signing as "harness", left out of the counts).
    pub fn aws(&self, args: &[&str]) -> Ran {
        self.aws_as("harness", args)
    }

    /// The real `aws` CLI against the sandbox, signing as `principal` ("cli": the stack's user).
    pub fn aws_as(&self, principal: &str, args: &[&str]) -> Ran {
        let mut cmd = Command::new(venv_bin("aws"));
        self.env(&mut cmd, principal);
        ran(cmd
            .args(args)
            .current_dir(repo())
            .output()
            .expect("aws runs"))
    }

    /// `aws ARGS` that must succeed; its stdout parsed as JSON (or Null when empty).
    pub fn aws_json(&self, args: &[&str]) -> Value {
        let out = self.aws(args);
        assert_eq!(out.code, 0, "aws {args:?} failed: {}", out.stderr);
        if out.stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&out.stdout).expect("aws printed JSON")
        }
    }

    /// The bytes of an object, or `None`.
    pub fn object(&self, url: &str) -> Option<Vec<u8>> {
        let mut cmd = Command::new(venv_bin("aws"));
        self.env(&mut cmd, "harness");
        let out = cmd.args(["s3", "cp", url, "-"]).output().expect("aws runs");
        out.status.success().then_some(out.stdout)
    }

    /// Keys under a prefix of a bucket.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let v = self.aws_json(&[
            "s3api",
            "list-objects-v2",
            "--bucket",
            bucket,
            "--prefix",
            prefix,
        ]);
        v["Contents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| o["Key"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Creates a bucket and copies a local folder into it.
    pub fn upload_tree(&self, bucket: &str, from: &Path) {
        let made = self.aws(&["s3", "mb", &format!("s3://{bucket}")]);
        assert_eq!(made.code, 0, "{}", made.stderr);
        let from = from.to_str().expect("a UTF-8 path");
        let copied = self.aws(&[
            "s3",
            "cp",
            "--recursive",
            "--quiet",
            from,
            &format!("s3://{bucket}/"),
        ]);
        assert_eq!(copied.code, 0, "{}", copied.stderr);
    }

    /// The wordcount example's inputs (not any outputs of earlier local runs) in `s3://ecsub-wordcount`.
    pub fn upload_wordcount_inputs(&self) {
        let bucket = "ecsub-wordcount";
        self.upload_tree(
            bucket,
            &repo().join("examples/wordcount/s3/ecsub-wordcount"),
        );
        for key in self.keys(bucket, "output/") {
            let removed = self.aws(&["s3", "rm", &format!("s3://{bucket}/{key}")]);
            assert_eq!(removed.code, 0, "{}", removed.stderr);
        }
    }

    /// Instances of a job (by tag) that are pending or running.
    pub fn live_instances(&self, job: &str) -> Vec<String> {
        let v = self.aws_json(&[
            "ec2",
            "describe-instances",
            "--filters",
            &format!("Name=tag:ecsub:job,Values={job}"),
            "Name=instance-state-name,Values=pending,running",
        ]);
        v["Reservations"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["Instances"].as_array().cloned().unwrap_or_default())
            .filter_map(|i| i["InstanceId"].as_str().map(str::to_owned))
            .collect()
    }

    /// Executions of the stack's state machine.
    pub fn executions(&self) -> Vec<Value> {
        let arn = self.info["state_machine_arn"]
            .as_str()
            .expect("a state machine");
        let v = self.aws_json(&[
            "stepfunctions",
            "list-executions",
            "--state-machine-arn",
            arn,
        ]);
        v["executions"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `check` gives a value, polling every 200 ms, or panics after `seconds`.
    pub fn until<T>(&self, seconds: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Some(v) = check() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until no function runs, no asynchronous event is on its way to one, no Step Functions Wait state or
    /// Retry back-off is under way, and no exited container's task is still to be stopped (seen twice, 200 ms
    /// apart), so a test can check that something did *not* happen without guessing how long to sleep first.
    pub fn settled(&self, seconds: u64) {
        let mut quiet = 0;
        self.until(seconds, "the functions to go quiet", || {
            quiet = if self.control_get("/busy")["idle"] == true {
                quiet + 1
            } else {
                0
            };
            (quiet >= 2).then_some(())
        });
    }

    /// GET on the sandbox's control endpoint.
    pub fn control_get(&self, path: &str) -> Value {
        self.control("GET", path, &Value::Null)
    }

    /// POST on the sandbox's control endpoint.
    pub fn control_post(&self, path: &str, body: &Value) -> Value {
        self.control("POST", path, body)
    }

    fn control(&self, method: &str, path: &str, body: &Value) -> Value {
        let base = self.info["control"].as_str().expect("a control URL");
        let address = base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("the control endpoint answers");
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .expect("the request is sent");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("the response is read");
        let (_, json) = response.split_once("\r\n\r\n").expect("an HTTP response");
        serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {response}"))
    }

    /// Every request moto served, each with the access key that signed it (see sandbox.py's Meter).
    pub fn calls(&self) -> Vec<Value> {
        self.control_get("/calls")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let pid = i32::try_from(self.child.id()).unwrap_or(0);
        if pid > 0 {
            // SIGTERM lets the sandbox stop its handler and task processes.
            #[allow(unsafe_code)]
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! The end-to-end tests, as one test binary: each module below is a file of this folder, and the comment on its
//! `mod` line says which tests go there (put a new test where its comment fits). Every test starts its own emulated
//! cloud through the harness (`tests/src/`: `python -m tests.emulator.sandbox`) and runs the real template, state
//! machine, handler binaries, `ecsub-cli` and `aws` CLI on it; only AWS itself is emulated. `.config/nextest.toml`
//! runs at most three at once, and the `scale::` tests alone.

// Helpers unwrap as the tests do: a panic with its line is the failure report.
#![allow(clippy::unwrap_used)]

// Each attempt of a task: retried on demand after a spot interruption, logged, priced; the job's end announced on
// the bus and reported (columns and the timeline page a headless browser opens).
mod attempts;
// How an instance boots: its user data, then the ECS agent.
mod boot;
// The chain end to end: a job pushed, run, failed, cancelled or swept, and nothing of it left running.
mod chain;
// The task contract on the S3 transport, where it could differ from the local folder (outputs, input folders).
mod contract;
// The stager reaching every task without the image's help (published, fetched, checked, mounted read-only), and
// secrets by reference.
mod delivery;
// dsub's command line on the stack and locally: its tasks files, outputs and --logging files, --preemptible.
mod dsub;
// dsub's job control on the stack: --after chains with no client waiting, dstat and ddel.
mod dsub_control;
// GPU types: the GPU-optimized AMI, the task's GPUs, the type lists refused.
mod gpus;
// --keep-on-failure: a failed task's instance held for a look, got into, released, and ended at its deadline.
mod held;
// Error paths: one thing AWS does now and then, injected per test; the job ends in bounded time, naming the cause.
mod faults;
// What a stack tells people: NotifyTopicArn at a job's end, the AlarmTopicArn alarm on failed events.
mod notices;
// AWS's documented service limits met by a whole job: Lambda's concurrency.
mod limits;
// README promises no other module holds: AWS-only job options, wildcards, --processes, aliases, watch, logs --follow.
mod promises;
// Private images: pulled with --image-credentials through the stack's execution role, refused without.
mod registry;
// The account's vCPU quota: told as a job starts, shown by status, met by EC2.
mod quotas;
// Running part of a job again: push --rerun-failed and --skip-existing; ls; what status and ls cost in calls.
mod reruns;
// --retries: a task's own failures tried again (--retry-on-exit), and --retry-larger's memory and disk.
mod retries;
// Jobs at scale (hundreds of tasks, EC2's throttling): they take the whole machine and run alone.
mod scale;
// What a stack lets a job do and keeps apart: its roles, data buckets, images and keys; two stacks in one account.
mod stack;
// `ecsub-stage` over the emulated S3 and secret stores, through the real SDK, byte for byte.
mod stage;
// A job's --tags on everything it makes and pays for, and report's totals by tag and --label value.
mod tags;
// The ways a job starts (inbox drop, schedule, push) and the jobs submit refuses before anything starts.
mod starts;

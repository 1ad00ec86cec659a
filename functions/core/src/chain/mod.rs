//! The contract of the serverless chain: what the Lambdas and the state machine pass each other ([`wire`]), the
//! records they leave in the bucket ([`records`]), the stable error names and the names of what a stack owns
//! ([`names`]), and the task's container environment ([`task_env`]). Typed payloads are what
//! `infra/statemachine/*.asl.json` reads; a test checks the paths. The policies (how an ended attempt is
//! classified, whether it is tried again, what EC2's refusals mean, what one execution can carry) are in [`policy`]
//! and [`limits`]; what the stack admits in [`admission`]; what runs on an instance and in its container in
//! [`instance`]; the stager's manifest in [`stager`]. Everything is re-exported here: `ecsub_core::chain::JobRef`.
//!
//! Pure: no AWS types, no I/O.

pub mod admission;
pub mod after;
pub mod asks;
pub mod gpu;
pub mod hold;
pub mod instance;
pub mod launch_sim;
pub mod limits;
pub mod names;
pub mod pace;
pub mod policy;
pub mod quotas;
pub mod records;
pub mod sizes;
pub mod stager;
pub mod task_env;
pub mod wire;

pub use instance::{container_command, container_image, log_stream, user_data, CONTAINER_SHELL};
pub use names::*;
pub use policy::{
    classify, failure_class, is_throttling, next_attempt, refusal, retry_change, FailureClass,
    Refusal, RetryPolicy, Stopped, MAX_ATTEMPTS, MAX_RETRIES,
};
pub use records::*;
pub use task_env::TaskEnv;
pub use wire::*;

//! The stack's settings, read once at cold start from the function's environment (template.yaml sets it), and the
//! context every invocation gets: those settings and the clients (ecsub-aws) built from them.

use ecsub_aws::{Clients, FnError};

/// The stack's settings, from the function's environment (set by template.yaml).
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The CloudFormation stack's name: every instance is tagged with it, every cluster is named after it.
    pub stack: String,
    /// `aws`, `aws-cn`, `aws-us-gov`: ARNs are built with it.
    pub partition: String,
    /// The stack's bucket.
    pub bucket: String,
    pub state_machine_arn: Option<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_id: Option<String>,
    /// The buckets tasks may read and write (the stack's DataBuckets parameter; `*` = any).
    pub data_buckets: Vec<String>,
    /// The names a `--secret-env` reference may have (the SecretsPrefix parameter; empty: none).
    pub secrets_prefix: String,
    /// The stack's instance profile (name, and ARN for RunInstances) and its role's name.
    pub instance_profile: Option<String>,
    pub instance_profile_arn: Option<String>,
    /// The profile of a `--keep-on-failure` job's instances: the same, and Session Manager's agent's rights.
    pub held_instance_profile_arn: Option<String>,
    pub instance_role: Option<String>,
    /// The tasks' role, passed to the task definitions.
    pub task_role_arn: Option<String>,
    /// The role ECS reads a job's registry credentials with (`--image-credentials`).
    pub execution_role_arn: Option<String>,
    /// SSM parameters holding the ECS-optimized AMI (x86_64 and arm64).
    pub ami_parameter_x86_64: String,
    pub ami_parameter_arm64: String,
    /// The SSM parameter of the ECS GPU-optimized AMI, for types with NVIDIA GPUs (x86_64).
    pub ami_parameter_gpu: String,
    /// Seconds an instance may take to join its cluster; seconds a task may run.
    pub join_timeout: u32,
    pub task_timeout: u32,
    /// The shortest `--waiter-delay` a job may ask for.
    pub min_waiter_delay: u32,
    /// Seconds an attempt may wait for its instance while EC2 throttles, the account's quota is used up, or no
    /// type has capacity; then the attempt fails saying so.
    pub launch_patience: u32,
    /// Days the containers' log groups keep their events.
    pub log_retention_days: i32,
    /// Where Lambda puts the events the stack's asynchronous functions could not handle.
    pub failed_events_queue: Option<String>,
    /// The launch queue (the launcher sends an ask that must wait back to it).
    pub launch_queue_url: Option<String>,
}

/// Settings and clients, built once per cold start and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub config: StackConfig,
    pub aws: Clients,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl StackConfig {
    pub fn from_env() -> Result<StackConfig, FnError> {
        let number = |name: &str, default: u32| -> Result<u32, FnError> {
            match var(name) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| {
                    FnError::invalid_input(format!("{name}: `{v}` is not a whole number"))
                }),
            }
        };
        Ok(StackConfig {
            stack: var("ECSUB_STACK").unwrap_or_else(|| "ecsub".to_owned()),
            partition: var("ECSUB_PARTITION").unwrap_or_else(|| "aws".to_owned()),
            bucket: var("ECSUB_BUCKET").unwrap_or_default(),
            state_machine_arn: var("ECSUB_STATE_MACHINE_ARN"),
            subnet_ids: list("ECSUB_SUBNET_IDS"),
            security_group_id: var("ECSUB_SECURITY_GROUP_ID"),
            data_buckets: list("ECSUB_DATA_BUCKETS"),
            secrets_prefix: var("ECSUB_SECRETS_PREFIX").unwrap_or_default(),
            instance_profile: var("ECSUB_INSTANCE_PROFILE"),
            instance_profile_arn: var("ECSUB_INSTANCE_PROFILE_ARN"),
            held_instance_profile_arn: var("ECSUB_HELD_INSTANCE_PROFILE_ARN"),
            instance_role: var("ECSUB_INSTANCE_ROLE"),
            task_role_arn: var("ECSUB_TASK_ROLE_ARN"),
            execution_role_arn: var("ECSUB_EXECUTION_ROLE_ARN"),
            ami_parameter_x86_64:
                "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id".into(),
            ami_parameter_arm64:
                "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id".into(),
            ami_parameter_gpu: ecsub_core::chain::gpu::GPU_AMI_PARAMETER.into(),
            join_timeout: number("ECSUB_JOIN_TIMEOUT", 600)?,
            task_timeout: number("ECSUB_TASK_TIMEOUT", 7 * 24 * 3600)?,
            min_waiter_delay: number("ECSUB_MIN_WAITER_DELAY", 10)?,
            launch_patience: number("ECSUB_LAUNCH_PATIENCE", 24 * 3600)?,
            log_retention_days: i32::try_from(number("ECSUB_LOG_RETENTION_DAYS", 30)?)
                .unwrap_or(30),
            failed_events_queue: var("ECSUB_FAILED_EVENTS_QUEUE"),
            launch_queue_url: var("ECSUB_LAUNCH_QUEUE_URL"),
        })
    }

    /// The stack's account, from its state machine's ARN (`arn:PARTITION:states:REGION:ACCOUNT:stateMachine:…`).
    pub fn account(&self) -> Option<&str> {
        self.state_machine_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
            .filter(|a| !a.is_empty())
    }

    /// The state machine's execution ARN for a job (the execution is named after the job id).
    pub fn execution_arn(&self, job: &str) -> Option<String> {
        self.state_machine_arn
            .as_deref()
            .map(|m| format!("{}:{job}", m.replacen(":stateMachine:", ":execution:", 1)))
    }
}

impl Ctx {
    pub async fn from_env() -> Result<Ctx, FnError> {
        let config = StackConfig::from_env()?;
        let aws = Clients::load(&config.partition).await;
        Ok(Ctx { config, aws })
    }

    /// The stack as owner of a job's ECS side (ecsub-aws's [`cluster`](ecsub_aws::cluster)).
    pub fn owner(&self) -> ecsub_aws::cluster::Owner<'_> {
        ecsub_aws::cluster::Owner {
            stack: &self.config.stack,
            partition: &self.config.partition,
            account: self.config.account(),
            log_retention_days: self.config.log_retention_days,
            task_role_arn: self.config.task_role_arn.as_deref(),
            execution_role_arn: self.config.execution_role_arn.as_deref(),
        }
    }
}

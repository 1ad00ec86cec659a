//! Configuration read once at cold start, and the SDK clients built from it.
//!
//! Credentials and region come from the standard chain; `AWS_ENDPOINT_URL` (an emulator) is honoured by the SDK,
//! and then S3 uses path-style addressing.

use crate::error::FnError;

/// The stack's settings, from the function's environment (set by template.yaml).
#[derive(Debug, Clone, Default)]
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
    pub instance_role: Option<String>,
    /// The tasks' role, passed to the task definitions.
    pub task_role_arn: Option<String>,
    /// SSM parameters holding the ECS-optimized AMI (x86_64 and arm64).
    pub ami_parameter_x86_64: String,
    pub ami_parameter_arm64: String,
    /// Seconds an instance may take to join its cluster; seconds a task may run.
    pub join_timeout: u32,
    pub task_timeout: u32,
    /// The shortest `--waiter-delay` a job may ask for.
    pub min_waiter_delay: u32,
    /// Days the containers' log groups keep their events.
    pub log_retention_days: i32,
    /// Where Lambda puts the events the stack's asynchronous functions could not handle.
    pub failed_events_queue: Option<String>,
}

/// Clients and settings, built once per cold start and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub config: StackConfig,
    pub region: String,
    pub s3: aws_sdk_s3::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The Pricing API answers in a few regions only (us-east-1 for the `aws` partition, cn-northwest-1 for
    /// `aws-cn`: "AWS Price List Query API" endpoints), whatever the stack's region.
    pub pricing: aws_sdk_pricing::Client,
    /// The default event bus, where a job's end is announced.
    pub events: aws_sdk_eventbridge::Client,
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
            instance_role: var("ECSUB_INSTANCE_ROLE"),
            task_role_arn: var("ECSUB_TASK_ROLE_ARN"),
            ami_parameter_x86_64:
                "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id".into(),
            ami_parameter_arm64:
                "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id".into(),
            join_timeout: number("ECSUB_JOIN_TIMEOUT", 600)?,
            task_timeout: number("ECSUB_TASK_TIMEOUT", 7 * 24 * 3600)?,
            min_waiter_delay: number("ECSUB_MIN_WAITER_DELAY", 10)?,
            log_retention_days: i32::try_from(number("ECSUB_LOG_RETENTION_DAYS", 30)?)
                .unwrap_or(30),
            failed_events_queue: var("ECSUB_FAILED_EVENTS_QUEUE"),
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
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Ok(Ctx::new(config, &shared))
    }

    pub fn new(config: StackConfig, shared: &aws_config::SdkConfig) -> Ctx {
        let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let s3_config = aws_sdk_s3::config::Builder::from(shared)
            .force_path_style(path_style)
            .build();
        let pricing_region = if config.partition == "aws-cn" {
            "cn-northwest-1"
        } else {
            "us-east-1"
        };
        let pricing = aws_sdk_pricing::Client::from_conf(
            aws_sdk_pricing::config::Builder::from(shared)
                .region(aws_sdk_pricing::config::Region::new(pricing_region))
                .build(),
        );
        Ctx {
            config,
            region: shared.region().map(ToString::to_string).unwrap_or_default(),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            ec2: aws_sdk_ec2::Client::new(shared),
            ecs: aws_sdk_ecs::Client::new(shared),
            sfn: aws_sdk_sfn::Client::new(shared),
            ssm: aws_sdk_ssm::Client::new(shared),
            logs: aws_sdk_cloudwatchlogs::Client::new(shared),
            sqs: aws_sdk_sqs::Client::new(shared),
            pricing,
            events: aws_sdk_eventbridge::Client::new(shared),
        }
    }
}

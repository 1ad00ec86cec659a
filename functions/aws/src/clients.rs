//! The SDK clients, built once (a Lambda's cold start, a CLI command) from the standard chain: credentials and
//! region from the environment or a profile; `AWS_ENDPOINT_URL` (an emulator) is honoured by the SDK, and then S3
//! uses path-style addressing.

/// Every client ecsub uses, and the region they talk to.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Empty when the environment names none (the CLI says so; a Lambda always has one).
    pub region: String,
    pub s3: aws_sdk_s3::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The Pricing API, where the stack's partition has one ([`pricing_region`]); `None` elsewhere.
    pub pricing: Option<aws_sdk_pricing::Client>,
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// The default event bus, where a job's end is announced.
    pub events: aws_sdk_eventbridge::Client,
    /// Service Quotas: the account's EC2 vCPU quotas.
    pub quotas: aws_sdk_servicequotas::Client,
}

impl Clients {
    /// Clients from the standard chain, for a stack in `partition` (`aws`, `aws-cn`, `aws-us-gov`).
    pub async fn load(partition: &str) -> Clients {
        let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Clients::new(&shared, partition)
    }

    pub fn new(shared: &aws_config::SdkConfig, partition: &str) -> Clients {
        let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let s3_config = aws_sdk_s3::config::Builder::from(shared)
            .force_path_style(path_style)
            .build();
        let pricing = pricing_region(partition).map(|region| {
            aws_sdk_pricing::Client::from_conf(
                aws_sdk_pricing::config::Builder::from(shared)
                    .region(aws_sdk_pricing::config::Region::new(region))
                    .build(),
            )
        });
        Clients {
            region: shared.region().map(ToString::to_string).unwrap_or_default(),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            ec2: aws_sdk_ec2::Client::new(shared),
            ecs: aws_sdk_ecs::Client::new(shared),
            sfn: aws_sdk_sfn::Client::new(shared),
            ssm: aws_sdk_ssm::Client::new(shared),
            logs: aws_sdk_cloudwatchlogs::Client::new(shared),
            sqs: aws_sdk_sqs::Client::new(shared),
            pricing,
            partition: partition.to_owned(),
            events: aws_sdk_eventbridge::Client::new(shared),
            quotas: aws_sdk_servicequotas::Client::new(shared),
        }
    }
}

/// Where the Price List Query API answers for a partition, whatever the stack's region ("Using the AWS Price List
/// Query API", endpoints): us-east-1 (also eu-central-1, ap-south-1) for `aws`, cn-northwest-1 for `aws-cn`.
/// Nowhere for the others (GovCloud, the isolated partitions): their credentials are not valid in another
/// partition (AWS General Reference, "Partitions"), so asking us-east-1 would only fail, and its prices are not
/// theirs.
pub fn pricing_region(partition: &str) -> Option<&'static str> {
    match partition {
        "aws" => Some("us-east-1"),
        "aws-cn" => Some("cn-northwest-1"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pricing_api_is_asked_only_in_its_own_partition() {
        assert_eq!(pricing_region("aws"), Some("us-east-1"));
        assert_eq!(pricing_region("aws-cn"), Some("cn-northwest-1"));
        assert_eq!(pricing_region("aws-us-gov"), None);
        assert_eq!(pricing_region("aws-iso"), None);
    }
}

//! The job options' tests: laying the command line over directives, defaults, and every refusal.

use super::*;

fn job() -> JobId {
    JobId::new("job", "abcde").unwrap()
}

#[test]
fn command_line_wins_over_directives_and_defaults_fill_the_rest() {
    let directive = JobArgs {
        image: Some("ubuntu:24.04".into()),
        processes: Some(4),
        spot: true,
        ..Default::default()
    };
    let cli = JobArgs {
        image: Some("python:3.13".into()),
        ..Default::default()
    };
    let spec = cli.over(directive).resolve(job()).unwrap();
    assert_eq!(spec.image, "python:3.13");
    assert_eq!(spec.processes, 4);
    assert!(spec.spot);
    assert_eq!(spec.shell, vec!["/bin/bash"]);
    assert_eq!(spec.instance_types, vec!["t3.micro"]);
    assert_eq!(
        spec.log_group_name, "job-abcde",
        "the job id, under the stack's prefix"
    );
}

#[test]
fn resolve_reports_every_bad_option() {
    let args = JobArgs {
        aws_ec2_instance_type: vec!["t3.micro".into(), "large".into()],
        processes: Some(0),
        request_payer_bucket: vec!["Bad_Bucket".into()],
        aws_log_group_name: Some("my logs".into()),
        ..Default::default()
    };
    let errors = args.resolve(job()).unwrap_err();
    assert_eq!(
        errors,
        [
            "--aws-ec2-instance-type: `large` is not an instance type (e.g. `t3.micro`)",
            "--aws-ec2-instance-type: a list of types (`t3.micro,large`) needs --spot",
            "--processes: must be at least 1",
            "--request-payer-bucket: `Bad_Bucket` is not a valid bucket name (lowercase letters, digits, \
             `.` and `-`; beginning and ending with a letter or digit)",
            "--aws-log-group-name: ' ' is not allowed in a log group's name (letters, digits, `_ - / . #`)",
        ]
    );
    let named = |name: &str| JobArgs {
        aws_log_group_name: Some(name.to_owned()),
        ..Default::default()
    };
    assert!(named("team/genomics#2.v_1-a").resolve(job()).is_ok());
    assert_eq!(
        named(&"a".repeat(257)).resolve(job()).unwrap_err(),
        ["--aws-log-group-name: a log group's name here has 1 to 256 characters, not 257"]
    );
}

#[test]
fn options_every_state_carries_are_bounded_far_inside_a_states_256_kib() {
    let buckets = |n: usize| (0..n).map(|i| format!("requester-pays-{i:05}")).collect();
    let fits = JobArgs {
        request_payer_bucket: buckets(100),
        ..Default::default()
    };
    assert!(fits.resolve(job()).is_ok());
    let over = JobArgs {
        request_payer_bucket: buckets(1_000),
        ..Default::default()
    };
    let errors = over.resolve(job()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("name 23011 bytes together")
            && errors[0].contains("over 256 KiB; keep them within 16384 bytes"),
        "{}",
        errors[0]
    );
}

#[test]
fn tags_are_laid_over_key_by_key_and_count_in_what_every_state_carries() {
    let file = JobArgs {
        tags: vec!["project=old".into(), "grant=R01".into()],
        ..Default::default()
    };
    let cli = JobArgs {
        tags: vec!["project=new".into()],
        ..Default::default()
    };
    let spec = cli.over(file).resolve(job()).unwrap();
    let tags: Vec<String> = spec.tags.iter().map(ToString::to_string).collect();
    assert_eq!(tags, ["grant=R01", "project=new"]);
    // 45 tags of long keys and values fit a resource but not every state of every task.
    let long = JobArgs {
        tags: (0..45)
            .map(|i| format!("{i:0>128}={}", "v".repeat(256)))
            .collect(),
        ..Default::default()
    };
    let errors = long.resolve(job()).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("and --tag name 18236 bytes together"),
        "{}",
        errors[0]
    );
}

#[test]
fn image_credentials_are_a_secrets_manager_reference_for_a_registry_other_than_ecr() {
    let with = |value: &str, ecr: bool| JobArgs {
        image_credentials: Some(value.to_owned()),
        use_amazon_ecr: ecr,
        ..Default::default()
    };
    let spec = with("secretsmanager:ecsub/ghcr", false)
        .resolve(job())
        .unwrap();
    assert_eq!(
        spec.image_credentials.as_deref(),
        Some("secretsmanager:ecsub/ghcr")
    );
    let errors = with("ssm:/ecsub/ghcr", false).resolve(job()).unwrap_err();
    assert!(
        errors[0].starts_with("--image-credentials: `ssm:/ecsub/ghcr` is not secretsmanager:NAME"),
        "{errors:?}"
    );
    let errors = with("secretsmanager:a b", false)
        .resolve(job())
        .unwrap_err();
    assert!(
        errors[0].contains("a Secrets Manager secret is a name or ARN"),
        "{errors:?}"
    );
    let errors = with("secretsmanager:ecsub/ghcr", true)
        .resolve(job())
        .unwrap_err();
    assert!(errors[0].contains("with --use-amazon-ecr"), "{errors:?}");
}

#[test]
fn aws_only_flags_are_listed_as_typed() {
    let args = JobArgs {
        image: Some("x:1".into()),
        spot: true,
        processes: Some(3),
        ..Default::default()
    };
    assert_eq!(args.aws_only_flags(), vec!["--image x:1", "--spot"]);
}

//! What a stack admits: the checks submit makes, after the tasks file and the options are valid, that depend on
//! the stack rather than on the job alone. A stack runs its tasks with its own roles only, on the data buckets it
//! was deployed with, reading only the secrets under its prefix, and within what one execution can carry; a job
//! asking for more is refused before anything starts, every reason at once, each naming the value and the way out.
//! Pure.

use super::limits;
use crate::options::JobSpec;
use crate::tasks::{secret, Cell, ColumnKind, TasksFile};
use std::ops::RangeInclusive;

/// What the stack was deployed with, as far as admission is concerned.
#[derive(Debug, Clone, Default)]
pub struct StackRules<'a> {
    /// The stack's bucket (always readable and writable by the stack).
    pub bucket: &'a str,
    /// The DataBuckets parameter (`*` admits any bucket).
    pub data_buckets: &'a [String],
    /// The SecretsPrefix parameter: the names a `--secret-env` reference may have.
    pub secrets_prefix: &'a str,
    /// Role names a job may name with `--aws-ecs-instance-role-name`: the stack's instance profile and role.
    pub own_roles: &'a [&'a str],
    /// The MinWaiterDelaySeconds parameter.
    pub min_waiter_delay: u32,
    /// The JoinTimeoutSeconds parameter.
    pub join_timeout: u32,
    /// The stack's partition, region and account (a secret named by ARN must be there; empty: unknown).
    pub home: [&'a str; 3],
    /// Whether the stack has an execution role, which `--image-credentials` needs (a stack deployed before
    /// 2026-12-07 has none).
    pub execution_role: bool,
}

/// Every reason the stack refuses the job (empty: admitted).
pub fn admit(
    tasks: &TasksFile,
    selected: RangeInclusive<usize>,
    spec: &JobSpec,
    rules: &StackRules<'_>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(role) = &spec.instance_role_name {
        if !rules.own_roles.contains(&role.as_str()) {
            problems.push(format!(
                "--aws-ecs-instance-role-name `{role}`: a stack runs its instances and tasks with its own roles only \
                 ({}); drop the option, or give the stack's task role the access the job needs",
                rules.own_roles.join(", ")
            ));
        }
    }
    if let Some(credentials) = &spec.image_credentials {
        if !rules.execution_role {
            problems.push(
                "--image-credentials: this stack has no execution role to read registry credentials with: deploy \
                 the current template.yaml"
                    .to_owned(),
            );
        }
        if let Some(why) = secret::elsewhere(credentials, rules.home)
            .or_else(|| secret::outside_prefix(credentials, rules.secrets_prefix))
        {
            problems.push(format!(
                "--image-credentials: {}",
                why.replace("the task role", "the execution role")
            ));
        }
    }
    if spec.waiter_delay < rules.min_waiter_delay {
        problems.push(format!(
            "--waiter-delay {}: this stack polls no more often than every {} seconds (its MinWaiterDelaySeconds)",
            spec.waiter_delay, rules.min_waiter_delay
        ));
    }
    let admits = |bucket: &str| {
        bucket == rules.bucket || rules.data_buckets.iter().any(|b| b == "*" || b == bucket)
    };
    // The task role writes the data buckets only (template.yaml, TaskRole): a log elsewhere would fail at every
    // attempt's end, quietly.
    if let Some(bucket) = spec
        .logging
        .as_deref()
        .and_then(|p| p.strip_prefix("s3://"))
        .and_then(|rest| rest.split('/').next())
    {
        if !rules.data_buckets.iter().any(|b| b == "*" || b == bucket) {
            problems.push(format!(
                "--logging: the bucket `{bucket}` is not one of the stack's data buckets ({}), which its tasks may \
                 write: add it to the stack's DataBuckets parameter, or log to one of them",
                if rules.data_buckets.is_empty() {
                    "none".to_owned()
                } else {
                    rules.data_buckets.join(", ")
                }
            ));
        }
    }
    let mut refused = std::collections::BTreeSet::new();
    let mut refused_secrets = std::collections::BTreeSet::new();
    for task in &tasks.tasks[selected.clone()] {
        for (column, cell) in task.cells_with(&tasks.columns) {
            if let (Cell::Text(value), ColumnKind::SecretEnv) = (cell, column.kind) {
                let why = secret::check(value)
                    .err()
                    .or_else(|| secret::elsewhere(value, rules.home))
                    .or_else(|| secret::outside_prefix(value, rules.secrets_prefix));
                if let Some(why) = why {
                    if refused_secrets.insert(value.clone()) {
                        problems.push(format!(
                            "{}:{}: task {} (`{column}`): {why}",
                            tasks.file, task.line, task.index
                        ));
                    }
                }
            }
            if let Cell::Path(path) = cell {
                if !admits(path.bucket()) && refused.insert(path.bucket().to_owned()) {
                    problems.push(format!(
                        "{}:{}: task {} (`{column}`): the bucket `{}` is not one of the stack's data buckets ({}): \
                         add it to the stack's DataBuckets parameter",
                        tasks.file,
                        task.line,
                        task.index,
                        path.bucket(),
                        if rules.data_buckets.is_empty() {
                            "none".to_owned()
                        } else {
                            rules.data_buckets.join(", ")
                        }
                    ));
                }
            }
        }
    }
    let count = selected.end() + 1 - selected.start();
    problems.extend(limits::check_job(
        count,
        spec.processes,
        spec.waiter_delay,
        rules.join_timeout,
        spec.retries,
    ));
    problems
}

/// Is a script's (or a tasks file's) URL in the stack's own bucket? Nothing else is read on a job's behalf: the
/// submit function may not fetch an object of another bucket for whoever can drop a file into the inbox.
pub fn in_stack_bucket(url: &str, bucket: &str) -> bool {
    url.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(b, key)| b == bucket && !key.is_empty())
}

/// A type list that mixes architectures: the launch walks the list on capacity errors, so a task's image would
/// run on whichever architecture had capacity, and ECS pulls the image's build for the host's CPU; an image built
/// for one fails on the other at its start (`exec format error`) after its instance is paid for (AWS review
/// 2026-12, finding 9). `architectures`: each type with its architecture as EC2 describes it. Refused unless the
/// job says the image has both builds (`--multi-arch`).
pub fn mixed_architectures(architectures: &[(&str, &str)], multi_arch: bool) -> Option<String> {
    let (first_type, first_arch) = *architectures.first()?;
    let (other_type, other_arch) = *architectures.iter().find(|(_, a)| *a != first_arch)?;
    if multi_arch {
        return None;
    }
    Some(format!(
        "--aws-ec2-instance-type: `{first_type}` is {first_arch} and `{other_type}` is {other_arch}: a task would \
         run on whichever has capacity, and an image built for one architecture fails on the other (exec format \
         error) after its instance is paid for; list one architecture's types, or add --multi-arch if the image \
         is built for both"
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_type_list_of_two_architectures_needs_a_multi_arch_image() {
        let one = [("m6i.large", "x86_64"), ("c6i.large", "x86_64")];
        assert_eq!(mixed_architectures(&one, false), None);
        assert_eq!(mixed_architectures(&[], false), None);
        let mixed = [
            ("m7g.large", "arm64"),
            ("m7g.xlarge", "arm64"),
            ("m6i.large", "x86_64"),
        ];
        assert_eq!(
            mixed_architectures(&mixed, false).unwrap(),
            "--aws-ec2-instance-type: `m7g.large` is arm64 and `m6i.large` is x86_64: a task would run on whichever \
             has capacity, and an image built for one architecture fails on the other (exec format error) after its \
             instance is paid for; list one architecture's types, or add --multi-arch if the image is built for both"
        );
        assert_eq!(mixed_architectures(&mixed, true), None);
    }

    use super::*;
    use crate::{tasks, JobArgs, JobId};

    fn job(args: &[&str], tsv: &str) -> (TasksFile, JobSpec) {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: JobArgs,
        }
        use clap::Parser as _;
        let parsed = Cli::parse_from(std::iter::once("x").chain(args.iter().copied()));
        let spec = parsed
            .args
            .resolve(JobId::new("wc", "abcde").unwrap())
            .unwrap();
        (tasks::parse("t.tsv", tsv.as_bytes()).unwrap(), spec)
    }

    const TSV: &str =
        "--input IN\t--output OUT\ns3://data/a\ts3://data/out/a\ns3://other/b\ts3://data/out/b\n";

    fn rules(data: &[String]) -> StackRules<'_> {
        StackRules {
            bucket: "ecsub-jobs",
            data_buckets: data,
            secrets_prefix: "ecsub/",
            own_roles: &["ecsub-InstanceProfile", "ecsub-InstanceRole"],
            min_waiter_delay: 10,
            join_timeout: 600,
            home: ["aws", "us-east-1", "111122223333"],
            execution_role: true,
        }
    }

    #[test]
    fn a_job_within_the_stack_is_admitted() {
        let data = vec!["data".to_owned(), "other".to_owned()];
        let (tasks, spec) = job(&["--aws-ecs-instance-role-name", "ecsub-InstanceRole"], TSV);
        assert_eq!(
            admit(&tasks, 0..=1, &spec, &rules(&data)),
            Vec::<String>::new()
        );
        let any = vec!["*".to_owned()];
        assert!(admit(&tasks, 0..=1, &spec, &rules(&any)).is_empty());
    }

    #[test]
    fn a_log_goes_only_to_a_data_bucket_the_tasks_may_write() {
        let data = vec!["data".to_owned(), "other".to_owned()];
        let (tasks, spec) = job(&["--logging", "s3://data/logs/"], TSV);
        assert!(admit(&tasks, 0..=1, &spec, &rules(&data)).is_empty());
        for elsewhere in ["s3://ecsub-jobs/logs/", "s3://nowhere/logs/"] {
            let (tasks, spec) = job(&["--logging", elsewhere], TSV);
            let refused = admit(&tasks, 0..=1, &spec, &rules(&data));
            assert_eq!(refused.len(), 1, "{elsewhere}: {refused:?}");
            assert!(
                refused[0].starts_with("--logging: the bucket"),
                "{refused:?}"
            );
        }
        let (tasks, spec) = job(&["--logging", "s3://anything/logs/"], TSV);
        assert!(admit(&tasks, 0..=1, &spec, &rules(&["*".to_owned()])).is_empty());
    }

    #[test]
    fn every_reason_is_given_with_its_value_and_way_out() {
        let data = vec!["data".to_owned()];
        let (tasks, spec) = job(
            &[
                "--aws-ecs-instance-role-name",
                "AdminRole",
                "--waiter-delay",
                "2",
            ],
            TSV,
        );
        assert_eq!(
            admit(&tasks, 0..=1, &spec, &rules(&data)),
            [
                "--aws-ecs-instance-role-name `AdminRole`: a stack runs its instances and tasks with its own roles \
                 only (ecsub-InstanceProfile, ecsub-InstanceRole); drop the option, or give the stack's task role the \
                 access the job needs",
                "--waiter-delay 2: this stack polls no more often than every 10 seconds (its MinWaiterDelaySeconds)",
                "t.tsv:3: task 1 (`--input IN`): the bucket `other` is not one of the stack's data buckets (data): add \
                 it to the stack's DataBuckets parameter",
            ]
        );
        assert_eq!(
            admit(&tasks, 0..=0, &spec, &rules(&data)).len(),
            2,
            "only selected tasks"
        );
    }

    #[test]
    fn registry_credentials_are_read_by_the_execution_role_from_the_stacks_prefix_only() {
        let data = vec!["data".to_owned(), "other".to_owned()];
        let credentials = |name: &str| job(&["--image-credentials", name], TSV);
        let (tasks, spec) = credentials("secretsmanager:ecsub/ghcr");
        assert!(admit(&tasks, 0..=1, &spec, &rules(&data)).is_empty());
        let old = StackRules {
            execution_role: false,
            ..rules(&data)
        };
        assert_eq!(
            admit(&tasks, 0..=1, &spec, &old),
            ["--image-credentials: this stack has no execution role to read registry credentials with: deploy the \
              current template.yaml"]
        );
        let (tasks, spec) = credentials("secretsmanager:prod/ghcr");
        let refused = admit(&tasks, 0..=1, &spec, &rules(&data));
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].starts_with(
                "--image-credentials: the Secrets Manager secret `prod/ghcr` is not under the \
                                    stack's secrets prefix `ecsub/`"
            ),
            "{refused:?}"
        );
        let (tasks, spec) = credentials(
            "secretsmanager:arn:aws:secretsmanager:eu-west-1:111122223333:secret:ecsub/ghcr-AbCdEf",
        );
        let refused = admit(&tasks, 0..=1, &spec, &rules(&data));
        assert!(
            refused[0].contains(
                "is in another region eu-west-1 (the stack's: us-east-1): the execution role"
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn scripts_come_from_the_stack_bucket_only() {
        assert!(in_stack_bucket(
            "s3://ecsub-jobs/scripts/a.sh",
            "ecsub-jobs"
        ));
        assert!(!in_stack_bucket("s3://other/scripts/a.sh", "ecsub-jobs"));
        assert!(!in_stack_bucket("s3://ecsub-jobs/", "ecsub-jobs"));
        assert!(!in_stack_bucket("ecsub-jobs/a.sh", "ecsub-jobs"));
    }

    #[test]
    fn secret_references_outside_the_prefix_and_values_that_are_neither_are_refused() {
        let data = vec!["data".to_owned()];
        let tsv = "--secret-env A\t--secret-env B\nssm:/ecsub/db\tsecretsmanager:ecsub/t\nssm:/prod/db\tin the clear\n\
                   ssm:arn:aws:ssm:us-east-1:444455556666:parameter/ecsub/db\tsecretsmanager:ecsub/t\n";
        let (tasks, spec) = job(&[], tsv);
        assert_eq!(
            admit(&tasks, 0..=0, &spec, &rules(&data)),
            Vec::<String>::new()
        );
        let refused = admit(&tasks, 0..=1, &spec, &rules(&data));
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[0].starts_with(
            "t.tsv:3: task 1 (`--secret-env A`): the SSM parameter `prod/db` is not under"
        ));
        assert!(refused[1].starts_with(
            "t.tsv:3: task 1 (`--secret-env B`): the value (12 characters, not shown)"
        ));
        assert!(!refused.concat().contains("in the clear"));
        let foreign = admit(&tasks, 2..=2, &spec, &rules(&data));
        assert_eq!(
            foreign,
            ["t.tsv:4: task 2 (`--secret-env A`): the SSM parameter \
              `arn:aws:ssm:us-east-1:444455556666:parameter/ecsub/db` is in another account 444455556666 (the \
              stack's: 111122223333): the task role may read only its own account's and region's secrets; copy \
              it there, or name it without an ARN"]
        );
    }
}

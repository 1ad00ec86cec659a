//! A pushed job (its `job.json` arrived): validated again with the CLI's code, admitted by the stack, its inputs
//! checked, its scripts written, its log group, cluster and task definition made, its execution started under the
//! job id. Whatever is refused gets `error.txt` and starts nothing; a failure retrying cannot fix (permissions, a
//! bad parameter) too, after what was made for the job is removed again.

use super::preflight;
use super::reject::reject_at;
use crate::Ctx;
use ecsub_aws::cluster::{self, Owner};
use ecsub_aws::compute;
use ecsub_aws::execution::{self, Started};
use ecsub_aws::store::{self, Bounded};
use ecsub_aws::FnError;
use ecsub_core::chain::admission::{self, admit, StackRules};
use ecsub_core::chain::after::Gate;
use ecsub_core::chain::gpu;
use ecsub_core::chain::limits::{join_polls, join_wait};
use ecsub_core::chain::stager::{StagerManifest, StagerRef, MANIFEST_KEY};
use ecsub_core::chain::{
    cluster_name, log_group, ExecutionInput, JobRef, JobSubmission, StartedRecord, TaskItems,
    TaskRef,
};
use ecsub_core::plan::{plan, Identity, Options, Plan, Request};
use ecsub_core::tasks;
use ecsub_core::JobLayout;
use serde_json::{json, Value};
use tracing::{info, warn};

/// A pushed job: validate it again, admit it, check its inputs, write its scripts, prepare ECS, start it.
pub async fn start_job(
    ctx: &Ctx,
    layout: &JobLayout,
    account: Option<&str>,
) -> Result<Value, FnError> {
    let job_id = &layout.job_id;
    let execution_arn = ctx
        .config
        .execution_arn(job_id.as_str())
        .ok_or_else(|| FnError::invalid_input("ECSUB_STATE_MACHINE_ARN is not set"))?;
    let s3 = &ctx.aws.s3;
    let bucket = &layout.bucket;
    let error_key = layout.error_key();
    if store::exists(s3, bucket, &error_key).await? {
        // Another delivery of this event refused the job (S3 and EventBridge deliver at least once): a refused job
        // stays refused, whatever this copy would find. A refusal whose withdrawal failed (and is retried) ends
        // it here.
        info!(job_id = %job_id, "duplicate event: the job was refused already");
        withdraw(ctx, layout, &execution_arn).await?;
        return Ok(json!({ "job_id": job_id, "duplicate": true }));
    }
    if execution::status(&ctx.aws.sfn, &execution_arn)
        .await?
        .is_some()
    {
        info!(job_id = %job_id, "duplicate event: the execution exists already");
        return Ok(json!({ "job_id": job_id, "duplicate": true }));
    }
    let Some(raw) = store::get(s3, bucket, &layout.spec_key()).await? else {
        return Err(FnError::invalid_input(format!(
            "s3://{bucket}/{} is gone",
            layout.spec_key()
        )));
    };
    let submission: JobSubmission = match serde_json::from_slice(&raw) {
        Ok(s) => s,
        Err(e) => return reject_at(ctx, bucket, &error_key, &[format!("job.json: {e}")]).await,
    };
    let tasks_key = layout.tasks_key();
    let tasks_bytes =
        match store::get_at_most(s3, bucket, &tasks_key, tasks::MAX_FILE_BYTES).await? {
            Bounded::Bytes(bytes) => bytes,
            Bounded::Missing => {
                let line = "tasks.tsv: missing from the job".to_owned();
                return reject_at(ctx, bucket, &error_key, &[line]).await;
            }
            Bounded::TooLarge(size) => {
                let line = tasks::too_large(&submission.tasks_file, size);
                return reject_at(ctx, bucket, &error_key, &[line]).await;
            }
        };
    // The CLI's own pipeline, on the options as the push merged them.
    let planned = plan(&Request {
        file: &submission.tasks_file,
        bytes: &tasks_bytes,
        options: Options::Merged(&submission.args),
        identity: Identity::Given(job_id.clone()),
    });
    let plan = match planned {
        Ok(plan) => plan,
        Err(refused) => return reject_at(ctx, bucket, &error_key, &refused.lines()).await,
    };
    drop(tasks_bytes);
    if !store::exists(s3, bucket, &layout.script_key()).await? {
        let line = "the user script is missing from the job".to_owned();
        return reject_at(ctx, bucket, &error_key, &[line]).await;
    }
    let stagers = match stagers(ctx, bucket).await? {
        Ok(stagers) => stagers,
        Err(line) => return reject_at(ctx, bucket, &error_key, &[line]).await,
    };
    let config = &ctx.config;
    let own_roles: Vec<&str> = [&config.instance_profile, &config.instance_role]
        .into_iter()
        .filter_map(|r| r.as_deref())
        .collect();
    let rules = StackRules {
        bucket: &config.bucket,
        data_buckets: &config.data_buckets,
        secrets_prefix: &config.secrets_prefix,
        own_roles: &own_roles,
        min_waiter_delay: config.min_waiter_delay,
        join_timeout: config.join_timeout,
        home: [
            &config.partition,
            &ctx.aws.region,
            config.account().unwrap_or_default(),
        ],
        execution_role: config.execution_role_arn.is_some(),
    };
    let refused = admit(&plan.tasks, plan.selected.clone(), &plan.spec, &rules);
    if !refused.is_empty() {
        return reject_at(ctx, bucket, &error_key, &refused).await;
    }
    if let Some(line) = refused_types(ctx, &plan.spec).await? {
        return reject_at(ctx, bucket, &error_key, &[line]).await;
    }
    // Before the inputs are checked: a job waiting for others may read what they write.
    if !plan.spec.after.is_empty() {
        match super::after::gate(ctx, layout, &plan.spec.after).await? {
            Gate::Go => {}
            Gate::Refuse(line) => return reject_at(ctx, bucket, &error_key, &[line]).await,
            Gate::Wait(pending) => {
                info!(job_id = %job_id, waiting_for = ?pending, "parked until the jobs before it end (--after)");
                return Ok(json!({ "job_id": job_id, "waiting_for": pending }));
            }
        }
    }
    if subnets(&plan.spec, config).is_empty() && !compute::has_default_vpc(&ctx.aws.ec2).await? {
        let line = format!(
            "this account has no default VPC in {}, and the job names no subnet: every launch would fail \
             (VPCIdNotSpecified); give the stack's SubnetIds parameter, or --aws-subnet-id",
            ctx.aws.region
        );
        return reject_at(ctx, bucket, &error_key, &[line]).await;
    }
    if plan.spec.verify_bucket {
        let missing =
            preflight::missing_inputs(ctx, &plan.tasks, plan.selected.clone(), &plan.spec).await?;
        if !missing.is_empty() {
            return reject_at(ctx, bucket, &error_key, &missing).await;
        }
    }
    let task_refs: Vec<TaskRef> = plan
        .selected_tasks()
        .iter()
        .map(|t| TaskRef {
            index: t.index,
            line: t.line,
        })
        .collect();
    let mut notes = super::quota::notes(ctx, &plan.spec, task_refs.len()).await;
    if let Some(asked) = plan.spec.timeout.filter(|t| *t > ctx.config.task_timeout) {
        notes.push(format!(
            "--timeout is {asked} s, longer than the stack's TaskTimeoutSeconds ({} s): a task is stopped at the \
             stack's",
            ctx.config.task_timeout
        ));
    }
    let job = Job {
        layout,
        plan: &plan,
        account,
        stagers,
        notes,
    };
    match launch(ctx, &job, task_refs).await {
        Ok(answer) => Ok(answer),
        Err(e) if !e.is_transient() => {
            let line = format!("the stack could not start this job: {e}");
            let answer = reject_at(ctx, bucket, &error_key, &[line]).await?;
            withdraw(ctx, layout, &execution_arn).await?;
            Ok(answer)
        }
        Err(e) => Err(e),
    }
}

/// After a refusal is written: a copy of this event delivered at the same time may have started the job in the
/// meantime (its StartExecution came after this one failed); it is stopped, and the cluster removed. The copy
/// looks for `error.txt` after its own start and stops its execution too ([`launch`]), so whichever order the two
/// take, a refused job runs nothing.
async fn withdraw(ctx: &Ctx, layout: &JobLayout, execution_arn: &str) -> Result<(), FnError> {
    let job_id = &layout.job_id;
    // Asked of StopExecution itself, not of DescribeExecution, which may not show an execution just started
    // ("DescribeExecution": eventually consistent).
    stop_refused(ctx, execution_arn).await?;
    // Every copy's task definition revision, and the cluster: the janitor does not close a refused job.
    let cluster = cluster_name(&ctx.config.stack, job_id);
    for definition in cluster::definitions(&ctx.aws.ecs, &cluster).await? {
        cluster::deregister_definition(&ctx.aws.ecs, &definition).await?;
    }
    if let Err(e) = cluster::delete_cluster(&ctx.aws.ecs, &cluster).await {
        warn!(job_id = %job_id, error = %e, "the cluster stays for the janitor's sweep");
    }
    Ok(())
}

async fn running(ctx: &Ctx, execution_arn: &str) -> Result<bool, FnError> {
    Ok(execution::status(&ctx.aws.sfn, execution_arn)
        .await?
        .is_some_and(|status| status == "RUNNING"))
}

/// Stops the execution a copy of the event started for a refused job, if there is one. Both copies may stop it:
/// one that finds it stopped already, or never started, is done.
async fn stop_refused(ctx: &Ctx, execution_arn: &str) -> Result<(), FnError> {
    let cause = "another delivery of this job's event could not start it; see the job's error.txt";
    match execution::stop(&ctx.aws.sfn, execution_arn, "Ecsub.Refused", cause).await {
        Ok(()) => {
            warn!(
                execution_arn,
                "a copy of the event had started the refused job; it is stopped"
            );
            Ok(())
        }
        Err(e) if running(ctx, execution_arn).await? => Err(e),
        Err(_) => Ok(()),
    }
}

/// Why the job's instance types cannot run it, if they cannot: architectures mixed (ecsub-core's
/// `admission::mixed_architectures`), GPU types mixed with plain ones or on arm64 (`gpu::refuse_types`). EC2 is
/// asked once (the answer is kept for the process's life); a type EC2 does not know is refused here, by name.
async fn refused_types(ctx: &Ctx, spec: &ecsub_core::JobSpec) -> Result<Option<String>, FnError> {
    let facts = match compute::type_facts(&ctx.aws.ec2, &spec.instance_types).await {
        Ok(facts) => facts,
        Err(e) if !e.is_transient() => {
            return Ok(Some(format!("--aws-ec2-instance-type: {}", e.message)))
        }
        Err(e) => return Err(e),
    };
    let described: Vec<gpu::TypeGpus<'_>> = spec
        .instance_types
        .iter()
        .filter_map(|t| {
            let f = facts.get(t)?;
            Some(gpu::TypeGpus {
                name: t.as_str(),
                arch: f.arch.name(),
                gpus: f.gpus,
            })
        })
        .collect();
    let named: Vec<(&str, &str)> = described.iter().map(|t| (t.name, t.arch)).collect();
    Ok(admission::mixed_architectures(&named, spec.multi_arch)
        .or_else(|| gpu::refuse_types(&described)))
}

/// The subnets the job's instances launch in: its `--aws-subnet-id`, else the stack's SubnetIds (none: the default
/// VPC's).
fn subnets<'a>(
    spec: &'a ecsub_core::JobSpec,
    config: &'a crate::config::StackConfig,
) -> &'a [String] {
    if spec.subnet_ids.is_empty() {
        &config.subnet_ids
    } else {
        &spec.subnet_ids
    }
}

struct Job<'a> {
    layout: &'a JobLayout,
    plan: &'a Plan,
    account: Option<&'a str>,
    stagers: Vec<StagerRef>,
    /// What the job's user should know as it starts (the vCPU quota it waits on).
    notes: Vec<String>,
}

/// The stack's stagers, from the manifest `ecsub-cli publish-stager` writes; a job cannot run without one (its
/// tasks' copies all go through it), so its absence refuses the job with the way out.
async fn stagers(ctx: &Ctx, bucket: &str) -> Result<Result<Vec<StagerRef>, String>, FnError> {
    let Some(bytes) = store::get(&ctx.aws.s3, bucket, MANIFEST_KEY).await? else {
        return Ok(Err(format!(
            "the stack has no stager (s3://{bucket}/{MANIFEST_KEY} is missing): publish it with \
             `ecsub-cli publish-stager --aws-s3-bucket s3://{bucket} PATH-TO-ecsub-stage` (README: Deploy)"
        )));
    };
    Ok(StagerManifest::parse(&bytes)
        .map(|m| m.stagers)
        .map_err(|e| format!("s3://{bucket}/{MANIFEST_KEY}: {e}; publish the stager again")))
}

/// Scripts, ECS, the execution, `started.json`. What was made for the job is removed if the execution does not
/// start (a duplicate delivery that lost the race to start it removes nothing).
async fn launch(ctx: &Ctx, job: &Job<'_>, task_refs: Vec<TaskRef>) -> Result<Value, FnError> {
    let (layout, spec) = (job.layout, &job.plan.spec);
    let bucket = &layout.bucket;
    let job_id = &layout.job_id;
    let s3 = &ctx.aws.s3;
    let run_sh = job.plan.run_script();
    let setenv = job.plan.setenv_script();
    store::put(
        s3,
        bucket,
        &layout.run_sh_key(),
        run_sh.into_bytes(),
        "text/x-shellscript",
    )
    .await?;
    store::put(
        s3,
        bucket,
        &layout.setenv_key(),
        setenv.into_bytes(),
        "text/x-shellscript",
    )
    .await?;

    // The tasks as the distributed Map reads them: one object, whatever the number of tasks (the execution's
    // input stays the same size; Step Functions caps it at 256 KiB).
    let items =
        serde_json::to_vec(&task_refs).map_err(|e| FnError::invalid_input(e.to_string()))?;
    store::put(s3, bucket, &layout.items_key(), items, "application/json").await?;
    let cluster = cluster_name(&ctx.config.stack, job_id);
    let owner = Owner {
        account: job.account,
        ..ctx.owner()
    };
    let task_definition = cluster::prepare(&ctx.aws, &owner, spec, &cluster).await?;
    let wait = join_wait(spec.waiter_delay, ctx.config.join_timeout);
    let input = ExecutionInput {
        job: JobRef {
            job_id: job_id.clone(),
            bucket: bucket.clone(),
            job_url: layout.job_url(),
            cluster: cluster.clone(),
            task_definition: task_definition.clone(),
            instance_types: spec.instance_types.clone(),
            spot: spec.spot,
            retry_od: spec.retry_od,
            spot_attempts: spec.spot_attempts,
            retries: spec.retries,
            retry_on_exit: spec.retry_on_exit.clone(),
            retry_larger: spec.retry_larger,
            keep_on_failure: spec.keep_on_failure,
            tags: spec.tags.clone(),
            disk_size: spec.disk_size,
            subnet_ids: subnets(spec, &ctx.config).to_vec(),
            security_group_id: spec
                .security_group_id
                .clone()
                .or_else(|| ctx.config.security_group_id.clone()),
            key_name: spec.key_name.clone(),
            request_payer_buckets: spec.request_payer_buckets.clone(),
            processes: spec.processes,
            waiter_delay: spec.waiter_delay,
            join_wait: wait,
            join_polls: join_polls(ctx.config.join_timeout, wait),
            task_timeout: spec
                .timeout
                .map_or(ctx.config.task_timeout, |t| t.min(ctx.config.task_timeout)),
            stagers: job.stagers.clone(),
            skip_price: spec.skip_price,
            launch_timeout: ctx
                .config
                .launch_patience
                .saturating_add(ecsub_core::chain::LAUNCH_TIMEOUT_MARGIN),
        },
        items: TaskItems {
            key: layout.items_key(),
            count: task_refs.len(),
            results_prefix: layout.results_prefix(),
        },
        map_error: None,
    };
    let input_json =
        serde_json::to_string(&input).map_err(|e| FnError::invalid_input(e.to_string()))?;
    let state_machine = ctx.config.state_machine_arn.as_deref().unwrap_or_default();
    let started = execution::start(&ctx.aws.sfn, state_machine, job_id.as_str(), input_json).await;
    let execution_arn = match started {
        Ok(Started::Now(arn)) => arn,
        Ok(Started::Already) => {
            // Another delivery of this event won the race and started the job with its own task definition
            // revision; this one's is not used by anything.
            info!(job_id = %job_id, "duplicate event: the execution exists already");
            if let Err(e) = cluster::deregister_definition(&ctx.aws.ecs, &task_definition).await {
                warn!(job_id = %job_id, error = %e, "an unused task definition revision stays");
            }
            return Ok(json!({ "job_id": job_id, "duplicate": true }));
        }
        Err(error) => {
            // Only this delivery's own revision goes: the cluster may be another copy's, which started the job
            // (a refusal removes it once its error.txt is written: `withdraw`; a retry makes it again).
            if let Err(cleanup) =
                cluster::deregister_definition(&ctx.aws.ecs, &task_definition).await
            {
                warn!(job_id = %job_id, error = %cleanup, "an unused task definition revision stays");
            }
            return Err(error);
        }
    };
    if store::exists(s3, bucket, &layout.error_key()).await? {
        // A copy of this event refused the job while this one started it: the refusal stands. This copy stops its
        // execution and removes the cluster, which it may have made again after the refusal removed it.
        warn!(job_id = %job_id, "the job was refused by a copy of its event; its execution is stopped");
        if let Err(e) = cluster::deregister_definition(&ctx.aws.ecs, &task_definition).await {
            warn!(job_id = %job_id, error = %e, "an unused task definition revision stays");
        }
        withdraw(ctx, layout, &execution_arn).await?;
        return Ok(json!({ "job_id": job_id, "refused": true }));
    }
    let record = StartedRecord {
        job_id: job_id.clone(),
        execution_arn: execution_arn.clone(),
        tasks: input.items.count,
        started_at: crate::now_rfc3339(),
        cluster,
        log_group: log_group(&ctx.config.stack, &spec.log_group_name),
        notes: job.notes.clone(),
    };
    let body =
        serde_json::to_vec_pretty(&record).map_err(|e| FnError::invalid_input(e.to_string()))?;
    store::put(s3, bucket, &layout.started_key(), body, "application/json").await?;
    info!(job_id = %job_id, tasks = input.items.count, execution_arn, "job started");
    Ok(json!({ "job_id": job_id, "execution_arn": execution_arn, "tasks": input.items.count }))
}

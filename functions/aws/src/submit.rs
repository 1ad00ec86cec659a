//! The `submit` function: a job arrives (a pushed `job.json`, a tasks file dropped into `inbox/`, a schedule
//! naming a stored spec) and is validated, its scripts generated, its cluster and task definition created, and
//! its execution started under the job id. A duplicated event starts nothing new; a bad job writes a readable
//! error object and starts nothing.

use crate::ctx::Ctx;
use crate::error::{code, FnError};
use crate::events::{EventBridgeEvent, S3ObjectDetail, ScheduleInput};
use crate::store;
use aws_sdk_ecs::types as ecs;
use ecsub_core::chain::{
    container_command, ExecutionInput, JobRef, JobSubmission, StartedRecord, TaskRef,
    CONTAINER_NAME, LOG_STREAM_PREFIX, TAG_JOB,
};
use ecsub_core::script::{run_script, setenv_script};
use ecsub_core::tasks::{self, Cell, TasksFile};
use ecsub_core::{JobArgs, JobId, JobLayout, JobSpec};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::{json, Value};
use tracing::{info, warn};

/// Step Functions' limit on an execution's input, and room kept in it for the job's own settings.
const MAX_EXECUTION_INPUT: usize = 256 * 1024;
const JOB_REF_ALLOWANCE: usize = 8 * 1024;

/// Where inbox drops may take their options from when the file has no `#ecsub:` lines for them.
pub const INBOX_DEFAULTS_KEY: &str = "inbox/defaults.json";

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    let account = account_of(&event.context.invoked_function_arn);
    let payload = event.payload;
    if let Some(schedule) = payload.get("schedule") {
        let schedule: ScheduleInput = serde_json::from_value(schedule.clone())
            .map_err(|e| FnError::invalid_input(format!("schedule input: {e}")))?;
        return from_schedule(ctx, &schedule).await;
    }
    let event: EventBridgeEvent<S3ObjectDetail> = serde_json::from_value(payload)
        .map_err(|e| FnError::invalid_input(format!("not an S3 event: {e}")))?;
    let bucket = event.detail.bucket.name.clone();
    let key = url_decode(&event.detail.object.key);
    if let Some((layout, name)) = JobLayout::from_key(&bucket, &key) {
        if name == "job.json" {
            return start_job(ctx, &layout, account.as_deref()).await;
        }
    }
    if key.starts_with("inbox/") && key.ends_with(".tsv") {
        let identity = [
            event.id.as_deref().unwrap_or_default(),
            &event.time.map(|t| t.to_rfc3339()).unwrap_or_default(),
            &key,
            event.detail.object.etag.as_deref().unwrap_or_default(),
            event.detail.object.sequencer.as_deref().unwrap_or_default(),
        ];
        return from_inbox(ctx, &bucket, &key, &JobId::suffix_for(&identity)).await;
    }
    info!(bucket, key, "not a job or an inbox tasks file; ignored");
    Ok(json!({ "ignored": key }))
}

/// The account id out of a function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
fn account_of(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

/// S3 event keys are URL-encoded, with `+` for a space.
pub fn url_decode(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An inbox drop becomes a pushed job: its tasks file, its script and a `job.json` (created only if absent, so
/// a duplicated event stops here). Errors go to `<key>.error.txt` beside the drop.
async fn from_inbox(ctx: &Ctx, bucket: &str, key: &str, suffix: &str) -> Result<Value, FnError> {
    let error_key = format!("{key}.error.txt");
    let name = key.rsplit('/').next().unwrap_or(key).to_owned();
    let Some(bytes) = store::get(&ctx.s3, bucket, key).await? else {
        warn!(key, "the dropped tasks file is gone");
        return Ok(json!({ "ignored": key }));
    };
    let tasks = match tasks::parse(&name, &bytes) {
        Ok(tasks) => tasks,
        Err(d) => return reject_at(ctx, bucket, &error_key, &d.lines()).await,
    };
    let directives = match JobArgs::parse_directives(&tasks) {
        Ok(d) => d,
        Err(d) => return reject_at(ctx, bucket, &error_key, &d.lines()).await,
    };
    let defaults = match store::get(&ctx.s3, bucket, INBOX_DEFAULTS_KEY).await? {
        None => InboxDefaults::default(),
        Some(raw) => match serde_json::from_slice::<InboxDefaults>(&raw) {
            Ok(d) => d,
            Err(e) => {
                let line =
                    format!("s3://{bucket}/{INBOX_DEFAULTS_KEY}: not valid job options: {e}");
                return reject_at(ctx, bucket, &error_key, &[line]).await;
            }
        },
    };
    let args = directives.args.over(defaults.options);
    let Some(script_url) = directives.script.or(defaults.script) else {
        let line = format!(
            "{name}:1:1: no script: add a line `#ecsub: --script s3://BUCKET/KEY` before the header, \
             or a \"script\" in s3://{bucket}/{INBOX_DEFAULTS_KEY}"
        );
        return reject_at(ctx, bucket, &error_key, &[line]).await;
    };
    let script = match fetch_url(ctx, &script_url).await? {
        Some(script) => script,
        None => {
            let line = format!("{name}: the script `{script_url}` does not exist");
            return reject_at(ctx, bucket, &error_key, &[line]).await;
        }
    };
    let job_name = args
        .task_name
        .clone()
        .unwrap_or_else(|| JobId::name_from_file(&name));
    let job_id = match JobId::new(&job_name, suffix) {
        Ok(id) => id,
        Err(e) => {
            return reject_at(
                ctx,
                bucket,
                &error_key,
                &[format!("{name}: --task-name: {e}")],
            )
            .await
        }
    };
    materialize(ctx, bucket, job_id, &bytes, script, args, &name, "inbox").await
}

/// Options for inbox drops that the file itself does not give.
#[derive(Debug, Default, Deserialize)]
struct InboxDefaults {
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    options: JobArgs,
}

/// A stored job spec, run by a schedule: `specs/<name>.json`.
#[derive(Debug, Deserialize)]
struct StoredSpec {
    tasks: String,
    script: String,
    #[serde(default)]
    options: JobArgs,
}

async fn from_schedule(ctx: &Ctx, schedule: &ScheduleInput) -> Result<Value, FnError> {
    let bucket = ctx.config.bucket.clone();
    let spec_name = schedule
        .spec
        .rsplit('/')
        .next()
        .unwrap_or(&schedule.spec)
        .to_owned();
    let error_key = format!("{}.error.txt", schedule.spec);
    let Some(raw) = store::get(&ctx.s3, &bucket, &schedule.spec).await? else {
        let line = format!(
            "s3://{bucket}/{}: the stored job spec does not exist",
            schedule.spec
        );
        return reject_at(ctx, &bucket, &error_key, &[line]).await;
    };
    let spec: StoredSpec = match serde_json::from_slice(&raw) {
        Ok(spec) => spec,
        Err(e) => {
            let line = format!(
                "s3://{bucket}/{}: not a job spec ({{\"tasks\", \"script\", \"options\"}}): {e}",
                schedule.spec
            );
            return reject_at(ctx, &bucket, &error_key, &[line]).await;
        }
    };
    let (Some(tasks_bytes), Some(script)) = (
        fetch_url(ctx, &spec.tasks).await?,
        fetch_url(ctx, &spec.script).await?,
    ) else {
        let line = format!(
            "{}: its tasks file `{}` or script `{}` does not exist",
            schedule.spec, spec.tasks, spec.script
        );
        return reject_at(ctx, &bucket, &error_key, &[line]).await;
    };
    let tasks_name = spec
        .tasks
        .rsplit('/')
        .next()
        .unwrap_or("tasks.tsv")
        .to_owned();
    let tasks = match tasks::parse(&tasks_name, &tasks_bytes) {
        Ok(t) => t,
        Err(d) => return reject_at(ctx, &bucket, &error_key, &d.lines()).await,
    };
    let file_args = JobArgs::from_directives(&tasks).unwrap_or_default();
    let args = spec.options.over(file_args);
    let job_name = args
        .task_name
        .clone()
        .unwrap_or_else(|| JobId::name_from_file(&spec_name));
    let job_id = JobId::new(
        &job_name,
        &JobId::suffix_for(&[&schedule.spec, &schedule.time, &schedule.id]),
    )
    .map_err(FnError::invalid_input)?;
    materialize(
        ctx,
        &bucket,
        job_id,
        &tasks_bytes,
        script,
        args,
        &tasks_name,
        "schedule",
    )
    .await
}

async fn fetch_url(ctx: &Ctx, url: &str) -> Result<Option<Vec<u8>>, FnError> {
    let Some((bucket, key)) = url.strip_prefix("s3://").and_then(|r| r.split_once('/')) else {
        return Ok(None);
    };
    store::get(&ctx.s3, bucket, key).await
}

/// Writes a job the way `ecsub-cli push` does; `job.json` last and only if absent, which starts it.
#[allow(clippy::too_many_arguments)]
async fn materialize(
    ctx: &Ctx,
    bucket: &str,
    job_id: JobId,
    tasks_bytes: &[u8],
    script: Vec<u8>,
    args: JobArgs,
    tasks_file: &str,
    origin: &str,
) -> Result<Value, FnError> {
    let layout = JobLayout {
        bucket: bucket.to_owned(),
        prefix: String::new(),
        job_id: job_id.clone(),
    };
    if store::exists(&ctx.s3, bucket, &layout.spec_key()).await? {
        info!(job_id = %job_id, "duplicate event: the job exists already");
        return Ok(json!({ "job_id": job_id, "duplicate": true }));
    }
    store::put(
        &ctx.s3,
        bucket,
        &layout.tasks_key(),
        tasks_bytes.to_vec(),
        "text/tab-separated-values",
    )
    .await?;
    store::put(
        &ctx.s3,
        bucket,
        &layout.script_key(),
        script,
        "text/x-shellscript",
    )
    .await?;
    let submission = JobSubmission {
        job_id: job_id.clone(),
        args,
        tasks_file: tasks_file.to_owned(),
        origin: origin.to_owned(),
    };
    let body = serde_json::to_vec_pretty(&submission)
        .map_err(|e| FnError::invalid_input(e.to_string()))?;
    let created = store::put_new(
        &ctx.s3,
        bucket,
        &layout.spec_key(),
        body,
        "application/json",
    )
    .await?;
    info!(job_id = %job_id, created, origin, "job written");
    Ok(json!({ "job_id": job_id, "duplicate": !created }))
}

async fn reject_at(ctx: &Ctx, bucket: &str, key: &str, lines: &[String]) -> Result<Value, FnError> {
    let mut text = lines.join("\n");
    text.push('\n');
    store::put(
        &ctx.s3,
        bucket,
        key,
        text.into_bytes(),
        "text/plain; charset=utf-8",
    )
    .await?;
    warn!(key, errors = lines.len(), "job rejected");
    Ok(json!({ "rejected": format!("s3://{bucket}/{key}"), "errors": lines }))
}

/// A pushed job: validate it again, check its inputs, write its scripts, prepare ECS and start its execution.
async fn start_job(ctx: &Ctx, layout: &JobLayout, account: Option<&str>) -> Result<Value, FnError> {
    let job_id = &layout.job_id;
    let state_machine = ctx
        .config
        .state_machine_arn
        .as_deref()
        .ok_or_else(|| FnError::invalid_input("ECSUB_STATE_MACHINE_ARN is not set"))?;
    let execution_arn = format!(
        "{}:{job_id}",
        state_machine.replacen(":stateMachine:", ":execution:", 1)
    );
    if ctx
        .sfn
        .describe_execution()
        .execution_arn(&execution_arn)
        .send()
        .await
        .is_ok()
    {
        info!(job_id = %job_id, "duplicate event: the execution exists already");
        return Ok(json!({ "job_id": job_id, "duplicate": true }));
    }
    let bucket = &layout.bucket;
    let error_key = layout.error_key();
    let Some(raw) = store::get(&ctx.s3, bucket, &layout.spec_key()).await? else {
        return Err(FnError::invalid_input(format!(
            "s3://{bucket}/{} is gone",
            layout.spec_key()
        )));
    };
    let submission: JobSubmission = match serde_json::from_slice(&raw) {
        Ok(s) => s,
        Err(e) => return reject_at(ctx, bucket, &error_key, &[format!("job.json: {e}")]).await,
    };
    let Some(tasks_bytes) = store::get(&ctx.s3, bucket, &layout.tasks_key()).await? else {
        return reject_at(
            ctx,
            bucket,
            &error_key,
            &["tasks.tsv: missing from the job".to_owned()],
        )
        .await;
    };
    let tasks = match tasks::parse(&submission.tasks_file, &tasks_bytes) {
        Ok(t) => t,
        Err(d) => return reject_at(ctx, bucket, &error_key, &d.lines()).await,
    };
    let spec = match submission.args.clone().resolve(job_id.clone()) {
        Ok(spec) => spec,
        Err(errors) => return reject_at(ctx, bucket, &error_key, &errors).await,
    };
    let selected = match spec.task_range {
        Some(range) => match range.select(tasks.tasks.len()) {
            Ok(r) => r,
            Err(e) => return reject_at(ctx, bucket, &error_key, &[e]).await,
        },
        None => 0..=tasks.tasks.len() - 1,
    };
    if !store::exists(&ctx.s3, bucket, &layout.script_key()).await? {
        return reject_at(
            ctx,
            bucket,
            &error_key,
            &["the user script is missing from the job".to_owned()],
        )
        .await;
    }
    if spec.verify_bucket {
        let missing = missing_inputs(ctx, &tasks, selected.clone()).await?;
        if !missing.is_empty() {
            return reject_at(ctx, bucket, &error_key, &missing).await;
        }
    }
    let task_refs: Vec<TaskRef> = tasks.tasks[selected.clone()]
        .iter()
        .map(|t| TaskRef {
            index: t.index,
            line: t.line,
        })
        .collect();
    let refs_size = serde_json::to_string(&task_refs).map_or(0, |j| j.len());
    if refs_size + JOB_REF_ALLOWANCE > MAX_EXECUTION_INPUT {
        let per_task = (refs_size / task_refs.len().max(1)).max(1);
        let line = format!(
            "the job's {} tasks would make an execution input of {} KiB, over Step Functions' 256 KiB: split it \
             with --task-range into jobs of at most {} tasks",
            task_refs.len(),
            (refs_size + JOB_REF_ALLOWANCE) / 1024,
            (MAX_EXECUTION_INPUT - JOB_REF_ALLOWANCE) / per_task
        );
        return reject_at(ctx, bucket, &error_key, &[line]).await;
    }
    let run_sh = run_script(&spec, &tasks.columns);
    let setenv = setenv_script(&tasks.file, &tasks.columns, &tasks.tasks[selected.clone()]);
    store::put(
        &ctx.s3,
        bucket,
        &layout.run_sh_key(),
        run_sh.into_bytes(),
        "text/x-shellscript",
    )
    .await?;
    store::put(
        &ctx.s3,
        bucket,
        &layout.setenv_key(),
        setenv.into_bytes(),
        "text/x-shellscript",
    )
    .await?;

    let task_definition = prepare_ecs(ctx, &spec, account).await?;
    let input = ExecutionInput {
        job: JobRef {
            job_id: job_id.clone(),
            bucket: bucket.clone(),
            job_url: layout.job_url(),
            cluster: job_id.to_string(),
            task_definition,
            instance_types: spec.instance_types.clone(),
            spot: spec.spot,
            retry_od: spec.retry_od,
            disk_size: spec.disk_size,
            subnet_ids: if spec.subnet_ids.is_empty() {
                ctx.config.subnet_ids.clone()
            } else {
                spec.subnet_ids.clone()
            },
            security_group_id: spec
                .security_group_id
                .clone()
                .or_else(|| ctx.config.security_group_id.clone()),
            key_name: spec.key_name.clone(),
            instance_profile: spec
                .instance_role_name
                .clone()
                .or_else(|| ctx.config.instance_profile.clone()),
            processes: spec.processes,
            waiter_delay: spec.waiter_delay,
            join_polls: ctx.config.join_polls,
            task_timeout: ctx.config.task_timeout,
        },
        tasks: task_refs,
    };
    let input_json =
        serde_json::to_string(&input).map_err(|e| FnError::invalid_input(e.to_string()))?;
    let started = ctx
        .sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(job_id.as_str())
        .input(input_json)
        .send()
        .await;
    let execution_arn = match started {
        Ok(out) => out.execution_arn().to_owned(),
        Err(e) if code(&e) == Some("ExecutionAlreadyExists") => {
            info!(job_id = %job_id, "duplicate event: the execution exists already");
            return Ok(json!({ "job_id": job_id, "duplicate": true }));
        }
        Err(e) => return Err(FnError::aws(format!("StartExecution {job_id}"), &e)),
    };
    let record = StartedRecord {
        job_id: job_id.clone(),
        execution_arn: execution_arn.clone(),
        tasks: input.tasks.len(),
        started_at: crate::now_rfc3339(),
    };
    let body =
        serde_json::to_vec_pretty(&record).map_err(|e| FnError::invalid_input(e.to_string()))?;
    store::put(
        &ctx.s3,
        bucket,
        &layout.started_key(),
        body,
        "application/json",
    )
    .await?;
    info!(job_id = %job_id, tasks = input.tasks.len(), execution_arn, "job started");
    Ok(json!({ "job_id": job_id, "execution_arn": execution_arn, "tasks": input.tasks.len() }))
}

/// ecsub's pre-flight: every input of every selected task exists (each distinct location checked once).
async fn missing_inputs(
    ctx: &Ctx,
    tasks: &TasksFile,
    selected: std::ops::RangeInclusive<usize>,
) -> Result<Vec<String>, FnError> {
    let mut wanted: Vec<(String, ecsub_core::S3Path)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for task in &tasks.tasks[selected] {
        for (column, cell) in tasks.columns.iter().zip(&task.cells) {
            if let (true, Cell::Path(path)) = (column.kind.is_input(), cell) {
                if seen.insert(path.url()) {
                    let at = format!(
                        "{}:{}: task {} (`{column}`)",
                        tasks.file, task.line, task.index
                    );
                    wanted.push((at, path.clone()));
                }
            }
        }
    }
    let mut checks = tokio::task::JoinSet::new();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    for (i, (_, path)) in wanted.iter().enumerate() {
        let (s3, path, limit) = (ctx.s3.clone(), path.clone(), limit.clone());
        checks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, store::location_exists(&s3, &path).await)
        });
    }
    let mut missing = Vec::new();
    while let Some(done) = checks.join_next().await {
        let (i, found) = done.map_err(|e| FnError::invalid_input(format!("input check: {e}")))?;
        if !found? {
            missing.push((
                i,
                format!("{}: input `{}` not found", wanted[i].0, wanted[i].1),
            ));
        }
    }
    missing.sort();
    Ok(missing.into_iter().map(|(_, m)| m).collect())
}

/// The job's log group, cluster and task definition; returns the task definition's ARN.
async fn prepare_ecs(ctx: &Ctx, spec: &JobSpec, account: Option<&str>) -> Result<String, FnError> {
    let job = spec.job_id.as_str();
    match ctx
        .logs
        .create_log_group()
        .log_group_name(&spec.log_group_name)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if code(&e) == Some("ResourceAlreadyExistsException") => {}
        Err(e) => {
            return Err(FnError::aws(
                format!("CreateLogGroup {}", spec.log_group_name),
                &e,
            ))
        }
    }
    ctx.ecs
        .create_cluster()
        .cluster_name(job)
        .tags(ecs::Tag::builder().key(TAG_JOB).value(job).build())
        .send()
        .await
        .map_err(|e| FnError::aws(format!("CreateCluster {job}"), &e))?;

    let image = match (spec.use_amazon_ecr, account) {
        (true, Some(account)) => format!(
            "{account}.dkr.ecr.{}.amazonaws.com/{}",
            ctx.region, spec.image
        ),
        _ => spec.image.clone(),
    };
    let log = ecs::LogConfiguration::builder()
        .log_driver(ecs::LogDriver::Awslogs)
        .options("awslogs-group", &spec.log_group_name)
        .options("awslogs-region", &ctx.region)
        .options("awslogs-stream-prefix", LOG_STREAM_PREFIX)
        .build()
        .map_err(|e| FnError::invalid_input(e.to_string()))?;
    let mut container = ecs::ContainerDefinition::builder()
        .name(CONTAINER_NAME)
        .image(image)
        .essential(true)
        .memory_reservation(256)
        .set_command(Some(container_command(&spec.setup_container_cmd)))
        .working_directory("/scratch")
        .mount_points(
            ecs::MountPoint::builder()
                .source_volume("scratch")
                .container_path("/scratch")
                .build(),
        )
        .log_configuration(log)
        .privileged(spec.goofys);
    let mut volumes = vec![ecs::Volume::builder()
        .name("scratch")
        .host(
            ecs::HostVolumeProperties::builder()
                .source_path("/scratch")
                .build(),
        )
        .build()];
    if spec.dind {
        container = container.mount_points(
            ecs::MountPoint::builder()
                .source_volume("docker-sock")
                .container_path("/var/run/docker.sock")
                .build(),
        );
        volumes.push(
            ecs::Volume::builder()
                .name("docker-sock")
                .host(
                    ecs::HostVolumeProperties::builder()
                        .source_path("/var/run/docker.sock")
                        .build(),
                )
                .build(),
        );
    }
    if spec.goofys {
        let fuse = ecs::Device::builder()
            .host_path("/dev/fuse")
            .build()
            .map_err(|e| FnError::invalid_input(e.to_string()))?;
        container =
            container.linux_parameters(ecs::LinuxParameters::builder().devices(fuse).build());
    }
    let mut request = ctx
        .ecs
        .register_task_definition()
        .family(job)
        .network_mode(ecs::NetworkMode::Bridge)
        .container_definitions(container.build())
        .set_volumes(Some(volumes))
        .tags(ecs::Tag::builder().key(TAG_JOB).value(job).build());
    if let (Some(account), Some(role)) = (
        account,
        spec.instance_role_name
            .as_ref()
            .or(ctx.config.instance_profile.as_ref()),
    ) {
        request = request.task_role_arn(format!("arn:aws:iam::{account}:role/{role}"));
    }
    let registered = request
        .send()
        .await
        .map_err(|e| FnError::aws(format!("RegisterTaskDefinition {job}"), &e))?;
    registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| FnError::invalid_input("RegisterTaskDefinition returned no ARN"))
}

#[cfg(test)]
mod tests {
    use super::url_decode;

    #[test]
    fn s3_event_keys_are_url_decoded() {
        assert_eq!(
            url_decode("inbox/my+tasks%2Cv2.tsv"),
            "inbox/my tasks,v2.tsv"
        );
        assert_eq!(url_decode("a%"), "a%");
        assert_eq!(url_decode("caf%C3%A9"), "café");
    }
}

//! The `launcher` function: the launch queue's consumer. Each task's Launch state sends an ask (its task token, the
//! job, the attempt, when it asked) and waits; the launcher takes what the queue brings together (a batch of up to
//! 100 within a second), launches for each job's asks at once at the pace EC2's buckets allow (ecsub-core's `Pace`,
//! kept for the life of the process), and answers each ask with its instance, in the order they asked. An ask that
//! must wait (throttling, a used-up quota, no capacity) goes back to the queue with a delay and why; one that has
//! waited the stack's launch patience is failed saying so; one EC2 refuses for good is failed with EC2's reason.
//!
//! Every instance belongs to exactly one ask: the launcher that claims an ask (an S3 object written only if there
//! is none, `launched/`) answers it, and any other instance launched for the same ask — a batch delivered twice —
//! or for an ask nobody waits for any more — a job cancelled while it launched — is terminated at once.

pub mod walk;

use crate::{layout_of, Ctx};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use ecsub_aws::{compute, execution, queue, store, FnError};
use ecsub_core::chain::asks::{groups, requeue_delay, Handled, CAPACITY_WAIT, TRANSIENT_WAIT};
use ecsub_core::chain::pace::{Ask, Pace};
use ecsub_core::chain::policy::out_of_patience;
use ecsub_core::chain::{
    error_names, Instance, JobRef, LaunchAsk, Waited, Waiting, TAG_ATTEMPT, TAG_TASK,
};
use lambda_runtime::LambdaEvent;
use std::collections::HashMap;
use std::sync::Mutex;
use tracing::{error, info, warn};

/// What the launcher believes EC2 lets the account launch, for the life of the process.
static PACE: Mutex<Option<Pace>> = Mutex::new(None);
/// The copies of asks this process handled (ecsub-core's `Handled`): a copy SQS delivers again is dropped.
static HANDLED: Mutex<Option<Handled>> = Mutex::new(None);
/// How many handled copies a process remembers (each a hash: 80 KB).
const HANDLED_KEPT: usize = 10_000;

fn now_seconds() -> f64 {
    crate::now_ms() as f64 / 1000.0
}

pub async fn handle(ctx: &Ctx, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, FnError> {
    let mut response = SqsBatchResponse::default();
    let mut asks = Vec::new();
    let mut message_of: HashMap<String, String> = HashMap::new();
    let mut handled = HANDLED
        .lock()
        .ok()
        .and_then(|mut h| h.take())
        .unwrap_or_else(|| Handled::new(HANDLED_KEPT));
    for record in event.payload.records {
        let id = record.message_id.unwrap_or_default();
        match serde_json::from_str::<LaunchAsk>(record.body.as_deref().unwrap_or_default()) {
            // A copy handled before (here or earlier in this batch), delivered again: SQS's at-least-once.
            Ok(ask) if handled.contains(&ask) || message_of.contains_key(&copy_key(&ask)) => {
                info!(job_id = %ask.job.job_id, task = ask.task.index, waits = ask.waits, "an ask delivered again is dropped")
            }
            Ok(ask) => {
                message_of.insert(copy_key(&ask), id);
                asks.push(ask);
            }
            // Without its token nobody can be answered: it is dropped, loudly.
            Err(e) => {
                error!(message_id = id, error = %e, "a message of the launch queue that is not an ask")
            }
        }
    }
    let taken = PACE.lock().ok().and_then(|mut pace| pace.take());
    let mut pace = taken.unwrap_or_else(|| Pace::new(now_seconds()));
    for group in groups(asks) {
        let copies: Vec<LaunchAsk> = group.clone();
        let again = launch_group(ctx, &mut pace, group).await;
        for ask in &again {
            if let Some(id) = message_of.get(&copy_key(ask)) {
                response.add_failure(id.clone());
            }
        }
        for ask in copies
            .iter()
            .filter(|c| !again.iter().any(|a| copy_key(a) == copy_key(c)))
        {
            handled.insert(ask);
        }
    }
    if let Ok(mut kept) = PACE.lock() {
        *kept = Some(pace);
    }
    if let Ok(mut kept) = HANDLED.lock() {
        *kept = Some(handled);
    }
    Ok(response)
}

/// Launches for one job's asks of one market; returns the asks to be delivered again by SQS (those that could be
/// neither answered nor sent back to wait).
async fn launch_group(ctx: &Ctx, pace: &mut Pace, group: Vec<LaunchAsk>) -> Vec<LaunchAsk> {
    let mut again = Vec::new();
    let Some(first) = group.first() else {
        return again;
    };
    if job_ended(ctx, &first.job).await {
        return again;
    }
    let now_ms = crate::now_ms();
    let patience = ctx.config.launch_patience;
    let (expired, mut live): (Vec<LaunchAsk>, Vec<LaunchAsk>) = group
        .into_iter()
        .partition(|ask| out_of_patience(asked_ms(ask, now_ms), now_ms, patience));
    for ask in expired {
        give_up(ctx, &ask, now_ms).await;
    }
    if live.is_empty() {
        return again;
    }
    let n = match pace.ask(now_seconds(), live.len()) {
        Ask::Now(n) => n as usize,
        Ask::At(at) => {
            let why = launch_rate();
            for ask in live {
                wait(ctx, ask, at - now_seconds(), &why, &mut again).await;
            }
            return again;
        }
    };
    let rest = live.split_off(n.min(live.len()));
    let walked = walk::walk(ctx, live).await;
    for (asked, answer) in &walked.calls {
        pace.answered(now_seconds(), *asked, *answer);
    }
    for (ask, instance) in walked.launched {
        answer(ctx, ask, instance, &mut again).await;
    }
    // When the pace lets the next call go: the wait of an ask refused for the launch rate, or not tried yet.
    let throttled = match pace.clone().ask(now_seconds(), 1) {
        Ask::At(at) => at - now_seconds(),
        Ask::Now(_) => 1.0,
    };
    if let Some(why) = walked.why {
        let waited = Waited {
            error: why.name.to_owned(),
            message: why.message.clone(),
        };
        for ask in walked.left {
            match why.name {
                error_names::THROTTLED => wait(ctx, ask, throttled, &waited, &mut again).await,
                error_names::QUOTA_EXCEEDED | error_names::CAPACITY_UNAVAILABLE => {
                    say_why_it_waits(ctx, &ask, &waited).await;
                    wait(ctx, ask, CAPACITY_WAIT, &waited, &mut again).await;
                }
                error_names::AWS_ERROR => wait(ctx, ask, TRANSIENT_WAIT, &waited, &mut again).await,
                _ => fail(ctx, &ask, why.name, &why.message).await,
            }
        }
    }
    let untried = launch_rate();
    for ask in rest {
        wait(ctx, ask, throttled, &untried, &mut again).await;
    }
    again
}

/// Which copy of which ask a message is (the token, the launch again, the waits before it).
fn copy_key(ask: &LaunchAsk) -> String {
    format!("{}:{}:{}", ask.token, ask.relaunch, ask.waits)
}

/// Why an ask waits that the launcher's pace holds back: EC2's RunInstances tokens.
fn launch_rate() -> Waited {
    Waited {
        error: error_names::THROTTLED.to_owned(),
        message: "waiting for EC2's RunInstances tokens (the account's launch rate)".to_owned(),
    }
}

/// When the ask was made, in ms; one whose time cannot be read counts from now.
fn asked_ms(ask: &LaunchAsk, now_ms: i64) -> i64 {
    ecsub_core::time::rfc3339_ms(&ask.asked_at).unwrap_or(now_ms)
}

/// Whether the job's execution has ended (a cancel, a failure): its asks are dropped, nobody waits for them. A
/// status that cannot be read counts as running (an instance nobody waits for is terminated when it is answered).
async fn job_ended(ctx: &Ctx, job: &JobRef) -> bool {
    let Some(arn) = ctx.config.execution_arn(job.job_id.as_str()) else {
        return false;
    };
    match execution::status(&ctx.aws.sfn, &arn).await {
        Ok(Some(status)) if status != "RUNNING" => {
            info!(job_id = %job.job_id, status, "the job ended: its asks are dropped");
            true
        }
        Ok(_) => false,
        Err(e) => {
            warn!(job_id = %job.job_id, error = %e, "whether the job still runs is unknown; launching");
            false
        }
    }
}

/// Claims the ask for the instance and answers it. An ask claimed before (a batch delivered again) is answered
/// with the instance it was given, and this one, if another, is terminated; so is one nobody waits for.
async fn answer(ctx: &Ctx, ask: LaunchAsk, instance: Instance, again: &mut Vec<LaunchAsk>) {
    let job_id = ask.job.job_id.clone();
    let claim = claim(ctx, &ask, &instance).await;
    let (given, fresh) = match claim {
        Ok(claimed) => claimed,
        Err(e) => {
            warn!(%job_id, task = ask.task.index, error = %e, "the launch could not be claimed; the instance is terminated and the ask waits");
            terminate(ctx, &instance, "its launch could not be claimed").await;
            let why = Waited {
                error: e.name.to_owned(),
                message: e.message.clone(),
            };
            wait(ctx, ask, TRANSIENT_WAIT, &why, again).await;
            return;
        }
    };
    if given.instance_id != instance.instance_id {
        terminate(ctx, &instance, "its ask was given another instance").await;
    } else if fresh {
        let tags = [
            ("Name", format!("{}.{:03}", job_id, ask.task.index)),
            (TAG_TASK, ask.task.index.to_string()),
            (TAG_ATTEMPT, ask.attempt.number.to_string()),
        ];
        if let Err(e) = compute::tag_instance(&ctx.aws.ec2, &instance.instance_id, &tags).await {
            warn!(%job_id, instance_id = instance.instance_id, error = %e, "the instance's task tags were not put on");
        }
    }
    let output = match serde_json::to_string(&given) {
        Ok(output) => output,
        Err(e) => {
            error!(%job_id, error = %e, "an instance that does not serialize");
            return;
        }
    };
    match execution::resume(&ctx.aws.sfn, &ask.token, output).await {
        Ok(true) => {
            info!(%job_id, task = ask.task.index, attempt = ask.attempt.number, instance_id = given.instance_id, "answered")
        }
        // Closed before this answer: the job ended (nobody will ever use the instance), or a delivery of the same
        // ask found this claim and answered with this very instance first (its task's: keep it). A Launch state
        // that timed out while its job runs (after the stack's launch patience) leaves it to the job's end.
        Ok(false) if fresh => {
            if job_ended(ctx, &ask.job).await {
                terminate(ctx, &instance, "nothing waits for it: its job ended").await;
            } else {
                info!(%job_id, task = ask.task.index, instance_id = instance.instance_id, "answered first by a delivery of the same ask, with this instance");
            }
        }
        // An ask claimed and answered before, delivered again (its instance, if this one, is its task's).
        Ok(false) => {}
        // The ask comes back and finds its claim.
        Err(e) => {
            warn!(%job_id, task = ask.task.index, error = %e, "the answer was not taken; the ask comes back");
            again.push(ask);
        }
    }
}

/// The instance the ask is given, and whether this launcher claimed it now: this one if the ask was not claimed
/// yet, else the one claimed before (by a delivery of the same ask that may or may not have answered it).
async fn claim(
    ctx: &Ctx,
    ask: &LaunchAsk,
    instance: &Instance,
) -> Result<(Instance, bool), FnError> {
    let layout = layout_of(&ask.job)?;
    let key = layout.launched_key(ask.task.index, ask.attempt.number, ask.relaunch);
    let body = serde_json::to_vec(instance).map_err(|e| FnError::invalid_input(e.to_string()))?;
    if store::put_new(&ctx.aws.s3, &layout.bucket, &key, body, "application/json").await? {
        return Ok((instance.clone(), true));
    }
    let claimed = store::get(&ctx.aws.s3, &layout.bucket, &key)
        .await?
        .ok_or_else(|| FnError::new(error_names::AWS_ERROR, format!("{key} vanished")))?;
    let claimed = serde_json::from_slice(&claimed)
        .map_err(|e| FnError::invalid_input(format!("s3://{}/{key}: {e}", layout.bucket)))?;
    Ok((claimed, false))
}

async fn terminate(ctx: &Ctx, instance: &Instance, why: &str) {
    match compute::terminate(&ctx.aws.ec2, &instance.instance_id).await {
        Ok(()) => warn!(
            instance_id = instance.instance_id,
            why, "terminated at once"
        ),
        Err(e) => {
            error!(instance_id = instance.instance_id, why, error = %e, "could not be terminated; the janitor's sweep will")
        }
    }
}

/// Sends a copy of the ask back to the queue to come back in `seconds` (within SQS's delays and the ask's
/// patience), saying why it waits; if it cannot be sent, SQS delivers the original again.
async fn wait(
    ctx: &Ctx,
    mut ask: LaunchAsk,
    seconds: f64,
    why: &Waited,
    again: &mut Vec<LaunchAsk>,
) {
    let now_ms = crate::now_ms();
    let delay = requeue_delay(
        seconds,
        now_ms,
        asked_ms(&ask, now_ms),
        ctx.config.launch_patience,
    );
    ask.waited = Some(why.clone());
    let original = ask.clone();
    ask.waits += 1;
    let Some(queue_url) = ctx.config.launch_queue_url.as_deref() else {
        again.push(original);
        return;
    };
    let body = match serde_json::to_string(&ask) {
        Ok(body) => body,
        Err(_) => {
            again.push(original);
            return;
        }
    };
    if let Err(e) = queue::send(&ctx.aws.sqs, queue_url, body, delay).await {
        warn!(job_id = %ask.job.job_id, task = ask.task.index, error = %e, "the ask could not be sent back; SQS brings it again");
        again.push(original);
    }
}

/// Fails the ask's state with `name` (its Catch records the attempt).
async fn fail(ctx: &Ctx, ask: &LaunchAsk, name: &str, message: &str) {
    match execution::fail_task(&ctx.aws.sfn, &ask.token, name, message).await {
        Ok(_) => {
            warn!(job_id = %ask.job.job_id, task = ask.task.index, name, message, "the launch failed")
        }
        Err(e) => {
            error!(job_id = %ask.job.job_id, task = ask.task.index, error = %e, "the launch's failure was not taken; the Launch state's timeout ends it")
        }
    }
}

/// An ask that waited the stack's patience fails with `Ecsub.LaunchTimedOut`, naming the wait and its last refusal.
async fn give_up(ctx: &Ctx, ask: &LaunchAsk, now_ms: i64) {
    let waited = ask
        .waited
        .as_ref()
        .map(|w| format!("{}: {}", w.error, w.message))
        .unwrap_or_else(|| "none".to_owned());
    let message = format!(
        "waited {} s for an instance since {} (the stack's LaunchPatienceSeconds is {}); the last refusal: {waited}",
        (now_ms - asked_ms(ask, now_ms)) / 1000,
        ask.asked_at,
        ctx.config.launch_patience
    );
    fail(ctx, ask, error_names::LAUNCH_TIMED_OUT, &message).await;
}

/// Records why the task's launch waits, for `status` (a failure to record is only logged).
async fn say_why_it_waits(ctx: &Ctx, ask: &LaunchAsk, why: &Waited) {
    let Ok(layout) = layout_of(&ask.job) else {
        return;
    };
    let waiting = Waiting {
        attempt: ask.attempt.number,
        error: why.error.clone(),
        message: why.message.clone(),
        at: crate::now_rfc3339(),
    };
    let Ok(body) = serde_json::to_vec(&waiting) else {
        return;
    };
    let key = layout.waiting_key(ask.task.index);
    if let Err(e) = store::put(&ctx.aws.s3, &layout.bucket, &key, body, "application/json").await {
        warn!(job_id = %ask.job.job_id, task = ask.task.index, error = %e.message, "why the launch waits was not recorded");
    }
}

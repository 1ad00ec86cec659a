//! The `task-stopped` function: ECS says a task of one of this stack's clusters changed state. A STOPPED task of
//! ecsub's state machine is recorded, its instance terminated and its execution resumed ([`attempt_end`]).

use crate::attempt_end;
use crate::events::{EcsTaskDetail, EventBridgeEvent};
use crate::Ctx;
use ecsub_aws::FnError;
use lambda_runtime::LambdaEvent;
use serde_json::Value;

pub async fn handle(ctx: &Ctx, event: LambdaEvent<Value>) -> Result<Value, FnError> {
    let event: EventBridgeEvent<EcsTaskDetail> = serde_json::from_value(event.payload)
        .map_err(|e| FnError::invalid_input(format!("not an ECS task state change: {e}")))?;
    let delay_ms = event
        .time
        .map(|t| (crate::now_ms() - t.timestamp_millis()).max(0));
    attempt_end::record(ctx, &event.detail, delay_ms).await
}

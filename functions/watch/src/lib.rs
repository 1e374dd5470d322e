#![doc = include_str!("../README.md")]

use customs_contracts::WatchTick;
use customs_runtime::sqs::{self, BatchResponse, Delivery, Event, Retry};
use customs_store::Store;
use tracing::{info, instrument};

/// What the handler needs, built once per execution environment.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
}

/// The Lambda handler: one SQS batch of `WatchTick` messages.
pub async fn handle(event: Event, deps: &Deps) -> BatchResponse {
    sqs::for_each(event, |msg: WatchTick, d| process(msg, d, deps)).await
}

#[instrument(skip_all)]
async fn process(_msg: WatchTick, d: Delivery, deps: &Deps) -> Result<(), Retry> {
    let _ = deps;
    info!(message_id = %d.message_id, "Watch tick");
    Ok(())
}

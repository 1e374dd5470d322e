#![doc = include_str!("../README.md")]

use customs_contracts::Notify;
use customs_runtime::sqs::{self, BatchResponse, Delivery, Event, Retry};
use customs_store::Store;
use tracing::{info, instrument};

/// What the handler needs, built once per execution environment.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
}

/// The Lambda handler: one SQS batch of `Notify` messages.
pub async fn handle(event: Event, deps: &Deps) -> BatchResponse {
    sqs::for_each(event, |msg: Notify, d| process(msg, d, deps)).await
}

#[instrument(skip_all, fields(account = %msg.account, event_id = %msg.event_id))]
async fn process(msg: Notify, _d: Delivery, deps: &Deps) -> Result<(), Retry> {
    let _ = (deps, msg);
    info!("Notification requested");
    Ok(())
}

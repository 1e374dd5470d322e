#![doc = include_str!("../README.md")]

use customs_contracts::EvaluateImage;
use customs_runtime::sqs::{self, BatchResponse, Delivery, Event, Retry};
use customs_store::Store;
use tracing::{info, instrument};

/// What the handler needs, built once per execution environment.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
}

/// The Lambda handler: one SQS batch of `EvaluateImage` messages.
pub async fn handle(event: Event, deps: &Deps) -> BatchResponse {
    sqs::for_each(event, |msg: EvaluateImage, d| process(msg, d, deps)).await
}

#[instrument(skip_all, fields(account = %msg.account, image_id = %msg.image_id))]
async fn process(msg: EvaluateImage, _d: Delivery, deps: &Deps) -> Result<(), Retry> {
    match deps
        .store
        .image(&msg.account, msg.image_id)
        .await
        .map_err(Retry::new)?
    {
        Some(img) => {
            info!(status = %img.analysis_status, digest = ?img.image_digest, "Evaluation requested")
        }
        None => info!("Image is gone; nothing to evaluate"),
    }
    Ok(())
}

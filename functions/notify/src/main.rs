use customs_runtime::{Queues, Topic, aws, config, sqs, tracing};
use customs_store::{SecretBox, Store};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init();
    let sdk = aws::load().await;
    let deps = customs_notify::Deps {
        store: Store::connect(&config::database_url()?, 2)?,
        queues: Queues::new(aws::sqs(&sdk), config::queue_prefix()),
        secrets: SecretBox::from_base64(&config::required(
            "CUSTOMS_SECRETS_KEY",
            " (base64 of the 32-byte key sealing webhook secrets)",
        )?)?,
        topic: Topic::by_arn(
            aws::sns(&sdk),
            config::required("CUSTOMS_EVENTS_TOPIC_ARN", " (the events SNS topic)")?,
        ),
        settings: customs_notify::Settings::from_env()?,
    };
    sqs::serve(|event| customs_notify::handle(event, &deps)).await
}

//! The shared AWS SDK configuration.

pub use aws_config::SdkConfig;

/// Loads region, credentials and endpoints from the standard `AWS_*` variables
/// (`AWS_ENDPOINT_URL` points every client at LocalStack in development).
pub async fn load() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

pub fn sqs(conf: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(conf)
}

pub fn sns(conf: &SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(conf)
}

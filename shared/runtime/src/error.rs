#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("environment variable {name} is not set{hint}")]
    MissingEnv {
        name: &'static str,
        hint: &'static str,
    },
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    BadEnv {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("queue {queue}: {reason}")]
    Queue { queue: String, reason: String },
    #[error("topic {topic}: {reason}")]
    Topic { topic: String, reason: String },
}

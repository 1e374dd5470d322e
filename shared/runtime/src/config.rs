//! Reading typed settings from the environment, once, with errors that name the variable.

use std::str::FromStr;

use crate::RuntimeError;

/// A required variable; `hint` is appended to the error (e.g. how to obtain a value).
pub fn required(name: &'static str, hint: &'static str) -> Result<String, RuntimeError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(RuntimeError::MissingEnv { name, hint }),
    }
}

/// An optional variable with a default.
pub fn or_default(name: &'static str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// An optional variable parsed into `T`, with a default when unset.
pub fn parsed<T>(name: &'static str, default: T) -> Result<T, RuntimeError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim().parse().map_err(|e: T::Err| RuntimeError::BadEnv {
                name,
                value: v,
                reason: e.to_string(),
            })
        }
        _ => Ok(default),
    }
}

/// The queue name prefix: physical queue = `<prefix><logical name>`.
pub fn queue_prefix() -> String {
    or_default("CUSTOMS_QUEUE_PREFIX", "customs-")
}

/// The PostgreSQL connection string (`DATABASE_URL`).
pub fn database_url() -> Result<String, RuntimeError> {
    required(
        "DATABASE_URL",
        " (postgres://user:password@host:port/database)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variables_are_named_in_the_error() {
        let e = required("CUSTOMS_TEST_SURELY_UNSET", " (set it)").expect_err("the variable is unset");
        assert_eq!(
            e.to_string(),
            "environment variable CUSTOMS_TEST_SURELY_UNSET is not set (set it)"
        );
        assert_eq!(parsed::<u32>("CUSTOMS_TEST_SURELY_UNSET", 7).ok(), Some(7));
    }
}

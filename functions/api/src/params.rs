//! Query parameters as anchore-cli sends them (Python's `True`/`False` among them).

use std::collections::HashMap;

use crate::ApiError;

pub(crate) type Params = HashMap<String, String>;

/// A boolean query parameter, in any case (`true`, `True`, `TRUE`, `1`, …).
pub(crate) fn flag(q: &Params, name: &str, default: bool) -> Result<bool, ApiError> {
    match q.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "y") => Ok(true),
        Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "n") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "query parameter {name}={v:?} is not a boolean (true or false)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_booleans_are_understood() {
        let q: Params = [
            ("force".to_owned(), "True".to_owned()),
            ("x".to_owned(), "maybe".to_owned()),
        ]
        .into();
        assert!(flag(&q, "force", false).unwrap_or(false));
        assert!(!flag(&q, "absent", false).unwrap_or(true));
        assert!(flag(&q, "x", false).is_err());
    }
}

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

/// A positive integer query parameter, or `None` when absent.
fn positive(q: &Params, name: &str, max: usize) -> Result<Option<usize>, ApiError> {
    match q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(format!(
                "query parameter {name}={v:?} must be a whole number from 1 to {max}"
            ))),
        },
    }
}

/// The largest `limit` a list accepts.
pub(crate) const MAX_LIMIT: usize = 10_000;

/// The `page` (from 1) of `limit` items of an already stably ordered list; without
/// `limit`, the whole list (as anchore-cli expects).
pub(crate) fn paginate<T>(q: &Params, items: Vec<T>) -> Result<Vec<T>, ApiError> {
    Ok(match window(q)? {
        None => items,
        Some((limit, offset)) => items.into_iter().skip(offset).take(limit).collect(),
    })
}

/// The `(limit, offset)` that `page` and `limit` ask for, for lists paged by the database;
/// `None` is the whole list. Page 2 and beyond without a `limit` is an empty window.
pub(crate) fn window(q: &Params) -> Result<Option<(usize, usize)>, ApiError> {
    let page = positive(q, "page", 1_000_000)?.unwrap_or(1);
    Ok(match positive(q, "limit", MAX_LIMIT)? {
        Some(limit) => Some((limit, (page - 1).saturating_mul(limit))),
        None if page == 1 => None,
        None => Some((0, 0)),
    })
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

    #[test]
    fn pages_are_slices_of_the_ordered_list() {
        let q = |p: &str, l: &str| -> Params { [("page".to_owned(), p.to_owned()), ("limit".to_owned(), l.to_owned())].into() };
        assert_eq!(paginate(&q("2", "3"), (1..=10).collect()).ok(), Some(vec![4, 5, 6]));
        assert_eq!(paginate(&q("4", "3"), (1..=10).collect()).ok(), Some(vec![10]));
        assert_eq!(paginate(&q("", ""), (1..=3).collect()).ok(), Some(vec![1, 2, 3]));
        assert!(paginate(&q("0", "3"), vec![1]).is_err());
        assert!(paginate(&q("1", "x"), vec![1]).is_err());
    }
}

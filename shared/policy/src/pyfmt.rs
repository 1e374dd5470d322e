//! Formatting helpers that reproduce how Anchore (Python) renders values inside messages.

/// `str(['a', 'b'])` in Python.
pub(crate) fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    let inner: Vec<String> = items.iter().map(|s| py_str_repr(s.as_ref())).collect();
    format!("[{}]", inner.join(", "))
}

/// `repr('x')` in Python (single quotes unless the string holds a single quote and no double quote).
pub(crate) fn py_str_repr(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// `str(f)` for a Python float: always has a fractional part (`7.0`), shortest round-trip otherwise.
pub(crate) fn py_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// `oct(n)` in Python 3.
pub(crate) fn py_oct(n: u32) -> String {
    format!("0o{n:o}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_renderings() {
        assert_eq!(py_list(&["CVE-1", "CVE-2"]), "['CVE-1', 'CVE-2']");
        assert_eq!(py_float(7.0), "7.0");
        assert_eq!(py_float(9.8), "9.8");
        assert_eq!(py_float(-1.0), "-1.0");
        assert_eq!(py_oct(0o104755), "0o104755");
    }
}

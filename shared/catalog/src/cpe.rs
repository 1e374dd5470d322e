//! CPE 2.3 formatted strings for NVD matching.
//!
//! NVD's vendor names are not derivable from package metadata, so each package gets a
//! few candidates, most likely first: the vendor from the ecosystem's namespace (Maven
//! group, Go module host owner, Composer vendor), the package name itself, and
//! `<name>_project` (NVD's convention for projects without a vendor). The product is the
//! package name, lower case. `target_sw` names the language for language packages, as
//! NVD does for library CPEs (`node.js`, `python`, `ruby`, `rust`, `.net`, `php`,
//! `java`, `go`). Binaries found by classifiers use NVD's known vendor/product pairs.

/// Escapes a CPE 2.3 component: anything but `A-Z a-z 0-9 _ - .` gets a backslash.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn cpe(vendor: &str, product: &str, version: &str, target_sw: &str) -> String {
    let ver = if version.is_empty() {
        "*".to_owned()
    } else {
        escape(version)
    };
    let tsw = if target_sw.is_empty() {
        "*".to_owned()
    } else {
        escape(target_sw)
    };
    format!(
        "cpe:2.3:a:{}:{}:{ver}:*:*:*:*:{tsw}:*:*",
        escape(&vendor.to_lowercase()),
        escape(&product.to_lowercase())
    )
}

/// Candidates for `vendors × product`, duplicates removed, order kept.
pub(crate) fn candidates(
    vendors: &[&str],
    product: &str,
    version: &str,
    target_sw: &str,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in vendors.iter().filter(|v| !v.is_empty()) {
        let c = cpe(v, product, version, target_sw);
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// The usual candidates for a language package: vendor = name and `<name>_project`.
pub(crate) fn generic(name: &str, version: &str, target_sw: &str) -> Vec<String> {
    let project = format!("{name}_project");
    candidates(&[name, &project], name, version, target_sw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_escaped() {
        assert_eq!(
            cpe("Apache", "log4j", "2.14.1", "java"),
            "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:java:*:*"
        );
        assert_eq!(
            cpe("gnu", "bash", "5.2.15-2+b2", ""),
            "cpe:2.3:a:gnu:bash:5.2.15-2\\+b2:*:*:*:*:*:*:*"
        );
        assert_eq!(generic("lodash", "4.17.15", "node.js").len(), 2);
    }
}

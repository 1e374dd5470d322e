//! Package URLs (purl-spec): `pkg:<type>/<namespace>/<name>@<version>?<qualifiers>`.
//!
//! Conventions per ecosystem, following the purl-spec type definitions:
//! - `deb`: namespace `debian`/`ubuntu` (distro id), qualifiers `arch`, `distro=<id>-<version_id>`,
//!   `upstream=<source>[@<source version>]` when the source package differs;
//! - `apk`: namespace `alpine`, same qualifiers with `upstream=<origin>`;
//! - `pypi`: name normalised per PEP 503 (lower case, runs of `-_.` become `-`);
//! - `npm`: the scope (`@types`) is the namespace, percent-encoded (`%40types`);
//! - `maven`: namespace = groupId; when the group is unknown the artifact id stands in;
//! - `golang`: the module path, split at its last `/`; the stdlib is `golang/stdlib@1.x.y` (no `go` prefix, as syft writes it); the
//!   main module's `(devel)` version is left out;
//! - `gem`, `cargo`, `nuget`: name only; `composer`: `vendor/name`;
//! - binaries found by classifiers: `generic/<name>`.
//!
//! Every component is percent-encoded except `A-Z a-z 0-9 . - _ ~` (and `:` in versions);
//! qualifiers are sorted by key.

fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds a purl; empty namespace segments and empty qualifier values are left out.
pub(crate) fn purl(
    ty: &str,
    namespace: &str,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut s = format!("pkg:{ty}/");
    for seg in namespace.split('/').filter(|s| !s.is_empty()) {
        s.push_str(&encode(seg, b""));
        s.push('/');
    }
    s.push_str(&encode(name, b""));
    if !version.is_empty() {
        s.push('@');
        s.push_str(&encode(version, b":"));
    }
    let mut q: Vec<_> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort();
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&encode(v, b":"));
    }
    s
}

/// PEP 503 name normalisation.
pub(crate) fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// `upstream` qualifier value for OS packages.
pub(crate) fn upstream(source: Option<&str>, source_version: Option<&str>) -> String {
    match (source, source_version) {
        (Some(s), Some(v)) => format!("{s}@{v}"),
        (Some(s), None) => s.to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_encoded_and_qualifiers_sorted() {
        assert_eq!(
            purl(
                "deb",
                "debian",
                "libc6",
                "2.36-9+deb12u7",
                &[
                    ("distro", "debian-12"),
                    ("arch", "amd64"),
                    ("upstream", "glibc")
                ]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(
            purl("npm", "@types", "node", "20.1.0", &[]),
            "pkg:npm/%40types/node@20.1.0"
        );
        assert_eq!(
            purl("deb", "debian", "perl", "1:5.36", &[]),
            "pkg:deb/debian/perl@1:5.36"
        );
        assert_eq!(
            purl("golang", "github.com/google", "uuid", "v1.3.0", &[]),
            "pkg:golang/github.com/google/uuid@v1.3.0"
        );
        assert_eq!(
            purl("golang", "example.com/x", "y", "", &[]),
            "pkg:golang/example.com/x/y"
        );
        assert_eq!(pep503("charset_normalizer"), "charset-normalizer");
        assert_eq!(pep503("Zope.Interface__x"), "zope-interface-x");
        assert_eq!(upstream(Some("glibc"), Some("2.36-9")), "glibc@2.36-9");
    }
}

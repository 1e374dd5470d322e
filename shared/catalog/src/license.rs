//! License names: recognising SPDX identifiers and expressions, and mapping the common
//! spellings packages declare (`Apache 2.0`, `MIT License`, trove classifiers) to them.

/// SPDX identifiers seen in practice in container images (a subset of the SPDX list;
/// anything else is kept as declared).
const IDS: &[&str] = &[
    "0BSD",
    "AFL-2.1",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.1",
    "Apache-2.0",
    "Artistic-1.0",
    "Artistic-1.0-Perl",
    "Artistic-2.0",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-4-Clause",
    "BSL-1.0",
    "BlueOak-1.0.0",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "CDDL-1.1",
    "EPL-1.0",
    "EPL-2.0",
    "EUPL-1.2",
    "FSFAP",
    "FTL",
    "GFDL-1.2-or-later",
    "GFDL-1.3-only",
    "GFDL-1.3-or-later",
    "GPL-1.0-or-later",
    "GPL-2.0",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-2.0+",
    "GPL-3.0",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "GPL-3.0+",
    "HPND",
    "ICU",
    "ISC",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-2.1+",
    "LGPL-3.0",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "LGPL-3.0+",
    "Libpng",
    "MIT",
    "MIT-0",
    "MPL-1.1",
    "MPL-2.0",
    "MS-PL",
    "NCSA",
    "OpenSSL",
    "PostgreSQL",
    "PSF-2.0",
    "Python-2.0",
    "Ruby",
    "TCL",
    "Unicode-DFS-2016",
    "Unicode-3.0",
    "Unlicense",
    "UPL-1.0",
    "WTFPL",
    "X11",
    "Zlib",
    "ZPL-2.1",
];

const EXCEPTIONS: &[&str] = &[
    "Classpath-exception-2.0",
    "GCC-exception-3.1",
    "LLVM-exception",
    "OpenSSL-exception",
    "Autoconf-exception-3.0",
    "Bison-exception-2.2",
];

/// Common declared spellings and what they mean in SPDX.
const ALIASES: &[(&str, &str)] = &[
    ("apache 2.0", "Apache-2.0"),
    ("apache-2", "Apache-2.0"),
    ("apache 2", "Apache-2.0"),
    ("apache license 2.0", "Apache-2.0"),
    ("apache license, version 2.0", "Apache-2.0"),
    ("apache software license", "Apache-2.0"),
    ("the apache software license, version 2.0", "Apache-2.0"),
    ("asl 2.0", "Apache-2.0"),
    ("mit license", "MIT"),
    ("the mit license", "MIT"),
    ("expat", "MIT"),
    ("isc license", "ISC"),
    ("isc license (iscl)", "ISC"),
    ("bsd-3", "BSD-3-Clause"),
    ("new bsd license", "BSD-3-Clause"),
    ("bsd 3-clause", "BSD-3-Clause"),
    ("simplified bsd", "BSD-2-Clause"),
    ("mozilla public license 2.0 (mpl 2.0)", "MPL-2.0"),
    ("python software foundation license", "PSF-2.0"),
    ("psf", "PSF-2.0"),
    ("gplv2", "GPL-2.0-only"),
    ("gplv2+", "GPL-2.0-or-later"),
    ("gplv3", "GPL-3.0-only"),
    ("gplv3+", "GPL-3.0-or-later"),
    ("gpl-2", "GPL-2.0-only"),
    ("gpl-2+", "GPL-2.0-or-later"),
    ("gpl-3", "GPL-3.0-only"),
    ("gpl-3+", "GPL-3.0-or-later"),
    ("lgpl-2.1+", "LGPL-2.1-or-later"),
    ("lgpl-2+", "LGPL-2.0-or-later"),
    ("lgpl-3+", "LGPL-3.0-or-later"),
    ("gnu general public license v2 (gplv2)", "GPL-2.0-only"),
    ("gnu general public license v3 (gplv3)", "GPL-3.0-only"),
    (
        "gnu lesser general public license v2 or later (lgplv2+)",
        "LGPL-2.0-or-later",
    ),
    (
        "gnu lesser general public license v3 (lgplv3)",
        "LGPL-3.0-only",
    ),
    ("public domain", "LicenseRef-Public-Domain"),
    ("zlib license", "Zlib"),
    ("zlib/libpng license", "Zlib"),
    ("the unlicense (unlicense)", "Unlicense"),
    ("eclipse public license 2.0", "EPL-2.0"),
    ("boost software license 1.0 (bsl-1.0)", "BSL-1.0"),
];

/// The canonical SPDX id for `s` (case-insensitive), if it is one we know.
pub(crate) fn spdx_id(s: &str) -> Option<&'static str> {
    IDS.iter().copied().find(|id| id.eq_ignore_ascii_case(s))
}

/// A declared license in SPDX form where it maps to one, else trimmed as declared.
pub(crate) fn normalize(declared: &str) -> String {
    let d = declared.trim();
    if let Some(id) = spdx_id(d) {
        return id.to_owned();
    }
    let lower = d.to_ascii_lowercase();
    if let Some((_, id)) = ALIASES.iter().find(|(a, _)| *a == lower) {
        return (*id).to_owned();
    }
    if is_expression(d) {
        return d.to_owned();
    }
    d.to_owned()
}

/// The SPDX id of a trove classifier (`License :: OSI Approved :: MIT License`).
pub(crate) fn from_classifier(classifier: &str) -> Option<String> {
    let last = classifier.rsplit("::").next()?.trim();
    if last.eq_ignore_ascii_case("OSI Approved") || last.eq_ignore_ascii_case("BSD License") {
        // `BSD License` does not say which BSD.
        return None;
    }
    let n = normalize(last);
    (spdx_id(&n).is_some() || n.starts_with("LicenseRef-")).then_some(n)
}

/// Whether `s` is an SPDX license expression made of known ids, `LicenseRef-…`,
/// `AND`/`OR`/`WITH` and parentheses.
pub(crate) fn is_expression(s: &str) -> bool {
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let mut tokens = spaced.split_whitespace().peekable();
    if tokens.peek().is_none() {
        return false;
    }
    let mut depth = 0i32;
    let mut expect_id = true;
    let mut after_with = false;
    for t in tokens {
        match t {
            "(" if expect_id => depth += 1,
            ")" if !expect_id => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            "AND" | "OR" if !expect_id => expect_id = true,
            "WITH" if !expect_id => {
                expect_id = true;
                after_with = true;
            }
            id if expect_id => {
                let id = id.strip_suffix('+').unwrap_or(id);
                let known = if after_with {
                    EXCEPTIONS.iter().any(|e| e.eq_ignore_ascii_case(id))
                } else {
                    spdx_id(id).is_some() || id.starts_with("LicenseRef-")
                };
                if !known {
                    return false;
                }
                expect_id = false;
                after_with = false;
            }
            _ => return false,
        }
    }
    depth == 0 && !expect_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_spellings_map_to_spdx() {
        assert_eq!(normalize("apache 2.0"), "Apache-2.0");
        assert_eq!(normalize("mit"), "MIT");
        assert_eq!(normalize("Some Custom License"), "Some Custom License");
        assert_eq!(
            from_classifier("License :: OSI Approved :: MIT License").as_deref(),
            Some("MIT")
        );
        assert_eq!(
            from_classifier("License :: OSI Approved :: BSD License"),
            None
        );
        assert!(is_expression("MIT OR (Apache-2.0 AND BSD-3-Clause)"));
        assert!(is_expression("GPL-2.0-only WITH Classpath-exception-2.0"));
        assert!(!is_expression("MIT OR"));
        assert!(!is_expression("BSD"));
    }
}

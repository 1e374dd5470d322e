//! NVD CPE matching: namespace `nvd:cpe` under `part:vendor:product` of each CPE the
//! catalog derived. It is the primary source for binaries (no package database speaks
//! for them) and the fallback for any package its own matcher can't look up (an OS
//! package without a known distro, a jar without Maven coordinates). For packages with a
//! better source its matches only corroborate (add NVD's id, references and CVSS to a
//! finding the better source made) and never create a finding: NVD's upstream version
//! ranges ignore distro backports and ecosystem renames.
//!
//! NVD ranges carry no version format: the package's own ecosystem order is used, else
//! dpkg order (a lenient dotted order that also sorts OpenSSL's `1.1.1w` letter releases).

use customs_model::package::{Distro, Package, PackageType};
use customs_version::Format;

use crate::matcher::{format_named, verdict};
use crate::{Advisory, Key, Matcher, Verdict};

pub struct Cpe;

pub const NAMESPACE: &str = "nvd:cpe";

/// `part:vendor:product` of a CPE 2.3 string (`cpe:2.3:a:openssl:openssl:3.0.11:…`).
fn cpe_key(cpe: &str) -> Option<String> {
    let f: Vec<&str> = cpe.split(':').collect();
    (f.len() > 5 && f[0] == "cpe" && f[1] == "2.3").then(|| format!("{}:{}:{}", f[2], f[3], f[4]))
}

impl Matcher for Cpe {
    fn name(&self) -> &'static str {
        "cpe"
    }

    fn package_types(&self) -> &'static [PackageType] {
        &[PackageType::Binary]
    }

    fn keys(&self, p: &Package, _distro: Option<&Distro>) -> Vec<Key> {
        let mut keys: Vec<Key> = Vec::new();
        for k in p.cpes.iter().filter_map(|c| cpe_key(c)) {
            let k = (NAMESPACE.to_owned(), k);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
    }

    fn matches(&self, p: &Package, a: &Advisory) -> Option<Verdict> {
        let format = match a.version_format.as_str() {
            "cpe" | "unknown" | "" => {
                Format::for_package_type(p.kind.as_str()).unwrap_or(Format::Deb)
            }
            other => format_named(other)?,
        };
        verdict(format, &p.version, a)
    }
}

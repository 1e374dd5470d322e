//! Installed Python distributions: `*.dist-info/METADATA` (wheels, pip) and
//! `*.egg-info/PKG-INFO` or a single `*.egg-info` file (setuptools, distro packages),
//! with the installed files from `RECORD`.

use customs_model::fs::{FileSource, ViewEntry, normalize};
use customs_model::package::{Location, Package, PackageType};

use crate::cataloger::{
    Cataloger, Context, Found, abs, file_name, files, location, parent, read_text,
};
use crate::{cpe, license, purl};

pub(crate) struct PythonCataloger;

impl Cataloger for PythonCataloger {
    fn name(&self) -> &'static str {
        "python-installed-package-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "python"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let metadata: Vec<&ViewEntry> = files(source)
            .filter(|e| is_metadata(&e.entry.path))
            .collect();
        for e in metadata {
            let path = e.entry.path.as_str();
            let text = match read_text(source, path) {
                Ok(t) => t,
                Err(err) => {
                    found.unknown(path, e.layer, err);
                    continue;
                }
            };
            let h = Headers::parse(&text);
            let (Some(name), Some(version)) = (h.get("Name"), h.get("Version")) else {
                found.unknown(path, e.layer, "no Name or Version header");
                continue;
            };
            let mut p = Package::new(
                PackageType::Python,
                name,
                version,
                purl::purl("pypi", "", &purl::pep503(name), version, &[]),
                location(e),
            );
            let lower = name.to_lowercase();
            p.cpes = cpe::candidates(
                &[&lower, "python", &format!("{lower}_project")],
                &lower,
                version,
                "python",
            );
            p.licenses = licenses(&h);
            p.origin = ["Author", "Author-email", "Maintainer"]
                .iter()
                .find_map(|k| h.get(k).filter(|a| *a != "UNKNOWN"))
                .map(str::to_owned);
            if let Some(home) = h.get("Home-page").filter(|a| *a != "UNKNOWN") {
                p.metadata.insert("homepage".into(), home.to_owned());
            }
            let requires: Vec<&str> = h.all("Requires-Dist").collect();
            if !requires.is_empty() {
                p.metadata
                    .insert("requires_dist".into(), requires.join(", "));
            }
            // Installed files, relative to the folder holding the dist-info.
            let dir = parent(path);
            if dir.ends_with(".dist-info") {
                let record = format!("{dir}/RECORD");
                if let Some(r) = source.view().entries.get(&record) {
                    match read_text(source, &record) {
                        Ok(t) => {
                            p.files = record_files(parent(dir), &t);
                            p.locations.push(Location {
                                path: abs(&record),
                                layer: r.layer,
                            });
                        }
                        Err(err) => found.unknown(&record, r.layer, err),
                    }
                }
            }
            found.packages.push(p);
        }
        found
    }
}

fn is_metadata(path: &str) -> bool {
    let name = file_name(path);
    let dir = file_name(parent(path));
    (name == "METADATA" && dir.ends_with(".dist-info"))
        || (name == "PKG-INFO" && dir.ends_with(".egg-info"))
        || name.ends_with(".egg-info")
}

/// RFC 822 style headers up to the first blank line (the description follows).
struct Headers<'a>(Vec<(&'a str, String)>);

impl<'a> Headers<'a> {
    fn parse(text: &'a str) -> Self {
        let mut out: Vec<(&str, String)> = Vec::new();
        for line in text.lines() {
            if line.trim().is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, v)) = out.last_mut() {
                    v.push('\n');
                    v.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                out.push((k.trim(), v.trim().to_owned()));
            }
        }
        Self(out)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn all<'s>(&'s self, key: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// `License-Expression` (PEP 639), else a short `License` value, else the license
/// classifiers.
fn licenses(h: &Headers<'_>) -> Vec<String> {
    if let Some(e) = h.get("License-Expression") {
        return vec![e.to_owned()];
    }
    if let Some(l) = h.get("License")
        && l != "UNKNOWN"
        && !l.contains('\n')
        && l.len() <= 80
    {
        return vec![license::normalize(l)];
    }
    let mut out: Vec<String> = Vec::new();
    for c in h.all("Classifier").filter(|c| c.starts_with("License ::")) {
        if let Some(l) = license::from_classifier(c)
            && !out.contains(&l)
        {
            out.push(l);
        }
    }
    out
}

/// Absolute paths of a RECORD's entries (`path,hash,size`; paths may climb out of
/// site-packages, like `../../../bin/flask`).
fn record_files(site_packages: &str, record: &str) -> Vec<String> {
    let mut out: Vec<String> = record
        .lines()
        .filter_map(|l| {
            let path = match l.strip_prefix('"') {
                Some(q) => q.split_once('"')?.0,
                None => l.split(',').next()?,
            };
            (!path.is_empty()).then(|| normalize(&format!("{site_packages}/{path}")).ok())?
        })
        .map(|p| abs(&p))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{find, run};

    #[test]
    fn pip_installed_dist_infos_from_the_test_image() {
        let found = run(&PythonCataloger, &["python/site-packages"]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        assert_eq!(found.packages.len(), 8);
        let jinja = find(&found.packages, "Jinja2", "2.11.2");
        assert_eq!(jinja.purl, "pkg:pypi/jinja2@2.11.2");
        assert_eq!(jinja.licenses, ["BSD-3-Clause"]);
        assert_eq!(
            jinja.locations[0].path,
            "/usr/local/lib/python3.11/site-packages/Jinja2-2.11.2.dist-info/METADATA"
        );
        assert_eq!(
            jinja.locations[1].path,
            "/usr/local/lib/python3.11/site-packages/Jinja2-2.11.2.dist-info/RECORD"
        );
        assert!(
            jinja
                .files
                .contains(&"/usr/local/lib/python3.11/site-packages/jinja2/compiler.py".to_owned())
        );
        let cn = find(&found.packages, "charset-normalizer", "3.2.0");
        assert_eq!(cn.purl, "pkg:pypi/charset-normalizer@3.2.0");
        assert!(
            cn.files
                .contains(&"/usr/local/lib/bin/normalizer".to_owned()),
            "RECORD paths climbing out of site-packages resolve: {:?}",
            cn.files
        );
        let requests = find(&found.packages, "requests", "2.31.0");
        assert_eq!(requests.licenses, ["Apache-2.0"]);
        assert!(requests.cpes[0].starts_with("cpe:2.3:a:requests:requests:2.31.0:"));
        assert!(
            requests
                .cpes
                .iter()
                .any(|c| c.starts_with("cpe:2.3:a:python:requests:"))
        );
    }

    #[test]
    fn egg_info_folders_and_files() {
        let found = run(&PythonCataloger, &["python/egg-info"]);
        let jwt = find(&found.packages, "PyJWT", "2.6.0");
        assert_eq!(jwt.purl, "pkg:pypi/pyjwt@2.6.0");
        assert_eq!(jwt.licenses, ["MIT"]);
        let rpm = find(&found.packages, "rpm", "4.18.0");
        assert_eq!(
            rpm.locations[0].path,
            "/usr/lib/python3/dist-packages/rpm-4.18.0.egg-info"
        );
        assert_eq!(rpm.licenses, ["GNU General Public License v2"]);
        assert_eq!(rpm.origin.as_deref(), Some("rpm-maint@lists.rpm.org"));
    }

    #[test]
    fn metadata_without_a_version_is_an_unknown() {
        let src = crate::testutil::MemSource::files(&[(
            "usr/lib/python3/site-packages/x-1.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: x\n",
        )]);
        let found = PythonCataloger.catalog(&src, &Context::default());
        assert!(found.packages.is_empty());
        assert_eq!(found.unknowns.len(), 1);
    }
}

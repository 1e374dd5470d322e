//! Installed Ruby gems from `specifications/*.gemspec` (the Ruby files RubyGems writes at
//! install time). Only the literal assignments RubyGems generates are read
//! (`s.name = "rake".freeze`); the file is never evaluated.

use customs_model::fs::FileSource;
use customs_model::package::{Package, PackageType};

use crate::cataloger::{Cataloger, Context, Found, file_name, files, location, parent, read_text};
use crate::{cpe, license, purl};

pub(crate) struct GemCataloger;

impl Cataloger for GemCataloger {
    fn name(&self) -> &'static str {
        "ruby-installed-gemspec-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "gem"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let specs: Vec<_> = files(source)
            .filter(|e| {
                let p = &e.entry.path;
                let dir = file_name(parent(p));
                p.ends_with(".gemspec")
                    && (dir == "specifications"
                        || (dir == "default" && file_name(parent(parent(p))) == "specifications"))
            })
            .collect();
        for e in specs {
            let path = e.entry.path.as_str();
            let text = match read_text(source, path) {
                Ok(t) => t,
                Err(err) => {
                    found.unknown(path, e.layer, err);
                    continue;
                }
            };
            let (Some(name), Some(version)) = (string(&text, "name"), string(&text, "version"))
            else {
                found.unknown(path, e.layer, "no literal s.name or s.version");
                continue;
            };
            let mut p = Package::new(
                PackageType::Gem,
                &name,
                &version,
                purl::purl("gem", "", &name, &version, &[]),
                location(e),
            );
            p.cpes = cpe::generic(&name, &version, "ruby");
            p.licenses = list(&text, "licenses")
                .or_else(|| string(&text, "license").map(|l| vec![l]))
                .unwrap_or_default()
                .iter()
                .map(|l| license::normalize(l))
                .collect();
            p.origin = list(&text, "authors")
                .map(|a| a.join(", "))
                .filter(|a| !a.is_empty());
            if let Some(h) = string(&text, "homepage") {
                p.metadata.insert("homepage".into(), h);
            }
            found.packages.push(p);
        }
        found
    }
}

/// The right-hand side of `<var>.<field> = …` (any receiver name).
fn rhs<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let l = l.trim();
        let (lhs, rhs) = l.split_once('=')?;
        let (_, f) = lhs.trim().split_once('.')?;
        (f.trim() == field).then_some(rhs.trim())
    })
}

/// Double- or single-quoted string literals in order.
fn literals(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            let mut lit = String::new();
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                lit.push(d);
            }
            out.push(lit);
        }
    }
    out
}

fn string(text: &str, field: &str) -> Option<String> {
    literals(rhs(text, field)?)
        .into_iter()
        .next()
        .filter(|s| !s.is_empty())
}

fn list(text: &str, field: &str) -> Option<Vec<String>> {
    let r = rhs(text, field)?;
    r.starts_with('[')
        .then(|| literals(r).into_iter().filter(|s| !s.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{MemSource, find, run};

    #[test]
    fn debian_rubygems_integration_specs() {
        let found = run(&GemCataloger, &["gem/rubygems-integration"]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        let rake = find(&found.packages, "rake", "13.0.6");
        assert_eq!(rake.purl, "pkg:gem/rake@13.0.6");
        assert_eq!(rake.licenses, ["MIT"]);
        assert_eq!(
            rake.origin.as_deref(),
            Some("Hiroshi SHIBATA, Eric Hodel, Jim Weirich")
        );
        let webrick = find(&found.packages, "webrick", "1.8.1");
        assert_eq!(webrick.licenses, ["Ruby", "BSD-2-Clause"]);
    }

    #[test]
    fn a_spec_without_literals_is_an_unknown() {
        let src = MemSource::files(&[(
            "var/lib/gems/3.1.0/specifications/x-1.gemspec",
            b"Gem::Specification.load(other)\n",
        )]);
        let found = GemCataloger.catalog(&src, &Context::default());
        assert_eq!(found.unknowns.len(), 1);
    }
}

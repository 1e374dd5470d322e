//! .NET dependencies from `*.deps.json` (written next to every published app): each
//! `libraries` entry `Name/Version` with its type (`package` from NuGet, `project` for
//! the app's own assemblies).

use customs_model::fs::FileSource;
use customs_model::package::{Package, PackageType};
use serde_json::Value;

use crate::cataloger::{Cataloger, Context, Found, MAX_TEXT, files, location, read_bytes};
use crate::{cpe, purl};

pub(crate) struct DepsJsonCataloger;

impl Cataloger for DepsJsonCataloger {
    fn name(&self) -> &'static str {
        "dotnet-deps-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "dotnet"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let deps: Vec<_> = files(source)
            .filter(|e| e.entry.path.ends_with(".deps.json"))
            .collect();
        for e in deps {
            let path = e.entry.path.as_str();
            let json: Value = match read_bytes(source, path, MAX_TEXT)
                .and_then(|b| serde_json::from_slice(&b).map_err(Into::into))
            {
                Ok(v) => v,
                Err(err) => {
                    found.unknown(path, e.layer, err);
                    continue;
                }
            };
            let Some(Value::Object(libs)) = json.get("libraries") else {
                found.unknown(path, e.layer, "no libraries object");
                continue;
            };
            for (key, lib) in libs {
                let Some((name, version)) = key.split_once('/') else {
                    found.unknown(
                        path,
                        e.layer,
                        format!("library {key:?} is not Name/Version"),
                    );
                    continue;
                };
                let mut p = Package::new(
                    PackageType::Nuget,
                    name,
                    version,
                    purl::purl("nuget", "", name, version, &[]),
                    location(e),
                );
                p.cpes = cpe::generic(name, version, ".net");
                for k in ["type", "sha512", "path"] {
                    if let Some(v) = lib.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()) {
                        p.metadata.insert(k.to_owned(), v.to_owned());
                    }
                }
                found.packages.push(p);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{find, run};

    #[test]
    fn published_web_api() {
        let found = run(&DepsJsonCataloger, &["dotnet/webapi"]);
        assert!(found.unknowns.is_empty());
        assert_eq!(found.packages.len(), 3);
        let nj = find(&found.packages, "Newtonsoft.Json", "13.0.1");
        assert_eq!(nj.purl, "pkg:nuget/Newtonsoft.Json@13.0.1");
        assert_eq!(nj.metadata["type"], "package");
        assert_eq!(
            find(&found.packages, "WebApi", "1.0.0").metadata["type"],
            "project"
        );
    }
}

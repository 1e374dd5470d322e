//! PHP Composer packages: installed ones from `vendor/composer/installed.json` (Composer 1
//! array or Composer 2 `{"packages": […]}`), and `composer.lock` entries (`packages` and
//! `packages-dev`) whose `vendor/<name>` folder is not in the image.

use customs_model::fs::FileSource;
use customs_model::package::{Location, Package, PackageType};
use serde_json::Value;

use crate::cataloger::{
    Cataloger, Context, Found, MAX_TEXT, file_name, files, location, parent, read_bytes,
};
use crate::{cpe, license, purl};

pub(crate) struct ComposerCataloger;

impl Cataloger for ComposerCataloger {
    fn name(&self) -> &'static str {
        "php-composer-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "php"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let targets: Vec<_> = files(source)
            .filter(|e| {
                let p = &e.entry.path;
                p.ends_with("vendor/composer/installed.json") || file_name(p) == "composer.lock"
            })
            .collect();
        for e in targets {
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
            let lock = file_name(path) == "composer.lock";
            let lists: Vec<(&Value, bool)> = if lock {
                vec![(&json["packages"], false), (&json["packages-dev"], true)]
            } else if json.is_array() {
                vec![(&json, false)]
            } else {
                vec![(&json["packages"], false)]
            };
            for (list, dev) in lists {
                for entry in list.as_array().into_iter().flatten() {
                    let name = entry.get("name").and_then(Value::as_str).unwrap_or("");
                    if lock {
                        let vendor_dir = format!("{}/vendor/{name}", parent(path))
                            .trim_start_matches('/')
                            .to_owned();
                        if source.view().entries.contains_key(&vendor_dir) {
                            continue;
                        }
                    }
                    match package(entry, location(e), dev) {
                        Some(p) => found.packages.push(p),
                        None => found.unknown(
                            path,
                            e.layer,
                            format!("package {name:?} has no name or version"),
                        ),
                    }
                }
            }
        }
        found
    }
}

fn package(v: &Value, loc: Location, dev: bool) -> Option<Package> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    let version = v
        .get("version")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    let (vendor, project) = name.split_once('/').unwrap_or(("", name));
    let mut p = Package::new(
        PackageType::Php,
        name,
        version,
        purl::purl("composer", vendor, project, version, &[]),
        loc,
    );
    p.cpes = cpe::candidates(
        &[vendor, project, &format!("{project}_project")],
        project,
        version,
        "php",
    );
    p.licenses = match v.get("license") {
        Some(Value::Array(ls)) => ls
            .iter()
            .filter_map(Value::as_str)
            .map(license::normalize)
            .collect(),
        Some(Value::String(l)) => vec![license::normalize(l)],
        _ => Vec::new(),
    };
    p.origin = v["authors"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|a| a["name"].as_str())
        .map(str::to_owned);
    if let Some(r) = v["dist"]["reference"]
        .as_str()
        .or_else(|| v["source"]["reference"].as_str())
    {
        p.metadata.insert("reference".into(), r.to_owned());
    }
    if dev {
        p.metadata.insert("dev".into(), "true".into());
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{find, run};

    #[test]
    fn installed_json_composer_2() {
        let found = run(&ComposerCataloger, &["php/installed"]);
        assert!(found.unknowns.is_empty());
        let m = find(&found.packages, "monolog/monolog", "2.9.1");
        assert_eq!(m.purl, "pkg:composer/monolog/monolog@2.9.1");
        assert_eq!(m.licenses, ["MIT"]);
        assert_eq!(m.origin.as_deref(), Some("Jordi Boggiano"));
        assert_eq!(found.packages.len(), 2);
    }

    #[test]
    fn lock_file_with_dev_packages() {
        let found = run(&ComposerCataloger, &["php/lock-only"]);
        assert_eq!(found.packages.len(), 2);
        assert_eq!(
            find(&found.packages, "phpunit/phpunit", "10.4.2").metadata["dev"],
            "true"
        );
    }
}

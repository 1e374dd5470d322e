//! JavaScript packages: every installed `package.json` with a name and version (packages
//! under `node_modules/` and the projects that hold them), and `package-lock.json` /
//! `npm-shrinkwrap.json` (lockfile versions 1–3) for entries that are not installed in
//! the image, so a package is reported once, from the best evidence. `yarn.lock` (yarn 1
//! and berry) and `pnpm-lock.yaml` (lockfile 5–9) entries count as installed when a
//! package of the same name and version was found under the lock file's `node_modules/`.

mod pnpm;
mod yarn;

use std::collections::HashMap;

use customs_model::fs::FileSource;
use customs_model::package::{Location, Package, PackageType};
use serde_json::Value;

use crate::cataloger::{
    Cataloger, Context, Found, MAX_TEXT, file_name, files, location, par_map, parent,
    read_bytes,
};
use crate::{cpe, license, purl};

pub(crate) struct NpmCataloger;

impl Cataloger for NpmCataloger {
    fn name(&self) -> &'static str {
        "javascript-package-cataloger"
    }

    fn ecosystem(&self) -> &'static str {
        "npm"
    }

    fn catalog(&self, source: &dyn FileSource, _ctx: &Context<'_>) -> Found {
        let mut found = Found::default();
        let targets: Vec<_> = files(source)
            .filter(|e| {
                matches!(
                    file_name(&e.entry.path),
                    "package.json" | "package-lock.json" | "npm-shrinkwrap.json"
                )
            })
            .collect();
        let other_locks: Vec<_> = files(source)
            .filter(|e| matches!(file_name(&e.entry.path), "yarn.lock" | "pnpm-lock.yaml"))
            .collect();
        // Reading and parsing the manifests is most of the work (scale-8x has 25 000), so
        // it runs on several threads, a window at a time (what is parsed but not yet used
        // stays small); the results are used in path order.
        for window in targets.chunks(PARSE_WINDOW) {
            let parsed = par_map(window, |e| {
                read_bytes(source, &e.entry.path, MAX_TEXT)
                    .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(Into::into))
                    .map(|json| {
                        if file_name(&e.entry.path) == "package.json" {
                            Parsed::Installed(installed(&json, location(e)))
                        } else {
                            Parsed::Lock(json)
                        }
                    })
            });
            for (e, parsed) in window.iter().zip(parsed) {
                let path = e.entry.path.as_str();
                match parsed {
                    Ok(Parsed::Installed(p)) => found.packages.extend(p),
                    Ok(Parsed::Lock(json)) => {
                        lock(&json, parent(path), location(e), source, &mut found);
                    }
                    Err(err) => found.unknown(path, e.layer, err),
                }
            }
        }
        // Where each (name, version) found so far is installed, so a lock entry's check
        // is a lookup, not a scan of every package (scale-8x: 26 000 packages × its locks).
        let mut installed_at: HashMap<(String, String), Vec<String>> = HashMap::new();
        if !other_locks.is_empty() {
            for p in &found.packages {
                index_locations(&mut installed_at, p);
            }
        }
        for e in other_locks {
            let path = e.entry.path.as_str();
            let entries = read_bytes(source, path, MAX_TEXT)
                .map_err(|err| err.to_string())
                .and_then(|b| {
                    if file_name(path) == "yarn.lock" {
                        Ok(yarn::parse(&String::from_utf8_lossy(&b)))
                    } else {
                        pnpm::parse(&b)
                    }
                });
            match entries {
                Ok(entries) => {
                    let nm = match parent(path) {
                        "" => "/node_modules/".to_owned(),
                        dir => format!("/{dir}/node_modules/"),
                    };
                    let fresh: Vec<Package> = entries
                        .into_iter()
                        .filter(|l| {
                            !installed_at
                                .get(&(l.name.clone(), l.version.clone()))
                                .is_some_and(|paths| paths.iter().any(|p| p.starts_with(&nm)))
                        })
                        .map(|l| l.into_package(location(e)))
                        .collect();
                    for p in &fresh {
                        index_locations(&mut installed_at, p);
                    }
                    found.packages.extend(fresh);
                }
                Err(err) => found.unknown(path, e.layer, err),
            }
        }
        found
    }
}

/// How many manifests are parsed at once.
const PARSE_WINDOW: usize = 1024;

/// A `package.json` read (the package it describes, if any), or a lock file to read.
enum Parsed {
    Installed(Option<Package>),
    Lock(Value),
}

/// Adds `p`'s locations under its (name, version).
fn index_locations(index: &mut HashMap<(String, String), Vec<String>>, p: &Package) {
    index
        .entry((p.name.clone(), p.version.clone()))
        .or_default()
        .extend(p.locations.iter().map(|l| l.path.clone()));
}

/// One package of a `yarn.lock` or `pnpm-lock.yaml`.
#[derive(Debug, Default, PartialEq)]
struct LockEntry {
    name: String,
    version: String,
    resolved: String,
    integrity: String,
    dev: bool,
}

impl LockEntry {
    fn into_package(self, loc: Location) -> Package {
        let mut p = npm_package(&self.name, &self.version, loc);
        for (k, v) in [("resolved", self.resolved), ("integrity", self.integrity)] {
            if !v.is_empty() {
                p.metadata.insert(k.into(), v);
            }
        }
        if self.dev {
            p.metadata.insert("dev".into(), "true".into());
        }
        p
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `"license": "MIT"`, `"license": {"type": "MIT"}` or `"licenses": [{"type": …}]`.
fn licenses(v: &Value) -> Vec<String> {
    let one = |l: &Value| {
        l.as_str()
            .or_else(|| str_of(l, "type"))
            .map(license::normalize)
    };
    match (v.get("license"), v.get("licenses")) {
        (Some(l), _) => one(l).into_iter().collect(),
        (None, Some(Value::Array(ls))) => ls.iter().filter_map(one).collect(),
        _ => Vec::new(),
    }
}

fn npm_package(name: &str, version: &str, loc: Location) -> Package {
    let (scope, short) = match name.split_once('/') {
        Some((s, n)) if s.starts_with('@') => (s, n),
        _ => ("", name),
    };
    let mut p = Package::new(
        PackageType::Npm,
        name,
        version,
        purl::purl("npm", scope, short, version, &[]),
        loc,
    );
    p.cpes = cpe::generic(short, version, "node.js");
    p
}

fn installed(v: &Value, loc: Location) -> Option<Package> {
    let (name, version) = (str_of(v, "name")?, str_of(v, "version")?);
    let mut p = npm_package(name, version, loc);
    p.licenses = licenses(v);
    p.origin = match v.get("author") {
        Some(Value::String(a)) => Some(a.clone()),
        Some(a) => str_of(a, "name").map(str::to_owned),
        None => None,
    };
    if let Some(h) = str_of(v, "homepage") {
        p.metadata.insert("homepage".into(), h.to_owned());
    }
    if v.get("private").and_then(Value::as_bool) == Some(true) {
        p.metadata.insert("private".into(), "true".into());
    }
    Some(p)
}

/// Lock entries whose `node_modules/…` folder is not in the image.
fn lock(v: &Value, dir: &str, loc: Location, source: &dyn FileSource, found: &mut Found) {
    let installed = |install_path: &str| {
        let pj = if dir.is_empty() {
            format!("{install_path}/package.json")
        } else {
            format!("{dir}/{install_path}/package.json")
        };
        source.view().entries.contains_key(&pj)
    };
    let mut add = |name: &str, entry: &Value, install_path: &str| {
        let Some(version) = str_of(entry, "version") else {
            return;
        };
        // Links and local folders (`file:…`) are not registry packages.
        if entry.get("link").and_then(Value::as_bool) == Some(true)
            || version.contains(':')
            || installed(install_path)
        {
            return;
        }
        let mut p = npm_package(name, version, loc.clone());
        p.licenses = licenses(entry);
        if let Some(r) = str_of(entry, "resolved") {
            p.metadata.insert("resolved".into(), r.to_owned());
        }
        if let Some(i) = str_of(entry, "integrity") {
            p.metadata.insert("integrity".into(), i.to_owned());
        }
        if entry.get("dev").and_then(Value::as_bool) == Some(true) {
            p.metadata.insert("dev".into(), "true".into());
        }
        found.packages.push(p);
    };
    if let Some(Value::Object(packages)) = v.get("packages") {
        // v2 and v3: keyed by install path; "" is the project itself.
        for (key, entry) in packages {
            let Some(idx) = key.rfind("node_modules/") else {
                continue;
            };
            let name = str_of(entry, "name").unwrap_or(&key[idx + "node_modules/".len()..]);
            add(name, entry, key);
        }
    } else if let Some(Value::Object(deps)) = v.get("dependencies") {
        // v1: nested `dependencies`, each level one `node_modules` deeper.
        let mut stack: Vec<(String, &serde_json::Map<String, Value>)> = vec![(String::new(), deps)];
        while let Some((prefix, deps)) = stack.pop() {
            for (name, entry) in deps {
                let install = format!("{prefix}node_modules/{name}");
                add(name, entry, &install);
                if let Some(Value::Object(inner)) = entry.get("dependencies") {
                    stack.push((format!("{install}/"), inner));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{MemSource, find, run};

    #[test]
    fn installed_express_app_is_reported_once_per_package() {
        let found = run(&NpmCataloger, &["npm/express-app"]);
        assert!(found.unknowns.is_empty(), "{:?}", found.unknowns);
        // 52 installed packages and the project itself; the lock adds nothing installed.
        assert_eq!(found.packages.len(), 53);
        let app = find(&found.packages, "customs-demo-app", "1.0.0");
        assert_eq!(app.metadata["private"], "true");
        let ms = find(&found.packages, "ms", "2.1.1");
        assert_eq!(
            ms.locations[0].path,
            "/app/node_modules/send/node_modules/ms/package.json"
        );
        let lodash = find(&found.packages, "lodash", "4.17.15");
        assert_eq!(lodash.purl, "pkg:npm/lodash@4.17.15");
        assert_eq!(lodash.licenses, ["MIT"]);
        assert!(
            lodash
                .cpes
                .contains(&"cpe:2.3:a:lodash:lodash:4.17.15:*:*:*:*:node.js:*:*".to_owned())
        );
    }

    #[test]
    fn lock_v3_without_node_modules() {
        let found = run(&NpmCataloger, &["npm/lock-only"]);
        assert_eq!(found.packages.len(), 52);
        let ms = find(&found.packages, "ms", "2.1.1");
        assert_eq!(ms.locations[0].path, "/srv/app/package-lock.json");
        assert!(ms.metadata["integrity"].starts_with("sha512-"));
    }

    #[test]
    fn lock_v1_nested_scoped_and_local() {
        let found = run(&NpmCataloger, &["npm/lock-v1"]);
        let mut got: Vec<_> = found.packages.iter().map(|p| p.purl.as_str()).collect();
        got.sort();
        assert_eq!(
            got,
            [
                "pkg:npm/%40babel/code-frame@7.0.0",
                "pkg:npm/debug@2.6.9",
                "pkg:npm/ms@2.0.0",
                "pkg:npm/ms@2.1.1",
            ]
        );
        assert_eq!(
            find(&found.packages, "@babel/code-frame", "7.0.0").metadata["dev"],
            "true"
        );
    }

    #[test]
    fn yarn_and_pnpm_lock_files_of_every_format() {
        // Real lock files of one project (debug 4.3.4, @sindresorhus/is 4.6.0, dev ms ^2),
        // written by yarn 1.22.22, yarn 4, pnpm 7 (lockfile 5.4), 8 (6.0) and 9 (9.0).
        for case in ["yarn-v1", "yarn-berry", "pnpm-v5", "pnpm-v6", "pnpm-v9"] {
            let found = run(&NpmCataloger, &[&format!("npm/{case}")]);
            assert!(found.unknowns.is_empty(), "{case}: {:?}", found.unknowns);
            let mut got: Vec<_> = found
                .packages
                .iter()
                .filter(|p| p.name != "lock-demo")
                .map(|p| format!("{}@{}", p.name, p.version))
                .collect();
            got.sort();
            assert_eq!(
                got,
                [
                    "@sindresorhus/is@4.6.0",
                    "debug@4.3.4",
                    "ms@2.1.2",
                    "ms@2.1.3"
                ],
                "{case}"
            );
            let is = find(&found.packages, "@sindresorhus/is", "4.6.0");
            assert_eq!(is.purl, "pkg:npm/%40sindresorhus/is@4.6.0");
            assert!(is.locations[0].path.starts_with("/app/"), "{case}");
        }
        let v5 = run(&NpmCataloger, &["npm/pnpm-v5"]);
        assert_eq!(find(&v5.packages, "ms", "2.1.3").metadata["dev"], "true");
        let v1 = run(&NpmCataloger, &["npm/yarn-v1"]);
        assert!(
            find(&v1.packages, "debug", "4.3.4").metadata["resolved"]
                .starts_with("https://registry.yarnpkg.com/debug/")
        );
    }

    #[test]
    fn lock_entries_installed_under_node_modules_are_not_repeated() {
        let src = MemSource::files(&[
            (
                "app/yarn.lock",
                b"ms@^2.0.0:\n  version \"2.1.3\"\n\nleft-pad@1.0.0:\n  version \"1.0.0\"\n",
            ),
            (
                "app/node_modules/ms/package.json",
                br#"{"name":"ms","version":"2.1.3"}"#,
            ),
            (
                "app/pnpm-lock.yaml",
                b"lockfileVersion: '9.0'\npackages:\n  [broken\n",
            ),
        ]);
        let found = NpmCataloger.catalog(&src, &Context::default());
        let got: Vec<_> = found
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.locations[0].path.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("ms", "/app/node_modules/ms/package.json"),
                ("left-pad", "/app/yarn.lock")
            ]
        );
        assert_eq!(found.unknowns.len(), 1, "broken pnpm lock");
        assert_eq!(found.unknowns[0].path, "/app/pnpm-lock.yaml");
    }

    #[test]
    fn invalid_json_is_an_unknown() {
        let src = crate::testutil::MemSource::files(&[(
            "app/node_modules/x/package.json",
            b"{\"name\": ",
        )]);
        let found = NpmCataloger.catalog(&src, &Context::default());
        assert!(found.packages.is_empty());
        assert_eq!(found.unknowns[0].path, "/app/node_modules/x/package.json");
    }
}

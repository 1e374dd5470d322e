//! `pnpm-lock.yaml`: the `packages` map, whose keys changed across lockfile versions:
//!
//! - 5.x: `/name/1.2.3`, `/@scope/name/1.2.3_peer@2.0.0` (peer suffix after `_`);
//! - 6.x: `/name@1.2.3`, `/@scope/name@1.2.3(peer@2.0.0)`;
//! - 9.x: `name@1.2.3`, `'@scope/name@1.2.3'` (peers only in `snapshots`).
//!
//! An entry's own `name`/`version` fields (tarball and git dependencies) win over the
//! key; entries that resolve to no registry version (`link:`, `file:`) are left out.

use serde_norway::Value;

use super::LockEntry;

pub(super) fn parse(bytes: &[u8]) -> Result<Vec<LockEntry>, String> {
    let doc: Value = serde_norway::from_slice(bytes).map_err(|e| format!("invalid YAML: {e}"))?;
    let lock_version = match doc.get("lockfileVersion") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.parse().unwrap_or(0.0),
        _ => return Err("no lockfileVersion".into()),
    };
    let Some(Value::Mapping(packages)) = doc.get("packages") else {
        return Ok(Vec::new());
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut out = Vec::new();
    for (key, entry) in packages {
        let Some(key) = key.as_str() else {
            continue;
        };
        let key = key.strip_prefix('/').unwrap_or(key);
        let key = key.split('(').next().unwrap_or(key);
        let (kname, kversion) = if lock_version < 6.0 {
            match key.rsplit_once('/') {
                Some((n, v)) => (n, v.split('_').next().unwrap_or(v)),
                None => (key, ""),
            }
        } else {
            match key.get(1..).and_then(|r| r.find('@')) {
                Some(i) => (&key[..=i], &key[i + 2..]),
                None => (key, ""),
            }
        };
        let name = text(entry, "name").unwrap_or_else(|| kname.to_owned());
        let version = text(entry, "version").unwrap_or_else(|| kversion.to_owned());
        if name.is_empty()
            || !version.starts_with(|c: char| c.is_ascii_digit())
            || version.contains([':', '/'])
        {
            continue;
        }
        let resolution = entry.get("resolution");
        out.push(LockEntry {
            name,
            version,
            resolved: resolution
                .and_then(|r| text(r, "tarball"))
                .unwrap_or_default(),
            integrity: resolution
                .and_then(|r| text(r, "integrity"))
                .unwrap_or_default(),
            dev: entry.get("dev").and_then(Value::as_bool) == Some(true),
        });
    }
    Ok(out)
}

//! `yarn.lock`, both dialects, read line by line:
//!
//! - yarn 1 (`# yarn lockfile v1`): blocks keyed by one or more descriptors
//!   (`"@babel/core@^7.0.0", "@babel/core@^7.1.0":`) with `version "7.1.2"`,
//!   `resolved "<url>"`, `integrity <hash>`;
//! - yarn 2+ ("berry", YAML with `__metadata`): `"ms@npm:^2.0.0":` with `version: 2.1.3`,
//!   `resolution: "ms@npm:2.1.3"`, `checksum: …`. Workspaces, links and portals
//!   (`resolution: "app@workspace:."`) are the project's own code, not packages.

use super::LockEntry;

/// The package name of a descriptor (`@scope/name@range` → `@scope/name`).
fn descriptor_name(d: &str) -> &str {
    let d = d.trim().trim_matches('"');
    match d.get(1..).and_then(|rest| rest.find('@')) {
        Some(i) => &d[..i + 1],
        None => d,
    }
}

fn value(line: &str, key: &str) -> Option<String> {
    let rest = line.trim().strip_prefix(key)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    if !rest.starts_with(' ') {
        return None;
    }
    Some(rest.trim().trim_matches('"').to_owned())
}

pub(super) fn parse(text: &str) -> Vec<LockEntry> {
    let mut out: Vec<LockEntry> = Vec::new();
    let mut cur: Option<(String, LockEntry)> = None;
    let flush = |cur: &mut Option<(String, LockEntry)>, out: &mut Vec<LockEntry>| {
        if let Some((res, e)) = cur.take() {
            let local = ["@workspace:", "@link:", "@portal:", "@file:"]
                .iter()
                .any(|p| res.contains(p));
            if !e.version.is_empty()
                && !local
                && e.version != "0.0.0-use.local"
                && !out
                    .iter()
                    .any(|o| o.name == e.name && o.version == e.version)
            {
                out.push(e);
            }
        }
    };
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            flush(&mut cur, &mut out);
            let key = line.trim_end().trim_end_matches(':');
            let first = key.split(", ").next().unwrap_or(key);
            if first == "__metadata" {
                continue;
            }
            cur = Some((
                String::new(),
                LockEntry {
                    name: descriptor_name(first).to_owned(),
                    ..LockEntry::default()
                },
            ));
            continue;
        }
        // Only the block's own fields (two spaces in), not nested dependency maps.
        let Some((res, e)) = cur.as_mut() else {
            continue;
        };
        if line.starts_with("   ") {
            continue;
        }
        if let Some(v) = value(line, "version") {
            e.version = v;
        } else if let Some(v) = value(line, "resolved") {
            e.resolved = v;
        } else if let Some(v) = value(line, "resolution") {
            e.name = descriptor_name(&v).to_owned();
            *res = v;
        } else if let Some(v) = value(line, "integrity").or_else(|| value(line, "checksum")) {
            e.integrity = v;
        }
    }
    flush(&mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors() {
        assert_eq!(descriptor_name("\"@babel/core@^7.0.0\""), "@babel/core");
        assert_eq!(descriptor_name("ms@npm:^2.0.0"), "ms");
        assert_eq!(descriptor_name("left-pad"), "left-pad");
    }
}

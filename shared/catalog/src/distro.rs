//! Distribution detection from release files, in order of trust: `/etc/os-release`,
//! `/usr/lib/os-release`, `/etc/lsb-release`, then the single-purpose files
//! (`/etc/alpine-release`, `/etc/debian_version`, `/etc/redhat-release`, …).

use customs_model::fs::FileSource;
use customs_model::package::Distro;

use crate::cataloger::read_text;

/// The image's distribution, or `None` (distroless, scratch, busybox).
pub fn detect(source: &dyn FileSource) -> Option<Distro> {
    for path in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(d) = read_text(source, path).ok().and_then(|t| os_release(&t)) {
            // Debian testing/sid has no VERSION_ID; debian_version says which.
            if d.id == "debian" && d.version.is_empty() {
                let dv = read_text(source, "etc/debian_version").unwrap_or_default();
                return Some(debian_version(dv.trim()).unwrap_or(d));
            }
            return Some(d);
        }
    }
    if let Some(d) = read_text(source, "etc/lsb-release")
        .ok()
        .and_then(|t| lsb_release(&t))
    {
        return Some(d);
    }
    if let Ok(t) = read_text(source, "etc/alpine-release") {
        return Some(make("alpine", t.trim(), Vec::new(), None));
    }
    if let Some(d) = read_text(source, "etc/debian_version")
        .ok()
        .and_then(|t| debian_version(t.trim()))
    {
        return Some(d);
    }
    [
        "etc/redhat-release",
        "etc/centos-release",
        "etc/system-release",
    ]
    .iter()
    .find_map(|p| read_text(source, p).ok().and_then(|t| redhat_release(&t)))
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(v);
    v.replace("\\\"", "\"")
        .replace("\\$", "$")
        .replace("\\\\", "\\")
}

fn pairs(text: &str) -> impl Iterator<Item = (&str, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), unquote(v)))
}

fn os_release(text: &str) -> Option<Distro> {
    let (mut id, mut version, mut like, mut pretty) = (None, String::new(), Vec::new(), None);
    for (k, v) in pairs(text) {
        match k {
            "ID" => id = Some(v.to_lowercase()),
            "VERSION_ID" => version = v,
            "ID_LIKE" => like = v.split_whitespace().map(str::to_lowercase).collect(),
            "PRETTY_NAME" => pretty = Some(v),
            _ => {}
        }
    }
    Some(make(&id.filter(|i| !i.is_empty())?, &version, like, pretty))
}

fn lsb_release(text: &str) -> Option<Distro> {
    let (mut id, mut version, mut pretty) = (None, String::new(), None);
    for (k, v) in pairs(text) {
        match k {
            "DISTRIB_ID" => id = Some(v.to_lowercase()),
            "DISTRIB_RELEASE" => version = v,
            "DISTRIB_DESCRIPTION" => pretty = Some(v),
            _ => {}
        }
    }
    Some(make(
        &id.filter(|i| !i.is_empty())?,
        &version,
        Vec::new(),
        pretty,
    ))
}

/// `12.5` → Debian 12; `trixie/sid` → Debian unstable.
fn debian_version(text: &str) -> Option<Distro> {
    let first = text.lines().next()?.trim();
    if first.is_empty() {
        return None;
    }
    let major = first.split('.').next().unwrap_or(first);
    if major.chars().all(|c| c.is_ascii_digit()) {
        Some(make("debian", major, Vec::new(), None))
    } else {
        let mut d = make("debian", "", Vec::new(), None);
        d.namespace = "debian:unstable".into();
        d.version = first.to_owned();
        Some(d)
    }
}

/// `Red Hat Enterprise Linux release 9.3 (Plow)`, `CentOS Linux release 7.9.2009 (Core)`.
fn redhat_release(text: &str) -> Option<Distro> {
    let line = text.lines().next()?.trim();
    let (name, rest) = line.split_once(" release ")?;
    let version = rest.split_whitespace().next()?;
    let id = match name.to_lowercase() {
        n if n.starts_with("red hat") => "rhel",
        n if n.starts_with("centos") => "centos",
        n if n.starts_with("rocky") => "rocky",
        n if n.starts_with("almalinux") => "almalinux",
        n if n.starts_with("fedora") => "fedora",
        n if n.starts_with("amazon") => "amzn",
        n if n.starts_with("oracle") => "ol",
        _ => return None,
    };
    Some(make(id, version, Vec::new(), Some(line.to_owned())))
}

/// Builds a distro with its feed namespace: major version for distributions that
/// publish advisories per major release, `major.minor` for Alpine, as written otherwise
/// (Ubuntu `22.04`). CentOS, Rocky Linux and AlmaLinux rebuild RHEL's sources and share
/// its advisories (Anchore Engine's default distro mappings), so their namespace is `rhel`.
fn make(id: &str, version: &str, id_like: Vec<String>, pretty_name: Option<String>) -> Distro {
    let major = version.split('.').next().unwrap_or(version);
    let ns_version = match id {
        "debian" | "rhel" | "centos" | "rocky" | "almalinux" | "ol" | "fedora" | "amzn" => {
            major.to_owned()
        }
        "alpine" => version.split('.').take(2).collect::<Vec<_>>().join("."),
        _ => version.to_owned(),
    };
    let ns_id = match id {
        "centos" | "rocky" | "almalinux" => "rhel",
        _ => id,
    };
    let namespace = if ns_version.is_empty() {
        if id == "alpine" || id == "wolfi" {
            format!("{ns_id}:edge")
        } else {
            format!("{ns_id}:unstable")
        }
    } else {
        format!("{ns_id}:{ns_version}")
    };
    Distro {
        id: id.to_owned(),
        version: version.to_owned(),
        namespace,
        id_like,
        pretty_name,
    }
}

/// The `distro` purl qualifier: `debian-12`, `alpine-3.18.4`.
pub(crate) fn purl_qualifier(d: Option<&Distro>) -> String {
    match d {
        Some(d) if !d.version.is_empty() => format!("{}-{}", d.id, d.version),
        Some(d) => d.id.clone(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::MemSource;

    #[test]
    fn debian_bookworm_from_the_test_image() {
        // etc/os-release is a symlink to ../usr/lib/os-release, as in the image.
        let d = detect(&MemSource::layers(&["distro/debian-12"])).expect("distro");
        assert_eq!(d.id, "debian");
        assert_eq!(d.version, "12");
        assert_eq!(d.namespace, "debian:12");
        assert_eq!(
            d.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(purl_qualifier(Some(&d)), "debian-12");
    }

    #[test]
    fn other_release_files() {
        let alpine = b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME=\"Alpine Linux v3.18\"\n";
        let d = detect(&MemSource::files(&[("etc/os-release", alpine)])).expect("alpine");
        assert_eq!(
            (d.namespace.as_str(), d.version.as_str()),
            ("alpine:3.18", "3.18.4")
        );

        let rhel = b"NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.3 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.3\"\n";
        let d = detect(&MemSource::files(&[("usr/lib/os-release", rhel)])).expect("rhel");
        assert_eq!(d.namespace, "rhel:9");
        assert_eq!(d.id_like, ["fedora"]);

        let d = detect(&MemSource::files(&[("etc/alpine-release", b"3.19.1\n")]))
            .expect("alpine-release");
        assert_eq!(d.namespace, "alpine:3.19");

        let d = detect(&MemSource::files(&[(
            "etc/centos-release",
            b"CentOS Linux release 7.9.2009 (Core)\n",
        )]))
        .expect("centos");
        assert_eq!((d.id.as_str(), d.namespace.as_str()), ("centos", "rhel:7"));
        for (os, id) in [
            (&b"ID=\"rocky\"\nVERSION_ID=\"9.3\"\n"[..], "rocky"),
            (b"ID=\"almalinux\"\nVERSION_ID=\"8.9\"\n", "almalinux"),
        ] {
            let d = detect(&MemSource::files(&[("etc/os-release", os)])).expect(id);
            assert_eq!(d.id, id);
            assert_eq!(d.namespace, if id == "rocky" { "rhel:9" } else { "rhel:8" });
        }

        let sid =
            b"PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n";
        let d = detect(&MemSource::files(&[
            ("etc/os-release", sid),
            ("etc/debian_version", b"trixie/sid\n"),
        ]))
        .expect("sid");
        assert_eq!(d.namespace, "debian:unstable");

        let ubuntu = b"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n";
        let d = detect(&MemSource::files(&[("etc/lsb-release", ubuntu)])).expect("ubuntu");
        assert_eq!(d.namespace, "ubuntu:22.04");

        assert!(detect(&MemSource::files(&[("bin/busybox", b"x")])).is_none());
    }
}

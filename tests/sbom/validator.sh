#!/usr/bin/env bash
# validator.sh {install|path} - a private venv with the pinned `jsonschema` (requirements.txt)
# to validate SBOMs against the schemas in schemas/ with validate.py. `path` prints the
# venv's python (installing it first if needed). The e2e SBOM test runs this itself.
set -euo pipefail
LOG_TAG=sbom-validator
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../localstack/scripts/common.sh
source "$HERE/../../localstack/scripts/common.sh"

VENV=$CUSTOMS_STATE/sbom-validator/venv
REQS=$HERE/requirements.txt
STAMP=$VENV/.customs-stamp

install() {
  local want
  want=$(sha256sum "$REQS" | cut -c1-64)
  [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] && return 0
  # Tests run in parallel and more than one may ask for the venv on a fresh clone: the first
  # installs it under the lock, the others wait and then find it ready.
  mkdir -p "$(dirname "$VENV")"
  exec 9>"$(dirname "$VENV")/.install.lock"
  flock 9
  [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] && return 0
  command -v python3 >/dev/null || die "python3 is needed (apt-get install python3 python3-venv)"
  log "installing jsonschema into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS" >&2
  echo "$want" > "$STAMP"
}

case "${1:-}" in
  install) install ;;
  path) install; echo "$VENV/bin/python" ;;
  *) echo "usage: $0 {install|path}" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# schemathesis.sh {install|path} - schemathesis (pinned) in a private venv, for the
# property-based run of the API against its own OpenAPI document (tests/e2e/openapi.rs).
# `path` prints the executable (installing it first if needed).
set -euo pipefail
LOG_TAG=schemathesis
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

VERSION=4.32.5
VENV=$CUSTOMS_STATE/schemathesis/venv
STAMP=$VENV/.customs-stamp

install() {
  [ -x "$VENV/bin/st" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ] && return 0
  local py=${SCHEMATHESIS_PYTHON:-python3}
  command -v "$py" >/dev/null || die "python3 is needed for schemathesis (apt-get install python3 python3-venv)"
  log "installing schemathesis==$VERSION into $VENV"
  rm -rf "$VENV"
  "$py" -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION" >&2
  echo "$VERSION" > "$STAMP"
}

case "${1:-}" in
  install) install ;;
  path) install; echo "$VENV/bin/st" ;;
  *) echo "usage: $0 {install|path}" >&2; exit 2 ;;
esac

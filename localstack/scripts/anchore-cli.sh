#!/usr/bin/env bash
# anchore-cli.sh {install|path} - the real anchore-cli 0.9.3 in a private venv, for the
# compatibility tests. `path` prints the executable (installing it first if needed).
set -euo pipefail
LOG_TAG=anchore-cli
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

VENV=$CUSTOMS_STATE/anchore-cli/venv
REQS=$CUSTOMS_ROOT/tests/anchore-cli/requirements.txt
STAMP=$VENV/.customs-stamp

install() {
  local want
  want=$(sha256sum "$REQS" | cut -c1-64)
  [ -x "$VENV/bin/anchore-cli" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] && return 0
  local py=${ANCHORE_CLI_PYTHON:-python3}
  command -v "$py" >/dev/null || die "python3 is needed for anchore-cli (apt-get install python3 python3-venv)"
  log "installing anchorecli==0.9.3 into $VENV"
  rm -rf "$VENV"
  "$py" -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps anchorecli==0.9.3 >&2
  echo "$want" > "$STAMP"
}

case "${1:-}" in
  install) install ;;
  path) install; echo "$VENV/bin/anchore-cli" ;;
  *) echo "usage: $0 {install|path}" >&2; exit 2 ;;
esac

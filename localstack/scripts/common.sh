# Sourced by the local-stack scripts. Defines where state lives and small helpers.
# Everything the local stack creates lives under $CUSTOMS_STATE (default <repo>/.local,
# git-ignored): data dirs, pid files, and logs in $CUSTOMS_STATE/logs.
set -euo pipefail

CUSTOMS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CUSTOMS_STATE=${CUSTOMS_STATE:-$CUSTOMS_ROOT/.local}
CUSTOMS_LOGS=$CUSTOMS_STATE/logs
mkdir -p "$CUSTOMS_STATE" "$CUSTOMS_LOGS" "$CUSTOMS_STATE/pids"

log() { printf '[%s %(%H:%M:%S)T] %s\n' "${LOG_TAG:-customs}" -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# need_apt PKG... : install missing Debian packages when root, else print the exact command.
need_apt() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ]; then
    log "apt-get install ${missing[*]}"
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
      apt-get update -q >&2
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  else
    die "missing packages; run: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  fi
}

# pid-file helpers: alive NAME, spawn NAME CMD..., stop_pid NAME
pidfile() { echo "$CUSTOMS_STATE/pids/$1.pid"; }
alive() { local f; f=$(pidfile "$1"); [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }
spawn() {
  local name=$1; shift
  if alive "$name"; then log "$name already running (pid $(cat "$(pidfile "$name")"))"; return 0; fi
  nohup setsid "$@" >"$CUSTOMS_LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
  log "$name started (pid $!, log $CUSTOMS_LOGS/$name.log)"
}
stop_pid() {
  local name=$1 f pid
  f=$(pidfile "$name")
  if alive "$name"; then
    pid=$(cat "$f")
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true; }
    log "$name stopped (pid $pid)"
  fi
  rm -f "$f"
}

# wait_http URL [TRIES]: wait until URL answers any HTTP status (0.2 s per try).
wait_http() {
  local url=$1 tries=${2:-150}
  for _ in $(seq 1 "$tries"); do
    curl -s -o /dev/null -m 2 "$url" && return 0
    sleep 0.2
  done
  return 1
}

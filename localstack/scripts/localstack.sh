#!/usr/bin/env bash
# LocalStack on the host (no Docker): localstack.sh {install|start|stop|health}
#   install  find Python >= 3.12, create $CUSTOMS_STATE/localstack/venv from requirements.lock.txt
#            (skipped when the venv's stamp matches the lock file's sha256)
#   start    install if needed, start LocalStack in the background, wait until healthy
#   stop     stop it (whole process group) and check nothing is left behind
#   health   print /_localstack/health; exit non-zero unless the required services are up
# Env: LOCALSTACK_PORT (default 4566), LOCALSTACK_PYTHON (interpreter to use),
#      LOCALSTACK_START_TIMEOUT (seconds, default 90),
#      LOCALSTACK_GATEWAY_SERVER (default twisted, which binds 0.0.0.0:PORT whatever GATEWAY_LISTEN
#      says; "hypercorn" really binds 127.0.0.1 only, but is not the variant verified in depth).
# Persistence is off: every start begins with empty S3/SQS/SNS/... state.
# Lambda: functions with a custom runtime (provided.*) run as host processes through the
# runtime-executor plugin in localstack/executor (installed into the venv, selected with
# LAMBDA_RUNTIME_EXECUTOR=host); no Docker involved.
set -euo pipefail
LOG_TAG=localstack
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LS_DIR=$CUSTOMS_ROOT/localstack
LS_STATE=$CUSTOMS_STATE/localstack
VENV=$LS_STATE/venv
LOCK=$LS_DIR/requirements.lock.txt
STAMP=$VENV/.customs-lock.sha256
PORT_FILE=$CUSTOMS_STATE/pids/localstack.port
# Default port: the one a running instance was started with, else 4566.
if [ -n "${LOCALSTACK_PORT:-}" ]; then PORT=$LOCALSTACK_PORT
elif alive localstack && [ -s "$PORT_FILE" ]; then PORT=$(cat "$PORT_FILE")
else PORT=4566; fi
ENDPOINT=http://127.0.0.1:$PORT
SERVICES=s3,sqs,sns,events,cloudformation,iam,sts,logs,lambda
EXECUTOR_DIR=$LS_DIR/executor
EXECUTOR_STAMP=$VENV/.customs-executor.sha256
REQUIRED=(s3 sqs sns events)          # must be "available" or "running" to count as healthy
START_TIMEOUT=${LOCALSTACK_START_TIMEOUT:-90}

# ---------------------------------------------------------------- python discovery
py_ok() { # PATH-TO-PYTHON: is it a working interpreter >= 3.12?
  [ -n "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
  local c root
  if [ -n "${LOCALSTACK_PYTHON:-}" ]; then
    py_ok "$LOCALSTACK_PYTHON" && { echo "$LOCALSTACK_PYTHON"; return 0; }
    return 2
  fi
  # On PATH (pyenv shims for versions that are not selected fail here, and are skipped).
  for c in python3.13 python3.12 python3; do
    c=$(command -v "$c" 2>/dev/null) || continue
    py_ok "$c" && { echo "$c"; return 0; }
  done
  # pyenv-installed versions, newest first (skip free-threaded "t" builds).
  if command -v pyenv >/dev/null 2>&1; then root=$(pyenv root 2>/dev/null || true); else root=${PYENV_ROOT:-$HOME/.pyenv}; fi
  if [ -n "$root" ] && [ -d "$root/versions" ]; then
    while read -r c; do
      [ -n "$c" ] && py_ok "$c" && { echo "$c"; return 0; }
    done < <(compgen -G "$root/versions/3.1[2-9]*/bin/python" | grep -v 't/bin/python$' | sort -rV)
  fi
  # uv-managed interpreters.
  if command -v uv >/dev/null 2>&1; then
    c=$(uv python find '>=3.12' 2>/dev/null || true)
    py_ok "$c" && { echo "$c"; return 0; }
  fi
  return 1
}

no_python_help() {
  die "LocalStack needs Python >= 3.12 (Debian 12 ships 3.11, which cannot import localstack-core).
  Get one, then re-run (or point LOCALSTACK_PYTHON at it):
    - uv:    pip install --user uv (or pipx install uv) && uv python install 3.13
    - pyenv: pyenv install 3.13
    - apt:   apt-get install python3 python3-venv   on Debian 13 (3.13) / Ubuntu 24.04 (3.12) or newer
  Searched: \$LOCALSTACK_PYTHON, python3.13/python3.12/python3 on PATH, \$(pyenv root)/versions/3.1[2-9]*, 'uv python find'."
}

# ---------------------------------------------------------------- install
lock_sha() { sha256sum "$LOCK" | cut -d' ' -f1; }
installed() { [ -x "$VENV/bin/python" ] && [ -s "$STAMP" ] && [ "$(cut -d' ' -f1 "$STAMP")" = "$(lock_sha)" ] && "$VENV/bin/python" -c '' 2>/dev/null; }

# The host-process Lambda executor (localstack/executor): reinstalled when its sources change.
executor_sha() { (cd "$EXECUTOR_DIR" && find . -type f \( -name '*.py' -o -name '*.toml' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1); }
install_executor() {
  local sha ilog=$CUSTOMS_LOGS/localstack-install.log
  sha=$(executor_sha)
  if [ -s "$EXECUTOR_STAMP" ] && [ "$(cat "$EXECUTOR_STAMP")" = "$sha" ]; then return 0; fi
  log "installing the host Lambda executor into the venv"
  rm -rf "$EXECUTOR_DIR/build" "$EXECUTOR_DIR"/*.egg-info
  "$VENV/bin/pip" install --disable-pip-version-check --no-input --no-deps --no-build-isolation --force-reinstall "$EXECUTOR_DIR" >>"$ilog" 2>&1 \
    || { tail -n 20 "$ilog" >&2; die "installing $EXECUTOR_DIR failed; log: $ilog"; }
  rm -rf "$EXECUTOR_DIR/build" "$EXECUTOR_DIR"/*.egg-info
  echo "$sha" >"$EXECUTOR_STAMP"
}

cmd_install() {
  if installed; then log "venv up to date ($VENV)"; install_executor; return 0; fi
  alive localstack && die "LocalStack is running from the venv that needs rebuilding; run '$0 stop' first"
  local py t0 hashes=() ilog=$CUSTOMS_LOGS/localstack-install.log
  py=$(find_python) || {
    [ -n "${LOCALSTACK_PYTHON:-}" ] && die "LOCALSTACK_PYTHON=$LOCALSTACK_PYTHON is not a working Python >= 3.12"
    no_python_help
  }
  log "using $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"
  t0=$SECONDS
  rm -rf "$VENV"
  mkdir -p "$LS_STATE"
  "$py" -m venv "$VENV" >"$ilog" 2>&1 || {
    cat "$ilog" >&2
    die "'$py -m venv' failed (on Debian/Ubuntu install the matching pythonX.Y-venv package)"
  }
  grep -q -- '--hash=' "$LOCK" && hashes=(--require-hashes)
  log "pip install -r $(basename "$LOCK") (takes ~1-2 min the first time; log: $ilog)"
  if ! "$VENV/bin/pip" install --disable-pip-version-check --no-input ${hashes[@]+"${hashes[@]}"} -r "$LOCK" >>"$ilog" 2>&1; then
    tail -n 30 "$ilog" >&2
    rm -rf "$VENV"
    die "pip install failed; full log: $ilog"
  fi
  echo "$(lock_sha) $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')" >"$STAMP"
  install_executor
  log "installed in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- health
health_json() { curl -sf -m 3 "$ENDPOINT/_localstack/health"; }

# health_ok JSON: all REQUIRED services available/running?
health_ok() {
  local py=python3
  [ -x "$VENV/bin/python" ] && py=$VENV/bin/python
  "$py" -c '
import json, sys
try:
    s = json.loads(sys.argv[1]).get("services", {})
except ValueError:
    sys.exit(1)
bad = [n for n in sys.argv[2:] if s.get(n) not in ("available", "running")]
if bad:
    print("not ready: " + ", ".join("%s=%s" % (n, s.get(n)) for n in bad), file=sys.stderr)
sys.exit(1 if bad else 0)' "$1" "${REQUIRED[@]}"
}

port_busy() { [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; }

cmd_health() {
  local j
  j=$(health_json) || die "no answer from $ENDPOINT/_localstack/health (not running? '$0 start')"
  echo "$j"
  health_ok "$j"
}

# ---------------------------------------------------------------- start / stop
our_procs() { # pids of processes running our venv's python (start/stop leftovers)
  local re
  # shellcheck disable=SC2016  # sed script, not a shell expansion
  re=$(printf '%s' "$VENV/bin/python" | sed 's/[][\\.*^$()+?{}|]/\\&/g')
  pgrep -f "^$re( |\$)" || true
}

cmd_start() {
  local j deadline
  if alive localstack; then
    local running_port
    running_port=$(cat "$PORT_FILE" 2>/dev/null || echo "$PORT")
    [ "$running_port" = "$PORT" ] || die "LocalStack is already running on port $running_port (pid $(cat "$(pidfile localstack)")); stop it first to change LOCALSTACK_PORT"
    if j=$(health_json) && health_ok "$j" 2>/dev/null; then
      log "already running and healthy on $ENDPOINT (pid $(cat "$(pidfile localstack)"))"
      return 0
    fi
    log "already running (pid $(cat "$(pidfile localstack)")), waiting for it to become healthy"
  else
    if port_busy; then
      if health_json >/dev/null; then
        die "port $PORT is taken by a LocalStack this script did not start (no live pid file in $CUSTOMS_STATE/pids); stop it or use LOCALSTACK_PORT=<other>"
      fi
      die "something else already listens on 127.0.0.1:$PORT: $(ss -Hltnp "sport = :$PORT" | awk '{print $NF}' | head -1) — free the port or use LOCALSTACK_PORT=<other>"
    fi
    cmd_install
    # Fresh state every start (PERSISTENCE=0): wipe temp/state dirs. Kept: LocalStack's download
    # caches fs/var/lib/localstack/{lib,cache} and fs/etc/localstack (config/init hooks).
    # (LocalStack also mirrors TMPDIR under FILESYSTEM_ROOT, hence "fs$LS_STATE".)
    rm -rf "$LS_STATE/tmp" "$LS_STATE/fs$LS_STATE" \
      "$LS_STATE/fs/var/lib/localstack/"{tmp,state,logs}
    mkdir -p "$LS_STATE/fs" "$LS_STATE/tmp"
    echo "$PORT" >"$PORT_FILE"
    (
      cd "$LS_STATE"
      spawn localstack env \
        GATEWAY_LISTEN="127.0.0.1:$PORT" \
        GATEWAY_SERVER="${LOCALSTACK_GATEWAY_SERVER:-twisted}" \
        LOCALSTACK_HOST="127.0.0.1:$PORT" \
        SERVICES="$SERVICES" \
        OVERRIDE_IN_DOCKER=0 \
        FILESYSTEM_ROOT="$LS_STATE/fs" \
        TMPDIR="$LS_STATE/tmp" \
        DNS_ADDRESS=0 \
        SQS_ENDPOINT_STRATEGY=path \
        PERSISTENCE=0 \
        DISABLE_EVENTS=1 \
        SKIP_SSL_CERT_DOWNLOAD=1 \
        LAMBDA_RUNTIME_EXECUTOR=host \
        "$VENV/bin/python" -m localstack.runtime.main
    )
  fi
  deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! alive localstack; then
      tail -n 30 "$CUSTOMS_LOGS/localstack.log" >&2 || true
      rm -f "$(pidfile localstack)" "$PORT_FILE"
      die "LocalStack exited during startup; log: $CUSTOMS_LOGS/localstack.log"
    fi
    if j=$(health_json) && health_ok "$j" 2>/dev/null; then break; fi
    if [ $SECONDS -ge $deadline ]; then
      if [ -n "${j:-}" ]; then health_ok "$j" || true; fi   # prints which services are not ready
      tail -n 20 "$CUSTOMS_LOGS/localstack.log" >&2 || true
      stop_pid localstack; rm -f "$PORT_FILE"
      die "LocalStack not healthy after ${START_TIMEOUT}s (stopped it again); log: $CUSTOMS_LOGS/localstack.log"
    fi
    sleep 0.5
  done
  log "healthy on $ENDPOINT (AWS_ENDPOINT_URL=$ENDPOINT AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test)"
}

cmd_stop() {
  local left pid
  stop_pid localstack
  rm -f "$PORT_FILE"
  # Anything still running our venv's python is ours (e.g. a lost pid file); end it by pid.
  left=$(our_procs)
  if [ -n "$left" ]; then
    log "left-over processes from $VENV: ${left//$'\n'/ }; terminating them"
    for pid in $left; do kill "$pid" 2>/dev/null || true; done
    sleep 2
    for pid in $(our_procs); do kill -9 "$pid" 2>/dev/null || true; done
  fi
  left=$(our_procs)
  [ -z "$left" ] || die "processes still running from $VENV: ${left//$'\n'/ }"
  log "stopped (no processes left)"
}

case "${1:-}" in
  install) cmd_install ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  health)  cmd_health ;;
  *) echo "usage: $0 {install|start|stop|health}" >&2; exit 2 ;;
esac

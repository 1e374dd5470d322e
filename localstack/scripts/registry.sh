#!/usr/bin/env bash
# registry.sh {start|stop|status} - local container registries for tests (no Docker engine).
#
# Runs Debian's `docker-registry` (distribution 2.8), plain HTTP, bound to 127.0.0.1 only,
# filesystem storage, deletes enabled:
#   :$REGISTRY_PORT      (default 5000)  no auth            data $CUSTOMS_STATE/registry/data-open
#   :$REGISTRY_PORT + 1  (default 5001)  htpasswd Basic     data $CUSTOMS_STATE/registry/data-basic
#                        user $REGISTRY_USER (customs) / password $REGISTRY_PASS (customs-pass)
# Configs and htpasswd live in $CUSTOMS_STATE/registry; processes are named registry-<port>
# (pid files in $CUSTOMS_STATE/pids, logs in $CUSTOMS_LOGS/registry-<port>.log).
#
#   start   install missing packages (docker-registry, apache2-utils), start both registries;
#           running ones are kept, so it is safe to run twice. Stops Debian's own
#           docker-registry.service first if it is active (it would hold :5000).
#   stop    stop the registries this script started (pid files); data is kept.
#   status  pid and HTTP status of GET /v2/ per registry (200 open, 401 basic when healthy).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LOG_TAG=registry

PORT_OPEN=${REGISTRY_PORT:-5000}
PORT_BASIC=$((PORT_OPEN + 1))
REG_USER=${REGISTRY_USER:-customs}
REG_PASS=${REGISTRY_PASS:-customs-pass}
DIR=$CUSTOMS_STATE/registry

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/v2/" || true; }
in_use() {
  if command -v ss >/dev/null; then [ -n "$(ss -ltnH "sport = :$1")" ]; else [ "$(http_code "$1")" != 000 ]; fi
}

# write_config KIND PORT [AUTH-YAML] -> $DIR/registry-PORT.yml, storage $DIR/data-KIND
write_config() {
  mkdir -p "$DIR/data-$1"
  cat >"$DIR/registry-$2.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  fields: {service: registry-$2}
storage:
  filesystem: {rootdirectory: $DIR/data-$1}
  delete: {enabled: true}
  maintenance:
    uploadpurging: {enabled: false}
http:
  addr: 127.0.0.1:$2
  secret: customs-local-$1-not-a-secret
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver: {enabled: false}
${3:-}
EOF
}

# free_port PORT: make sure nobody else holds PORT before we start registry-PORT on it.
free_port() {
  alive "registry-$1" && return 0
  in_use "$1" || return 0
  if [ "$1" = 5000 ] && command -v systemctl >/dev/null && systemctl is-active -q docker-registry 2>/dev/null; then
    log "stopping Debian's docker-registry.service (it holds :5000)"
    systemctl stop docker-registry
    sleep 0.5
    in_use "$1" || return 0
  fi
  die "port $1 is already in use by a process this script did not start: $(ss -ltnpH "sport = :$1" 2>/dev/null | head -1)"
}

start() {
  need_apt docker-registry apache2-utils curl
  mkdir -p "$DIR"
  if ! htpasswd -vb "$DIR/htpasswd" "$REG_USER" "$REG_PASS" >/dev/null 2>&1; then
    htpasswd -cBb "$DIR/htpasswd" "$REG_USER" "$REG_PASS" 2>/dev/null
    alive "registry-$PORT_BASIC" && log "credentials changed: run '$0 stop; $0 start' to reload them"
  fi
  write_config open "$PORT_OPEN"
  write_config basic "$PORT_BASIC" "auth:
  htpasswd:
    realm: customs-registry
    path: $DIR/htpasswd"
  free_port "$PORT_OPEN"
  free_port "$PORT_BASIC"
  spawn "registry-$PORT_OPEN" docker-registry serve "$DIR/registry-$PORT_OPEN.yml"
  spawn "registry-$PORT_BASIC" docker-registry serve "$DIR/registry-$PORT_BASIC.yml"
  local n p
  for n in open:$PORT_OPEN basic:$PORT_BASIC; do
    p=${n#*:}; n=${n%%:*}
    wait_http "http://127.0.0.1:$p/v2/" 50 ||
      { tail -n 20 "$CUSTOMS_LOGS/registry-$p.log" >&2; die "registry-$p ($n) did not answer"; }
  done
  status
}

stop() { stop_pid "registry-$PORT_OPEN"; stop_pid "registry-$PORT_BASIC"; }

status() {
  local n p pid
  for n in open:$PORT_OPEN basic:$PORT_BASIC; do
    p=${n#*:}; n=${n%%:*}
    pid=$(cat "$(pidfile "registry-$p")" 2>/dev/null || true)
    alive "registry-$p" || pid="-"
    printf '%-6s http://127.0.0.1:%s  pid %-8s GET /v2/ -> %s\n' "$n" "$p" "$pid" "$(http_code "$p")"
  done
  echo "basic auth: $REG_USER / $REG_PASS"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac

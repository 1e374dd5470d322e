#!/usr/bin/env bash
# registry.sh {start|stop|status} - local container registries for tests (no Docker engine).
#
# Runs Debian's `docker-registry` (distribution 2.8), plain HTTP, bound to 127.0.0.1 only,
# filesystem storage, deletes enabled:
#   :$REGISTRY_PORT      (default 5000)  no auth            data $CUSTOMS_STATE/registry/data-open
#   :$REGISTRY_PORT + 1  (default 5001)  htpasswd Basic     data $CUSTOMS_STATE/registry/data-basic
#   :$REGISTRY_PORT + 2  (default 5002)  Bearer token       data $CUSTOMS_STATE/registry/data-token
#   :$REGISTRY_PORT + 3  (default 5003)  its token service (tokenserver.py, python3 + openssl)
#                        user $REGISTRY_USER (customs) / password $REGISTRY_PASS (customs-pass)
#                        for both Basic and token auth
# Configs, htpasswd and the token signing key live in $CUSTOMS_STATE/registry; processes are
# named registry-<port> and tokenserver-<port> (pid files in $CUSTOMS_STATE/pids, logs in
# $CUSTOMS_LOGS/<name>.log).
#
#   start [KIND...]  install missing packages (docker-registry, apache2-utils, openssl,
#           python3), start the registries (KIND: open, basic, token; default all three);
#           running ones are kept, so it is safe to run twice. Stops Debian's own
#           docker-registry.service first if it is active (it would hold :5000).
#   stop    stop the registries this script started (pid files); data is kept.
#   status  pid and HTTP status of GET /v2/ per registry (200 open, 401 basic and token
#           when healthy; the token service answers 200 to an anonymous /token).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
LOG_TAG=registry

PORT_OPEN=${REGISTRY_PORT:-5000}
PORT_BASIC=$((PORT_OPEN + 1))
PORT_TOKEN=$((PORT_OPEN + 2))
PORT_TOKSRV=$((PORT_OPEN + 3))
TOKEN_SERVICE=customs-token-registry
TOKEN_ISSUER=customs-test-token-service
REG_USER=${REGISTRY_USER:-customs}
REG_PASS=${REGISTRY_PASS:-customs-pass}
DIR=$CUSTOMS_STATE/registry

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1${2:-/v2/}" || true; }
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

# free_port PORT [NAME]: make sure nobody else holds PORT before we start NAME-PORT
# (default registry-PORT) on it.
free_port() {
  alive "${2:-registry}-$1" && return 0
  in_use "$1" || return 0
  if [ "$1" = "$PORT_OPEN" ] && command -v systemctl >/dev/null && systemctl is-active -q docker-registry 2>/dev/null; then
    log "stopping Debian's docker-registry.service (it holds :5000)"
    systemctl stop docker-registry
    sleep 0.5
    in_use "$1" || return 0
  fi
  die "port $1 is already in use by a process this script did not start: $(ss -ltnpH "sport = :$1" 2>/dev/null | head -1)"
}

# token_key: the token service's RSA key and self-signed certificate (the registry's
# rootcertbundle), made once; prints the key id the registry expects in a token's `kid`:
# libtrust's form, base32 of the first 240 bits of sha256(DER public key), in groups of 4.
token_key() {
  if [ ! -s "$DIR/token.crt" ] || [ ! -s "$DIR/token.key" ]; then
    (umask 077; openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$TOKEN_ISSUER" \
      -keyout "$DIR/token.key" -out "$DIR/token.crt" 2>/dev/null)
  fi
  openssl x509 -in "$DIR/token.crt" -pubkey -noout | openssl pkey -pubin -outform DER |
    openssl dgst -sha256 -binary | head -c 30 | base32 | tr -d '=' | fold -w4 | paste -sd: -
}

# start_token: the Bearer-token registry and its token service.
start_token() {
  local kid
  kid=$(token_key)
  write_config token "$PORT_TOKEN" "auth:
  token:
    realm: http://127.0.0.1:$PORT_TOKSRV/token
    service: $TOKEN_SERVICE
    issuer: $TOKEN_ISSUER
    rootcertbundle: $DIR/token.crt"
  free_port "$PORT_TOKSRV" tokenserver
  free_port "$PORT_TOKEN"
  spawn "tokenserver-$PORT_TOKSRV" env TOKEN_USER="$REG_USER" TOKEN_PASS="$REG_PASS" \
    python3 "$CUSTOMS_ROOT/localstack/scripts/tokenserver.py" "$PORT_TOKSRV" "$DIR/token.key" "$DIR/token.crt" \
    "$kid" "$TOKEN_ISSUER" "$TOKEN_SERVICE"
  spawn "registry-$PORT_TOKEN" docker-registry serve "$DIR/registry-$PORT_TOKEN.yml"
  wait_http "http://127.0.0.1:$PORT_TOKSRV/token" 50 ||
    { tail -n 20 "$CUSTOMS_LOGS/tokenserver-$PORT_TOKSRV.log" >&2; die "tokenserver-$PORT_TOKSRV did not answer"; }
}

start() {
  local kinds=("$@") k
  [ ${#kinds[@]} -gt 0 ] || kinds=(open basic token)
  need_apt docker-registry apache2-utils curl openssl python3
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
  local n p
  for k in "${kinds[@]}"; do
    case $k in
      open) free_port "$PORT_OPEN"; spawn "registry-$PORT_OPEN" docker-registry serve "$DIR/registry-$PORT_OPEN.yml" ;;
      basic) free_port "$PORT_BASIC"; spawn "registry-$PORT_BASIC" docker-registry serve "$DIR/registry-$PORT_BASIC.yml" ;;
      token) start_token ;;
      *) die "unknown registry kind $k (open, basic, token)" ;;
    esac
  done
  for n in open:$PORT_OPEN basic:$PORT_BASIC token:$PORT_TOKEN; do
    p=${n#*:}; n=${n%%:*}
    alive "registry-$p" || continue
    wait_http "http://127.0.0.1:$p/v2/" 50 ||
      { tail -n 20 "$CUSTOMS_LOGS/registry-$p.log" >&2; die "registry-$p ($n) did not answer"; }
  done
  status
}

stop() {
  stop_pid "registry-$PORT_OPEN"; stop_pid "registry-$PORT_BASIC"
  stop_pid "registry-$PORT_TOKEN"; stop_pid "tokenserver-$PORT_TOKSRV"
}

status() {
  local n p pid name path
  for n in open:$PORT_OPEN basic:$PORT_BASIC token:$PORT_TOKEN tokensrv:$PORT_TOKSRV; do
    p=${n#*:}; n=${n%%:*}
    name=registry-$p path=/v2/
    [ "$n" = tokensrv ] && name=tokenserver-$p path=/token
    pid=$(cat "$(pidfile "$name")" 2>/dev/null || true)
    alive "$name" || pid="-"
    printf '%-8s http://127.0.0.1:%s  pid %-8s GET %-6s -> %s\n' "$n" "$p" "$pid" "$path" "$(http_code "$p" "$path")"
  done
  echo "basic and token auth: $REG_USER / $REG_PASS"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac

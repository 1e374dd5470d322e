#!/usr/bin/env bash
# stack.sh {up|down|status|env|demo|test} - the whole local stack, started by the project.
#
#   up      PostgreSQL, the local registries (with the test images pushed), LocalStack,
#           provisioned resources, migrations, and `customs-local serve` (API on
#           127.0.0.1:8228) in the background. Idempotent.
#   down    stops everything `up` started.
#   env     prints the environment (export lines) to talk to the running stack.
#   demo    up (what is not running yet), analyse the sample image through the API,
#           print the result, then stop what it started.
#   test    the same services, then every test (unit + integration + end-to-end), then
#           stop what it started. Exit status is the tests'.
# Logs: .local/logs/. Admin password: $CUSTOMS_ADMIN_PASSWORD, else a generated one kept in
# .local/admin-password.
set -euo pipefail
LOG_TAG=stack
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
S=$CUSTOMS_ROOT/localstack/scripts
API_ADDR=${CUSTOMS_API_ADDR:-127.0.0.1:8228}
REGISTRY=127.0.0.1:${REGISTRY_PORT:-5000}
# The local stack syncs the repo's copy of real upstream feed records (offline).
FEEDS=$CUSTOMS_ROOT/shared/feeds/testdata
# The caller's DATABASE_URL (an external server), kept apart from the one exported below.
USER_DATABASE_URL=${DATABASE_URL:-}

pg() {
  if [ -n "$USER_DATABASE_URL" ]; then DATABASE_URL=$USER_DATABASE_URL "$S/postgres.sh" "$@"
  else env -u DATABASE_URL "$S/postgres.sh" "$@"; fi
}

admin_password() {
  if [ -n "${CUSTOMS_ADMIN_PASSWORD:-}" ]; then echo "$CUSTOMS_ADMIN_PASSWORD"; return; fi
  local f=$CUSTOMS_STATE/admin-password
  [ -s "$f" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$f")
  cat "$f"
}

secrets_key() {
  if [ -n "${CUSTOMS_SECRETS_KEY:-}" ]; then echo "$CUSTOMS_SECRETS_KEY"; return; fi
  local f=$CUSTOMS_STATE/secrets-key
  [ -s "$f" ] || (umask 077; head -c 32 /dev/urandom | base64 > "$f")
  cat "$f"
}

print_env() {
  cat <<EOV
export DATABASE_URL='$(pg url)'
export AWS_ENDPOINT_URL='http://127.0.0.1:${LOCALSTACK_PORT:-4566}'
export AWS_REGION='us-east-1'
export AWS_ACCESS_KEY_ID='test'
export AWS_SECRET_ACCESS_KEY='test'
export CUSTOMS_ADMIN_PASSWORD='$(admin_password)'
export CUSTOMS_API_ADDR='$API_ADDR'
export CUSTOMS_SECRETS_KEY='$(secrets_key)'
export CUSTOMS_ALLOW_PRIVATE_REGISTRIES='true'
export CUSTOMS_FEED_OSV_URLS='file://$FEEDS/osv/'
export CUSTOMS_FEED_DEBIAN_URLS='file://$FEEDS/debian/vunnel-debian.json'
export CUSTOMS_FEED_ALPINE_URLS='file://$FEEDS/alpine/'
export CUSTOMS_FEED_NVD_URL='file://$FEEDS/nvd/vunnel-full-page.json'
export CUSTOMS_FEED_REDHAT_URLS='file://$FEEDS/redhat/'
export CUSTOMS_FEED_KEV_URL='file://$FEEDS/kev/known_exploited_vulnerabilities.json'
export CUSTOMS_FEED_EPSS_URL='file://$FEEDS/epss/example-1.csv'
export CUSTOMS_TEST_REGISTRY='$REGISTRY'
export CUSTOMS_TEST_BASIC_REGISTRY='127.0.0.1:$(( ${REGISTRY_PORT:-5000} + 1 ))'
export CUSTOMS_TEST_TOKEN_REGISTRY='127.0.0.1:$(( ${REGISTRY_PORT:-5000} + 2 ))'
EOV
}

# What was running before this command, so demo/test stop only what they started.
running_before=()
note_running() {
  pg status >/dev/null 2>&1 && running_before+=(postgres)
  "$S/localstack.sh" health >/dev/null 2>&1 && running_before+=(localstack)
  curl -s -o /dev/null -m 2 "http://$REGISTRY/v2/" && running_before+=(registry)
  alive customs-local && running_before+=(customs-local)
  return 0
}
was_running() { local x; for x in "${running_before[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }

services() {
  need_apt curl jq ca-certificates bsdextrautils
  pg start
  "$S/registry.sh" start
  "$S/localstack.sh" start
  "$CUSTOMS_ROOT/tests/images/build.sh" --push
}

build() {
  log "cargo build --workspace"
  (cd "$CUSTOMS_ROOT" && cargo build --workspace --quiet)
}

runner() { "$CUSTOMS_ROOT/target/debug/customs-local" "$@"; }

up() {
  services
  build
  eval "$(print_env)"
  runner provision >>"$CUSTOMS_LOGS/customs-local.log" 2>&1 || die "provisioning failed; see $CUSTOMS_LOGS/customs-local.log"
  runner migrate >>"$CUSTOMS_LOGS/customs-local.log" 2>&1 || die "migrations failed; see $CUSTOMS_LOGS/customs-local.log"
  # A rebuilt runner replaces the running one (make up twice stays harmless).
  if alive customs-local && [ "$CUSTOMS_ROOT/target/debug/customs-local" -nt "$(pidfile customs-local)" ]; then
    log "customs-local was rebuilt; restarting it"
    stop_pid customs-local
  fi
  spawn customs-local "$CUSTOMS_ROOT/target/debug/customs-local" serve
  wait_http "http://$API_ADDR/v1" 150 || die "API did not answer on $API_ADDR; see $CUSTOMS_LOGS/customs-local.log"
  # First feed sync, through the feed-sync queue like every later one.
  curl -fsS -o /dev/null -u "admin:$CUSTOMS_ADMIN_PASSWORD" -X POST "http://$API_ADDR/v1/system/feeds?flush=false" \
    || log "could not request the first feed sync; see $CUSTOMS_LOGS/customs-local.log"
  log "stack is up: API http://$API_ADDR/v1 (admin / see 'make env'), registry $REGISTRY, LocalStack :${LOCALSTACK_PORT:-4566}"
}

down() {
  stop_pid customs-local
  "$S/localstack.sh" stop || true
  "$S/registry.sh" stop || true
  pg stop || true
}

# Stops what this invocation started (for demo and test).
cleanup() {
  local rc=$?
  was_running customs-local || stop_pid customs-local
  was_running localstack || "$S/localstack.sh" stop >/dev/null 2>&1 || true
  was_running registry || "$S/registry.sh" stop >/dev/null 2>&1 || true
  was_running postgres || pg stop >/dev/null 2>&1 || true
  exit $rc
}

api() { curl -sS -u "admin:$CUSTOMS_ADMIN_PASSWORD" -H 'Content-Type: application/json' "$@"; }

demo() {
  note_running; trap cleanup EXIT
  up
  local tag="$REGISTRY/customs/debian-app:latest" url="http://$API_ADDR/v1" status="" rec digest check
  log "waiting for the first feed sync (the repo's real upstream records)"
  for _ in $(seq 1 300); do
    [ "$(api "$url/system/feeds" | jq '[.[] | select(.name == "osv") | .groups[] | select(.last_sync != null)] | length')" -gt 0 ] 2>/dev/null && break
    sleep 0.2
  done
  log "POST $url/images {\"tag\": \"$tag\"}"
  api -X POST "$url/images?force=true" -d "{\"tag\": \"$tag\"}" | jq -e '.[0] | {analysis_status, tag: .image_detail[0].fulltag}'
  for _ in $(seq 1 900); do
    rec=$(api -G "$url/images" --data-urlencode "fulltag=$tag")
    status=$(jq -r '.[0].analysis_status' <<<"$rec")
    case "$status" in analyzed|analysis_failed) break ;; esac
    sleep 0.2
  done
  echo
  echo "== $tag"
  jq -r '.[0] | "digest:      \(.imageDigest)\nstatus:      \(.analysis_status)\(if .analysis_error then " (\(.analysis_error))" else "" end)\ndistro:      \(.image_content.metadata.distro) \(.image_content.metadata.distro_version)\nlayers:      \(.image_content.metadata.layer_count), \(.image_content.metadata.image_size) bytes compressed, \(.file_count) files"' <<<"$rec"
  [ "$status" = analyzed ] || return 1
  digest=$(jq -r '.[0].imageDigest' <<<"$rec")
  for _ in $(seq 1 300); do
    check=$(api -G "$url/images/$digest/check" --data-urlencode "tag=$tag" --data-urlencode "detail=true")
    jq -e 'type == "array"' >/dev/null 2>&1 <<<"$check" && break
    sleep 0.2
  done
  echo
  echo "== packages"
  for t in os python npm java go binary; do
    printf '%-7s %s\n' "$t" "$(api "$url/images/$digest/content/$t" | jq '.content | length')"
  done
  echo
  echo "== vulnerabilities"
  api "$url/images/$digest/vuln/all" | jq -r '.vulnerabilities | sort_by(.severity) | (["VULN","PACKAGE","SEVERITY","FIX","FEED GROUP"] | @tsv), (.[] | [.vuln, .package, .severity, .fix, .feed_group] | @tsv)' | column -t -s $'\t'
  echo
  echo "== policy (active bundle)"
  jq -r --arg d "$digest" --arg t "$tag" '.[0][$d][$t][0] | "status: \(.status)  policy: \(.policyId)", (.detail.result.result | to_entries[] | select(.value.result?) | .value.result.rows[] | "  \(.[6] | ascii_upcase)\t\(.[3])/\(.[4])\t\(.[5])")' <<<"$check"
}

test_all() {
  note_running; trap cleanup EXIT
  services
  eval "$(print_env)"
  ANCHORE_CLI=$("$S/anchore-cli.sh" path)
  export ANCHORE_CLI
  CUSTOMS_CHROMIUM=$("$S/chromium.sh" path); export CUSTOMS_CHROMIUM
  "$CUSTOMS_ROOT/tests/sbom/validator.sh" install
  log "cargo test --workspace"
  local rc=0
  (cd "$CUSTOMS_ROOT" && cargo test --workspace --no-fail-fast) || rc=$?
  # The SAM template: lint, deploy into LocalStack, and run an image through the deployed
  # functions (LocalStack's own event source mappings, the host-process executor).
  log "infra: deploy.sh check"
  "$S/deploy.sh" check || rc=$?
  "$S/deploy.sh" destroy >/dev/null 2>&1 || true
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) print_env ;;
  status) pg status || true; "$S/registry.sh" status || true; "$S/localstack.sh" health >/dev/null && echo "localstack: healthy" || echo "localstack: down"; alive customs-local && echo "customs-local: running" || echo "customs-local: stopped" ;;
  demo) demo ;;
  test) test_all ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac

#!/usr/bin/env bash
# deploy.sh {check|lint|package|deploy|verify|e2e|destroy} - infra/template.yaml, linted and deployed into LocalStack.
#
#   check    lint + deploy + verify + e2e: the one entry point for `make test` (exit non-zero on any failure).
#            Needs the local stack's services running (PostgreSQL, LocalStack with lambda, the registry
#            with its images) - what `stack.sh up` / `stack.sh test` start.
#   lint     cfn-lint (from PyPI, pinned in infra/requirements-lint.txt, venv .local/infra/lint-venv).
#   package  `make package`: release Lambda zips with cargo-lambda (+ zig, from PyPI), arm64 when the
#            aarch64-unknown-linux-gnu target is installed, else x86_64 -> target/lambda/<binary>/bootstrap.zip.
#   deploy   fresh database customs_deploy_<stage> (migrated with customs-local), the host's debug
#            binaries zipped as `bootstrap`, CloudFormation stack customs-<stage> from the template.
#   verify   queues, DLQs, redrive policies, event source mappings, schedules, bucket settings and policy,
#            topic and log groups in LocalStack match the template.
#   e2e      an image added through the deployed api function is analysed by the deployed analyze
#            function, driven by LocalStack's SQS event source mapping; evaluate is invoked next.
#   destroy  delete the stack.
# Env: CUSTOMS_STAGE (default local), DATABASE_URL etc. (default: `stack.sh env`),
#      CUSTOMS_DEPLOY_BUILD=0 to use target/debug as it is (no cargo build).
set -euo pipefail
LOG_TAG=deploy
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
S=$CUSTOMS_ROOT/localstack/scripts
INFRA=$CUSTOMS_ROOT/infra
WORK=$CUSTOMS_STATE/infra
STAGE=${CUSTOMS_STAGE:-local}
LS_PY=$CUSTOMS_STATE/localstack/venv/bin/python
BINARIES=(customs-api customs-analyze customs-evaluate customs-feed-sync customs-notify customs-watch)
export CUSTOMS_ROOT CUSTOMS_STATE CUSTOMS_STAGE=$STAGE
mkdir -p "$WORK"

# venv DIR REQUIREMENTS: a venv with exactly these pins (rebuilt when the file changes).
venv() {
  local dir=$1 req=$2 sha py
  sha=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.customs.sha256" 2>/dev/null)" = "$sha" ]; then return 0; fi
  py=$(command -v python3) || die "python3 is needed (apt-get install python3 python3-venv)"
  log "creating $dir from $(basename "$req")"
  rm -rf "$dir"
  "$py" -m venv "$dir" || die "'$py -m venv' failed (install python3-venv)"
  "$dir/bin/pip" install --disable-pip-version-check --no-input -q -r "$req" >"$CUSTOMS_LOGS/$(basename "$dir").log" 2>&1 \
    || { tail -n 20 "$CUSTOMS_LOGS/$(basename "$dir").log" >&2; rm -rf "$dir"; die "pip install -r $req failed"; }
  echo "$sha" >"$dir/.customs.sha256"
}

cmd_lint() {
  venv "$WORK/lint-venv" "$INFRA/requirements-lint.txt"
  "$WORK/lint-venv/bin/cfn-lint" "$INFRA/template.yaml" || die "cfn-lint found problems in infra/template.yaml"
  log "cfn-lint: infra/template.yaml is clean"
}

cmd_package() {
  venv "$WORK/package-venv" "$INFRA/requirements-package.txt"
  local arch=() b bins=()
  if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    arch=(--arm64)
  else
    log "aarch64-unknown-linux-gnu is not installed (rustup target add aarch64-unknown-linux-gnu): building x86_64;" \
        "deploy with --parameter-overrides Architecture=x86_64"
    arch=(--x86-64)
  fi
  for b in "${BINARIES[@]}"; do bins+=(--bin "$b"); done
  (cd "$CUSTOMS_ROOT" && PATH="$WORK/package-venv/bin:$PATH" cargo lambda build --release --output-format zip "${arch[@]}" "${bins[@]}")
  for b in "${BINARIES[@]}"; do
    [ -s "$CUSTOMS_ROOT/target/lambda/$b/bootstrap.zip" ] || die "target/lambda/$b/bootstrap.zip was not built"
  done
  log "zips in target/lambda/<binary>/bootstrap.zip"
}

# The running stack's environment, unless the caller has one.
stack_env() {
  if [ -z "${DATABASE_URL:-}" ] || [ -z "${CUSTOMS_ADMIN_PASSWORD:-}" ]; then eval "$("$S/stack.sh" env)"; fi
  export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:4566} AWS_REGION=${AWS_REGION:-us-east-1} \
         AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test} \
         DATABASE_URL CUSTOMS_ADMIN_PASSWORD CUSTOMS_TEST_REGISTRY=${CUSTOMS_TEST_REGISTRY:-127.0.0.1:5000}
  [ -x "$LS_PY" ] || die "LocalStack's venv is missing; run '$S/localstack.sh install'"
  curl -sf -m 3 "$AWS_ENDPOINT_URL/_localstack/health" | grep -q '"lambda": "\(available\|running\)"' \
    || die "LocalStack at $AWS_ENDPOINT_URL is not running with lambda (restart it: $S/localstack.sh stop && $S/localstack.sh start)"
  DEPLOY_DATABASE_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p._replace(path="/" + sys.argv[2]).geturl())' \
    "$DATABASE_URL" "customs_deploy_${STAGE//-/_}")
  export DEPLOY_DATABASE_URL
}

fresh_database() {
  local db=customs_deploy_${STAGE//-/_}
  PGOPTIONS="-c client_min_messages=warning" psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null \
    || die "could not (re)create database $db through DATABASE_URL"
  DATABASE_URL=$DEPLOY_DATABASE_URL "$CUSTOMS_ROOT/target/debug/customs-local" migrate >>"$CUSTOMS_LOGS/deploy.log" 2>&1 \
    || die "migrating $db failed; see $CUSTOMS_LOGS/deploy.log"
  log "database $db created and migrated"
}

cmd_deploy() {
  stack_env
  if [ "${CUSTOMS_DEPLOY_BUILD:-1}" != 0 ]; then
    log "cargo build --workspace"
    (cd "$CUSTOMS_ROOT" && cargo build --workspace --quiet) || die "cargo build --workspace failed"
  fi
  fresh_database
  "$LS_PY" "$INFRA/local/deploy.py" package
  "$LS_PY" "$INFRA/local/deploy.py" deploy
}

py_step() { stack_env; "$LS_PY" "$INFRA/local/deploy.py" "$1"; }

cmd_check() {
  local t0=$SECONDS
  cmd_lint
  cmd_deploy
  "$LS_PY" "$INFRA/local/deploy.py" verify
  "$LS_PY" "$INFRA/local/deploy.py" e2e
  log "check passed in $((SECONDS - t0)) s (stack customs-$STAGE left deployed; '$0 destroy' removes it)"
}

case "${1:-}" in
  check) cmd_check ;;
  lint) cmd_lint ;;
  package) cmd_package ;;
  deploy) cmd_deploy ;;
  verify|e2e|destroy) py_step "$1" ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac

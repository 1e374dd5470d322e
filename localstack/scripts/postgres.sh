#!/usr/bin/env bash
# PostgreSQL for local dev/tests: postgres.sh {start|stop|status|url}
#   With DATABASE_URL set, that server is used as is: start/status check it is reachable,
#   stop does nothing, url echoes it.
#   Otherwise a private cluster from the system's PostgreSQL binaries lives in
#   $CUSTOMS_STATE/postgres (data/, run/ = unix socket dir), listening on 127.0.0.1:$PGPORT
#   (default 55432) only, tuned for tests (fsync/synchronous_commit/full_page_writes off),
#   with role customs/customs (LOGIN CREATEDB) owning database customs.
#   Run as root, the server runs as the system user customs-pg (created if missing).
# Logs: $CUSTOMS_LOGS/postgres.log (server), postgres-initdb.log.
set -euo pipefail
LOG_TAG=postgres
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_STATE=$CUSTOMS_STATE/postgres
PG_DATA=$PG_STATE/data
SOCK_DIR=$PG_STATE/run
PG_LOG=$CUSTOMS_LOGS/postgres.log
PORT=${PGPORT:-55432}
PG_USER=customs-pg            # OS user running the server when we are root
DB_USER=customs DB_PASS=customs DB_NAME=customs
PRIVATE_URL="postgres://$DB_USER:$DB_PASS@127.0.0.1:$PORT/$DB_NAME"

# A unix socket path must fit in ~107 bytes; fall back to a short private dir.
if [ $(( ${#SOCK_DIR} + 16 )) -gt 100 ]; then
  SOCK_DIR=/tmp/customs-pg-$(printf '%s' "$PG_STATE" | sha256sum | cut -c1-12)
fi

is_root() { [ "$(id -u)" = 0 ]; }

# ---------------------------------------------------------------- external server (DATABASE_URL)
external() {
  if ! command -v pg_isready >/dev/null || ! command -v psql >/dev/null; then need_apt postgresql-client; fi
  case "$1" in
    start|status)
      pg_isready -q -t 10 -d "$DATABASE_URL" || die "DATABASE_URL server is not accepting connections: $(pg_isready -d "$DATABASE_URL" 2>&1 || true)"
      psql "$DATABASE_URL" -qAtc 'select 1' >/dev/null || die "DATABASE_URL server answers but 'select 1' failed (credentials/database?)"
      log "using DATABASE_URL (external server, reachable; not managed by this script)" ;;
    stop) log "DATABASE_URL is set: external server, nothing to stop" ;;
    url) echo "$DATABASE_URL" ;;
  esac
}

# ---------------------------------------------------------------- private cluster
find_bindir() {
  local d
  d=$(compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' | sort -V | tail -n 1 || true)
  [ -n "$d" ] && { dirname "$d"; return 0; }
  return 1
}

as_pg() { # run a server-side command as the server's OS user
  if is_root; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

prepare() {
  find_bindir >/dev/null || need_apt postgresql
  light
  mkdir -p "$PG_STATE"
  if is_root; then
    if ! id "$PG_USER" >/dev/null 2>&1; then
      log "creating system user $PG_USER"
      useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$PG_USER"
    fi
    # The server user must be able to reach $PG_STATE (every parent needs o+x).
    if ! runuser -u "$PG_USER" -- test -x "$PG_STATE"; then
      local d=$PG_STATE bad=()
      while [ "$d" != / ]; do
        runuser -u "$PG_USER" -- test -x "$d" 2>/dev/null || bad=("$d")
        d=$(dirname "$d")
      done
      die "user $PG_USER cannot reach $PG_STATE (blocked at ${bad[*]:-?}). Either 'chmod o+x' the blocking directory, or set CUSTOMS_STATE to a directory outside it (e.g. CUSTOMS_STATE=/var/tmp/customs)."
    fi
  fi
  mkdir -p "$PG_DATA" "$SOCK_DIR"
  chmod 700 "$PG_DATA" "$SOCK_DIR"
  touch "$PG_LOG"
  if is_root; then
    [ "$(stat -c %U "$PG_DATA")" = "$PG_USER" ] || chown -R "$PG_USER:" "$PG_DATA"
    chown "$PG_USER:" "$SOCK_DIR" "$PG_LOG"
  elif [ "$(stat -c %u "$PG_DATA")" != "$(id -u)" ]; then
    die "$PG_DATA belongs to $(stat -c %U "$PG_DATA"), not to you; run as that user/root, or remove $PG_STATE"
  fi
}

light() { # enough to query/stop an existing cluster, without creating anything
  BIN=$(find_bindir) || die "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); '$0 start' installs them"
  # pg_ctl/initdb call getcwd(): the caller's cwd may be unreadable for $PG_USER (e.g. /root).
  cd /
}

initdb_if_needed() {
  [ -s "$PG_DATA/PG_VERSION" ] && return 0
  local loc=(--no-locale)
  locale -a 2>/dev/null | grep -qix 'c\.utf-\?8' && loc=(--locale=C.UTF-8)
  log "initdb $PG_DATA ($("$BIN/postgres" --version))"
  as_pg "$BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 "${loc[@]}" \
      --auth-local=trust --auth-host=scram-sha-256 --no-sync --no-instructions \
      >"$CUSTOMS_LOGS/postgres-initdb.log" 2>&1 \
    || { tail -n 20 "$CUSTOMS_LOGS/postgres-initdb.log" >&2; die "initdb failed; log: $CUSTOMS_LOGS/postgres-initdb.log"; }
  echo "include_if_exists = 'customs.conf'   # written by localstack/scripts/postgres.sh" >>"$PG_DATA/postgresql.conf"
}

write_conf() { # regenerated on every start so PGPORT / paths changes apply
  cat >"$PG_DATA/customs.conf" <<EOF
# Managed by localstack/scripts/postgres.sh; rewritten on every start.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK_DIR'
max_connections = 200
# Throw-away test cluster: durability off for speed (a crash may corrupt it; rm -rf and restart).
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  is_root && chown "$PG_USER:" "$PG_DATA/customs.conf"
  return 0
}

running() { as_pg "$BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }
running_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null; }
port_busy() { [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; }
# shellcheck disable=SC2120  # extra psql args are optional
admin_psql() { "$BIN/psql" -X -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

ensure_role_db() {
  admin_psql >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASS';
  ELSE
    ALTER ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASS';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')
\gexec
SQL
}

cmd_start() {
  prepare
  initdb_if_needed
  if running; then
    [ "$(running_port)" = "$PORT" ] || die "cluster in $PG_DATA is already running on port $(running_port); '$0 stop' first to change PGPORT"
    log "already running on 127.0.0.1:$PORT"
  else
    if port_busy; then
      die "something else already listens on port $PORT: $(ss -Hltnp "sport = :$PORT" | awk '{print $4, $NF}' | head -1) — stop it or set PGPORT"
    fi
    write_conf
    log "pg_ctl start (log $PG_LOG)"
    as_pg "$BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s \
      || { tail -n 20 "$PG_LOG" >&2; die "postgres did not start; log: $PG_LOG"; }
  fi
  ensure_role_db || die "could not create role/database $DB_USER/$DB_NAME"
  log "ready: $PRIVATE_URL"
}

live() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }
have_cluster() { [ -s "$PG_DATA/PG_VERSION" ] && { ! is_root || id "$PG_USER" >/dev/null 2>&1; }; }

cmd_stop() {
  light
  if ! have_cluster || ! running; then log "not running"; return 0; fi
  local pm kids
  pm=$(sed -n 1p "$PG_DATA/postmaster.pid")
  kids=$(pgrep -P "$pm" || true)
  as_pg "$BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 -s || die "pg_ctl stop failed; log: $PG_LOG"
  # Exited children may linger briefly as zombies until init reaps them; those do not count.
  for p in $pm $kids; do
    for _ in $(seq 1 50); do live "$p" || continue 2; sleep 0.1; done
    die "postgres process $p still alive after stop"
  done
  log "stopped"
}

cmd_status() {
  light
  if have_cluster && running && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
    log "running, accepting connections on 127.0.0.1:$PORT (data $PG_DATA)"
    echo "$PRIVATE_URL"
  else
    log "not running (data $PG_DATA)"
    return 3
  fi
}

cmd=${1:-}
case "$cmd" in start|stop|status|url) ;; *) echo "usage: $0 {start|stop|status|url}" >&2; exit 2 ;; esac
if [ -n "${DATABASE_URL:-}" ]; then external "$cmd"; exit 0; fi
case "$cmd" in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  url)    echo "$PRIVATE_URL" ;;
esac

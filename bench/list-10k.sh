#!/usr/bin/env bash
# The 10 000-image list (issue 7's target: under 100 ms), on the bench runner that
# `BENCH_SERVE_ONLY=1 bench/bench.sh` leaves running.
#
#   bench/list-10k.sh [LISTS]     (default 20)
#
# Seeds account `bulk` of the bench database with 10 000 analysed images, one tag each
# (once), then times LISTS whole-account lists (`GET /v1/images` as a user of `bulk`,
# curl, one at a time) and prints the runner's and PostgreSQL's CPU per list (from
# /proc, so the split between the two shows) and the wall times' median, best and p90.
set -euo pipefail
. "${BENCH_CACHE:-$HOME/.cache/customs-bench}/runner.env"
N=${1:-20}
API=http://$BENCH_API_ADDR/v1
DB=${BENCH_ADMIN_DATABASE_URL%/*}/customs_bench
ADMIN="admin:$CUSTOMS_ADMIN_PASSWORD"
USER_AUTH=bulkuser:bulk-pass-123
curl -s -o /dev/null -u "$ADMIN" -H 'Content-Type: application/json' -X POST "$API/accounts" -d '{"name":"bulk","email":"bulk@example.com"}'
curl -s -o /dev/null -u "$ADMIN" -H 'Content-Type: application/json' -X POST "$API/accounts/bulk/users" -d '{"username":"bulkuser","password":"bulk-pass-123"}'
if [ "$(psql "$DB" -qAtc "SELECT count(*) FROM images WHERE account = 'bulk'")" -lt 10000 ]; then
  psql "$DB" -q <<'SQL'
INSERT INTO images (id, account, source_ref, image_digest, analysis_status, created_at, arch, os, image_size, layer_count)
  SELECT gen_random_uuid(), 'bulk', '127.0.0.1:5000/bulk/app:' || i, 'sha256:' || lpad(to_hex(i), 64, '0'), 'analyzed',
         now() - (i % 100) * interval '1 second', 'amd64', 'linux', 1000 + i, 3 FROM generate_series(1, 10000) AS i;
INSERT INTO image_tags (image_id, account, registry, repo, tag)
  SELECT id, account, '127.0.0.1:5000', 'bulk/app', split_part(source_ref, ':', 3) FROM images WHERE account = 'bulk';
SQL
fi
# What autovacuum would have done by now: statistics, and the visibility map that lets
# the tags be read by an index-only scan.
psql "$DB" -qc "VACUUM ANALYZE images" -c "VACUUM ANALYZE image_tags"
curl -fsS -o /dev/null -u "$USER_AUTH" "$API/images"   # warm: pool connections, prepared statements
ticks() { local s=0 p; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$s"; }
hz=$(getconf CLK_TCK)
r0=$(ticks "$BENCH_RUNNER_PID"); p0=$(ticks $(pgrep -x postgres))
walls=$(for _ in $(seq 1 "$N"); do curl -fsS -o /dev/null -w '%{time_total}\n' -u "$USER_AUTH" "$API/images"; done | sort -n)
r1=$(ticks "$BENCH_RUNNER_PID"); p1=$(ticks $(pgrep -x postgres))
echo "$walls" | awk -v n="$N" -v r=$((r1 - r0)) -v p=$((p1 - p0)) -v hz="$hz" '
  { w[NR] = $1 * 1000 }
  END {
    printf "10 000-image list, %d runs: median %.0f ms, best %.0f ms, p90 %.0f ms; CPU per list: runner %.0f ms, PostgreSQL %.0f ms\n",
      n, w[int((n + 1) / 2)], w[1], w[int(n * 0.9)], r * 1000 / hz / n, p * 1000 / hz / n
  }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

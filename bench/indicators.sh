#!/usr/bin/env bash
# The village × month matrix of deworming coverage, 24 months, at demo scale N (a benchmark,
# not a test). Two measurements against one embedded cluster:
#   1. the indicator SQL itself for every village of the instance (all synthetic counties),
#      EXPLAIN (ANALYZE, BUFFERS) through psql: the plan and its time;
#   2. GET /api/indicators/matrix end to end (HTTP, scope, JSON) for the real county, 5 runs.
#
#   bench/indicators.sh [DATA_DIR]    default bench/var; load it first, e.g.
#       target/release/echinomap demo-data --scale 100 --today 2026-11-15 --data-dir bench/var
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-bench/var}
today=${TODAY:-2026-11-15}
from=${FROM:-2024-12}
to=${TO:-2026-11}
cargo build --release --locked -p echinomap-server >/dev/null 2>&1
bin=target/release/echinomap
work=$(mktemp -d /tmp/echinomap-ind-XXXX)
chmod 755 "$work"
port=18911
ECHINOMAP_TODAY=$today "$bin" serve --demo --listen 127.0.0.1:$port --data-dir "$data" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do curl -sf -o /dev/null http://127.0.0.1:$port/healthz && break; sleep 0.5; done
token=$("$bin" user token epi --name bench-indicators --data-dir "$data" 2>/dev/null | tail -n 1)
pgdata=$(cd "$data/pg" && pwd)
as_pg=(); [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
psql_() { "${as_pg[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$pgdata" -U postgres -d echinomap "$@"; }

echo "villages: $(psql_ -At -c 'SELECT count(*) FROM villages')," \
     "dogs: $(psql_ -At -c 'SELECT count(*) FROM dogs')," \
     "dewormings: $(psql_ -At -c 'SELECT count(*) FROM dewormings')"

# The engine's statements: its header (programme/src/indicators/mod.rs) + the indicator's SQL.
header=$(sed -n '/^const HEADER: &str = "/,/^";$/p' programme/src/indicators/mod.rs | sed '1s/^const HEADER: &str = "//; $d')
months=$(python3 -c "
import datetime as d
y, m = map(int, '$from'.split('-')); Y, M = map(int, '$to'.split('-'))
s, e = [], []
while (y, m) <= (Y, M):
    first = d.date(y, m, 1); nxt = d.date(y + (m == 12), m % 12 + 1, 1)
    s.append(first.isoformat()); e.append((nxt - d.timedelta(days=1)).isoformat())
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
print('{' + ','.join(s) + '}|{' + ','.join(e) + '}')")
starts=${months%%|*}; ends=${months##*|}
plan() {  # $1 = SQL file of the indicator, $2 = runs
  {
    echo "PREPARE m(text, date[], date[], text[], int, date, int) AS"
    echo "$header$(cat "$1");"
    echo '\timing on'
    for _ in $(seq 1 "$2"); do echo "EXECUTE m('', '$starts', '$ends', '{clinical,confirmed}', 12, '$today', 0);"; done
    echo '\timing off'
    echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE m('', '$starts', '$ends', '{clinical,confirmed}', 12, '$today', 0);"
  } >"$work/plan.sql"
  chmod 644 "$work/plan.sql"
  psql_ -f "$work/plan.sql" | grep -vE '^ *[0-9]+ \| ' | sed -n '/^Time\|QUERY PLAN/,$p'
}
url="http://127.0.0.1:$port/api/indicators/matrix?indicator=deworming_coverage&units=village&from=$from&to=$to&step=month"
get() { curl -s -o "$work/m.json" -w "$1: %{time_total} s, %{size_download} bytes\n" -H "Authorization: Bearer $token" "$url"; }

echo "== HTTP, county 654022 (epi), village × month, $from..$to"
psql_ -c "DELETE FROM deworming_rollup_months; DELETE FROM deworming_rollup; DELETE FROM deworming_rollup_dirty"
get "cold (fills the rollup: $from..$to for every village of the instance)"
for i in 1 2 3 4 5; do get "warm $i"; done
psql_ -c "INSERT INTO dewormings (dog_id, village_id, dosed_on)
          SELECT d.id, d.village_id, DATE '$today' FROM dogs d
          WHERE d.status = 'alive' AND NOT EXISTS (SELECT 1 FROM dewormings w WHERE w.dog_id = d.id AND w.dosed_on = DATE '$today')
          ORDER BY d.id LIMIT 1"
get "after one new dose (one village recomputed)"
get "warm again"

echo "== SQL, every village of the instance, $from..$to, read from the rollup"
psql_ -c 'SELECT count(*) AS rollup_rows FROM deworming_rollup'
plan programme/src/indicators/sql/deworming_coverage.sql 3
if [ "${RAW:-0}" = 1 ]; then
  echo "== SQL, every village, $from..$to, from the registers (what filling the rollup costs)"
  plan programme/src/indicators/sql/deworming_coverage_raw.sql 1
fi

#!/usr/bin/env bash
# Bulk-import speed: 1,000,000 deworming rows from CSV, side by side in one run with
#   - raw `COPY` of the same rows (ids already resolved, no checks) into the same table, and
#   - `ogr2ogr` (GDAL, from Debian: apt-get install gdal-bin) loading the same CSV into PostGIS.
#
#   bench/import.sh [ROWS]      default: 1000000
#
# The CSV is what a county would upload: dog tag, village code, date, dose, batch. echinomap
# parses every cell, links every row to its village by code (the linker), resolves the dog by
# its tag, checks the jurisdiction and the natural key (dog, date) against the register, and
# writes in one transaction. Uses its own embedded cluster under bench/var-import.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
command -v ogr2ogr >/dev/null || { echo "ogr2ogr is missing: apt-get install gdal-bin" >&2; exit 1; }

cargo build --release --locked -p echinomap-server >/dev/null
bin=target/release/echinomap
data=bench/var-import
mkdir -p "$data"
work=$(mktemp -d /tmp/echinomap-bench-import-XXXX)
chmod 777 "$work"
port=18998
"$bin" serve --demo --listen 127.0.0.1:$port --data-dir "$data" >/dev/null 2>"$data/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 240); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.5; done
pgdata=$(cd "$data/pg" && pwd)
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
psql_() { "${as_pg[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$pgdata" -p 5432 -U postgres -d echinomap "$@"; }

# The rows: every dog dosed weekly from 2000 (before any demo dose), as many weeks as needed.
weeks=$(psql_ -At -c "SELECT ceil($rows::numeric / count(*)) FROM dogs")
select="SELECT d.tag AS dog_tag, v.code AS village_code, date '2000-01-03' + 7 * g AS dosed_on, 50 AS dose_mg, 'B' || g AS batch,
               d.id AS dog_id, v.id AS village_id
        FROM generate_series(0, $weeks - 1) g CROSS JOIN dogs d JOIN villages v ON v.id = d.village_id
        ORDER BY g, d.id LIMIT $rows"
psql_ -c "\\copy (SELECT dog_tag, village_code, dosed_on, dose_mg, batch FROM ($select) x) TO '$work/dewormings.csv' WITH (FORMAT csv, HEADER)"
psql_ -c "\\copy (SELECT dog_id, village_id, dosed_on, dose_mg, batch FROM ($select) x) TO '$work/resolved.tsv'"
reset() { psql_ -c "DELETE FROM dewormings WHERE dosed_on < '2010-01-01'" -c "DELETE FROM imports" -c "VACUUM ANALYZE dewormings" >/dev/null; }
reset

t0=$(date +%s.%N)
"$bin" import --kind dewormings "$work/dewormings.csv" --data-dir "$data" >"$work/report.json" 2>>"$data/serve.log"
t1=$(date +%s.%N)
inserted=$(python3 -c "import json,sys; print(json.load(open('$work/report.json'))['inserted'])")
[ "$inserted" -eq "$rows" ] || { echo "echinomap inserted $inserted of $rows rows" >&2; exit 1; }
reset

t2=$(date +%s.%N)
psql_ -c "BEGIN" -c "\\copy dewormings (dog_id, village_id, dosed_on, dose_mg, batch) FROM '$work/resolved.tsv'" -c "COMMIT"
t3=$(date +%s.%N)
reset

t4=$(date +%s.%N)
"${as_pg[@]}" ogr2ogr -f PostgreSQL "PG:host=$pgdata port=5432 user=postgres dbname=echinomap" "$work/dewormings.csv" \
  -nln bench_ogr_dewormings -overwrite -oo AUTODETECT_TYPE=YES -lco GEOMETRY_NAME=geom --config PG_USE_COPY YES
t5=$(date +%s.%N)
n_ogr=$(psql_ -At -c "SELECT count(*) FROM bench_ogr_dewormings")
psql_ -c "DROP TABLE bench_ogr_dewormings"

echo "| rows | echinomap import (s) | rows/s | raw COPY (s) | rows/s | ogr2ogr (s) | rows/s | echinomap ÷ COPY | echinomap ÷ ogr2ogr |"
echo "|---|---|---|---|---|---|---|---|---|"
awk -v r="$rows" -v n="$n_ogr" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v f="$t5" 'BEGIN {
  i = b - a; p = d - c; o = f - e;
  printf "| %d | %.1f | %.0f | %.1f | %.0f | %.1f | %.0f (%d rows) | %.2f | %.2f |\n", r, i, r / i, p, r / p, o, n / o, n, p / i, o / i }'

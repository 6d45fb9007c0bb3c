#!/usr/bin/env bash
# Export speed and memory, and the field lookup's latency, side by side in one run:
#   - GeoJSON export of every village (with its period measures) and of the case counts:
#     echinomap's streamed `/api/export/{layer}.geojson` against `ogr2ogr -f GeoJSON` reading
#     rows from the same PostGIS: MB/s, and echinomap's peak RSS before and after.
#   - The `dogs` layer (one feature per registered dog) at growing sizes (default 100,000 and
#     1,000,000 dogs): the scale-1 demo dogs are copied inside this bench's own cluster until the
#     register holds that many (copies get a tag suffix and `created_by = 'bench'`; they have no
#     dewormings), then the export is timed against `ogr2ogr -f GeoJSON` reading a view of the
#     very same SQL (the layer's query in programme/src/exports/mod.rs with the county, no township),
#     and echinomap's peak RSS (VmHWM) is read after each size: flat when streaming.
#   - The same exports as a browser downloads them (gzip, then brotli): seconds and MB on the
#     wire, against the same ogr2ogr run (the gzip answer is checked against the identity one).
#   - `/api/villages/locate` under oha at 1,000 req/s for 10 s from a URL file of literal
#     127.0.0.1 URLs (no generated URLs, so no address other than loopback): p50/p99.
#
#   flock /tmp/echinomap-bench.lock bench/exports.sh [SCALE [DOGS...]]   default: 1 100000 1000000
#
# Needs ogr2ogr (apt-get install gdal-bin) and oha (cargo install oha --root /tmp/oha), both
# outside the project. Uses its own embedded cluster under bench/var-exports.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
shift || true
dog_sizes=("$@")
[ ${#dog_sizes[@]} -gt 0 ] || dog_sizes=(100000 1000000)
oha=${OHA:-/tmp/oha/bin/oha}
command -v ogr2ogr >/dev/null || { echo "ogr2ogr is missing: apt-get install gdal-bin" >&2; exit 1; }
[ -x "$oha" ] || { echo "oha is missing: cargo install oha --root /tmp/oha" >&2; exit 1; }

cargo build --release --locked -p echinomap-server >/dev/null
bin=${CARGO_TARGET_DIR:-target}/release/echinomap
data=bench/var-exports
mkdir -p "$data"
work=$(mktemp -d /tmp/echinomap-bench-exports-XXXX)
chmod 777 "$work"
port=18997
"$bin" demo-data --scale "$scale" --replace --data-dir "$data" >/dev/null 2>"$data/demo.log"
"$bin" serve --listen 127.0.0.1:$port --data-dir "$data" >/dev/null 2>"$data/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 240); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.5; done
"$bin" user add bench_epi --role epidemiologist --jurisdiction 654022 --data-dir "$data" >/dev/null 2>&1 <<<"" || true
token=$("$bin" user token bench_epi --data-dir "$data" 2>/dev/null | tail -1)
pgdata=$(cd "$data/pg" && pwd)
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
psql_() { "${as_pg[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$pgdata" -p 5432 -U postgres -d echinomap "$@"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
# The layer's SQL, as the server runs it, with the county for $1, 2025 for $2/$3, no township.
layer_sql() {
  cargo run --release --locked -q -p echinomap-programme --example export_sql -- "$1" | python3 -c '
import re, sys
args = {"1": "'"'"'654022'"'"'", "2": "'"'"'2025-01-01'"'"'::date", "3": "'"'"'2025-12-31'"'"'::date", "4": "NULL"}
print(re.sub(r"\$(\d)", lambda m: args[m.group(1)], sys.stdin.read()))'
}
# One row of the comparison table: echinomap's export of $1, then ogr2ogr's of the SQL in $2.
compare() {
  local layer=$1 osql=$2 query=${3-period=2025}
  local before t0 t1 after n bytes t2 t3 obytes on
  before=$(rss)
  t0=$(date +%s.%N)
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/export/$layer.geojson?$query" -o "$work/$layer.geojson"
  t1=$(date +%s.%N)
  after=$(peak)
  n=$(grep -o '"type": *"Feature"' "$work/$layer.geojson" | wc -l)
  bytes=$(stat -c %s "$work/$layer.geojson")
  t2=$(date +%s.%N)
  "${as_pg[@]}" ogr2ogr -f GeoJSON "$work/$layer.ogr.geojson" "PG:host=$pgdata port=5432 user=postgres dbname=echinomap" -sql "$osql" -lco COORDINATE_PRECISION=6 -lco RFC7946=YES
  t3=$(date +%s.%N)
  obytes=$(stat -c %s "$work/$layer.ogr.geojson")
  on=$(grep -o '"type": *"Feature"' "$work/$layer.ogr.geojson" | wc -l)
  [ "$n" = "$on" ] || echo "warning: $layer: echinomap wrote $n features, ogr2ogr $on" >&2
  # The same export as a browser downloads it (Accept-Encoding gzip, then br): seconds and the
  # bytes on the wire; the gzip file must decode to the identity file.
  local tg0 tg1 tb0 tb1 gbytes bbytes
  tg0=$(date +%s.%N)
  curl -sf -H "Authorization: Bearer $token" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/api/export/$layer.geojson?$query" -o "$work/$layer.gz"
  tg1=$(date +%s.%N)
  tb0=$(date +%s.%N)
  curl -sf -H "Authorization: Bearer $token" -H 'Accept-Encoding: br' "http://127.0.0.1:$port/api/export/$layer.geojson?$query" -o "$work/$layer.br"
  tb1=$(date +%s.%N)
  gzip -dc "$work/$layer.gz" | cmp -s - "$work/$layer.geojson" || echo "warning: $layer: the gzip answer does not decode to the identity answer" >&2
  gbytes=$(stat -c %s "$work/$layer.gz")
  bbytes=$(stat -c %s "$work/$layer.br")
  awk -v l="$layer" -v n="$n" -v a="$t0" -v c="$t1" -v d="$t2" -v e="$t3" -v g0="$tg0" -v g1="$tg1" -v b0="$tb0" -v b1="$tb1" -v gb="$gbytes" -v bb="$bbytes" 'BEGIN {
    s = c - a; o = e - d; g = g1 - g0; b = b1 - b0;
    printf "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", l, n, s, g, gb / 1048576, b, bb / 1048576, o, o / g, o / b }' >>"$work/compressed.md"
  rm -f "$work/$layer.gz" "$work/$layer.br"
  awk -v l="$layer" -v n="$n" -v b="$bytes" -v ob="$obytes" -v a="$t0" -v c="$t1" -v d="$t2" -v e="$t3" -v r0="$before" -v r1="$after" 'BEGIN {
    s = c - a; o = e - d; mb = b / 1048576; omb = ob / 1048576;
    printf "| %s | %d | %.2f | %.2f | %.1f | %.2f | %.2f | %.1f | %.2f | %.0f → %.0f |\n", l, n, mb, s, mb / s, omb, o, omb / o, o / s, r0 / 1024, r1 / 1024 }'
  rm -f "$work/$layer.geojson" "$work/$layer.ogr.geojson"
}
peak() { awk '/VmHWM/ {print $2}' "/proc/$server/status"; }

echo "| layer | features | MB | echinomap (s) | MB/s | ogr2ogr MB | ogr2ogr (s) | MB/s | speed ratio (ogr2ogr s / echinomap s) | server RSS before → peak (MiB) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
# Villages: ogr2ogr reads a view of the layer's own SQL (the period's measures per village), as
# for the dogs below, so both sides compute the same rows; echinomap adds the risk columns. Twice:
# the first export of a period computes the village risk for it (the model over the indicator
# engine), the second finds it in the risk cache (fresh until the data changes).
psql_ -c "CREATE OR REPLACE VIEW bench_villages AS $(layer_sql villages)"
compare villages "SELECT * FROM bench_villages"
compare villages "SELECT * FROM bench_villages"
compare case_counts "SELECT v.code, to_char(date_trunc('month', c.reported_on), 'YYYY-MM') AS month, count(*) AS cases, v.geom FROM cases c JOIN villages v ON v.id = c.village_id WHERE c.reported_on BETWEEN '2025-01-01' AND '2025-12-31' GROUP BY v.code, v.geom, date_trunc('month', c.reported_on)"
# The dogs: the view is the layer's own SQL, so both sides read and compute the same rows.
psql_ -c "CREATE OR REPLACE VIEW bench_dogs AS $(layer_sql dogs)"
for size in "${dog_sizes[@]}"; do
  psql_ <<SQL
INSERT INTO dogs (tag, household_id, village_id, kind, sex, birth_year, status, status_on,
                  registered_on, link_method, link_distance_m, created_by)
SELECT d.tag || '~' || k, d.household_id, d.village_id, d.kind, d.sex, d.birth_year, d.status,
       d.status_on, d.registered_on, d.link_method, d.link_distance_m, 'bench'
FROM dogs d
CROSS JOIN generate_series(1, ceil($size::float8 / (SELECT count(*) FROM dogs WHERE created_by <> 'bench'))::int) k
WHERE d.created_by <> 'bench' AND NOT EXISTS (SELECT 1 FROM dogs x WHERE x.tag = d.tag || '~' || k)
ORDER BY k, d.id
LIMIT greatest($size - (SELECT count(*) FROM dogs WHERE deleted_at IS NULL), 0);
VACUUM ANALYZE dogs;
SQL
  compare dogs "SELECT * FROM bench_dogs ORDER BY id" ""
done

# Locate: literal loopback URLs around the county.
python3 - "$port" >"$work/urls.txt" <<'PY'
import random, sys
random.seed(7)
port = sys.argv[1]
for _ in range(2000):
    lon = 80.75 + random.random() * 0.75
    lat = 43.50 + random.random() * 0.40
    print(f"http://127.0.0.1:{port}/api/villages/locate?lon={lon:.5f}&lat={lat:.5f}")
PY
"$oha" --no-tui --urls-from-file "$work/urls.txt" -q 1000 -z 10s -c 16 -H "Authorization: Bearer $token" --output-format json >"$work/oha.json"
python3 - "$work/oha.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
s = d["summary"]
print()
print("| endpoint | req/s | p50 (ms) | p99 (ms) | success |")
print("|---|---|---|---|---|")
print(f"| /api/villages/locate at 1,000 req/s | {s['requestsPerSec']:.0f} | {p['p50']*1000:.2f} | {p['p99']*1000:.2f} | {s['successRate']*100:.1f}% |")
PY
echo
echo "| layer (as a browser downloads it) | features | identity (s) | gzip (s) | gzip MB | br (s) | br MB | ogr2ogr (s) | ogr2ogr s / gzip s | ogr2ogr s / br s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
cat "$work/compressed.md"

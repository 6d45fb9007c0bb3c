#!/usr/bin/env bash
# Two builds of echinomap side by side, interleaved in one sitting on one machine: a refactor
# (issue 16: the programme crate) must not make tiles, exports or imports slower. Each round
# runs every measurement on build A and then on build B (the order alternates between rounds, so
# that a machine warming up or slowing down favours neither), on the same data directory; the
# report gives each build's median, the ratio B/A of the medians, and the run-to-run spread of
# each build (its slowest run over its fastest), which is the noise a ratio must be read against.
#
#   bench/refactor_ab.sh BIN_A BIN_B [ROUNDS]      default 5 rounds
#
# BIN_A/BIN_B are release binaries, e.g. a build of the commit before the move kept aside
# (`git worktree add /tmp/before <commit> && cargo build --release --locked -p echinomap-server
# --manifest-path /tmp/before/Cargo.toml`) and target/release/echinomap. Loopback only: every
# URL is a literal http://127.0.0.1:PORT/... line given to `oha --urls-from-file`, bounded counts.
#   cargo install oha --locked --root /tmp/oha
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:?build A}; B=${2:?build B}; rounds=${3:-5}
OHA=${OHA:-/tmp/oha/bin/oha}
[ -x "$OHA" ] || { echo "missing $OHA: cargo install oha --locked --root /tmp/oha" >&2; exit 1; }
# Each build has its own data directory (the same seeded demo): a build with newer migrations
# would leave a database the older build refuses to open.
data_a=bench/var-ab-a; data_b=bench/var-ab-b; data=$data_a
work=$(mktemp -d /tmp/echinomap-ab-XXXX)
chmod 777 "$work"
# Each build runs as `echinomap`: a command finds the serving process that owns the embedded
# cluster by its name, so a renamed binary would not be recognised as its owner.
mkdir -p "$work/a" "$work/b"
cp "$A" "$work/a/echinomap"; cp "$B" "$work/b/echinomap"
A=$work/a/echinomap; B=$work/b/echinomap
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=18961
as_pg=(); [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)

start() { # bin [env...] : serve the demo on $port, from the build's own data directory
  local bin=$1; shift
  if [ "$bin" = "$A" ]; then data=$data_a; token=${token_a:-}; else data=$data_b; token=${token_b:-}; fi
  env "$@" "$bin" serve --demo --listen 127.0.0.1:$port --data-dir "$data" >>"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 600); do curl -sf -o /dev/null http://127.0.0.1:$port/healthz && return 0; sleep 0.5; done
  echo "no answer from $bin" >&2; exit 1
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }
psql_() { "${as_pg[@]}" psql -X -q -At -v ON_ERROR_STOP=1 -h "$(cd "$data/pg" && pwd)" -U postgres -d echinomap "$@"; }

# First use: the demo data, the tile list and the import file.
start "$A"
psql_ -F, -c "SELECT ST_X(geom), ST_Y(geom) FROM villages WHERE code LIKE '654022%' ORDER BY code" >"$work/points.csv"
python3 - "$work" $port <<'PY'
import math, sys, random
work, port = sys.argv[1], sys.argv[2]
pts = [tuple(map(float, l.split(','))) for l in open(f"{work}/points.csv") if l.strip()]
tiles = []
for z in range(6, 15):
    n, seen = 2 ** z, set()
    for lon, lat in pts:
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        if (x, y) not in seen:
            seen.add((x, y)); tiles.append((z, x, y))
random.Random(42).shuffle(tiles)
with open(f"{work}/tiles.urls", "w") as f:
    for z, x, y in tiles[:2000]:
        f.write(f"http://127.0.0.1:{port}/tiles/villages/{z}/{x}/{y}.mvt\n")
PY
# 50,000 deworming rows of the demo's dogs, dated before any demo dose (a dry run writes nothing).
psql_ -c "\\copy (SELECT d.tag AS dog_tag, v.code AS village_code, date '2000-01-03' + 7 * g AS dosed_on, 50 AS dose_mg, 'B' || g AS batch FROM generate_series(0, 99) g CROSS JOIN dogs d JOIN villages v ON v.id = d.village_id ORDER BY g, d.id LIMIT 50000) TO '$work/dewormings.csv' WITH (FORMAT csv, HEADER)"
stop
token_a=$("$A" user token epi --name ab-bench --data-dir "$data_a" 2>/dev/null | tail -n 1)
start "$B"; stop
token_b=$("$B" user token epi --name ab-bench --data-dir "$data_b" 2>/dev/null | tail -n 1)

rps() { # requests concurrency -> req/s from oha's JSON, refusing any non-2xx answer
  "$OHA" --no-tui --output-format json -n "$1" -c "$2" --urls-from-file "$work/tiles.urls" \
    -H "Accept-Encoding: gzip" -H "Authorization: Bearer $token" >"$work/oha.json"
  python3 - "$work/oha.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bad = {k: v for k, v in d.get("statusCodeDistribution", {}).items() if not k.startswith("2")}
if bad: sys.exit(f"non-2xx answers {bad}")
print(d["summary"]["requestsPerSec"])
PY
}
# The median of five downloads (seconds): one download of a small layer is mostly noise.
download() {
  for _ in 1 2 3 4 5; do
    curl -sf -o /dev/null -H "Accept-Encoding: $2" -H "Authorization: Bearer $token" -w '%{time_total}\n' "http://127.0.0.1:$port$1"
  done | sort -n | sed -n 3p
}

measure() { # label bin -> lines "metric label value"
  local label=$1 bin=$2
  start "$bin"
  rps 2000 8 >/dev/null # fills the tile cache
  echo "tiles_warm_rps $label $(rps 20000 8)"
  echo "export_villages_geojson_gzip_s $label $(download '/api/export/villages.geojson?period=2025' gzip)"
  echo "export_dogs_csv_br_s $label $(download '/api/export/dogs.csv' br)"
  echo "export_case_counts_geojson_s $label $(download '/api/export/case_counts.geojson?period=2025' identity)"
  echo "import_dewormings_dry_run_s $label $(curl -sf -o /dev/null -w '%{time_total}' -X POST -H "Authorization: Bearer $token" \
    -H 'Content-Type: text/csv' --data-binary @"$work/dewormings.csv" \
    "http://127.0.0.1:$port/api/imports?kind=dewormings&dry_run=true&filename=dewormings.csv")"
  stop
  start "$bin" ECHINOMAP_TILE_CACHE_MB=0
  echo "tiles_cold_rps $label $(rps 2000 8)"
  stop
}

for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then measure A "$A"; measure B "$B"; else measure B "$B"; measure A "$A"; fi
done >"$work/results.txt"

python3 - "$work/results.txt" "$rounds" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
metrics = []
for m, _, _ in rows:
    if m not in metrics: metrics.append(m)
print(f"{sys.argv[2]} rounds, A then B in odd rounds, B then A in even ones\n")
print("Times (_s) are better lower, rates (_rps) higher: B is slower where B/A > 1 for a time or < 1 for a rate.\n")
print("| metric | median A | median B | B/A | spread A (max/min) | spread B (max/min) |")
print("|---|---|---|---|---|---|")
for m in metrics:
    a = [float(v) for k, l, v in rows if k == m and l == "A"]
    b = [float(v) for k, l, v in rows if k == m and l == "B"]
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"| {m} | {ma:.4g} | {mb:.4g} | {mb / ma:.3f} | {max(a) / min(a):.3f} | {max(b) / min(b):.3f} |")
PY

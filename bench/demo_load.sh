#!/usr/bin/env bash
# Demo-data load speed, side by side with raw COPY of the same rows, in one run.
#
#   bench/demo_load.sh [SCALE ...]        default: 1 100
#
# For each scale: `echinomap demo-data --scale N --replace` (generate + validate + COPY in one
# transaction) is timed; then every table is dumped with COPY TO, emptied, and loaded back with
# plain `COPY FROM` files in one transaction by psql: the same rows, no generation. Results are
# printed as a Markdown table row to paste into docs/BENCHMARKS.md.
# Uses its own embedded cluster under bench/var (never the one of `make run`).
set -euo pipefail
cd "$(dirname "$0")/.."
scales=("${@:-1 100}")
read -r -a scales <<<"${scales[*]}"

cargo build --release --locked -p echinomap-server >/dev/null
bin=target/release/echinomap
data=bench/var
mkdir -p "$data"
dump=$(mktemp -d /tmp/echinomap-bench-XXXX)
chmod 777 "$dump"  # psql runs as postgres when we are root
trap 'rm -rf "$dump"' EXIT

# Keep one cluster up for the psql part: a server on a spare loopback port.
port=18999
"$bin" serve --listen 127.0.0.1:$port --data-dir "$data" >/dev/null 2>"$data/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dump"' EXIT
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.5; done
pgdata=$(cd "$data/pg" && pwd)
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
psql_() { "${as_pg[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$pgdata" -p 5432 -U postgres -d echinomap "$@"; }

tables=(counties neighbour_counties rivers townships villages village_denominators households people dogs dewormings
  faecal_tests stray_dog_events slaughter_points slaughter_inspections vaccination_campaigns vaccinations rodent_surveys
  cases imaging_exams treatments followups screening_campaigns health_education stock_items stock_movements)

echo "| scale | rows | echinomap demo-data (s) | rows/s | raw COPY of the same rows (s) | rows/s | ratio |"
echo "|---|---|---|---|---|---|---|"
for scale in "${scales[@]}"; do
  t0=$(date +%s.%N)
  "$bin" demo-data --scale "$scale" --replace --data-dir "$data" >/dev/null 2>>"$data/serve.log" || {
    # The server holds the cluster; demo-data then adopts it through the same socket.
    echo "demo-data failed, see $data/serve.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  rows=0
  for t in "${tables[@]}"; do
    psql_ -c "\\copy $t TO '$dump/$t.tsv'"
    n=$(psql_ -At -c "SELECT count(*) FROM $t")
    rows=$((rows + n))
  done
  psql_ -c "TRUNCATE $(IFS=,; echo "${tables[*]}") RESTART IDENTITY"
  script="$dump/load.sql"
  { echo "BEGIN;"; for t in "${tables[@]}"; do echo "\\copy $t FROM '$dump/$t.tsv'"; done; echo "COMMIT;"; } >"$script"
  t2=$(date +%s.%N)
  psql_ -f "$script"
  t3=$(date +%s.%N)
  awk -v s="$scale" -v r="$rows" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
    e = b - a; p = d - c;
    printf "| %d | %d | %.1f | %.0f | %.1f | %.0f | %.2f |\n", s, r, e, r / e, p, r / p, (r / e) / (r / p) }'
done

#!/usr/bin/env bash
# Finalising a stock count of 5,000 lines (issue 20, Speed; target under 1 s): a store of its own
# holding 5,000 lots of one item (made by SQL: the lots and one receipt each, through the ledger's
# trigger), a count opened through the API (5,000 lines frozen), every line counted through the
# API in batches of 500 typed entries (one line in seven counted one short, with a reason given by
# SQL), then `POST /api/stock/counts/{id}/finalise` timed: the recount check over 5,000 locked
# on-hand rows and ~714 adjustments written through the ledger, in one transaction. Also timed:
# opening the count and each batch of entries.
#
#   flock /tmp/echinomap-bench.lock bench/stock_count.sh [LINES]   default: 5000
#   ECHINOMAP_BIN=target/release/echinomap bench/stock_count.sh   (no build)
#
# Uses its own embedded cluster under bench/var-stockcount (the demo at scale 1).
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-5000}
batch=500

# ECHINOMAP_BIN=path: a binary built already (else the release build of this checkout).
[ -n "${ECHINOMAP_BIN:-}" ] || cargo build --release --locked -p echinomap-server >/dev/null
bin=${ECHINOMAP_BIN:-${CARGO_TARGET_DIR:-target}/release/echinomap}
data=bench/var-stockcount
mkdir -p "$data"
work=$(mktemp -d /tmp/echinomap-bench-count-XXXX)
port=18995
"$bin" demo-data --scale 1 --replace --data-dir "$data" >/dev/null 2>"$data/demo.log"
"$bin" serve --listen 127.0.0.1:$port --data-dir "$data" >/dev/null 2>"$data/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 240); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.5; done
"$bin" user add bench_keeper --role stock_keeper --jurisdiction 654022 --data-dir "$data" >/dev/null 2>&1 <<<"" || true
token=$("$bin" user token bench_keeper --name bench-count --data-dir "$data" 2>/dev/null | tail -n 1)
pgdata=$(cd "$data/pg" && pwd)
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
psql_() { "${as_pg[@]}" psql -X -q -t -A -v ON_ERROR_STOP=1 -h "$pgdata" -p 5432 -U postgres -d echinomap "$@"; }
api() { # METHOD PATH [BODY-FILE] → body on stdout, seconds on fd 3
  local method=$1 path=$2 body=${3:-}
  local args=(-sS -X "$method" -H "Authorization: Bearer $token" -o "$work/out.json" -w '%{http_code} %{time_total}')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  local res
  res=$(curl "${args[@]}" "http://127.0.0.1:$port$path")
  echo "${res#* }" >&3
  [ "${res%% *}" -lt 300 ] || { echo "$method $path: HTTP ${res%% *}: $(cat "$work/out.json")" >&2; exit 1; }
  cat "$work/out.json"
}

store=$(psql_ <<SQL
INSERT INTO stock_stores (code, name, kind, place_code)
VALUES ('BENCH-CNT', '盘点基准库', 'county_cdc', '654022')
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id;
SQL
)
psql_ <<SQL
INSERT INTO stock_items (code, name, kind, unit) VALUES ('BENCH-PZQ', '吡喹酮片（基准）', 'praziquantel', '片')
ON CONFLICT (code) DO NOTHING;
INSERT INTO stock_lots (item_id, batch, expires_on)
SELECT i.id, 'B' || lpad(g::text, 5, '0'), DATE '2030-01-01' + (g % 700)
FROM stock_items i, generate_series(1, $lines) g WHERE i.code = 'BENCH-PZQ'
ON CONFLICT (item_id, batch) DO NOTHING;
INSERT INTO stock_movements (item_id, moved_on, kind, quantity, batch, store_id, lot_id, supplier, created_by)
SELECT l.item_id, current_date, 'receipt', 100 + (l.id % 400)::int, l.batch, $store, l.id, 'bench', 'bench'
FROM stock_lots l JOIN stock_items i ON i.id = l.item_id
WHERE i.code = 'BENCH-PZQ' AND l.batch <= 'B' || lpad('$lines', 5, '0');
ANALYZE stock_lots; ANALYZE stock_on_hand; ANALYZE stock_movements;
SQL

exec 3>"$work/times"
echo "{\"store_id\": $store}" >"$work/open.json"
count=$(api POST /api/stock/counts "$work/open.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"]["id"])')
t_open=$(tail -n 1 "$work/times")
api GET "/api/stock/counts/$count" >"$work/count.json"
python3 - "$work/count.json" "$work" "$batch" <<'PY'
import json, sys
count = json.load(open(sys.argv[1]))
lines = count["lines"]
work, batch = sys.argv[2], int(sys.argv[3])
for b in range(0, len(lines), batch):
    entries = [{"client_id": f"bench-{count['count']['id']}-{i:06d}", "lot_id": l["lot"]["id"], "mode": "set",
                "quantity": l["book_quantity"] - (1 if i % 7 == 0 else 0)}
               for i, l in enumerate(lines[b:b + batch], start=b)]
    json.dump({"entries": entries}, open(f"{work}/entries-{b // batch:03d}.json", "w"))
print(len(lines), "lines", file=sys.stderr)
PY
: >"$work/entry-times"
for f in "$work"/entries-*.json; do
  api POST "/api/stock/counts/$count/entries" "$f" >/dev/null
  tail -n 1 "$work/times" >>"$work/entry-times"
done
psql_ -c "UPDATE stock_count_lines SET reason = 'count_correction' WHERE count_id = $count AND counted <> book_quantity"
echo '{}' >"$work/empty.json"
api POST "/api/stock/counts/$count/finalise" "$work/empty.json" >"$work/final.json"
t_final=$(tail -n 1 "$work/times")
adjustments=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["adjustments"]))' "$work/final.json")
n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"]["lines"])' "$work/final.json")
entries_avg=$(awk '{s += $1; n++} END {printf "%.3f", s / n}' "$work/entry-times")
echo "count of $n lines: open ${t_open}s, entries ${entries_avg}s per batch of $batch, finalise ${t_final}s ($adjustments adjustments)"

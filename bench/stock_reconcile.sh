#!/usr/bin/env bash
# The praziquantel reconciliation (issue 20, docs/STOCK.md 核销; goal: 24 months at demo scale 100
# under 1 s): GET /api/stock/reconciliation for the county 654022 over 24 months, by township,
# by village and by store, and the XLSX form, end to end over HTTP (scope, rollup refresh, both
# statements, JSON), the first call and 5 more of each. A benchmark, not a test.
#
#   flock /tmp/echinomap-bench.lock bench/stock_reconcile.sh [DATA_DIR]   default bench/var100
#       (loaded with: target/release/echinomap demo-data --scale 100 --today 2026-11-15
#        --data-dir bench/var100)
#   ECHINOMAP_BIN=path   a binary built already (else the release build of this checkout)
#   COPY=0               serve DATA_DIR itself; by default the script works on a copy under /tmp
#                        (serving migrates the database, and the script adds stores and ledger
#                        rows), which it removes at the end: DATA_DIR is left as it was.
#   KEEP=DIR             with the copy: keep it at DIR (to run again with COPY=0 on it); the
#                        first start migrates a scale-100 database of before issue 20 for ~10 min.
#
# Before timing, the script gives every village of 654022 a village clinic that receives PZQ
# tablets each month and hands most of them to its village (2 ledger rows per village and month
# over the 24 months), so that the store side has the size a county's ledger would.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-bench/var100}
today=${TODAY:-2026-11-15}
period=${PERIOD:-2024-12..2026-11}
[ -n "${ECHINOMAP_BIN:-}" ] || cargo build --release --locked -p echinomap-server >/dev/null 2>&1
bin=${ECHINOMAP_BIN:-${CARGO_TARGET_DIR:-target}/release/echinomap}
work=$(mktemp -d /tmp/echinomap-recon-XXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
if [ "${COPY:-1}" = 1 ]; then
  copy=${KEEP:-$work/data}
  echo "copying $data ($(du -sh "$data" | cut -f1)) to $copy"
  cp -a "$data" "$copy"
  data=$copy
fi
port=18913
ECHINOMAP_TODAY=$today "$bin" serve --demo --listen 127.0.0.1:$port --data-dir "$data" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
started=$(date +%s)
for _ in $(seq 1 2400); do curl -sf -o /dev/null http://127.0.0.1:$port/healthz && break; sleep 0.5; done
echo "server up in $(( $(date +%s) - started )) s (migrations included)"
token=$("$bin" user token epi --name bench-reconcile --data-dir "$data" 2>/dev/null | tail -n 1)
pgdata=$(cd "$data/pg" && pwd)
as_pg=(); [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
psql_() { "${as_pg[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$pgdata" -U postgres -d echinomap "$@"; }

psql_ <<SQL
INSERT INTO stock_items (code, name, kind, unit, units_per_dose)
VALUES ('BENCH-PZQ', '吡喹酮片(基准)', 'praziquantel', '片', 2) ON CONFLICT (code) DO NOTHING;
INSERT INTO stock_lots (item_id, batch, expires_on)
SELECT id, 'BENCH-1', DATE '2030-12-31' FROM stock_items WHERE code = 'BENCH-PZQ'
ON CONFLICT (item_id, batch) DO NOTHING;
INSERT INTO stock_stores (code, name, kind, place_code)
SELECT 'B-' || v.code, v.name || '卫生室', 'village_clinic', v.code FROM villages v
WHERE v.code LIKE '654022%' ON CONFLICT (code) DO NOTHING;
INSERT INTO stock_movements (item_id, lot_id, batch, store_id, moved_on, kind, quantity,
                             village_id, supplier, created_by)
SELECT l.item_id, l.id, l.batch, s.id, m.day::date + r.k, r.kind::stock_movement_kind,
       CASE WHEN r.kind = 'receipt' THEN 100 ELSE -(60 + (v.id % 40)) END,
       CASE WHEN r.kind = 'use' THEN v.id END,
       CASE WHEN r.kind = 'receipt' THEN 'bench' END, 'bench'
FROM stock_stores s
JOIN villages v ON v.code = s.place_code
CROSS JOIN (SELECT * FROM stock_lots WHERE batch = 'BENCH-1') l
CROSS JOIN generate_series(DATE '2024-12-01', DATE '2026-11-01', interval '1 month') AS m(day)
CROSS JOIN (VALUES (0, 'receipt'), (4, 'use')) AS r(k, kind)
WHERE s.code LIKE 'B-%' AND NOT EXISTS (SELECT 1 FROM stock_movements x WHERE x.created_by = 'bench')
ORDER BY s.id, m.day, r.k;
ANALYZE stock_movements;
SQL
echo "villages: $(psql_ -At -c "SELECT count(*) FROM villages WHERE code LIKE '654022%'") in 654022" \
     "($(psql_ -At -c 'SELECT count(*) FROM villages') in all)," \
     "dogs: $(psql_ -At -c 'SELECT count(*) FROM dogs')," \
     "dewormings: $(psql_ -At -c 'SELECT count(*) FROM dewormings')," \
     "ledger rows: $(psql_ -At -c 'SELECT count(*) FROM stock_movements')," \
     "stores: $(psql_ -At -c 'SELECT count(*) FROM stock_stores')"

get() { # LABEL PATH
  curl -s -o "$work/out" -w "$1: %{http_code} %{time_total} s, %{size_download} bytes\n" \
    -H "Authorization: Bearer $token" "http://127.0.0.1:$port$2"
}
for by in township village store; do
  path="/api/stock/reconciliation?unit=654022&period=$period&by=$by"
  echo "== by=$by, 654022, $period"
  get "first" "$path"
  for i in 1 2 3 4 5; do get "again $i" "$path"; done
  python3 -c "import json; a = json.load(open('$work/out')); print('rows:', len(a['rows']), 'flagged:', a['totals']['rows_flagged'], 'totals:', a['totals'])"
done
echo "== XLSX by=village"
for i in 1 2 3; do get "xlsx $i" "/api/stock/reconciliation.xlsx?unit=654022&period=$period&by=village"; done

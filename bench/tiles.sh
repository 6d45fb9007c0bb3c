#!/usr/bin/env bash
# Vector tiles: echinomap against Martin 1.14 on the same PostGIS tables, the same seeded tile
# list, in one run. Loopback only: every URL is a literal http://127.0.0.1:PORT/... line in a file
# given to `oha --urls-from-file`, with bounded request counts.
#
#   bench/tiles.sh [DATA_DIR]      default bench/var-tiles (demo scale 1, made on first use);
#                                  bench/var after `bench/demo_load.sh 100` holds scale 100
#
# Peers, installed outside the repository (never dependencies of the project, never in CI):
#   cargo install martin@1.14.0 --locked --no-default-features --features postgres,fonts,sprites,styles --root /tmp/martin
#   cargo install oha --locked --root /tmp/oha
# The ceiling, optional: nginx serving the warm tiles' own gzip bytes as static files
# (`apt-get install nginx-light`; skipped when absent), so that "close to static files" is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
MARTIN=${MARTIN:-/tmp/martin/bin/martin}
OHA=${OHA:-/tmp/oha/bin/oha}
for tool in "$MARTIN" "$OHA"; do
  [ -x "$tool" ] || { echo "missing $tool: see the install lines at the top of $0" >&2; exit 1; }
done
data=${1:-bench/var-tiles}
requests=${REQUESTS:-4000}
warm_requests=${WARM_REQUESTS:-30000}
cargo build --release --locked -p echinomap-server >/dev/null 2>&1
bin=target/release/echinomap
work=$(mktemp -d /tmp/echinomap-tiles-XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_http() { for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.5; done; echo "no answer from $1" >&2; exit 1; }

P_WARM=18901; P_COLD=18902; P_MARTIN=18903; P_MARTIN_COLD=18904; P_STATIC=18905
NGINX=${NGINX:-$(command -v nginx || true)}
"$bin" serve --demo --listen 127.0.0.1:$P_WARM --data-dir "$data" >"$work/warm.log" 2>&1 & pids+=($!)
wait_http http://127.0.0.1:$P_WARM/healthz
# The same cluster, tile cache off.
ECHINOMAP_TILE_CACHE_MB=0 "$bin" serve --demo --listen 127.0.0.1:$P_COLD --data-dir "$data" >"$work/cold.log" 2>&1 & pids+=($!)
wait_http http://127.0.0.1:$P_COLD/healthz
token=$("$bin" user token epi --name bench --data-dir "$data" 2>/dev/null | tail -n 1)
pgdata=$(cd "$data/pg" && pwd)
db="postgres:///echinomap?host=$pgdata&user=postgres"
"$MARTIN" --listen-addresses 127.0.0.1:$P_MARTIN "$db" >"$work/martin.log" 2>&1 & pids+=($!)
"$MARTIN" --listen-addresses 127.0.0.1:$P_MARTIN_COLD --cache-size 0 "$db" >"$work/martin-cold.log" 2>&1 & pids+=($!)
wait_http http://127.0.0.1:$P_MARTIN/catalog
wait_http http://127.0.0.1:$P_MARTIN_COLD/catalog

# The seeded tile list: z6–z14 tiles holding villages (in code order), the same for both servers:
# the villages of the token's county (`epi` answers for 654022), so that every echinomap tile is
# one the caller may see (at scale 100 the other 99 counties' tiles would be 204s for echinomap).
as_pg=(); [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
"${as_pg[@]}" psql -X -At -F, -h "$pgdata" -U postgres -d echinomap \
  -c "SELECT ST_X(geom), ST_Y(geom) FROM villages WHERE code LIKE '654022%' ORDER BY code" >"$work/points.csv"
python3 - "$work" $P_WARM $P_COLD $P_MARTIN $P_MARTIN_COLD $P_STATIC <<'PY'
import math, sys, random
work, pw, pc, pm, pmc, ps = sys.argv[1], *sys.argv[2:]
pts = [tuple(map(float, l.split(','))) for l in open(f"{work}/points.csv") if l.strip()]
tiles = []
for z in range(6, 15):
    n = 2 ** z
    seen = set()
    for lon, lat in pts:
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        if (x, y) not in seen:
            seen.add((x, y)); tiles.append((z, x, y))
random.Random(42).shuffle(tiles)
tiles = tiles[:2000]
for name, port, fmt in [("warm", pw, "/tiles/villages/{}/{}/{}.mvt"), ("cold", pc, "/tiles/villages/{}/{}/{}.mvt"),
                        # Martin auto-publishes villages.boundary as `villages` and villages.geom as `villages.1`.
                        ("martin", pm, "/villages.1/{}/{}/{}"), ("martin-cold", pmc, "/villages.1/{}/{}/{}"),
                        ("static", ps, "/tiles/villages/{}/{}/{}.mvt")]:
    with open(f"{work}/{name}.urls", "w") as f:
        for z, x, y in tiles:
            f.write(f"http://127.0.0.1:{port}" + fmt.format(z, x, y) + "\n")
print(f"{len(tiles)} distinct tiles, z6-z14", file=sys.stderr)
PY

run() { # name concurrency -> json (more requests for the warm servers: a cell lasts ~1 s)
  local n=$requests
  case $1 in warm | martin | static) n=$warm_requests ;; esac
  "$OHA" --no-tui --output-format json -n "$n" -c "$2" --urls-from-file "$work/$1.urls" \
    -H "Accept-Encoding: gzip" -H "Authorization: Bearer $token" >"$work/$1-c$2.json"
}
# Warm the caches of the warm regime (one pass over the list).
run warm 8; run martin 8
# The same gzip bytes as static files behind nginx (sendfile, no auth, no freshness check).
if [ -n "$NGINX" ]; then
  mkdir -p "$work/static"
  while read -r url; do
    f="$work/static${url#http://127.0.0.1:$P_WARM}.gz"; mkdir -p "$(dirname "$f")"
    code=$(curl -s -o "$f" -w '%{http_code}' -H "Accept-Encoding: gzip" -H "Authorization: Bearer $token" "$url")
    [ "$code" = 200 ] || rm -f "$f"
  done <"$work/warm.urls"
  # nginx's workers drop root: they must be able to read the files.
  chmod a+x "$work"; chmod -R a+rX "$work/static"
  cat >"$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  open_file_cache max=10000;
  types { application/vnd.mapbox-vector-tile mvt; }
  server {
    listen 127.0.0.1:$P_STATIC;
    root $work/static;
    gzip_static always;
    add_header Vary Accept-Encoding;
    add_header Cache-Control "private, no-cache";
    # An empty tile (no file) is a 204, as echinomap answers it.
    location / { error_page 404 = @empty; }
    location @empty { return 204; }
  }
}
NGINX
  "$NGINX" -c "$work/nginx.conf" -g 'daemon off;' >/dev/null 2>&1 & pids+=($!)
  wait_http "$(head -n 1 "$work/static.urls")"
fi
echo "| regime | server | concurrency | req/s | p50 ms | p99 ms | bytes/tile | ratio req/s vs Martin |"
echo "|---|---|---|---|---|---|---|---|"
for regime in cold warm; do
  for c in 1 8 32; do
    if [ $regime = cold ]; then ours=cold; theirs=martin-cold; else ours=warm; theirs=martin; fi
    run $ours $c; run $theirs $c
    static_json=""
    if [ $regime = warm ] && [ -n "$NGINX" ]; then run static $c; static_json="$work/static-c$c.json"; fi
    python3 - "$work/$ours-c$c.json" "$work/$theirs-c$c.json" $regime $c $static_json <<'PY'
import json, sys
def stats(p):
    d = json.load(open(p)); s = d["summary"]; lat = d.get("latencyPercentiles", {})
    codes = d.get("statusCodeDistribution", {})
    bad = {k: v for k, v in codes.items() if not k.startswith("2")}
    if bad:
        sys.exit(f"{p}: non-2xx answers {bad}: the comparison would be meaningless")
    return s["requestsPerSec"], lat.get("p50", 0) * 1000, lat.get("p99", 0) * 1000, s.get("sizePerRequest") or 0
ours, theirs = stats(sys.argv[1]), stats(sys.argv[2])
regime, c = sys.argv[3], sys.argv[4]
rows = [("echinomap", ours), ("Martin 1.14", theirs)]
if len(sys.argv) > 5:
    rows.append(("static files (nginx)", stats(sys.argv[5])))
for name, s in rows:
    ratio = s[0] / theirs[0] if theirs[0] else float("nan")
    print(f"| {regime} | {name} | {c} | {s[0]:.0f} | {s[1]:.2f} | {s[2]:.2f} | {s[3]:.0f} | {ratio:.2f} |")
PY
  done
done

#!/usr/bin/env bash
# Mixed load (issue 22, item 6): the dashboard's API calls and the map's tiles read while the
# field writes a deworming every second, against reads alone, in one run. Derived layers (risk,
# the villages tiles' colours) may lag a write by at most 5 s and are recomputed in the
# background; records and density tiles stay exact. Goal: dashboard and tile p95 under 1 s.
#
#   bench/mixed.sh [DATA_DIR]      default bench/var-tiles (demo scale 1, made on first use);
#                                  bench/var100 (`echinomap demo-data --scale 100`) for scale 100
#
# Loopback only: every URL is a literal http://127.0.0.1:PORT/... line of a file given to
# `oha --urls-from-file`, each run bounded in time (DURATION, default 60 s) and connections.
# oha is installed outside the repository (`cargo install oha --locked --root /tmp/oha`).
# Prints a Markdown table: p50/p95/p99 of each URL set, reads alone and with the writes, the
# ratio of the two p95s, the writes made and the largest lag the derived answers reported.
set -euo pipefail
cd "$(dirname "$0")/.."
OHA=${OHA:-/tmp/oha/bin/oha}
[ -x "$OHA" ] || { echo "missing $OHA: cargo install oha --locked --root /tmp/oha" >&2; exit 1; }
data=${1:-bench/var-tiles}
duration=${DURATION:-60}
cargo build --release --locked -p echinomap-server >/dev/null 2>&1
bin=target/release/echinomap
work=$(mktemp -d /tmp/echinomap-mixed-XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 1200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.5; done; echo "no answer from $1" >&2; exit 1; }

PORT=${PORT:-18921}
base=http://127.0.0.1:$PORT
started=$(date +%s.%N)
"$bin" serve --demo --listen 127.0.0.1:$PORT --data-dir "$data" >"$work/server.log" 2>&1 & pids+=($!)
wait_http $base/healthz
echo "server up in $(python3 -c "import time;print(round(time.time()-$started,1))") s" >&2
token=$("$bin" user token epi --name bench-mixed --data-dir "$data" 2>/dev/null | tail -n 1)
auth=(-H "Authorization: Bearer $token")

# The county's villages (their positions give the tiles) and dogs to dose (one new dose each).
curl -sf "${auth[@]}" "$base/api/villages" >"$work/villages.json"
curl -sf "${auth[@]}" "$base/api/dogs?village=654022100200&status=alive&limit=500" >"$work/dogs.json"
python3 - "$work" "$base" <<'PY'
import json, math, random, sys
work, base = sys.argv[1], sys.argv[2]
villages = json.load(open(f"{work}/villages.json"))["items"]
pts = [(v["lon"], v["lat"]) for v in villages if v["code"].startswith("654022") and v.get("lon") is not None]
def tiles(zs):
    out = []
    for z in zs:
        n = 2 ** z
        seen = set()
        for lon, lat in pts:
            x = int((lon + 180) / 360 * n)
            y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
            if (x, y) not in seen:
                seen.add((x, y)); out.append((z, x, y))
    return out
urls = []
for z, x, y in tiles(range(8, 14)):
    urls.append(f"{base}/tiles/villages/{z}/{x}/{y}.mvt")
for z, x, y in tiles(range(8, 12)):
    urls.append(f"{base}/tiles/case_density/{z}/{x}/{y}.mvt")
    urls.append(f"{base}/tiles/dog_density/{z}/{x}/{y}.mvt")
for z, x, y in tiles([7, 8]):
    urls.append(f"{base}/tiles/hotspots/{z}/{x}/{y}.mvt")
random.Random(7).shuffle(urls)
open(f"{work}/tiles.urls", "w").write("\n".join(urls) + "\n")
# What the dashboard asks on its first view and when a village or township is opened.
dash = [
    "/api/summary", "/api/risk", "/api/risk?township=654022100", "/api/villages",
    "/api/villages/654022100200/risk", "/api/indicators?unit=654022&period=2026",
    "/api/indicators/matrix?indicator=deworming_coverage&units=township&unit=654022&periods=2026",
    "/api/worklists/deworming",
]
open(f"{work}/dashboard.urls", "w").write("\n".join(base + d for d in dash) + "\n")
# Dogs not dosed today (an earlier run on the same data dosed some: a second dose is a 409).
import datetime
today = datetime.date.today().isoformat()
dogs = [d for d in json.load(open(f"{work}/dogs.json"))["items"] if d.get("last_dosed_on") != today]
open(f"{work}/dogs.txt", "w").write("\n".join(d["dog_tag"] for d in dogs) + "\n")
print(f"{len(urls)} tiles, {len(dash)} dashboard calls, {len(dogs)} dogs to dose", file=sys.stderr)
PY
# Every URL answers (200 or 204) before anything is timed.
while read -r url; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -H "Accept-Encoding: gzip" "$url")
  case $code in 200 | 204) ;; *) echo "$url: $code" >&2; exit 1 ;; esac
done < <(cat "$work/dashboard.urls" "$work/tiles.urls")

load() { # phase -> two oha runs side by side (tiles 8 connections, dashboard 4)
  "$OHA" --no-tui --output-format json -z "${duration}s" -c 8 --urls-from-file "$work/tiles.urls" \
    -H "Accept-Encoding: gzip, deflate, br" "${auth[@]}" >"$work/$1-tiles.json" &
  local t=$!
  "$OHA" --no-tui --output-format json -z "${duration}s" -c 4 --urls-from-file "$work/dashboard.urls" \
    -H "Accept-Encoding: gzip, deflate, br" "${auth[@]}" >"$work/$1-dashboard.json" &
  local d=$!
  wait $t $d
}
# The field: one deworming a second (each a dog not dosed by this run yet), and the lag the
# derived answers report (X-Data-Stale-Ms of the county's risk, once a second).
writer() {
  local n=0 ok=0 dosed_on
  dosed_on=$(date +%F)
  while read -r dog && [ $n -lt "$duration" ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -H "Content-Type: application/json" \
      -H "Origin: $base" -X POST "$base/api/dewormings" \
      -d "{\"dog_tag\": \"$dog\", \"dosed_on\": \"$dosed_on\", \"drug\": \"praziquantel\"}")
    [ "$code" = 201 ] && ok=$((ok + 1))
    [ "$code" = 201 ] || echo "deworming of dog $dog: $code" >&2
    curl -s -o /dev/null -D - "${auth[@]}" "$base/api/risk" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-data-stale-ms"{print $2}' >>"$work/lag.txt"
    n=$((n + 1))
    sleep 1
  done <"$work/dogs.txt"
  echo "$ok" >"$work/writes.txt"
}
# Warm the caches, then reads alone, then the same reads with the writes.
DURATION=10 duration=10 load warm
load reads
: >"$work/lag.txt"
writer & wpid=$!
load mixed
wait $wpid
python3 - "$work" "$duration" <<'PY'
import json, sys
work, duration = sys.argv[1], sys.argv[2]
def stats(p):
    d = json.load(open(p)); lat = d.get("latencyPercentiles", {})
    codes = d.get("statusCodeDistribution", {})
    bad = {k: v for k, v in codes.items() if not (k.startswith("2") or k == "304")}
    if bad:
        sys.exit(f"{p}: answers other than 2xx {bad}")
    return d["summary"]["requestsPerSec"], lat.get("p50", 0) * 1000, lat.get("p95", 0) * 1000, lat.get("p99", 0) * 1000
writes = open(f"{work}/writes.txt").read().strip()
lags = [int(l) for l in open(f"{work}/lag.txt") if l.strip()]
print(f"writes: {writes} dewormings in {duration} s; the county's risk answered stale {len(lags)} times of {duration}, largest lag {max(lags, default=0)} ms")
print("| URL set | load | req/s | p50 ms | p95 ms | p99 ms | p95 mixed / reads alone |")
print("|---|---|---|---|---|---|---|")
for kind in ["dashboard", "tiles"]:
    r, m = stats(f"{work}/reads-{kind}.json"), stats(f"{work}/mixed-{kind}.json")
    print(f"| {kind} | reads alone | {r[0]:.0f} | {r[1]:.1f} | {r[2]:.1f} | {r[3]:.1f} | |")
    print(f"| {kind} | with a deworming a second | {m[0]:.0f} | {m[1]:.1f} | {m[2]:.1f} | {m[3]:.1f} | {m[2] / r[2]:.2f} |")
PY

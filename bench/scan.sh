#!/usr/bin/env bash
# Kulldorff scan speed on its own (docs/BENCHMARKS.md, "Kulldorff scan").
#
#   bench/scan.sh [SIZES] [REPLICATIONS] [MODEL]
#       defaults: "1000 2000 5000 10000", 999, poisson (or bernoulli)
#
# For each size N: the deterministic input of bench/hotspots.sh (bench/hotspots_esda.py
# locations N: populations 50–2999, ≈ 3.2 cases per location, 10,000 locations ≈ 31,600 cases),
# then geodata/examples/scan_speed.rs (release build): the window lists, the observed-data
# search and the replications, largest window 50% of the population, seed 1. Prints the
# clusters, the scan's own time, and wall time, CPU time and max RSS from /usr/bin/time.
# The Python side needs numpy and pandas (ECHINOMAP_BENCH_PYTHON to choose the interpreter).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-"1000 2000 5000 10000"}
replications=${2:-999}
model=${3:-poisson}
py=${ECHINOMAP_BENCH_PYTHON:-python3}

cargo build --release --locked -q -p echinomap-geodata --example scan_speed
bin=target/release/examples/scan_speed
work=$(mktemp -d /tmp/echinomap-scan-XXXX)
trap 'rm -rf "$work"' EXIT

echo "## machine: $(nproc) cores; $(lscpu | sed -n 's/^Model name: *//p'); $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
    "$py" bench/hotspots_esda.py locations "$n" "$work/locations_$n.csv"
    /usr/bin/time -f "wall_s=%e user_s=%U max_rss_kb=%M" \
        "$bin" "$work/locations_$n.csv" "$replications" 1 "$model" 0.5
done

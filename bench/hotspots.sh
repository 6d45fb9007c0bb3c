#!/usr/bin/env bash
# Hotspot and scan speed, side by side with PySAL esda on the same input, in one run.
#
#   bench/hotspots.sh [PLACES] [PERMUTATIONS] [SCAN_SIZES]
#       defaults: 130000 places (≈100,000 occupied H3 res-9 cells), 999, "1000 2000 5000 10000"
#
# 1. Generates a deterministic CSV of places (bench/hotspots_esda.py places).
# 2. Times `echinomap hotspots --resolution 9 --ring 1 --permutations R` (release build), end to
#    end: CSV in, aggregation, neighbours, EB rates, Gi*, local and global Moran with R
#    permutations each, CSV and JSON out.
#    Then times each phase in-process (geodata/examples/hotspot_phases.rs): the local statistics
#    (Gi*, local Moran and their 999 conditional randomisations) and global Moran on their own.
# 3. Runs esda 2.9 on the same input (H3 with the `h3` package, the same weights) in its fastest
#    configuration (numba, n_jobs=-1, keep_simulations=False, JIT warmed up), compares the
#    deterministic columns with ours and prints its times; the ratio uses esda's statistics time
#    only (not its CSV reading, H3 aggregation or weights construction); the goal's ratio is
#    esda's G_Local + Moran_Local against our local phase, the same statistics on the same cells.
# 4. Times `echinomap scan` (Poisson, 999 replications) on N locations for each scan size
#    (bench/scan.sh times the scan on its own, with CPU time and memory).
# The Python packages go into a venv under /tmp (ECHINOMAP_BENCH_VENV to choose another).
set -euo pipefail
cd "$(dirname "$0")/.."
places=${1:-130000}
permutations=${2:-999}
scan_sizes=${3:-"1000 2000 5000 10000"}

venv=${ECHINOMAP_BENCH_VENV:-/tmp/echinomap-bench-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'esda==2.9.*' libpysal numpy pandas numba h3
fi
py="$venv/bin/python"

cargo build --release --locked -p echinomap-server >/dev/null
bin=target/release/echinomap
work=$(mktemp -d /tmp/echinomap-hotspots-XXXX)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "## machine: $(nproc) cores; $(lscpu | sed -n 's/^Model name: *//p'); $(date -u +%Y-%m-%d)"
"$py" bench/hotspots_esda.py places "$places" "$work/places.csv"

t0=$(now)
"$bin" hotspots --input "$work/places.csv" --output "$work/cells.csv" --summary "$work/summary.json" \
    --resolution 9 --ring 1 --permutations "$permutations" --seed 1
t1=$(now)
ours=$(elapsed "$t0" "$t1")
echo "echinomap_hotspots_s=$ours"
cargo run --release --locked -q -p echinomap-geodata --example hotspot_phases -- \
    "$work/places.csv" "$permutations" 1 | tee "$work/phases.txt"

"$py" bench/hotspots_esda.py esda "$work/places.csv" "$work/cells.csv" "$permutations" | tee "$work/esda.txt"
esda_s=$(sed -n 's/^esda_stats_total_s=//p' "$work/esda.txt")
awk -v e="$esda_s" -v o="$ours" 'BEGIN { printf "ratio_esda_stats_over_echinomap_total=%.1f\n", e / o }'
val() { sed -n "s/^$1=//p" "$2"; }
awk -v g="$(val esda_g_local_s "$work/esda.txt")" -v l="$(val esda_moran_local_s "$work/esda.txt")" \
    -v o="$(val ours_local_s "$work/phases.txt")" \
    'BEGIN { printf "ratio_local_gi_star_and_moran=%.0f\n", (g + l) / o }'
awk -v e="$(val esda_moran_global_s "$work/esda.txt")" -v o="$(val ours_moran_global_s "$work/phases.txt")" \
    'BEGIN { printf "ratio_global_moran=%.1f\n", e / o }'

for n in $scan_sizes; do
    "$py" bench/hotspots_esda.py locations "$n" "$work/locations_$n.csv"
    t0=$(now)
    "$bin" scan --input "$work/locations_$n.csv" --output "$work/clusters_$n.csv" \
        --replications 999 --seed 1 >/dev/null
    t1=$(now)
    echo "scan_n=$n scan_s=$(elapsed "$t0" "$t1")"
done

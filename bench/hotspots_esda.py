#!/usr/bin/env python3
"""The PySAL side of bench/hotspots.sh (run it through that script).

  hotspots_esda.py places N OUT.csv          deterministic places (lon, lat, population, cases)
  hotspots_esda.py locations N OUT.csv       deterministic scan locations (id, lon, lat, …)
  hotspots_esda.py esda IN.csv OURS.csv R    esda on the same input: H3 res 9 with the `h3`
                                             package, ring-1 neighbours, EB rates, Gi*
                                             (binary, star), local Moran (row-standardised),
                                             global Moran, R permutations each; compares the
                                             deterministic columns with our output; prints
                                             timings as `key=value` lines.

esda runs in its fastest configuration: numba installed, n_jobs=-1, keep_simulations=False,
and numba's JIT warmed up on a small input first (compile time is not counted).
"""
import sys
import time
import warnings

import numpy as np
import pandas as pd

# The places spread over a box of about 180 × 130 km around Qapqal, so that ~130,000 points
# occupy ~100,000 res-9 cells, with denser valley bands.
BOX = (80.0, 82.2, 43.0, 44.2)


def places(n, out):
    rng = np.random.default_rng(5)
    lon = rng.uniform(BOX[0], BOX[1], n)
    lat = rng.uniform(BOX[2], BOX[3], n)
    population = rng.integers(20, 800, n)
    hot = np.zeros(n, dtype=bool)
    for cx, cy in [(80.9, 43.75), (81.5, 43.4), (81.9, 44.0)]:
        hot |= np.hypot(lon - cx, lat - cy) < 0.08
    cases = rng.poisson(population * np.where(hot, 0.02, 0.003))
    pd.DataFrame({"lon": lon.round(6), "lat": lat.round(6), "population": population,
                  "cases": cases}).to_csv(out, index=False)


def locations(n, out):
    rng = np.random.default_rng(7)
    lon = rng.uniform(80.5, 81.7, n)
    lat = rng.uniform(43.3, 43.95, n)
    population = rng.integers(50, 3000, n)
    hot = np.hypot(lon - 81.0, lat - 43.75) < 0.05
    cases = rng.poisson(population * np.where(hot, 0.01, 0.002))
    pd.DataFrame({"id": [f"v{i}" for i in range(n)], "lon": lon.round(6), "lat": lat.round(6),
                  "population": population, "cases": cases}).to_csv(out, index=False)


def esda_run(inp, ours_csv, permutations):
    import esda
    import h3
    import libpysal

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    df = pd.read_csv(inp)
    df["h3_cell"] = [h3.latlng_to_cell(la, lo, 9) for lo, la in zip(df["lon"], df["lat"])]
    cells = (df.groupby("h3_cell").agg(count=("cases", "sum"), population=("population", "sum"))
             .sort_index())
    # Our order: by the 64-bit index, the same as by the 15-digit hex string.
    ids = list(cells.index)
    pos = {c: i for i, c in enumerate(ids)}
    neighbours = {i: sorted(pos[d] for d in h3.grid_disk(c, 1) if d != c and d in pos)
                  for i, c in enumerate(ids)}
    w = libpysal.weights.W(neighbours, id_order=list(range(len(ids))), silence_warnings=True)
    t_prep = time.perf_counter() - t0

    count = cells["count"].to_numpy(float)
    population = cells["population"].to_numpy(float)

    # Warm numba's JIT up on a small input so that compile time is not counted.
    small = libpysal.weights.lat2W(10, 10)
    ys = np.arange(100, dtype=float) % 7
    esda.G_Local(ys, small, transform="B", star=True, permutations=99, n_jobs=-1,
                 keep_simulations=False, seed=1)
    esda.Moran_Local(ys, libpysal.weights.lat2W(10, 10), permutations=99, n_jobs=-1,
                     keep_simulations=False, seed=1)

    t = time.perf_counter()
    eb = esda.smoothing.Empirical_Bayes(count, population).r.ravel()
    t_eb = time.perf_counter() - t
    t = time.perf_counter()
    wg = libpysal.weights.W(neighbours, id_order=list(range(len(ids))), silence_warnings=True)
    g = esda.G_Local(eb, wg, transform="B", star=True, permutations=permutations, n_jobs=-1,
                     keep_simulations=False, seed=1)
    t_g = time.perf_counter() - t
    t = time.perf_counter()
    lm = esda.Moran_Local(eb, w, transformation="r", permutations=permutations, n_jobs=-1,
                          keep_simulations=False, seed=1)
    t_lm = time.perf_counter() - t
    t = time.perf_counter()
    gm = esda.Moran(eb, w, transformation="r", permutations=permutations)
    t_gm = time.perf_counter() - t

    ours = pd.read_csv(ours_csv, dtype={"h3_cell": str})
    same_cells = list(ours["h3_cell"]) == ids

    def rel(a, b):
        a, b = np.asarray(a, float), np.asarray(b, float)
        ok = ~(np.isnan(a) | np.isnan(b))
        return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300)))

    testable = ours["neighbors"].to_numpy() > 0
    print(f"n_cells={len(ids)}")
    print(f"islands={int((~testable).sum())}")
    print(f"same_cells={same_cells}")
    print(f"max_rel_diff_eb_rate={rel(ours['eb_rate'], eb):.3g}")
    print(f"max_rel_diff_gi_star_z={rel(ours['gi_star_z'], g.Zs):.3g}")
    print(f"max_rel_diff_lisa_i={rel(ours['lisa_i'], lm.Is):.3g}")
    print(f"mean_abs_diff_gi_star_p_sim={np.mean(np.abs(ours['gi_star_p_sim'][testable] - g.p_sim[testable])):.3g}")
    print(f"mean_abs_diff_lisa_p_sim={np.mean(np.abs(ours['lisa_p_sim'][testable] - lm.p_sim[testable])):.3g}")
    print(f"moran_i_esda={gm.I:.12g}")
    print(f"esda_prep_s={t_prep:.2f}")
    print(f"esda_eb_s={t_eb:.3f}")
    print(f"esda_g_local_s={t_g:.2f}")
    print(f"esda_moran_local_s={t_lm:.2f}")
    print(f"esda_moran_global_s={t_gm:.2f}")
    print(f"esda_stats_total_s={t_eb + t_g + t_lm + t_gm:.2f}")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "places":
        places(int(sys.argv[2]), sys.argv[3])
    elif mode == "locations":
        locations(int(sys.argv[2]), sys.argv[3])
    elif mode == "esda":
        esda_run(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"unknown mode {mode}")

//! Local statistics: Getis–Ord Gi* (Ord & Getis 1995), local Moran's I (Anselin 1995), and
//! their conditional-randomisation pseudo p-values.
//!
//! The permutation test draws, for each cell i and each of the R permutations, k_i distinct
//! cells among the n − 1 others to fill i's neighbour slots; both statistics are judged on the
//! same draw (each alone has the right null distribution). Permutation r's draws come from its
//! own ChaCha8 stream keyed by (seed, r) and are shared by all cells, as in PySAL esda (see
//! [`conditional_randomisation`]), so the result does not depend on the number of threads.
//! Both statistics are monotone in the sum of the drawn values (Gi* increasing; local Moran
//! increasing when z_i > 0, decreasing when z_i < 0, constant when z_i = 0), so the test
//! compares sums, computed exactly in integers on a common binary scale (see `fixed_point`):
//! equal multisets of values tie exactly, whatever the order of the draws.

use rand::RngExt;
use rayon::prelude::*;
use serde::Serialize;

use super::{Neighbours, rng_stream};

/// The quadrant of the Moran scatterplot: the sign of the cell's value against the sign of
/// its spatial lag (high = above the mean).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Quadrant {
    HH,
    LH,
    LL,
    HL,
}

impl Quadrant {
    pub fn as_str(self) -> &'static str {
        match self {
            Quadrant::HH => "HH",
            Quadrant::LH => "LH",
            Quadrant::LL => "LL",
            Quadrant::HL => "HL",
        }
    }

    pub(crate) fn of(z: f64, lag: f64) -> Self {
        match (z > 0.0, lag > 0.0) {
            (true, true) => Quadrant::HH,
            (false, true) => Quadrant::LH,
            (false, false) => Quadrant::LL,
            (true, false) => Quadrant::HL,
        }
    }
}

/// The mean and the population standard deviation (divisor n) of a series, or `None` when the
/// series is constant (S = 0: every standardised statistic is undefined).
pub(crate) fn mean_sd(x: &[f64]) -> Option<(f64, f64)> {
    let first = *x.first()?;
    if x.iter().all(|v| *v == first) {
        return None;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let ss: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    let s = (ss / n).sqrt();
    (s > 0.0).then_some((mean, s))
}

/// The two-sided p-value of a standard normal deviate: 2 (1 − Φ(|z|)).
pub fn two_sided_normal_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Gi* z-scores with binary weights over the closed neighbourhood:
/// (Σ_j w_ij x_j − x̄ W_i) / (S √((n W_i − W_i²)/(n − 1))). `None` where undefined: a constant
/// series, or a cell whose closed neighbourhood is every cell (W_i = n).
pub fn gi_star(x: &[f64], neighbours: &Neighbours) -> Vec<Option<f64>> {
    let n = x.len();
    let Some((mean, s)) = mean_sd(x) else {
        return vec![None; n];
    };
    let nf = n as f64;
    (0..n)
        .map(|i| {
            let nb = neighbours.of(i);
            let w = (nb.len() + 1) as f64;
            let sum = x[i] + nb.iter().map(|j| x[*j as usize]).sum::<f64>();
            let var = (nf * w - w * w) / (nf - 1.0);
            (var > 0.0).then(|| (sum - mean * w) / (s * var.sqrt()))
        })
        .collect()
}

/// Local Moran's I with row-standardised weights over the neighbours, and the quadrant:
/// I_i = (n − 1) z_i Σ_j w_ij z_j / Σ_k z_k², z = (x − x̄) / S. An island's lag is 0. `None`
/// for a constant series.
pub fn local_moran(x: &[f64], neighbours: &Neighbours) -> Vec<Option<(f64, Quadrant)>> {
    let n = x.len();
    let Some((mean, s)) = mean_sd(x) else {
        return vec![None; n];
    };
    let z: Vec<f64> = x.iter().map(|v| (v - mean) / s).collect();
    let den: f64 = z.iter().map(|v| v * v).sum();
    (0..n)
        .map(|i| {
            let nb = neighbours.of(i);
            let lag = if nb.is_empty() {
                0.0
            } else {
                nb.iter().map(|j| z[*j as usize]).sum::<f64>() / nb.len() as f64
            };
            Some(((n as f64 - 1.0) * z[i] * lag / den, Quadrant::of(z[i], lag)))
        })
        .collect()
}

/// The pseudo p-values of one cell; `None` when the cell is not testable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PseudoP {
    pub gi_star: Option<f64>,
    pub lisa: Option<f64>,
}

const NONE: PseudoP = PseudoP {
    gi_star: None,
    lisa: None,
};

/// (min(L, R − L) + 1) / (R + 1).
pub(crate) fn pseudo_p(larger: u32, permutations: u32) -> f64 {
    (f64::from(larger.min(permutations - larger)) + 1.0) / (f64::from(permutations) + 1.0)
}

/// The series as integers on a common binary scale, for exact, order-independent sums: each
/// value is multiplied by the same power of two (exact) and rounded to an integer, with enough
/// headroom that a sum of `k_max` values cannot overflow. Integer-valued series below 2^52 stay
/// exact; other values lose only the bits below 2^−52 of the largest magnitude, finer than the
/// rounding of a floating-point sum. Equal multisets of values then always give equal sums, so
/// ties are exact whatever the order of the draws.
fn fixed_point(x: &[f64], k_max: usize) -> Vec<i64> {
    let max_abs = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    // 2^bits · (k_max + 1) < 2^63.
    let headroom = 62 - (usize::BITS - (k_max + 1).leading_zeros()) as i32;
    let bits = headroom.min(52);
    let exponent = if max_abs > 0.0 {
        bits - max_abs.log2().ceil() as i32
    } else {
        0
    };
    let scale = 2f64.powi(exponent);
    x.iter().map(|v| (v * scale).round() as i64).collect()
}

/// The k_max distinct draws of one permutation, from 0..n1: rejection against the short list
/// when k_max ≤ n1 / 2, else a partial Fisher–Yates shuffle of 0..n1 (`pool`).
pub(crate) fn draw_row<R: RngExt>(
    rng: &mut R,
    n1: u32,
    k_max: usize,
    row: &mut Vec<u32>,
    pool: &mut Vec<u32>,
) {
    row.clear();
    if 2 * k_max as u32 <= n1 {
        while row.len() < k_max {
            let u = rng.random_range(0..n1);
            if !row.contains(&u) {
                row.push(u);
            }
        }
    } else {
        pool.clear();
        pool.extend(0..n1);
        for t in 0..k_max {
            let r = rng.random_range(t as u32..n1) as usize;
            pool.swap(t, r);
            row.push(pool[t]);
        }
    }
}

/// Conditional-randomisation pseudo p-values of Gi* and local Moran for every cell: x_i stays,
/// its k_i neighbour slots are filled R times with values drawn without replacement from the
/// other n − 1 cells; L counts the simulated statistics ≥ the observed one;
/// p = (min(L, R − L) + 1) / (R + 1). Islands, constant series and R = 0 give `None`; Gi* also
/// where its z is undefined (W_i = n).
///
/// The draws are shared between cells, as in PySAL esda: permutation r draws one row of k_max
/// distinct positions u_0, u_1, … in 0..n − 1 from its own ChaCha8 stream (seed, r), and cell i
/// takes the first k_i of them, position u standing for cell u when u < i and for cell u + 1
/// otherwise (so i itself is never drawn). For each cell this is a uniform draw of k_i other
/// cells without replacement. Because cell i's sum only changes where i passes some u_j, one
/// sweep over the cells per permutation gives every cell's simulated sum: O(R · (n + k_max²))
/// instead of O(R · Σ k_i) random draws. Permutations run in parallel on the current rayon
/// pool; the counts are integers, so the result does not depend on the number of threads.
pub fn conditional_randomisation(
    x: &[f64],
    neighbours: &Neighbours,
    permutations: u32,
    seed: u64,
) -> Vec<PseudoP> {
    let n = x.len();
    let Some((mean, s)) = mean_sd(x) else {
        return vec![NONE; n];
    };
    if permutations == 0 || n < 2 {
        return vec![NONE; n];
    }
    let n1 = (n - 1) as u32;
    let k: Vec<usize> = (0..n).map(|i| neighbours.count(i)).collect();
    let k_max = k.iter().copied().max().unwrap_or(0);
    if k_max == 0 {
        return vec![NONE; n];
    }
    let values = fixed_point(x, k_max);
    let observed: Vec<i64> = (0..n)
        .map(|i| neighbours.of(i).iter().map(|j| values[*j as usize]).sum())
        .collect();
    type Counts = (Vec<u32>, Vec<u32>);
    let zero = || -> Counts { (vec![0u32; n], vec![0u32; n]) };
    let (at_least, at_most) = (0..permutations)
        .into_par_iter()
        .with_min_len(8)
        .fold(
            || (zero(), Vec::new(), Vec::new()),
            |(mut counts, mut row, mut pool): (Counts, Vec<u32>, Vec<u32>), r| {
                let mut rng = rng_stream(seed, u64::from(r));
                draw_row(&mut rng, n1, k_max, &mut row, &mut pool);
                sweep(&values, &k, &observed, &row, &mut counts.0, &mut counts.1);
                (counts, row, pool)
            },
        )
        .map(|(counts, _, _)| counts)
        .reduce(zero, |(mut ge, mut le), (ge2, le2)| {
            for (a, b) in ge.iter_mut().zip(ge2) {
                *a += b;
            }
            for (a, b) in le.iter_mut().zip(le2) {
                *a += b;
            }
            (ge, le)
        });
    (0..n)
        .map(|i| {
            if k[i] == 0 {
                return NONE;
            }
            let zi = (x[i] - mean) / s;
            let lisa_larger = if zi > 0.0 {
                at_least[i]
            } else if zi < 0.0 {
                at_most[i]
            } else {
                permutations
            };
            let gi_defined = k[i] + 1 < n;
            PseudoP {
                gi_star: gi_defined.then(|| pseudo_p(at_least[i], permutations)),
                lisa: Some(pseudo_p(lisa_larger, permutations)),
            }
        })
        .collect()
}

/// One permutation's simulated sums for every cell, counted against the observed sums.
/// `sums[k]` is the sum of the first k draws for the current cell i: position u_j gives
/// values[u_j + 1] while i ≤ u_j and values[u_j] from i = u_j + 1 on.
pub(crate) fn sweep(
    values: &[i64],
    k: &[usize],
    observed: &[i64],
    row: &[u32],
    at_least: &mut [u32],
    at_most: &mut [u32],
) {
    let k_max = row.len();
    let mut sums = vec![0i64; k_max + 1];
    for (j, u) in row.iter().enumerate() {
        sums[j + 1] = sums[j] + values[*u as usize + 1];
    }
    let mut events: Vec<(usize, usize)> = row
        .iter()
        .enumerate()
        .map(|(j, u)| (*u as usize + 1, j))
        .collect();
    events.sort_unstable();
    let mut count = |cells: std::ops::Range<usize>, sums: &[i64]| {
        for ((ki, obs), (ge, le)) in k[cells.clone()]
            .iter()
            .zip(&observed[cells.clone()])
            .zip(at_least[cells.clone()].iter_mut().zip(&mut at_most[cells]))
        {
            let s = sums[*ki];
            *ge += u32::from(s >= *obs);
            *le += u32::from(s <= *obs);
        }
    };
    let mut start = 0;
    for (pos, j) in events {
        count(start..pos, &sums);
        start = pos;
        let u = row[j] as usize;
        let delta = values[u] - values[u + 1];
        for s in &mut sums[j + 1..] {
            *s += delta;
        }
    }
    count(start..values.len(), &sums);
}

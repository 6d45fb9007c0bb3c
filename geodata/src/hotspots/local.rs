//! Local statistics: Getis–Ord Gi* (Ord & Getis 1995), local Moran's I (Anselin 1995), and
//! their conditional-randomisation pseudo p-values.
//!
//! The permutation test draws, for each cell i and each of the R permutations, k_i distinct
//! cells among the n − 1 others to fill i's neighbour slots; both statistics are judged on the
//! same draw (each alone has the right null distribution). Cell i's draws come from its own
//! ChaCha8 stream keyed by (seed, i), so the result does not depend on the number of threads.
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

/// Draws `k` distinct cells among the `n - 1` cells other than `i` and returns the sum of their
/// values. Rejection against the small sample when k ≤ (n − 1)/2; otherwise a partial
/// Fisher–Yates shuffle over `pool`, which must hold the other cells (in any order).
fn draw_sum<R: RngExt>(
    rng: &mut R,
    i: u32,
    n1: u32,
    k: usize,
    values: &[i64],
    sample: &mut Vec<u32>,
    pool: &mut [u32],
) -> i64 {
    let mut sum = 0i64;
    if 2 * k as u32 <= n1 {
        sample.clear();
        while sample.len() < k {
            let u = rng.random_range(0..n1);
            let j = u + u32::from(u >= i);
            if !sample.contains(&j) {
                sample.push(j);
                sum += values[j as usize];
            }
        }
    } else {
        for t in 0..k {
            let r = rng.random_range(t as u32..n1) as usize;
            pool.swap(t, r);
            sum += values[pool[t] as usize];
        }
    }
    sum
}

/// Conditional-randomisation pseudo p-values of Gi* and local Moran for every cell: x_i stays,
/// its k_i neighbour slots are filled R times with values drawn without replacement from the
/// other n − 1 cells; L counts the simulated statistics ≥ the observed one;
/// p = (min(L, R − L) + 1) / (R + 1). Islands, constant series and R = 0 give `None`; Gi* also
/// where its z is undefined (W_i = n). Runs on the current rayon pool; the result does not depend on it.
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
    let k_max = (0..n).map(|i| neighbours.count(i)).max().unwrap_or(0);
    let values = fixed_point(x, k_max);
    (0..n)
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(sample, pool): &mut (Vec<u32>, Vec<u32>), i| {
                let nb = neighbours.of(i);
                let k = nb.len();
                if k == 0 {
                    return NONE;
                }
                let observed: i64 = nb.iter().map(|j| values[*j as usize]).sum();
                let zi = (x[i] - mean) / s;
                if 2 * k as u32 > n1 {
                    pool.clear();
                    pool.extend((0..n as u32).filter(|j| *j as usize != i));
                }
                let mut rng = rng_stream(seed, i as u64);
                let (mut at_least, mut at_most) = (0u32, 0u32);
                for _ in 0..permutations {
                    let sim = draw_sum(&mut rng, i as u32, n1, k, &values, sample, pool);
                    at_least += u32::from(sim >= observed);
                    at_most += u32::from(sim <= observed);
                }
                let gi_larger = at_least;
                let lisa_larger = if zi > 0.0 {
                    at_least
                } else if zi < 0.0 {
                    at_most
                } else {
                    permutations
                };
                let gi_defined = k + 1 < n;
                PseudoP {
                    gi_star: gi_defined.then(|| pseudo_p(gi_larger, permutations)),
                    lisa: Some(pseudo_p(lisa_larger, permutations)),
                }
            },
        )
        .collect()
}

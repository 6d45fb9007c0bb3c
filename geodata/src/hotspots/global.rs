//! Global Moran's I with row-standardised weights (Moran 1950; Cliff & Ord 1981): the
//! statistic, its expectation, variance and z under randomisation, and a permutation p-value.

use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::local::{pseudo_p, two_sided_normal_p};
use super::{GLOBAL_MORAN_STREAMS, Neighbours, rng_stream};

/// Global Moran's I and its inference; `None` where undefined (a constant series, no cell with
/// a neighbour, too few cells for the variance, R = 0 for `p_sim`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GlobalMoran {
    pub i: Option<f64>,
    /// E[I] = −1 / (n − 1).
    pub expected: Option<f64>,
    /// Var[I] under the randomisation assumption.
    pub variance: Option<f64>,
    /// (I − E[I]) / √Var[I].
    pub z: Option<f64>,
    /// The two-sided normal p-value of `z`.
    pub p_norm: Option<f64>,
    /// (min(L, R − L) + 1) / (R + 1) over R random permutations of the values.
    pub p_sim: Option<f64>,
}

/// The row-standardised weights as undirected edges: a pair listed both ways is kept once, at
/// a < b, with weight w_ab + w_ba; a pair listed one way keeps its weight w_ab = 1 / k_a. Then
/// Σ_i z_i Σ_j w_ij z_j = Σ_edges w · z_a · z_b with half the terms for symmetric lists.
struct Edges {
    a: Vec<u32>,
    b: Vec<u32>,
    w: Vec<f64>,
}

impl Edges {
    fn of(neighbours: &Neighbours) -> Self {
        let mut edges = Edges {
            a: Vec::new(),
            b: Vec::new(),
            w: Vec::new(),
        };
        for i in 0..neighbours.len() {
            let nb = neighbours.of(i);
            let wi = 1.0 / nb.len() as f64;
            for &j in nb {
                let back = neighbours.of(j as usize);
                let w = if back.binary_search(&(i as u32)).is_ok() {
                    if (j as usize) < i {
                        continue;
                    }
                    wi + 1.0 / back.len() as f64
                } else {
                    wi
                };
                edges.a.push(i as u32);
                edges.b.push(j);
                edges.w.push(w);
            }
        }
        edges
    }

    /// Σ_i z_i Σ_j w_ij z_j.
    fn cross_product(&self, z: &[f64]) -> f64 {
        self.a
            .iter()
            .zip(&self.b)
            .zip(&self.w)
            .map(|((a, b), w)| w * z[*a as usize] * z[*b as usize])
            .sum()
    }
}

/// A uniform Fisher–Yates shuffle; each index comes from 32 random bits by Lemire's
/// multiply-and-reject method (no bias), which keeps the generator off the critical path.
fn shuffle<R: Rng>(buf: &mut [f64], rng: &mut R) {
    for i in (1..buf.len()).rev() {
        let bound = (i + 1) as u32;
        let mut m = u64::from(rng.next_u32()) * u64::from(bound);
        if (m as u32) < bound {
            let threshold = bound.wrapping_neg() % bound;
            while (m as u32) < threshold {
                m = u64::from(rng.next_u32()) * u64::from(bound);
            }
        }
        buf.swap(i, (m >> 32) as usize);
    }
}

/// The weight sums S0, S1, S2 of the row-standardised weights (for asymmetric lists too).
fn weight_sums(neighbours: &Neighbours) -> (f64, f64, f64) {
    let n = neighbours.len();
    let w = |i: usize, j: usize| -> f64 {
        let nb = neighbours.of(i);
        if nb.binary_search(&(j as u32)).is_ok() {
            1.0 / nb.len() as f64
        } else {
            0.0
        }
    };
    let mut s0 = 0.0;
    let mut s1 = 0.0;
    let mut col = vec![0.0; n];
    for i in 0..n {
        let nb = neighbours.of(i);
        if nb.is_empty() {
            continue;
        }
        s0 += 1.0;
        let wij = 1.0 / nb.len() as f64;
        for &j in nb {
            let j = j as usize;
            col[j] += wij;
            let wji = w(j, i);
            s1 += if wji > 0.0 {
                // The reverse edge adds the other half.
                0.5 * (wij + wji) * (wij + wji)
            } else {
                wij * wij
            };
        }
    }
    let s2 = (0..n)
        .map(|i| {
            let row = if neighbours.count(i) > 0 { 1.0 } else { 0.0 };
            (row + col[i]) * (row + col[i])
        })
        .sum();
    (s0, s1, s2)
}

/// Global Moran's I of `x` with row-standardised weights, with R permutations from `seed`.
pub fn global_moran(
    x: &[f64],
    neighbours: &Neighbours,
    permutations: u32,
    seed: u64,
) -> GlobalMoran {
    let n = x.len();
    let nf = n as f64;
    let mut result = GlobalMoran {
        i: None,
        expected: (n >= 2).then(|| -1.0 / (nf - 1.0)),
        variance: None,
        z: None,
        p_norm: None,
        p_sim: None,
    };
    let Some((mean, _)) = super::local::mean_sd(x) else {
        return result;
    };
    let (s0, s1, s2) = weight_sums(neighbours);
    if s0 == 0.0 {
        return result;
    }
    let z: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let z2: f64 = z.iter().map(|v| v * v).sum();
    let edges = Edges::of(neighbours);
    let statistic = |cross: f64| nf / s0 * cross / z2;
    let i = statistic(edges.cross_product(&z));
    result.i = Some(i);
    if n >= 4 {
        let z4: f64 = z.iter().map(|v| v.powi(4)).sum();
        let kurtosis = (z4 / nf) / ((z2 / nf) * (z2 / nf));
        let e = -1.0 / (nf - 1.0);
        let s02 = s0 * s0;
        let a = nf * ((nf * nf - 3.0 * nf + 3.0) * s1 - nf * s2 + 3.0 * s02);
        let b = kurtosis * ((nf * nf - nf) * s1 - 2.0 * nf * s2 + 6.0 * s02);
        let var = (a - b) / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0) * s02) - e * e;
        result.variance = Some(var);
        if var > 0.0 {
            let zscore = (i - e) / var.sqrt();
            result.z = Some(zscore);
            result.p_norm = Some(two_sided_normal_p(zscore));
        }
    }
    if permutations > 0 {
        let larger: u32 = (0..u64::from(permutations))
            .into_par_iter()
            .map_init(
                || z.clone(),
                |buf, r| {
                    // Each permutation starts from the original order, whichever thread runs it.
                    buf.copy_from_slice(&z);
                    let mut rng = rng_stream(seed, GLOBAL_MORAN_STREAMS + r);
                    shuffle(buf, &mut rng);
                    u32::from(statistic(edges.cross_product(buf)) >= i)
                },
            )
            .sum();
        result.p_sim = Some(pseudo_p(larger, permutations));
    }
    result
}

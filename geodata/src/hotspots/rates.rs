//! Crude rates and empirical-Bayes smoothed rates (Marshall 1991): the global prior over all
//! cells, and the spatial prior over each cell's closed neighbourhood.

use serde::Serialize;

use super::Neighbours;

/// The empirical-Bayes prior: mean rate `m` and between-cell variance `a` (clamped at 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EbPrior {
    pub m: f64,
    pub a: f64,
}

/// count / population, per cell (populations must be > 0).
pub fn crude_rates(counts: &[f64], populations: &[f64]) -> Vec<f64> {
    counts.iter().zip(populations).map(|(c, p)| c / p).collect()
}

/// The prior of a set of cells (given by index): m = Σcount / Σpop,
/// A = Σ pop (r − m)² / Σ pop − m / (mean population), clamped at 0.
fn prior(counts: &[f64], pops: &[f64], members: impl Iterator<Item = usize> + Clone) -> EbPrior {
    let (mut c, mut p, mut k) = (0.0, 0.0, 0usize);
    for j in members.clone() {
        c += counts[j];
        p += pops[j];
        k += 1;
    }
    let m = c / p;
    let mut spread = 0.0;
    for j in members {
        let d = counts[j] / pops[j] - m;
        spread += pops[j] * d * d;
    }
    let a = spread / p - m / (p / k as f64);
    EbPrior {
        m,
        a: if a > 0.0 { a } else { 0.0 },
    }
}

/// Shrinks the rate `r` of a cell of population `pop` towards the prior.
fn shrink(r: f64, pop: f64, prior: EbPrior) -> f64 {
    if prior.a == 0.0 {
        // No between-cell variance (or no case at all): everything shrinks to the mean.
        prior.m
    } else {
        prior.m + (r - prior.m) * prior.a / (prior.a + prior.m / pop)
    }
}

/// The global empirical-Bayes rates and their prior.
pub fn global_eb(counts: &[f64], populations: &[f64]) -> (EbPrior, Vec<f64>) {
    let prior = prior(counts, populations, 0..counts.len());
    let eb = counts
        .iter()
        .zip(populations)
        .map(|(c, p)| shrink(c / p, *p, prior))
        .collect();
    (prior, eb)
}

/// The spatial empirical-Bayes rates: the same shrinkage with m_i and A_i computed over the
/// closed neighbourhood of each cell (the cell and its neighbours); a neighbourhood without
/// cases gives 0.
pub fn spatial_eb(counts: &[f64], populations: &[f64], neighbours: &Neighbours) -> Vec<f64> {
    (0..counts.len())
        .map(|i| {
            let members = std::iter::once(i).chain(neighbours.of(i).iter().map(|j| *j as usize));
            let prior = prior(counts, populations, members);
            shrink(counts[i] / populations[i], populations[i], prior)
        })
        .collect()
}

//! Multiple testing: Benjamini–Hochberg false discovery rate (1995), Bonferroni, or none; the
//! Gi* confidence bins as ArcGIS draws them, and the LISA cluster classes.

use serde::Serialize;

use super::Quadrant;

/// How the p-values of the m testable cells are corrected for multiple testing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Benjamini–Hochberg: reject the k smallest p-values, k the largest rank with
    /// p_(k) ≤ k α / m.
    Fdr,
    /// p ≤ α / m.
    Bonferroni,
    /// p ≤ α.
    None,
}

impl Correction {
    pub fn as_str(self) -> &'static str {
        match self {
            Correction::Fdr => "fdr",
            Correction::Bonferroni => "bonferroni",
            Correction::None => "none",
        }
    }
}

/// Which p-values are significant at `alpha` under `correction`; `None` (a cell that is not
/// tested) is never significant and does not count in m.
pub fn significant(p: &[Option<f64>], alpha: f64, correction: Correction) -> Vec<bool> {
    let m = p.iter().flatten().count();
    let threshold = match correction {
        Correction::None => alpha,
        Correction::Bonferroni => alpha / m as f64,
        Correction::Fdr => {
            let mut sorted: Vec<f64> = p.iter().flatten().copied().collect();
            sorted.sort_unstable_by(f64::total_cmp);
            sorted
                .iter()
                .enumerate()
                .rev()
                .find(|(rank, v)| **v <= (rank + 1) as f64 * alpha / m as f64)
                .map_or(-1.0, |(_, v)| *v)
        }
    };
    p.iter()
        .map(|v| v.is_some_and(|v| v <= threshold))
        .collect()
}

/// The Gi* bins −3…3: hot (z > 0) or cold (z < 0) spots significant at 99 % (±3), 95 % (±2)
/// or 90 % (±1) confidence, each level corrected on its own (as ArcGIS's Hot Spot Analysis
/// does with FDR); 0 otherwise.
pub fn gi_star_bins(z: &[Option<f64>], p: &[Option<f64>], correction: Correction) -> Vec<i8> {
    let levels = [
        (3i8, significant(p, 0.01, correction)),
        (2, significant(p, 0.05, correction)),
        (1, significant(p, 0.10, correction)),
    ];
    z.iter()
        .enumerate()
        .map(|(i, z)| {
            let sign = match z {
                Some(z) if *z > 0.0 => 1,
                Some(z) if *z < 0.0 => -1,
                _ => return 0,
            };
            levels
                .iter()
                .find(|(_, sig)| sig[i])
                .map_or(0, |(bin, _)| sign * bin)
        })
        .collect()
}

/// The LISA cluster class of a cell: its quadrant when significant, else `ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LisaCluster {
    HH,
    LL,
    HL,
    LH,
    #[serde(rename = "ns")]
    NotSignificant,
}

impl LisaCluster {
    pub fn as_str(self) -> &'static str {
        match self {
            LisaCluster::HH => "HH",
            LisaCluster::LL => "LL",
            LisaCluster::HL => "HL",
            LisaCluster::LH => "LH",
            LisaCluster::NotSignificant => "ns",
        }
    }
}

/// The LISA cluster classes: the quadrant where `p_sim` is significant at `alpha` under
/// `correction`, `ns` elsewhere.
pub fn lisa_clusters(
    quadrants: &[Option<Quadrant>],
    p_sim: &[Option<f64>],
    alpha: f64,
    correction: Correction,
) -> Vec<LisaCluster> {
    let sig = significant(p_sim, alpha, correction);
    quadrants
        .iter()
        .zip(sig)
        .map(|(q, s)| match (q, s) {
            (Some(Quadrant::HH), true) => LisaCluster::HH,
            (Some(Quadrant::LL), true) => LisaCluster::LL,
            (Some(Quadrant::HL), true) => LisaCluster::HL,
            (Some(Quadrant::LH), true) => LisaCluster::LH,
            _ => LisaCluster::NotSignificant,
        })
        .collect()
}

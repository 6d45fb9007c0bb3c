use super::*;
use crate::hotspots::{EbPrior, GlobalMoran, Neighbours, SignificantCounts};

fn moran(i: Option<f64>) -> GlobalMoran {
    GlobalMoran {
        i,
        expected: None,
        variance: None,
        z: None,
        p_norm: None,
        p_sim: None,
    }
}

/// A summary of `n` units with `islands` islands, nothing significant.
fn summary(n: usize, islands: usize, i: Option<f64>) -> Summary {
    Summary {
        n,
        testable: n - islands,
        islands,
        eb_prior: EbPrior { m: 0.001, a: 0.0 },
        moran: moran(i),
        significant: SignificantCounts {
            lisa_ns: n,
            ..SignificantCounts::default()
        },
    }
}

fn knn5() -> WeightsInfo {
    let nb = Neighbours::from_lists(&[vec![1], vec![0]]).unwrap();
    WeightsInfo::of(super::super::WeightsKind::Knn { k: 5 }, None, &nb)
}

fn band() -> WeightsInfo {
    let nb = Neighbours::from_lists(&[vec![1], vec![0]]).unwrap();
    WeightsInfo::of(
        super::super::WeightsKind::DistanceBand { km: Some(2.0) },
        None,
        &nb,
    )
}

/// The LISA clusters `s` counts: its HH units first, the rest not significant.
fn lisa_of(s: &Summary) -> Vec<LisaCluster> {
    let c = &s.significant;
    let mut v = Vec::new();
    for (k, l) in [
        (c.lisa_hh, LisaCluster::HH),
        (c.lisa_ll, LisaCluster::LL),
        (c.lisa_hl, LisaCluster::HL),
        (c.lisa_lh, LisaCluster::LH),
    ] {
        v.extend(std::iter::repeat_n(l, k));
    }
    v.resize(s.n, LisaCluster::NotSignificant);
    v
}

/// The diagnosis of `s` for a scope below the county, with FDR, every testable unit's Gi* p
/// 0.5 (not significant) and the LISA clusters of `s`.
fn diag(
    s: &Summary,
    cases: f64,
    weights: &WeightsInfo,
    alpha: f64,
    unit: UnitKind,
    period_years: f64,
) -> Diagnosis {
    let gi: Vec<Option<f64>> = (0..s.n).map(|i| (i < s.testable).then_some(0.5)).collect();
    let lisa = lisa_of(s);
    diagnose(
        &Analysed {
            summary: s,
            gi_star_p: &gi,
            lisa: &lisa,
            cases,
            weights,
            unit,
            period_years,
            below_county: true,
        },
        alpha,
        Correction::Fdr,
    )
}

fn codes<T: Serialize>(v: &[T]) -> Vec<String> {
    v.iter()
        .map(|x| {
            serde_json::to_value(x).unwrap()["code"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn too_few_cases_suggests_a_longer_period_and_says_it_in_english() {
    let d = diag(
        &summary(40, 0, Some(0.01)),
        4.0,
        &knn5(),
        0.05,
        UnitKind::Village,
        1.0,
    );
    assert_eq!(d.significant, 0);
    assert_eq!(
        d.reasons,
        vec![Why::TooFewCases {
            cases: 4.0,
            units: 40
        }]
    );
    // 10 cases and 0.5 per unit (20): five times the cases, so five years.
    assert_eq!(
        d.suggestions,
        vec![Suggestion::LongerPeriod { years: 5 }, Suggestion::WiderArea]
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["reasons"][0]["code"], "too_few_cases");
    assert_eq!(json["reasons"][0]["params"]["cases"], 4.0);
    assert_eq!(json["reasons"][0]["params"]["units"], 40);
    assert_eq!(
        json["reasons"][0]["message"],
        "Only 4 cases in 40 units (fewer than 10 in all, or under 0.5 per unit): too few to tell a cluster from chance."
    );
    assert_eq!(json["suggestions"][0]["code"], "longer_period");
    assert_eq!(json["suggestions"][0]["params"]["years"], 5);
    assert_eq!(
        json["suggestions"][0]["message"],
        "Use a longer period: about 5 years would gather enough cases."
    );
    // Enough cases in all but too few per unit also counts.
    let d = diag(
        &summary(40, 0, Some(0.01)),
        12.0,
        &knn5(),
        0.05,
        UnitKind::H3,
        2.0,
    );
    assert_eq!(codes(&d.reasons), ["too_few_cases"]);
    assert_eq!(
        d.suggestions,
        vec![
            Suggestion::LongerPeriod { years: 4 },
            Suggestion::WiderArea,
            Suggestion::CoarserCells
        ]
    );
}

#[test]
fn too_many_islands_is_a_warning_even_when_something_is_significant() {
    let mut s = summary(20, 5, Some(0.2));
    s.significant.lisa_hh = 2;
    s.significant.lisa_ns = 18;
    let d = diag(&s, 100.0, &band(), 0.05, UnitKind::Village, 1.0);
    assert_eq!(d.significant, 2);
    assert_eq!(d.reasons, vec![Why::TooManyIslands { islands: 5, n: 20 }]);
    assert_eq!(
        d.suggestions,
        vec![Suggestion::UseKnn, Suggestion::MoreNeighbours]
    );
    assert_eq!(
        d.reasons[0].message(),
        "5 of 20 units have no neighbour and are not tested (more than 20%)."
    );
    // 20 % exactly is not too many.
    let d = diag(
        &summary(20, 4, Some(0.2)),
        100.0,
        &band(),
        0.05,
        UnitKind::Village,
        1.0,
    );
    assert_eq!(codes(&d.reasons), ["no_clustering"]);
}

#[test]
fn too_few_units_suggests_a_wider_area_or_finer_units() {
    let d = diag(
        &summary(6, 0, Some(0.1)),
        60.0,
        &knn5(),
        0.05,
        UnitKind::Township,
        1.0,
    );
    assert_eq!(
        d.reasons,
        vec![Why::TooFewUnits {
            testable: 6,
            min: 8
        }]
    );
    assert_eq!(
        d.suggestions,
        vec![Suggestion::WiderArea, Suggestion::FinerUnits]
    );
    assert_eq!(
        d.reasons[0].message(),
        "Only 6 units have a neighbour and can be tested; at least 8 are needed."
    );
}

#[test]
fn a_wider_area_is_suggested_only_below_the_county() {
    let s = summary(6, 0, Some(0.1));
    let gi = vec![Some(0.5); 6];
    let lisa = vec![LisaCluster::NotSignificant; 6];
    let at = |below_county: bool| {
        diagnose(
            &Analysed {
                summary: &s,
                gi_star_p: &gi,
                lisa: &lisa,
                cases: 3.0,
                weights: &knn5(),
                unit: UnitKind::Village,
                period_years: 1.0,
                below_county,
            },
            0.05,
            Correction::Fdr,
        )
    };
    let county = at(false);
    assert_eq!(codes(&county.reasons), ["too_few_units", "too_few_cases"]);
    assert_eq!(codes(&county.suggestions), ["longer_period"]);
    let township = at(true);
    assert_eq!(
        codes(&township.suggestions),
        ["wider_area", "longer_period"]
    );
}

#[test]
fn a_constant_series_has_no_variation() {
    let d = diag(
        &summary(30, 0, None),
        60.0,
        &knn5(),
        0.05,
        UnitKind::Village,
        1.0,
    );
    assert_eq!(d.reasons, vec![Why::NoVariation]);
    assert_eq!(d.suggestions, vec![Suggestion::LongerPeriod { years: 2 }]);
    assert_eq!(
        serde_json::to_value(&d.reasons[0]).unwrap(),
        serde_json::json!({
            "code": "no_variation",
            "params": {},
            "message": "The analysed values are the same in every unit (empirical-Bayes rates all equal the mean when the counts vary no more than chance): there is nothing to compare."
        })
    );
}

#[test]
fn enough_data_and_nothing_significant_is_no_clustering() {
    let d = diag(
        &summary(30, 0, Some(-0.01)),
        60.0,
        &knn5(),
        0.01,
        UnitKind::Village,
        1.0,
    );
    assert_eq!(d.reasons, vec![Why::NoClustering { alpha: 0.01 }]);
    assert!(d.suggestions.is_empty());
    assert_eq!(
        d.reasons[0].message(),
        "The data suffice for the test, and no unit is a significant hot or cold spot at α = 0.01: no evidence of clustering."
    );
    // Gi* significance is decided from its p-values at the requested level (not from the
    // bins of 90/95/99 %): three units of p 0.0005 among 30 are significant at 0.05 and at
    // 0.01 with FDR (0.0005 ≤ 3 × 0.01 / 30 = 0.001), not at 0.001.
    let s = summary(30, 0, Some(0.1));
    let mut gi = vec![Some(0.6); 30];
    for p in &mut gi[..3] {
        *p = Some(0.0005);
    }
    let lisa = vec![LisaCluster::NotSignificant; 30];
    let at = |alpha: f64, correction: Correction, lisa: &[LisaCluster]| {
        diagnose(
            &Analysed {
                summary: &s,
                gi_star_p: &gi,
                lisa,
                cases: 60.0,
                weights: &knn5(),
                unit: UnitKind::Village,
                period_years: 1.0,
                below_county: false,
            },
            alpha,
            correction,
        )
    };
    for alpha in [0.05, 0.01] {
        let d = at(alpha, Correction::Fdr, &lisa);
        assert_eq!(d.significant, 3, "α {alpha}");
        assert!(d.reasons.is_empty() && d.suggestions.is_empty());
    }
    let d = at(0.001, Correction::Fdr, &lisa);
    assert_eq!(
        (d.significant, codes(&d.reasons)),
        (0, vec!["no_clustering".to_string()])
    );
    // Bonferroni at 0.01: 0.0005 ≤ 0.01 / 30 = 0.00033 fails, where FDR passed.
    assert_eq!(at(0.01, Correction::Bonferroni, &lisa).significant, 0);
    assert_eq!(at(0.001, Correction::None, &lisa).significant, 3);
    // A unit significant by Gi* and by LISA counts once: units 0–2 by Gi*, 1–4 by LISA.
    let mut both = lisa.clone();
    for l in &mut both[1..5] {
        *l = LisaCluster::HH;
    }
    assert_eq!(at(0.05, Correction::Fdr, &both).significant, 5);
}

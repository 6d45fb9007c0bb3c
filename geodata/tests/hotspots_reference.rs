//! echinomap's hotspot statistics against PySAL esda 2.9 on a fixture of our making
//! (`tests/fixtures/hotspots/`, made by `make_reference.py`, which documents every step and how
//! esda's functions map onto our definitions).
//!
//! Deterministic statistics must equal esda's to 1e-9 relative; pseudo p-values, drawn by
//! different generators, must agree within Monte Carlo error.

#![expect(
    clippy::unwrap_used,
    reason = "a test: a missing or malformed fixture should fail loudly"
)]

use std::collections::HashMap;
use std::path::PathBuf;

use echinomap_geodata::hotspots::{
    self, CellData, Correction, HotspotOptions, Neighbours, Place, Variable, cell_hex,
};

/// H3 resolution and ring of the fixture.
const RESOLUTION: u8 = 7;
const RING: u32 = 1;
/// esda's permutations (reference.json says the same).
const PERMUTATIONS: u32 = 9999;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hotspots")
        .join(name)
}

fn read_places() -> Vec<Place> {
    let mut r = csv::Reader::from_path(fixture("places.csv")).unwrap();
    r.deserialize::<HashMap<String, String>>()
        .map(|row| {
            let row = row.unwrap();
            let f = |k: &str| row[k].parse::<f64>().unwrap();
            Place {
                lon: f("lon"),
                lat: f("lat"),
                count: f("cases"),
                population: f("population"),
            }
        })
        .collect()
}

/// Our aggregation of places.csv: the cells and their neighbour lists.
fn our_cells() -> (Vec<CellData>, Vec<Vec<usize>>) {
    let res = hotspots::resolution(RESOLUTION).unwrap();
    let cells = hotspots::aggregate(&read_places(), res).unwrap();
    let ids: Vec<_> = cells.iter().map(|c| c.cell).collect();
    let nb = Neighbours::from_grid(&ids, RING);
    let lists = (0..cells.len())
        .map(|i| nb.of(i).iter().map(|j| *j as usize).collect())
        .collect();
    (cells, lists)
}

fn cells_csv(cells: &[CellData], lists: &[Vec<usize>]) -> String {
    let mut s = String::from("h3_cell,count,population,neighbours\n");
    for (c, l) in cells.iter().zip(lists) {
        let l: Vec<String> = l.iter().map(usize::to_string).collect();
        s.push_str(&format!(
            "{},{},{},{}\n",
            cell_hex(c.cell),
            c.count,
            c.population,
            l.join(";")
        ));
    }
    s
}

/// Regenerates cells.csv with `ECHINOMAP_WRITE_FIXTURES=1`; otherwise checks that the committed
/// cells.csv (the input of make_reference.py) is still what our aggregation makes.
#[test]
fn the_committed_cells_are_our_aggregation_of_the_places() {
    let (cells, lists) = our_cells();
    let text = cells_csv(&cells, &lists);
    if std::env::var_os("ECHINOMAP_WRITE_FIXTURES").is_some() {
        std::fs::write(fixture("cells.csv"), &text).unwrap();
    }
    assert_eq!(std::fs::read_to_string(fixture("cells.csv")).unwrap(), text);
    assert!(cells.len() > 200);
    assert!(lists.iter().any(Vec::is_empty), "the fixture has islands");
}

fn reference() -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(fixture("reference.csv")).unwrap();
    r.deserialize().map(Result::unwrap).collect()
}

fn value(row: &HashMap<String, String>, key: &str) -> Option<f64> {
    let v = &row[key];
    if v.is_empty() || v == "nan" {
        None
    } else {
        Some(v.parse().unwrap())
    }
}

/// Equal to 1e-9 relative.
fn assert_close(ours: f64, theirs: f64, what: &str) {
    assert!(
        (ours - theirs).abs() <= 1e-9 * ours.abs().max(theirs.abs()),
        "{what}: ours {ours}, esda {theirs}"
    );
}

/// Two Monte Carlo estimates of the same p-value from R draws each.
fn assert_within_mc_error(ours: f64, theirs: f64, what: &str) {
    let r = f64::from(PERMUTATIONS);
    let p = theirs.clamp(1.0 / r, 0.5);
    let tolerance = 4.0 * (2.0 * p * (1.0 - p) / r).sqrt() + 2.0 / r;
    assert!(
        (ours - theirs).abs() < tolerance,
        "{what}: ours {ours}, esda {theirs} (tolerance {tolerance})"
    );
}

/// A Monte Carlo estimate from R draws against its exact expectation.
fn assert_within_mc_error_of_exact(ours: f64, exact: f64, what: &str) {
    let r = f64::from(PERMUTATIONS);
    let p = exact.clamp(1.0 / r, 0.5);
    let tolerance = 4.0 * (p * (1.0 - p) / r).sqrt() + 2.0 / r;
    assert!(
        (ours - exact).abs() < tolerance,
        "{what}: ours {ours}, exact {exact} (tolerance {tolerance})"
    );
}

fn run(variable: Variable) -> hotspots::Hotspots {
    let (cells, lists) = our_cells();
    let nb = Neighbours::from_lists(&lists).unwrap();
    let opts = HotspotOptions {
        variable,
        permutations: PERMUTATIONS,
        seed: 7,
        alpha: 0.05,
        correction: Correction::Fdr,
    };
    hotspots::analyse_cells(&cells, &nb, &opts).unwrap()
}

fn compare(variable: Variable) {
    let ours = run(variable);
    let refs = reference();
    assert_eq!(ours.cells.len(), refs.len());
    let v = variable.as_str();
    for (c, r) in ours.cells.iter().zip(&refs) {
        let cell = cell_hex(c.cell);
        assert_eq!(cell, r["h3_cell"]);
        let at = |what: &str| format!("{cell} {v} {what}");
        assert_close(c.rate, value(r, "rate").unwrap(), &at("rate"));
        assert_close(c.eb_rate, value(r, "eb_rate").unwrap(), &at("eb_rate"));
        match value(r, "spatial_eb_rate") {
            Some(theirs) => assert_close(c.spatial_eb_rate, theirs, &at("spatial_eb_rate")),
            // esda divides 0 by 0 where the closed neighbourhood has no case; the issue says 0.
            None => assert_eq!(c.spatial_eb_rate, 0.0, "{}", at("spatial_eb_rate")),
        }
        assert_close(
            c.gi_star_z.unwrap(),
            value(r, &format!("{v}_gi_star_z")).unwrap(),
            &at("gi_star_z"),
        );
        assert_close(
            c.lisa_i.unwrap(),
            value(r, &format!("{v}_lisa_i")).unwrap(),
            &at("lisa_i"),
        );
        assert_eq!(
            c.lisa_quadrant.unwrap().as_str(),
            r[&format!("{v}_lisa_quadrant")],
            "{}",
            at("quadrant")
        );
        if c.neighbors == 0 {
            // Not testable for us; esda's values were not kept.
            assert_eq!(
                (c.gi_star_p, c.gi_star_p_sim, c.lisa_p_sim),
                (None, None, None)
            );
            continue;
        }
        // gi_star_p is two-sided; esda's p_norm is one-sided (the script doubles it).
        assert_close(
            c.gi_star_p.unwrap(),
            value(r, &format!("{v}_gi_star_p")).unwrap(),
            &at("gi_star_p"),
        );
        assert_within_mc_error(
            c.gi_star_p_sim.unwrap(),
            value(r, &format!("{v}_gi_star_p_sim")).unwrap(),
            &at("gi_star_p_sim"),
        );
        if variable == Variable::Count {
            // Integer data: ties between simulated and observed sums are frequent. esda's Gi*
            // keeps them exact, its local Moran breaks them by rounding; the issue counts them
            // as ≥, so local Moran is checked against the exact expectation of the script.
            assert_within_mc_error_of_exact(
                c.gi_star_p_sim.unwrap(),
                value(r, "count_gi_star_p_exact").unwrap(),
                &at("gi_star_p_sim (exact)"),
            );
            assert_within_mc_error_of_exact(
                c.lisa_p_sim.unwrap(),
                value(r, "count_lisa_p_exact").unwrap(),
                &at("lisa_p_sim (exact)"),
            );
        } else {
            assert_within_mc_error(
                c.lisa_p_sim.unwrap(),
                value(r, &format!("{v}_lisa_p_sim")).unwrap(),
                &at("lisa_p_sim"),
            );
        }
    }

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).unwrap()).unwrap();
    assert_eq!(json["permutations"], PERMUTATIONS);
    let f = |key: &str| json["variables"][v][key].as_f64().unwrap();
    let m = ours.summary.moran;
    assert_close(m.i.unwrap(), f("moran_i"), "moran I");
    assert_close(m.expected.unwrap(), f("moran_expected"), "moran E[I]");
    assert_close(m.variance.unwrap(), f("moran_variance"), "moran Var[I]");
    assert_close(m.z.unwrap(), f("moran_z"), "moran z");
    assert_close(m.p_norm.unwrap(), f("moran_p_norm"), "moran p_norm");
    assert_within_mc_error(m.p_sim.unwrap(), f("moran_p_sim"), "moran p_sim");
    let prior = ours.summary.eb_prior;
    assert_close(prior.m, json["eb_prior"]["m"].as_f64().unwrap(), "EB m");
    assert_close(prior.a, json["eb_prior"]["a"].as_f64().unwrap(), "EB A");
}

#[test]
fn eb_rate_statistics_equal_esda() {
    compare(Variable::EbRate);
}

#[test]
fn count_statistics_equal_esda() {
    compare(Variable::Count);
}

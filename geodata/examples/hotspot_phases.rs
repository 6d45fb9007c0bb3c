//! Times each phase of the hotspot analysis on a CSV of places (`lon,lat,population,cases`),
//! for bench/hotspots.sh: the statistics are timed on their own, so that they can be set
//! beside esda's times for the same statistics.
//!
//!     cargo run --release -p echinomap-geodata --example hotspot_phases -- PLACES.csv [R] [SEED]

use std::time::Instant;

use echinomap_geodata::hotspots::{self, Neighbours, Place};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: hotspot_phases PLACES.csv [R] [SEED]")?;
    let permutations: u32 = args.next().map_or(Ok(999), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(1), |a| a.parse())?;

    let t = Instant::now();
    let mut places = Vec::new();
    for row in csv::Reader::from_path(&path)?.records() {
        let row = row?;
        let f = |i: usize| -> Result<f64, Box<dyn std::error::Error>> { Ok(row[i].parse()?) };
        places.push(Place {
            lon: f(0)?,
            lat: f(1)?,
            population: f(2)?,
            count: f(3)?,
        });
    }
    let read = t.elapsed();

    let t = Instant::now();
    let cells = hotspots::aggregate(&places, hotspots::resolution(9)?)?;
    let ids: Vec<_> = cells.iter().map(|c| c.cell).collect();
    let neighbours = Neighbours::from_grid(&ids, 1);
    let grid = t.elapsed();

    let counts: Vec<f64> = cells.iter().map(|c| c.count).collect();
    let pops: Vec<f64> = cells.iter().map(|c| c.population).collect();
    let t = Instant::now();
    let (_, eb) = hotspots::global_eb(&counts, &pops);
    let rates = t.elapsed();

    let t = Instant::now();
    let gi = hotspots::gi_star(&eb, &neighbours);
    let lisa = hotspots::local_moran(&eb, &neighbours);
    let p = hotspots::conditional_randomisation(&eb, &neighbours, permutations, seed);
    let local = t.elapsed();

    let t = Instant::now();
    let moran = hotspots::global_moran(&eb, &neighbours, permutations, seed);
    let global = t.elapsed();

    let tested = p.iter().filter(|p| p.lisa.is_some()).count();
    assert_eq!(gi.len(), lisa.len());
    println!(
        "cells={} tested={tested} moran_i={:?}",
        cells.len(),
        moran.i
    );
    println!("ours_read_s={:.3}", read.as_secs_f64());
    println!("ours_grid_s={:.3}", grid.as_secs_f64());
    println!("ours_eb_s={:.4}", rates.as_secs_f64());
    println!("ours_local_s={:.3}", local.as_secs_f64());
    println!("ours_moran_global_s={:.3}", global.as_secs_f64());
    Ok(())
}

//! Times Kulldorff's spatial scan on a CSV of locations (`id,lon,lat,population,cases`, as
//! `bench/hotspots_esda.py locations N` writes it), and prints the clusters, for bench/scan.sh:
//! the window lists, the observed-data search and the replications are timed together.
//!
//!     cargo run --release -p echinomap-geodata --example scan_speed -- LOCATIONS.csv \
//!         [R] [SEED] [poisson|bernoulli] [FRACTION] [RADIUS_KM]

use std::time::Instant;

use echinomap_geodata::hotspots::scan::{self, Location, Model, ScanOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or(
        "usage: scan_speed LOCATIONS.csv [R] [SEED] [poisson|bernoulli] [FRACTION] [RADIUS_KM]",
    )?;
    let replications: u32 = args.next().map_or(Ok(999), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let model = match args.next().as_deref() {
        None | Some("poisson") => Model::Poisson,
        Some("bernoulli") => Model::Bernoulli,
        Some(m) => return Err(format!("unknown model {m:?}: poisson or bernoulli").into()),
    };
    let fraction: f64 = args.next().map_or(Ok(0.5), |a| a.parse())?;
    let radius: Option<f64> = args.next().map(|a| a.parse()).transpose()?;

    let mut locations = Vec::new();
    for row in csv::Reader::from_path(&path)?.records() {
        let row = row?;
        let f = |i: usize| -> Result<f64, Box<dyn std::error::Error>> { Ok(row[i].parse()?) };
        locations.push(Location {
            id: row[0].to_string(),
            lon: f(1)?,
            lat: f(2)?,
            population: f(3)?,
            count: f(4)?,
        });
    }
    let opts = ScanOptions {
        model,
        max_population_fraction: fraction,
        max_radius_km: radius,
        replications,
        seed,
        ..ScanOptions::default()
    };
    let t = Instant::now();
    let clusters = scan::scan(&locations, &opts)?;
    let elapsed = t.elapsed().as_secs_f64();
    for c in &clusters {
        println!(
            "rank={} centre={} members={} observed={} expected={:.3} llr={:e} p={:?}",
            c.rank,
            c.center,
            c.members.len(),
            c.observed,
            c.expected,
            c.llr,
            c.p_value
        );
    }
    println!("scan_n={} scan_s={elapsed:.2}", locations.len());
    Ok(())
}

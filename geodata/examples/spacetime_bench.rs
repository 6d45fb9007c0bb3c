//! Times Kulldorff's retrospective space-time scan on synthetic villages (the figure in
//! docs/BENCHMARKS.md): N villages scattered over the Qapqal area × T months, a seeded background
//! rate and one planted cluster (within 0.1° of 81.0 E, 43.75 N, in months T/2 … T/2 + 2, three
//! times the rate). Window lists, the observed-data search and the replications are timed
//! together.
//!
//!     cargo run --release -p echinomap-geodata --example spacetime_bench -- \
//!         [poisson|bernoulli|space_time_permutation] [N] [T] [R] [RATE]
//!
//! RATE is the background rate per person-month (Poisson, permutation: populations 200–3000)
//! or per trial (Bernoulli: 0–12 dogs tested per village-month).

use std::time::Instant;

use echinomap_geodata::hotspots::spacetime::{StData, StModel, StOptions, scan};
use rand::{RngExt, SeedableRng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model_name = args.next().unwrap_or_else(|| "poisson".into());
    let model = StModel::parse(&model_name).ok_or_else(|| {
        format!("unknown model {model_name:?}: poisson, bernoulli or space_time_permutation")
    })?;
    let n: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let months: usize = args.next().map_or(Ok(24), |a| a.parse())?;
    let replications: u32 = args.next().map_or(Ok(999), |a| a.parse())?;
    let default_rate = if model == StModel::Bernoulli {
        0.05
    } else {
        0.0001
    };
    let rate: f64 = args.next().map_or(Ok(default_rate), |a| a.parse())?;

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut data = StData {
        ids: Vec::with_capacity(n),
        lon: Vec::with_capacity(n),
        lat: Vec::with_capacity(n),
        months,
        cases: Vec::with_capacity(n * months),
        population: Vec::with_capacity(n * months),
    };
    for i in 0..n {
        let lon = rng.random_range(80.5..81.7);
        let lat = rng.random_range(43.3..43.95);
        let people = f64::from(rng.random_range(200u32..3000));
        let near = (lon - 81.0f64).hypot(lat - 43.75) < 0.1;
        data.ids.push(format!("v{i:04}"));
        data.lon.push(lon);
        data.lat.push(lat);
        for t in 0..months {
            let hot = near && (months / 2..months / 2 + 3).contains(&t);
            let r = if hot { 3.0 * rate } else { rate };
            let trials = if model == StModel::Bernoulli {
                f64::from(rng.random_range(0u32..13))
            } else {
                people
            };
            // Binomial(trials, r) by Bernoulli trials.
            let cases = (0..trials as u32)
                .filter(|_| rng.random::<f64>() < r)
                .count() as f64;
            data.cases.push(cases);
            data.population.push(trials);
        }
    }
    let opts = StOptions {
        model,
        replications,
        ..StOptions::default()
    };
    let total: f64 = data.cases.iter().sum();
    let started = Instant::now();
    let clusters = scan(&data, &opts)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "model={} n={n} months={months} replications={replications} cases={total} threads={} seconds={seconds:.2}",
        model.as_str(),
        rayon::current_num_threads()
    );
    for c in &clusters {
        println!(
            "rank={} centre={} locations={} months={}..={} observed={} expected={:.2} llr={:.3} p={:?}",
            c.rank,
            data.ids[c.center],
            c.members.len(),
            c.start,
            c.end,
            c.observed,
            c.expected,
            c.llr,
            c.p_value
        );
    }
    Ok(())
}

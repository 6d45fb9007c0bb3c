//! `echinomap-fuzz TARGET --execs N | --seconds S`: fuzzes one parser (or `all`, one after the
//! other) and prints a line per target; exits with 1 when any input made a parser panic (the
//! inputs are in `--crashes`). `--replay FILE` runs one input again and prints its outcome or
//! its panic. Run it in release: `cargo run --release -p echinomap-fuzz -- csv --execs 10000000`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use echinomap_fuzz::targets::Target;
use echinomap_fuzz::{Budget, Options, execute, run};

#[derive(Debug, Parser)]
#[command(name = "echinomap-fuzz", about = "Fuzz echinomap's parsers (issue 17)")]
struct Args {
    /// csv, xlsx, geojson, dates, id_numbers, phone, cells, barcode, or all.
    target: String,
    /// Stop after this many executions (per target).
    #[arg(long, conflicts_with = "seconds")]
    execs: Option<u64>,
    /// Stop after this many seconds (per target).
    #[arg(long)]
    seconds: Option<f64>,
    /// The seed of the mutations: the same seed repeats a run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where a panicking input is written (with a .txt saying what the panic said).
    #[arg(long, default_value = "target/fuzz-crashes")]
    crashes: PathBuf,
    /// Seconds between progress lines on standard error.
    #[arg(long, default_value_t = 30.0)]
    every: f64,
    /// Writes each input to CRASHES/TARGET-last.input before it runs (slow): what aborts the
    /// process instead of panicking leaves its input there.
    #[arg(long)]
    keep_last: bool,
    /// Prints the count of every outcome at the end (the 40 most frequent).
    #[arg(long)]
    outcomes: bool,
    /// Runs the input in this file once and prints its outcome.
    #[arg(long)]
    replay: Option<PathBuf>,
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let targets: Vec<Target> = if args.target == "all" {
        Target::ALL.to_vec()
    } else {
        let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
        vec![Target::parse(&args.target).ok_or_else(|| {
            anyhow::anyhow!(
                "no target {:?}; targets are {} (or all)",
                args.target,
                names.join(", ")
            )
        })?]
    };
    if let Some(file) = &args.replay {
        let input = std::fs::read(file)?;
        let mut failed = false;
        for t in targets {
            match execute(t, &input) {
                Ok(outcome) => println!("{}: {outcome}", t.name()),
                Err(panic) => {
                    failed = true;
                    println!("{}: PANIC {panic}", t.name());
                }
            }
        }
        return Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    let budget = match (args.execs, args.seconds) {
        (Some(n), _) => Budget::Execs(n),
        (None, Some(s)) => Budget::Seconds(s),
        (None, None) => anyhow::bail!("give --execs N or --seconds S"),
    };
    eprintln!(
        "echinomap-fuzz: {} target(s), {budget:?} each, seed {}, one thread",
        targets.len(),
        args.seed
    );
    let mut crashed = false;
    for t in targets {
        let options = Options {
            budget,
            seed: args.seed,
            crash_dir: Some(args.crashes.clone()),
            every: Duration::from_secs_f64(args.every),
            keep_last: args.keep_last,
        };
        let report = run(t, &options, |r| eprintln!("  … {}", r.summary()));
        println!("{}", report.summary());
        if args.outcomes {
            let mut by_count: Vec<(&String, &u64)> = report.outcomes.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (outcome, n) in by_count.into_iter().take(40) {
                println!("  {n:>12}  {outcome}");
            }
        }
        for c in &report.crashes {
            crashed = true;
            println!(
                "  CRASH {}: {}",
                c.file
                    .as_ref()
                    .map_or_else(|| "(not written)".to_owned(), |f| f.display().to_string()),
                c.message
            );
        }
    }
    Ok(if crashed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

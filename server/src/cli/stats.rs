//! `echinomap hotspots` and `echinomap scan`: the statistics of
//! [`echinomap_geodata::hotspots`] on any CSV. This module reads the input (columns by name,
//! errors naming the row and column), runs the pure functions, and writes the output through a
//! temporary file in the same directory that is renamed at the end, so that a failure never
//! leaves a partial output file.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use echinomap_domain::spreadsheet;
use echinomap_geodata::hotspots::{
    self, Correction, Field, HotspotError, HotspotOptions, Place, Variable, cell_hex,
    scan::{self, Location, Model, ScanOptions},
};

#[derive(Debug, Args)]
pub struct HotspotsArgs {
    /// One row per place: longitude, latitude, count and population columns.
    #[arg(long)]
    pub input: PathBuf,
    /// One row per occupied H3 cell with its statistics.
    #[arg(long)]
    pub output: PathBuf,
    /// Also write the whole-map numbers (global Moran's I, EB prior, counts per class) as JSON.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// H3 resolution, 0–15.
    #[arg(long)]
    pub resolution: u8,
    /// Neighbours: the other occupied cells within this many rings.
    #[arg(long, default_value_t = 1)]
    pub ring: u32,
    #[arg(long, default_value = "lon")]
    pub lon_column: String,
    #[arg(long, default_value = "lat")]
    pub lat_column: String,
    #[arg(long, default_value = "cases")]
    pub count_column: String,
    #[arg(long, default_value = "population")]
    pub population_column: String,
    /// The series Gi* and local Moran analyse: count, rate or eb_rate.
    #[arg(long, default_value = "eb_rate", value_parser = parse_variable)]
    pub variable: Variable,
    /// Conditional randomisations for the pseudo p-values (0: none).
    #[arg(long, default_value_t = 999)]
    pub permutations: u32,
    /// Same seed, same pseudo p-values (whatever the number of threads).
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// Significance level of the LISA clusters.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Multiple-testing correction: fdr (Benjamini–Hochberg), bonferroni or none.
    #[arg(long, default_value = "fdr", value_parser = parse_correction)]
    pub correction: Correction,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// One row per location: id, longitude, latitude, count and population columns.
    #[arg(long)]
    pub input: PathBuf,
    /// One row per reported cluster.
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long, default_value = "id")]
    pub id_column: String,
    #[arg(long, default_value = "lon")]
    pub lon_column: String,
    #[arg(long, default_value = "lat")]
    pub lat_column: String,
    #[arg(long, default_value = "cases")]
    pub count_column: String,
    #[arg(long, default_value = "population")]
    pub population_column: String,
    /// poisson (population at risk) or bernoulli (population = trials, cases = successes).
    #[arg(long, default_value = "poisson", value_parser = parse_model)]
    pub model: Model,
    /// The largest window, as a fraction of the total population.
    #[arg(long, default_value_t = 0.5)]
    pub max_population_fraction: f64,
    /// The largest window's radius in km (no limit when absent).
    #[arg(long)]
    pub max_radius_km: Option<f64>,
    /// Monte Carlo replications for the p-values (0: none).
    #[arg(long, default_value_t = 999)]
    pub replications: u32,
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// The most likely cluster and at most this many − 1 secondary ones.
    #[arg(long, default_value_t = 5)]
    pub max_clusters: usize,
}

fn parse_variable(s: &str) -> Result<Variable, String> {
    s.parse()
}

fn parse_correction(s: &str) -> Result<Correction, String> {
    match s {
        "fdr" => Ok(Correction::Fdr),
        "bonferroni" => Ok(Correction::Bonferroni),
        "none" => Ok(Correction::None),
        _ => Err(format!(
            "unknown correction {s:?}: use fdr, bonferroni or none"
        )),
    }
}

fn parse_model(s: &str) -> Result<Model, String> {
    match s {
        "poisson" => Ok(Model::Poisson),
        "bernoulli" => Ok(Model::Bernoulli),
        _ => Err(format!("unknown model {s:?}: use poisson or bernoulli")),
    }
}

/// `echinomap hotspots`, on a blocking thread (the statistics use rayon).
pub async fn run_hotspots(args: HotspotsArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || hotspots(&args)).await?
}

/// `echinomap scan`, on a blocking thread.
pub async fn run_scan(args: ScanArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || scan_command(&args)).await?
}

/// An input CSV with named columns; remembers the line of each data row for error messages.
struct Input {
    path: PathBuf,
    lines: Vec<u64>,
    columns: Vec<(Field, String)>,
}

impl Input {
    /// Reads every row, picking `columns` by name; `parse` turns the values of one row (in the
    /// order of `columns`) into a record.
    fn read<T>(
        path: &Path,
        columns: Vec<(Field, String)>,
        mut parse: impl FnMut(&[&str], &dyn Fn(usize) -> String) -> Result<T, String>,
    ) -> anyhow::Result<(Self, Vec<T>)> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let headers = reader
            .headers()
            .with_context(|| format!("{}: cannot read the header", path.display()))?
            .clone();
        if headers.is_empty() || headers.iter().all(str::is_empty) {
            bail!("{} is empty: no header and no rows", path.display());
        }
        let mut index = Vec::with_capacity(columns.len());
        for (_, name) in &columns {
            let i = headers.iter().position(|h| h == name).ok_or_else(|| {
                anyhow!(
                    "{}: no column {name:?} in the header (columns: {}); name it with the matching --…-column flag",
                    path.display(),
                    headers.iter().collect::<Vec<_>>().join(", ")
                )
            })?;
            index.push(i);
        }
        let mut lines = Vec::new();
        let mut rows = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            let more = reader.read_record(&mut record).with_context(|| {
                format!("{}: row {}: malformed CSV", path.display(), rows.len() + 1)
            })?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            let row = rows.len() + 1;
            let values: Vec<&str> = index.iter().map(|i| record.get(*i).unwrap_or("")).collect();
            let name = |k: usize| columns[k].1.clone();
            let parsed = parse(&values, &name)
                .map_err(|e| anyhow!("{}: row {row} (line {line}), {e}", path.display()))?;
            rows.push(parsed);
            lines.push(line);
        }
        if rows.is_empty() {
            bail!("{} has a header but no data rows", path.display());
        }
        Ok((
            Self {
                path: path.to_owned(),
                lines,
                columns,
            },
            rows,
        ))
    }

    /// A library error about one row, told with the file's line and column name.
    fn explain(&self, e: HotspotError) -> anyhow::Error {
        let column = |field: Field| {
            self.columns
                .iter()
                .find(|(f, _)| *f == field)
                .map_or_else(|| field.to_string(), |(_, name)| name.clone())
        };
        let line = |row: usize| self.lines.get(row - 1).copied().unwrap_or(0);
        let path = self.path.display();
        match e {
            HotspotError::InvalidValue {
                row,
                field,
                problem,
            } => anyhow!(
                "{path}: row {row} (line {}), column {:?}: {problem}",
                line(row),
                column(field)
            ),
            HotspotError::ZeroPopulationCell { row, cell } => anyhow!(
                "{path}: row {row} (line {}), column {:?}: the H3 cell {cell} of this place has a total population of 0; rates need a positive population",
                line(row),
                column(Field::Population)
            ),
            other => anyhow!("{path}: {other}"),
        }
    }
}

/// A finite number, or an error naming the column.
fn number(value: &str, column: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ if value.is_empty() => Err(format!("column {column:?}: empty value")),
        _ => Err(format!("column {column:?}: not a number: {value:?}")),
    }
}

/// Writes through a temporary file beside `path`, renamed into place once `write` succeeded.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> anyhow::Result<()>,
) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".echinomap-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    write(tmp.as_file_mut())?;
    tmp.as_file_mut().flush()?;
    Ok(tmp)
}

fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> anyhow::Result<()> {
    tmp.persist(path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The columns of `echinomap hotspots`, in order.
pub const HOTSPOT_COLUMNS: [&str; 18] = [
    "h3_cell",
    "n_points",
    "population",
    "count",
    "rate",
    "eb_rate",
    "spatial_eb_rate",
    "neighbors",
    "gi_star_z",
    "gi_star_p",
    "gi_star_p_sim",
    "gi_star_bin",
    "lisa_i",
    "lisa_quadrant",
    "lisa_p_sim",
    "lisa_cluster",
    "lon",
    "lat",
];

fn hotspots(args: &HotspotsArgs) -> anyhow::Result<()> {
    let resolution = hotspots::resolution(args.resolution)?;
    let columns = vec![
        (Field::Lon, args.lon_column.clone()),
        (Field::Lat, args.lat_column.clone()),
        (Field::Count, args.count_column.clone()),
        (Field::Population, args.population_column.clone()),
    ];
    let (input, places) = Input::read(&args.input, columns, |v, name| {
        Ok(Place {
            lon: number(v[0], &name(0))?,
            lat: number(v[1], &name(1))?,
            count: number(v[2], &name(2))?,
            population: number(v[3], &name(3))?,
        })
    })?;
    let opts = HotspotOptions {
        variable: args.variable,
        permutations: args.permutations,
        seed: args.seed,
        alpha: args.alpha,
        correction: args.correction,
    };
    let result =
        hotspots::analyse(&places, resolution, args.ring, &opts).map_err(|e| input.explain(e))?;

    let csv_tmp = write_atomically(&args.output, |file| {
        let mut w = csv::Writer::from_writer(file);
        w.write_record(HOTSPOT_COLUMNS)?;
        for c in &result.cells {
            let (lon, lat) = hotspots::cell_centre(c.cell);
            w.write_record([
                cell_hex(c.cell),
                c.n_points.to_string(),
                c.population.to_string(),
                c.count.to_string(),
                c.rate.to_string(),
                c.eb_rate.to_string(),
                c.spatial_eb_rate.to_string(),
                c.neighbors.to_string(),
                opt(c.gi_star_z),
                opt(c.gi_star_p),
                opt(c.gi_star_p_sim),
                c.gi_star_bin.to_string(),
                opt(c.lisa_i),
                c.lisa_quadrant
                    .map_or_else(String::new, |q| q.as_str().to_owned()),
                opt(c.lisa_p_sim),
                c.lisa_cluster.as_str().to_owned(),
                lon.to_string(),
                lat.to_string(),
            ])?;
        }
        w.flush()?;
        Ok(())
    })?;
    let summary_tmp = match &args.summary {
        Some(path) => {
            let s = &result.summary;
            let json = serde_json::json!({
                "n": s.n,
                "testable": s.testable,
                "islands": s.islands,
                "resolution": args.resolution,
                "ring": args.ring,
                "variable": args.variable.as_str(),
                "permutations": args.permutations,
                "seed": args.seed,
                "alpha": args.alpha,
                "correction": args.correction.as_str(),
                "moran": s.moran,
                "eb_prior": s.eb_prior,
                "significant": s.significant,
            });
            Some((
                write_atomically(path, |file| {
                    serde_json::to_writer_pretty(&mut *file, &json)?;
                    file.write_all(b"\n")?;
                    Ok(())
                })?,
                path,
            ))
        }
        None => None,
    };
    persist(csv_tmp, &args.output)?;
    if let Some((tmp, path)) = summary_tmp {
        persist(tmp, path)?;
    }
    let sig = &result.summary.significant;
    println!(
        "{} cells ({} without neighbours) → {}: Gi* hot {} / cold {} at 90 % or more; LISA HH {}, LL {}, HL {}, LH {}",
        result.summary.n,
        result.summary.islands,
        args.output.display(),
        sig.gi_star_bins[4..].iter().sum::<usize>(),
        sig.gi_star_bins[..3].iter().sum::<usize>(),
        sig.lisa_hh,
        sig.lisa_ll,
        sig.lisa_hl,
        sig.lisa_lh
    );
    Ok(())
}

/// The columns of `echinomap scan`, in order.
pub const SCAN_COLUMNS: [&str; 11] = [
    "cluster_rank",
    "center_id",
    "radius_km",
    "n_locations",
    "member_ids",
    "population",
    "observed",
    "expected",
    "relative_risk",
    "llr",
    "p_value",
];

fn scan_command(args: &ScanArgs) -> anyhow::Result<()> {
    let columns = vec![
        (Field::Id, args.id_column.clone()),
        (Field::Lon, args.lon_column.clone()),
        (Field::Lat, args.lat_column.clone()),
        (Field::Count, args.count_column.clone()),
        (Field::Population, args.population_column.clone()),
    ];
    let (input, locations) = Input::read(&args.input, columns, |v, name| {
        if v[0].is_empty() {
            return Err(format!("column {:?}: empty id", name(0)));
        }
        Ok(Location {
            id: v[0].to_owned(),
            lon: number(v[1], &name(1))?,
            lat: number(v[2], &name(2))?,
            count: number(v[3], &name(3))?,
            population: number(v[4], &name(4))?,
        })
    })?;
    let opts = ScanOptions {
        model: args.model,
        max_population_fraction: args.max_population_fraction,
        max_radius_km: args.max_radius_km,
        replications: args.replications,
        seed: args.seed,
        max_clusters: args.max_clusters,
    };
    let clusters = scan::scan(&locations, &opts).map_err(|e| input.explain(e))?;
    let tmp = write_atomically(&args.output, |file| {
        let mut w = csv::Writer::from_writer(file);
        w.write_record(SCAN_COLUMNS)?;
        for c in &clusters {
            let members: Vec<&str> = c
                .members
                .iter()
                .map(|j| locations[*j].id.as_str())
                .collect();
            w.write_record([
                c.rank.to_string(),
                // The ids are the input file's text: neutralised as every CSV echinomap writes.
                spreadsheet::csv_text(&locations[c.center].id).into_owned(),
                c.radius_km.to_string(),
                c.members.len().to_string(),
                spreadsheet::csv_text(&members.join(";")).into_owned(),
                c.population.to_string(),
                c.observed.to_string(),
                c.expected.to_string(),
                c.relative_risk.to_string(),
                c.llr.to_string(),
                opt(c.p_value),
            ])?;
        }
        w.flush()?;
        Ok(())
    })?;
    persist(tmp, &args.output)?;
    match clusters.first() {
        Some(c) => println!(
            "{} clusters ({} model) → {}; most likely: centre {}, {} locations, RR {:.2}, LLR {:.2}, p {}",
            clusters.len(),
            args.model.as_str(),
            args.output.display(),
            locations[c.center].id,
            c.members.len(),
            c.relative_risk,
            c.llr,
            opt(c.p_value)
        ),
        None => println!(
            "no cluster (no window with a rate above the outside) → {}",
            args.output.display()
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests;

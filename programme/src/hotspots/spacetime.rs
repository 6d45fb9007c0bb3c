//! Kulldorff's retrospective space-time scan of a request: the villages of the scope × the whole
//! months of the period, read per month from the source's tables, scanned by
//! `echinomap_geodata::hotspots::spacetime`. Answered only, never stored: nothing exports it.

use std::collections::HashMap;

use chrono::{Datelike, Months, NaiveDate};
use echinomap_geodata::hotspots::spacetime::{self, StCluster, StData, StModel, StOptions};
use sqlx::PgPool;

use super::{HotspotSource, HotspotsError, Request, blocking};
use crate::error::Error;

/// A space-time scan run: the villages it read (by index, as the clusters name them), the months
/// of the period ("YYYY-MM", as the clusters' `start` and `end` index them), the clusters and
/// the options it ran with.
#[derive(Debug, Clone)]
pub struct SpaceTimeScan {
    pub codes: Vec<String>,
    pub names: Vec<String>,
    pub lon: Vec<f64>,
    pub lat: Vec<f64>,
    pub months: Vec<String>,
    pub clusters: Vec<StCluster>,
    pub options: StOptions,
    /// The total count scanned (cases, positive dogs, infected animals).
    pub cases: f64,
}

/// Whether `model` fits what `source` counts: Poisson for cases over a population, Bernoulli for
/// positives among animals tested, the permutation model (cases only) for any layer.
pub fn model_fits(source: HotspotSource, model: StModel) -> bool {
    match model {
        StModel::Permutation => true,
        StModel::Poisson => source == HotspotSource::HumanCases,
        StModel::Bernoulli => source != HotspotSource::HumanCases,
    }
}

/// The default model of a source: Poisson for human cases, Bernoulli for the animal layers.
pub fn default_model(source: HotspotSource) -> StModel {
    if source == HotspotSource::HumanCases {
        StModel::Poisson
    } else {
        StModel::Bernoulli
    }
}

/// The first day of `d`'s month.
fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The months from `from`'s to `to`'s, both included, as their first days.
fn months_of(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut m = month_start(from);
    while m <= to {
        out.push(m);
        match m.checked_add_months(Months::new(1)) {
            Some(next) => m = next,
            None => break,
        }
    }
    out
}

/// Per village and month of the source: (code, first day of the month, cases, denominator). The
/// human denominator comes from `village_denominators` separately (`denominator` is 0 here).
fn monthly_sql(source: HotspotSource) -> &'static str {
    match source {
        HotspotSource::HumanCases => {
            "SELECT v.code::text, date_trunc('month', c.reported_on)::date, count(*)::float8, 0::float8
             FROM cases c JOIN villages v ON v.id = c.village_id
             WHERE v.code LIKE $1 || '%' AND c.deleted_at IS NULL
               AND c.reported_on BETWEEN $2 AND $3
             GROUP BY 1, 2"
        }
        HotspotSource::DogPositivity => {
            "SELECT v.code::text, date_trunc('month', f.sampled_on)::date,
                    count(*) FILTER (WHERE f.result = 'positive')::float8,
                    count(*) FILTER (WHERE f.result <> 'inconclusive')::float8
             FROM faecal_tests f JOIN villages v ON v.id = f.village_id
             WHERE v.code LIKE $1 || '%' AND f.deleted_at IS NULL
               AND f.sampled_on BETWEEN $2 AND $3
             GROUP BY 1, 2"
        }
        HotspotSource::LivestockInfection => {
            "SELECT v.code::text, date_trunc('month', s.inspected_on)::date,
                    coalesce(sum(s.infected), 0)::float8, coalesce(sum(s.slaughtered), 0)::float8
             FROM slaughter_inspections s JOIN villages v ON v.id = s.origin_village_id
             WHERE v.code LIKE $1 || '%' AND s.deleted_at IS NULL
               AND s.inspected_on BETWEEN $2 AND $3
             GROUP BY 1, 2"
        }
    }
}

/// Kulldorff's space-time scan of `r` over the whole months from `r.from`'s to `r.to`'s, in the
/// villages of the scope with a denominator: a population (human cases: the village's
/// `village_denominators.population` for each month's year, else its latest, as person-months)
/// or at least one animal tested in the period. `opts.model` must fit the source
/// ([`model_fits`]): otherwise an invalid `model` parameter.
pub async fn space_time(
    pool: &PgPool,
    r: &Request,
    opts: StOptions,
) -> Result<SpaceTimeScan, HotspotsError> {
    if !model_fits(r.source, opts.model) {
        return Err(Error::invalid_param(
            "model",
            format!(
                "the {} model does not fit the layer {}: use {} or space_time_permutation",
                opts.model.as_str(),
                r.source.as_str(),
                default_model(r.source).as_str()
            ),
        )
        .into());
    }
    let months = months_of(r.from, r.to);
    let (Some(first), Some(last)) = (months.first().copied(), months.last().copied()) else {
        return Err(Error::invalid_param("from", "from must not be after to").into());
    };
    let until = last
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(r.to);
    let t_n = months.len();
    let month_index: HashMap<NaiveDate, usize> =
        months.iter().enumerate().map(|(i, m)| (*m, i)).collect();

    let villages: Vec<(String, String, f64, f64)> = sqlx::query_as(
        "SELECT code::text, name, ST_X(geom), ST_Y(geom) FROM villages
         WHERE code LIKE $1 || '%' ORDER BY code",
    )
    .bind(r.scope.as_str())
    .fetch_all(pool)
    .await?;
    let rows: Vec<(String, NaiveDate, f64, f64)> = sqlx::query_as(monthly_sql(r.source))
        .bind(r.scope.as_str())
        .bind(first)
        .bind(until)
        .fetch_all(pool)
        .await?;
    // cases and denominators per village code, n × months.
    let mut cells: HashMap<String, (Vec<f64>, Vec<f64>)> = HashMap::new();
    for (code, month, cases, denominator) in &rows {
        let Some(&t) = month_index.get(month) else {
            continue;
        };
        let e = cells
            .entry(code.clone())
            .or_insert_with(|| (vec![0.0; t_n], vec![0.0; t_n]));
        e.0[t] += cases;
        e.1[t] += denominator;
    }
    if r.source == HotspotSource::HumanCases {
        let denominators: Vec<(String, i16, i32)> = sqlx::query_as(
            "SELECT v.code::text, d.year, d.population FROM village_denominators d
             JOIN villages v ON v.id = d.village_id WHERE v.code LIKE $1 || '%'
             ORDER BY 1, 2",
        )
        .bind(r.scope.as_str())
        .fetch_all(pool)
        .await?;
        // Rows come by code then year: the last of a code is its latest.
        let mut by_year: HashMap<&str, (HashMap<i32, f64>, f64)> = HashMap::new();
        for (code, year, population) in &denominators {
            let e = by_year.entry(code.as_str()).or_default();
            e.0.insert(i32::from(*year), f64::from(*population));
            e.1 = f64::from(*population);
        }
        for (code, (years, latest)) in &by_year {
            let e = cells
                .entry((*code).to_owned())
                .or_insert_with(|| (vec![0.0; t_n], vec![0.0; t_n]));
            for (t, m) in months.iter().enumerate() {
                e.1[t] = years.get(&m.year()).copied().unwrap_or(*latest);
            }
        }
    }

    let mut out = SpaceTimeScan {
        codes: Vec::new(),
        names: Vec::new(),
        lon: Vec::new(),
        lat: Vec::new(),
        months: months
            .iter()
            .map(|m| m.format("%Y-%m").to_string())
            .collect(),
        clusters: Vec::new(),
        options: opts,
        cases: 0.0,
    };
    let mut data = StData {
        ids: Vec::new(),
        lon: Vec::new(),
        lat: Vec::new(),
        months: t_n,
        cases: Vec::new(),
        population: Vec::new(),
    };
    for (code, name, lon, lat) in villages {
        let Some((cases, denominators)) = cells.get(code.as_str()) else {
            continue;
        };
        if denominators.iter().sum::<f64>() <= 0.0 {
            continue;
        }
        data.cases.extend_from_slice(cases);
        data.population.extend_from_slice(denominators);
        data.ids.push(code.clone());
        data.lon.push(lon);
        data.lat.push(lat);
        out.codes.push(code);
        out.names.push(name);
        out.lon.push(lon);
        out.lat.push(lat);
    }
    out.cases = data.cases.iter().sum();
    out.clusters = blocking(move || spacetime::scan(&data, &opts)).await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_months_of_a_period_are_whole_and_inclusive() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let months = months_of(d(2024, 11, 15), d(2025, 2, 3));
        assert_eq!(
            months,
            vec![d(2024, 11, 1), d(2024, 12, 1), d(2025, 1, 1), d(2025, 2, 1)]
        );
        assert_eq!(
            months_of(d(2025, 3, 31), d(2025, 3, 31)),
            vec![d(2025, 3, 1)]
        );
    }

    #[test]
    fn models_fit_their_layers() {
        assert!(model_fits(HotspotSource::HumanCases, StModel::Poisson));
        assert!(!model_fits(HotspotSource::HumanCases, StModel::Bernoulli));
        assert!(!model_fits(HotspotSource::DogPositivity, StModel::Poisson));
        assert!(model_fits(
            HotspotSource::LivestockInfection,
            StModel::Bernoulli
        ));
        assert!(model_fits(
            HotspotSource::DogPositivity,
            StModel::Permutation
        ));
        assert_eq!(
            default_model(HotspotSource::DogPositivity),
            StModel::Bernoulli
        );
    }
}

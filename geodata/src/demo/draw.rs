//! Seeded random draws (one ChaCha8 stream per record kind and village or county), points near a
//! place, and the date arithmetic of the generator.

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use geo::{Contains, MultiPolygon, Point};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(super) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Record kinds, each with its own random stream per village (or county).
#[derive(Clone, Copy)]
pub(super) enum Stream {
    Plan = 1,
    CasePlan,
    Family,
    Household,
    People,
    Dogs,
    Deworm,
    Faecal,
    Stray,
    Slaughter,
    Vaccination,
    Rodent,
    Cases,
    Screening,
    Education,
    Stock,
}

pub(super) fn rng_for(seed: u64, stream: Stream, index: usize) -> ChaCha8Rng {
    let s = splitmix(seed ^ splitmix(((stream as u64) << 40) ^ index as u64));
    ChaCha8Rng::seed_from_u64(s)
}

pub(super) fn unit(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

pub(super) fn int(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> i64 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

pub(super) fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.random_bool(p.clamp(0.0, 1.0))
}

/// Index drawn with probability proportional to `weights`.
pub(super) fn weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return 0;
    }
    let mut r = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    weights.len().saturating_sub(1)
}

pub(super) fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let w: Vec<f64> = items.iter().map(|(_, w)| *w).collect();
    items[weighted(rng, &w)].0
}

pub(super) fn binomial(rng: &mut ChaCha8Rng, n: u32, p: f64) -> u32 {
    let p = p.clamp(0.0, 1.0);
    if n <= 300 {
        return (0..n).filter(|_| rng.random_bool(p)).count() as u32;
    }
    // Normal approximation with a continuity correction for large n.
    let mean = f64::from(n) * p;
    let sd = (mean * (1.0 - p)).sqrt();
    let z = normal(rng);
    (mean + sd * z).round().clamp(0.0, f64::from(n)) as u32
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub(super) fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    let l = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random_range(0.0..1.0);
        if p <= l || k > 1000 {
            return k;
        }
        k += 1;
    }
}

/// A point `r` km from `p` (uniform over the ring between `lo` and `hi` km).
pub(super) fn near(rng: &mut ChaCha8Rng, p: Point<f64>, lo: f64, hi: f64) -> Point<f64> {
    let angle = rng.random_range(0.0..std::f64::consts::TAU);
    let r = unit(rng, lo * lo, hi * hi).sqrt();
    let km_lat = 111.32;
    let km_lon = km_lat * p.y().to_radians().cos();
    Point::new(
        p.x() + r * angle.cos() / km_lon,
        p.y() + r * angle.sin() / km_lat,
    )
}

pub(super) fn near_inside(
    rng: &mut ChaCha8Rng,
    p: Point<f64>,
    lo: f64,
    hi: f64,
    area: &MultiPolygon<f64>,
) -> Point<f64> {
    for _ in 0..10 {
        let q = near(rng, p, lo, hi);
        if area.contains(&q) {
            return q;
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// Dates

pub(super) fn days(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_signed(TimeDelta::days(n)).unwrap_or(d)
}

pub(super) fn months(d: NaiveDate, n: i32) -> NaiveDate {
    let m = Months::new(n.unsigned_abs());
    if n >= 0 {
        d.checked_add_months(m)
    } else {
        d.checked_sub_months(m)
    }
    .unwrap_or(d)
}

pub(super) fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

pub(super) fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

pub(super) fn between(rng: &mut ChaCha8Rng, a: NaiveDate, b: NaiveDate) -> NaiveDate {
    let span = (b - a).num_days();
    if span <= 0 {
        a
    } else {
        days(a, rng.random_range(0..=span))
    }
}

pub(super) fn quarter(d: NaiveDate) -> u32 {
    (d.month() - 1) / 3 + 1
}

pub(super) fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    on.years_since(birth).unwrap_or(0)
}

//! The places (migration `places`): counties, neighbouring counties, rivers, townships, villages
//! and the yearly village denominators.

use chrono::Datelike;

use super::draw::splitmix;
use super::{Generator, Out};
use crate::GeodataError;
use crate::gazetteer::h3_cells;

pub(super) const COUNTIES: &[&str] = &["code", "name", "name_en", "geom", "source"];
const NEIGHBOURS: &[&str] = &["code", "name", "geom"];
const RIVERS: &[&str] = &["id", "name", "level", "geom"];
const TOWNSHIPS: &[&str] = &[
    "code",
    "county_code",
    "name",
    "kind",
    "seat",
    "seat_synthetic",
    "seat_confidence",
    "geom",
    "synthetic",
];
const VILLAGES: &[&str] = &[
    "id",
    "code",
    "township_code",
    "name",
    "kind",
    "geom",
    "boundary",
    "synthetic",
    "remote",
    "h3_r7",
    "h3_r8",
    "h3_r9",
];
const DENOMINATORS: &[&str] = &[
    "village_id",
    "year",
    "population",
    "households",
    "dogs_estimated",
    "sheep",
    "goats",
    "cattle",
    "horses",
    "camels",
    "synthetic",
];

impl<'g> Generator<'g> {
    pub(super) fn places<E: From<GeodataError>>(&self, out: &mut Out<'_, E>) -> Result<(), E> {
        out.begin("counties", COUNTIES)?;
        for c in &self.gaz.counties {
            out.t()
                .row()
                .field(&c.code)
                .field(&c.name)
                .field(&c.name_en)
                .field(&c.geom)
                .field(&c.source)
                .end();
            out.done()?;
        }
        out.begin("neighbour_counties", NEIGHBOURS)?;
        for n in &self.gaz.neighbours {
            out.t()
                .row()
                .field(&n.code)
                .field(&n.name)
                .field(&n.geom)
                .end();
            out.done()?;
        }
        out.begin("rivers", RIVERS)?;
        for (i, r) in self.gaz.rivers.iter().enumerate() {
            out.t()
                .row()
                .field(i + 1)
                .field(&r.name)
                .field(r.level)
                .field(&r.geom)
                .end();
            out.done()?;
        }
        out.begin("townships", TOWNSHIPS)?;
        for t in &self.gaz.townships {
            out.t()
                .row()
                .field(&t.code)
                .field(t.county_code())
                .field(&t.name)
                .field(t.kind)
                .field(t.seat)
                .field(t.seat_synthetic)
                .field(&t.seat_confidence)
                .field(&t.geom)
                .field(t.synthetic)
                .end();
            out.done()?;
        }
        out.begin("villages", VILLAGES)?;
        for (i, v) in self.gaz.villages.iter().enumerate() {
            let [r7, r8, r9] = h3_cells(v.position)?;
            out.t()
                .row()
                .field(i + 1)
                .field(&v.code)
                .field(&v.township_code)
                .field(&v.name)
                .field(v.kind)
                .field(v.position)
                .null()
                .field(v.synthetic)
                .field(v.remote)
                .field(r7 as i64)
                .field(r8 as i64)
                .field(r9 as i64)
                .end();
            out.done()?;
        }
        Ok(())
    }

    pub(super) fn denominators<E: From<GeodataError>>(
        &self,
        out: &mut Out<'_, E>,
    ) -> Result<(), E> {
        out.begin("village_denominators", DENOMINATORS)?;
        let this_year = self.today.year();
        for (vi, p) in self.plans.iter().enumerate() {
            for year in self.years() {
                // Earlier years: about 0.8% fewer people a year back, livestock varying ±6%.
                let back = f64::from(this_year - year);
                let jitter = 1.0
                    + 0.06 * ((splitmix(vi as u64 * 31 + year as u64) % 200) as f64 / 100.0 - 1.0);
                let pop = (f64::from(p.population) * (1.0 - 0.008 * back)).round() as u32;
                let hh = (p.households.len() as f64 * (1.0 - 0.006 * back)).round() as u32;
                let dogs = (f64::from(p.dogs()) / p.registration_rate * (1.0 - 0.03 * back)).round()
                    as u32;
                let stock = |k: usize| {
                    (f64::from(p.livestock[k]) * if back > 0.0 { jitter } else { 1.0 }).round()
                        as u32
                };
                out.t()
                    .row()
                    .field(vi + 1)
                    .field(year)
                    .field(pop)
                    .field(hh)
                    .field(dogs)
                    .field(stock(0))
                    .field(stock(1))
                    .field(stock(2))
                    .field(stock(3))
                    .field(stock(4))
                    .field(true)
                    .end();
                out.done()?;
            }
        }
        Ok(())
    }
}

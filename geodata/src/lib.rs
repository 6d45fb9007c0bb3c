//! The bundled geography of Qapqal Xibe Autonomous County (察布查尔锡伯自治县, 654022) and the
//! deterministic demo-data generator of echinomap.
//!
//! This crate knows no HTTP and no database: it turns the embedded source files (Tianditu county
//! polygons, GSHHG rivers, the NBS township and village codes, see `data/SOURCES.md`) into typed
//! places, and it writes demo registers as PostgreSQL `COPY` text that the server streams into the
//! tables of `migrations/`.
//!
//! Main types:
//! - [`gazetteer::Gazetteer`], built by [`gazetteer::qapqal`]: the county, its townships with
//!   synthetic Voronoi areas, its villages at synthetic positions, the neighbouring counties and the
//!   rivers; [`gazetteer::Gazetteer::scaled`] replicates the county into synthetic copies for load
//!   tests.
//! - [`copy::CopyTable`]: one batch of rows in PostgreSQL `COPY … FROM STDIN` text format.
//! - [`demo::generate`] with [`demo::DemoOptions`]: every register (households, people, dogs,
//!   deworming, slaughter, cases, follow-ups, screening, stock…) for a gazetteer, streamed as
//!   [`copy::CopyTable`] batches in foreign-key order; [`demo::planted_hotspots`] lists the high-risk
//!   areas planted in it.
//! - [`hotspots`]: H3 aggregation and the hotspot statistics (empirical-Bayes rates, Gi*, local
//!   and global Moran, FDR) and [`hotspots::scan`], Kulldorff's spatial scan statistic.
//! - [`linker`]: the one village linker (by code, by name with normalisation and fuzzy
//!   matching, by coordinates) and [`gcj02`]: WGS84 ↔ GCJ-02 for coordinates from Chinese map
//!   apps; [`cells`]: H3 parents and cell outlines.
//!
//! Every geometry is EPSG:4326 (longitude, latitude). Every village position and township area made
//! here is synthetic and flagged so.

pub mod cells;
pub mod copy;
pub mod demo;
pub mod gazetteer;
pub mod gcj02;
pub mod hotspots;
mod idcard;
pub mod import;
pub mod linker;
mod names;

pub use gazetteer::h3_cells;

/// What can go wrong while building the gazetteer.
#[derive(Debug, thiserror::Error)]
pub enum GeodataError {
    /// An embedded data file did not parse; the file is named, the message says where.
    #[error("cannot read the embedded file {file}: {message}")]
    EmbeddedData { file: &'static str, message: String },
    /// A coordinate outside the valid longitude/latitude range.
    #[error("invalid coordinate (lon {lon}, lat {lat}): {source}")]
    InvalidCoordinate {
        lon: f64,
        lat: f64,
        #[source]
        source: h3o::error::InvalidLatLng,
    },
    /// No position satisfying the placement rules was found for a village.
    #[error("cannot place village {code} inside the area of its township {township_code}")]
    Placement { code: String, township_code: String },
    /// A village refers to a township code that townships.csv does not have.
    #[error("village {code} refers to township {township_code}, which townships.csv does not list")]
    UnknownTownship { code: String, township_code: String },
}

//! The echinococcosis control programme on PostgreSQL + PostGIS, without HTTP: the registers
//! (their spec, parsing, writing, reading and import), the indicators, village risk, the control
//! stage, the export and OGC rows, summary counts, accounts, tokens and the password policy, the
//! audit log, the data-version watch and the caches keyed by it, and the database itself
//! (embedded cluster or `DATABASE_URL`, migrations).
//!
//! Main types: [`db::Database`], [`config::Programme`] (the programme's rules as the service runs
//! them), [`auth::Caller`] and [`auth::Scope`] (who asks, and the area they answer for),
//! [`records::spec::RegisterSpec`], [`watch::Watch`], [`error::Error`].
//!
//! The direction is `server → programme → {tiles, geodata} → domain`: this crate never depends on
//! axum, tower or tower-http (a workspace test checks it); `server` turns its results into HTTP.

pub mod audit;
pub mod auth;
pub mod backup;
pub mod config;
pub mod db;
pub mod demo;
pub mod derived;
pub mod duplicates;
pub mod embedded_pg;
pub mod error;
pub mod exports;
pub mod health;
pub mod hotspots;
pub mod indicators;
pub mod linking;
pub mod metrics;
pub mod quality;
pub mod records;
pub mod registers;
pub mod reports;
pub mod risk;
pub mod sizing;
pub mod stage;
pub mod stock;
pub mod summary;
pub mod tiles;
pub mod units;
pub mod villages;
pub mod watch;
pub mod workbook;
pub mod worklists;

pub use error::{Error, Result};

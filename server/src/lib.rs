//! echinomap's service: the HTTP API and web pages over PostgreSQL + PostGIS, the embedded
//! default database, and the `echinomap` command line.
//!
//! Main types: [`app::Application`] (a bound, ready-to-run server), [`settings::Settings`],
//! [`db::Database`] (embedded cluster or `DATABASE_URL`), [`error::AppError`] (every HTTP error).
//! This is the only crate that knows HTTP; geography and statistics live in `echinomap-geodata`,
//! tile logic in `echinomap-tiles`.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod cli_import;
pub mod cli_stats;
pub mod db;
pub mod demo;
pub mod embedded_pg;
pub mod error;
pub mod exports;
pub mod http;
pub mod indicators;
pub mod linking;
pub mod programme;
pub mod records;
pub mod registers;
pub mod reports;
pub mod risk;
pub mod settings;
pub mod stage;
pub mod telemetry;
pub mod watch;

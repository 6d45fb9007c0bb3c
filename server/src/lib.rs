//! echinomap's service: the HTTP API and web pages over the programme (`echinomap-programme`),
//! and the `echinomap` command line.
//!
//! Main types: [`app::Application`] (a bound, ready-to-run server), [`settings::Settings`],
//! [`http::AppState`] (what every handler shares), [`error::AppError`] (every HTTP error).
//! This is the only crate that knows HTTP: handlers parse the request, call the programme and
//! shape the response. The programme's logic and SQL live in `echinomap-programme`, geography
//! and statistics in `echinomap-geodata`, tile coordinates and SQL text in `echinomap-tiles`.

pub mod app;
pub mod cli;
pub mod config_file;
pub mod error;
pub mod http;
pub mod settings;
pub mod telemetry;

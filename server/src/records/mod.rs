//! The registers as records: one declaration per register ([`spec`]), one parser from cells to
//! typed, linked rows ([`parse`]), one batch writer ([`write`]) and one read side ([`read`]).
//! The JSON API (`/api/{register}`) and the bulk import (`/api/imports`, `echinomap import`)
//! both go through them, so a value the import refuses the API refuses too, with the same words.

pub mod import;
pub mod parse;
pub mod read;
pub mod spec;
pub mod templates;
mod villages;
pub mod write;

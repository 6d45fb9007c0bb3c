//! The registers as records: one declaration per register ([`spec`]), one parser from cells to
//! typed, linked rows ([`parse`]), one batch writer ([`write`]) and one read side ([`read`];
//! the patient register has its own line list, [`cases`]). The JSON API (`/api/{register}`,
//! one record at a time: [`one`]) and the bulk import (`/api/imports`, `echinomap import`:
//! [`import`], and [`villages`] for the gazetteer's villages) both go through them, so a value
//! the import refuses the API refuses too, with the same words.

pub mod cases;
pub mod import;
pub mod labels;
pub mod one;
pub mod parse;
pub mod read;
pub mod round;
pub mod schema;
pub mod spec;
pub mod templates;
mod villages;
pub mod write;

use std::sync::Arc;

use echinomap_geodata::import::headers::Kind;
use echinomap_geodata::linker::Linker;
use sqlx::PgPool;

use self::import::{Failure, Progress, Report, Request, Sheet, Who};

/// Runs an import of an already-read table: the gazetteer's villages ([`villages`]) or a
/// register ([`import`]). Commits unless refused or a dry run.
pub async fn run_import(
    pool: &PgPool,
    linker: &Arc<Linker>,
    who: &Who,
    req: &Request,
    id: &str,
    sheet: Sheet<'_>,
    progress: &Arc<Progress>,
) -> Result<Report, Failure> {
    if req.kind == Kind::Villages {
        villages::run(pool, who, req, id, sheet, progress).await
    } else {
        import::run_register(pool, linker, who, req, id, sheet, progress).await
    }
}

//! Prints the SQL of an export layer as declared in `programme/src/exports/mod.rs` (`$1` the
//! jurisdiction prefix, `$2`/`$3` the period's first and last day, `$4` a township or NULL), for
//! bench/exports.sh: ogr2ogr reads a view of the very same rows that echinomap exports.
//!
//!     cargo run --release -p echinomap-programme --example export_sql -- villages

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    match echinomap_programme::exports::layer(&name) {
        Some(layer) => print!("{}", layer.sql),
        None => {
            eprintln!("no export layer {name:?}");
            std::process::exit(2);
        }
    }
}

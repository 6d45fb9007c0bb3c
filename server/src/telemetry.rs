//! Logs to stderr, filtered by `ECHINOMAP_LOG` (or `RUST_LOG`); default `info`.
//! Nothing personal is ever a field of a log event: IDs of rows, codes of places, never names,
//! ID numbers or phones.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("ECHINOMAP_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info,sqlx=warn,tower_http=info".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

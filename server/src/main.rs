//! The `echinomap` binary: a thin shell over [`echinomap_server::cli`]. Errors end the process
//! with one line on stderr and exit code 1, never a panic or a backtrace.

use std::process::ExitCode;

use echinomap_server::config_file;

fn main() -> ExitCode {
    // The configuration file's values are the arguments' defaults (config_file.rs).
    let cli = match config_file::try_parse_from::<echinomap_server::cli::Cli>(std::env::args_os()) {
        Ok(cli) => cli,
        Err(config_file::Error::CommandLine(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    echinomap_server::telemetry::init();
    config_file::log_loaded();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(echinomap_server::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

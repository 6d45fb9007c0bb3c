//! The `echinomap` command line: `serve`, `demo-data`, `migrate`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::settings::{DemoSettings, Secret, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "echinomap",
    version,
    about = "Echinococcosis surveillance and control: registers, hotspots, maps"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web service (and the embedded database unless DATABASE_URL is set).
    Serve(ServeArgs),
    /// Generate the deterministic Qapqal demo data and load it into the database.
    DemoData(DemoDataArgs),
    /// Apply the database migrations and exit.
    Migrate(DatabaseArgs),
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Where the embedded database and local state live.
    #[arg(long, env = "ECHINOMAP_DATA_DIR", default_value = "var")]
    pub data_dir: PathBuf,
    /// An external PostgreSQL + PostGIS server; without it the embedded cluster is used.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Include the two XPCC regiment units (兵团) in the gazetteer.
    #[arg(long, env = "ECHINOMAP_INCLUDE_XPCC")]
    pub include_xpcc: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "ECHINOMAP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Load the Qapqal demo data when the database is empty.
    #[arg(long)]
    pub demo: bool,
    /// Seed of the demo data (with --demo).
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct DemoDataArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Same seed, same data.
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// Multiply villages and records (synthetic counties beside the real one), for benchmarks.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub scale: u32,
    /// The demo's "today" (YYYY-MM-DD); default: the current date.
    #[arg(long)]
    pub today: Option<chrono::NaiveDate>,
    /// Empty every register and the gazetteer first, then load.
    #[arg(long)]
    pub replace: bool,
}

impl DatabaseArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            data_dir: self.data_dir.clone(),
            database_url: self
                .database_url
                .clone()
                .filter(|u| !u.is_empty())
                .map(Secret::new),
            include_xpcc: self.include_xpcc,
            ..Settings::defaults()
        }
    }
}

impl ServeArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            listen: self.listen,
            demo: self.demo.then(|| DemoSettings {
                seed: self.seed,
                ..DemoSettings::default()
            }),
            ..self.db.settings()
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let app = crate::app::Application::build(args.settings()).await?;
            app.run_until_stopped(crate::app::shutdown_signal()).await
        }
        Command::DemoData(args) => {
            let settings = args.db.settings();
            let db = crate::db::Database::open(
                settings.database_url.as_ref().map(Secret::expose),
                &settings.data_dir,
            )
            .await?;
            let demo = DemoSettings {
                seed: args.seed,
                scale: args.scale,
                today: args
                    .today
                    .unwrap_or_else(|| chrono::Local::now().date_naive()),
            };
            let result = crate::demo::load(&db.pool, &demo, settings.include_xpcc, args.replace)
                .await
                .context("loading the demo data");
            let closed = db.close().await;
            let stats = result?;
            closed?;
            println!("{stats}");
            Ok(())
        }
        Command::Migrate(args) => {
            let settings = args.settings();
            let db = crate::db::Database::open(
                settings.database_url.as_ref().map(Secret::expose),
                &settings.data_dir,
            )
            .await?;
            println!("migrations applied to {}", db.description);
            db.close().await
        }
    }
}

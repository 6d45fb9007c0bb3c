//! The `echinomap` command line: `serve`, `demo-data`, `migrate`.

pub mod backup;
pub mod doctor;
pub mod import;
pub mod stats;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::settings::{Secret, Settings};
use echinomap_domain::privacy::Suppression;
use echinomap_programme::audit::Actor;
use echinomap_programme::auth::password::{self, PasswordPolicy};
use echinomap_programme::auth::sessions::Throttle;
use echinomap_programme::auth::{Role, store};
use echinomap_programme::demo::DemoSettings;

#[derive(Debug, Parser)]
#[command(
    name = "echinomap",
    version,
    about = "Echinococcosis surveillance and control: registers, hotspots, maps"
)]
pub struct Cli {
    /// The configuration file (TOML; default /etc/echinomap/echinomap.toml when it exists;
    /// `none`: no file). Flags and ECHINOMAP_* variables override its values.
    #[arg(long, env = "ECHINOMAP_CONFIG", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
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
    /// Manage accounts and API tokens (also `echinomap users`).
    #[command(alias = "users")]
    User(UserArgs),
    /// H3 hotspots of a CSV of places: EB rates, Gi*, local and global Moran, FDR.
    Hotspots(stats::HotspotsArgs),
    /// Kulldorff's spatial scan statistic on a CSV of locations.
    Scan(stats::ScanArgs),
    /// Import a register from CSV, XLSX or GeoJSON (as POST /api/imports).
    Import(import::ImportArgs),
    /// Check the installation: versions, schema, database settings, disk space, the last
    /// backup; every problem in plain words (Chinese, then English), exit 1 if any.
    Doctor(doctor::DoctorArgs),
    /// Write a backup (database dump, manifest, configuration) into the backup directory,
    /// then apply the retention (7 daily, 4 weekly, 12 monthly).
    Backup(backup::BackupArgs),
    /// Check a backup file, restore it into an empty database or a new data directory, and
    /// compare every table with its manifest.
    Restore(backup::RestoreArgs),
}

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password comes from --password-stdin, ECHINOMAP_NEW_PASSWORD, or
    /// is generated and printed once.
    Add {
        username: String,
        /// admin, epidemiologist, township_staff, village_doctor, vet, planner or viewer.
        #[arg(long)]
        role: String,
        /// The code of the county, township or village the user answers for.
        #[arg(long)]
        jurisdiction: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (ends the user's sessions and lifts a lockout).
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account (ends its sessions; its tokens stop working).
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// List the accounts.
    List,
    /// Create an API token for scripts and QGIS; printed once.
    Token {
        username: String,
        /// What the token is for.
        #[arg(long, default_value = "api")]
        name: String,
    },
    /// Revoke an API token by its id (effective at once).
    Revoke { token_id: i64 },
    /// Lift every wait after failed logins of a name, at every address (at once, also while
    /// the service runs).
    Unlock { username: String },
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Where the embedded database and local state live.
    #[arg(long, env = "ECHINOMAP_DATA_DIR", default_value = "var", global = true)]
    pub data_dir: PathBuf,
    /// An external PostgreSQL + PostGIS server; without it the embedded cluster is used.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// The first admin's password on a first start (else generated and logged once). A secret:
    /// ECHINOMAP_ADMIN_PASSWORD or the secrets file, never the command line of a service.
    #[arg(
        long,
        env = "ECHINOMAP_ADMIN_PASSWORD",
        hide = true,
        hide_env_values = true,
        global = true
    )]
    pub admin_password: Option<String>,
    /// Include the two XPCC regiment units (兵团) in the gazetteer.
    #[arg(long, env = "ECHINOMAP_INCLUDE_XPCC", global = true)]
    pub include_xpcc: bool,
    /// Password policy: `default` (at least 10 characters) or `mlps` (等保: upper, lower,
    /// digit and symbol; a new password every 90 days).
    #[arg(long, env = "ECHINOMAP_PASSWORD_POLICY", default_value = "default", value_parser = parse_policy, global = true)]
    pub password_policy: PasswordPolicy,
    /// Memory for rendered vector tiles, in MiB; 0 turns the tile cache off.
    #[arg(
        long,
        env = "ECHINOMAP_TILE_CACHE_MB",
        default_value_t = 256,
        global = true
    )]
    pub tile_cache_mb: u64,
    /// The longest a request's statement may run, in seconds (0: no limit).
    #[arg(
        long,
        env = "ECHINOMAP_STATEMENT_TIMEOUT_SECS",
        default_value_t = 15,
        global = true
    )]
    pub statement_timeout_secs: u64,
    /// The longest a tile's statement may run, in seconds (0: no limit).
    #[arg(
        long,
        env = "ECHINOMAP_TILE_STATEMENT_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub tile_statement_timeout_secs: u64,
    /// The longest a statement of long work may run (an import, a demo load, the deworming
    /// rollup's fill, migrations, an export's download), in seconds (0: no limit).
    #[arg(
        long,
        env = "ECHINOMAP_LONG_STATEMENT_TIMEOUT_SECS",
        default_value_t = 1800,
        global = true
    )]
    pub long_statement_timeout_secs: u64,
    /// The longest pause between two attempts to start again an embedded PostgreSQL that died.
    #[arg(
        long,
        env = "ECHINOMAP_PG_RESTART_MAX_BACKOFF_SECS",
        default_value_t = 30,
        global = true
    )]
    pub pg_restart_max_backoff_secs: u64,
    /// The embedded PostgreSQL's settings: `auto` sizes memory, WAL and parallelism from the
    /// host (shared buffers a quarter of the memory …); `small` keeps small fixed ones
    /// (training instances, tests).
    #[arg(long, env = "ECHINOMAP_DATABASE_SIZING", default_value = "auto", value_parser = parse_sizing, global = true)]
    pub database_sizing: echinomap_programme::sizing::Sizing,
    /// One PostgreSQL setting of the embedded cluster, NAME=VALUE (e.g. work_mem=64MB),
    /// replacing the sized one; repeat it, or separate them with commas in the variable.
    #[arg(long, env = "ECHINOMAP_PG_SETTING", value_delimiter = ',', value_parser = echinomap_programme::sizing::Override::parse, global = true)]
    pub pg_setting: Vec<echinomap_programme::sizing::Override>,
}

fn parse_sizing(s: &str) -> Result<echinomap_programme::sizing::Sizing, String> {
    echinomap_programme::sizing::Sizing::parse(s)
        .ok_or_else(|| format!("unknown database sizing {s:?}: use auto or small"))
}

fn parse_policy(s: &str) -> Result<PasswordPolicy, String> {
    PasswordPolicy::parse(s)
        .ok_or_else(|| format!("unknown password policy {s:?}: use default or mlps"))
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
    #[command(flatten)]
    pub programme: ProgrammeArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub login: LoginArgs,
    /// Serve HTTPS on --listen with this certificate: a PEM file, the server's certificate
    /// first, then the intermediates. Read again on SIGHUP (`systemctl reload echinomap`).
    #[arg(long, env = "ECHINOMAP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert: a PEM file (PKCS#8, RSA or EC).
    #[arg(long, env = "ECHINOMAP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// With TLS: also listen here for plain HTTP, and answer every request with a redirect to
    /// HTTPS (e.g. 0.0.0.0:80).
    #[arg(long, env = "ECHINOMAP_REDIRECT_LISTEN")]
    pub redirect_listen: Option<SocketAddr>,
    /// Where `echinomap backup` writes (default: DATA_DIR/backups): /metrics reports the age of
    /// the newest backup there.
    #[arg(long, env = "ECHINOMAP_BACKUP_DIR", value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Boxed: the command line's largest variant stays small.
    #[command(flatten)]
    pub wechat: Box<WechatArgs>,
}

/// The WeChat mini-program's sign-in (docs/API.md "WeChat mini-program sign-in"): off unless
/// both the AppID and the AppSecret are set.
#[derive(Debug, Args)]
pub struct WechatArgs {
    /// The mini-program's AppID (wx…), as registered on mp.weixin.qq.com.
    #[arg(long, env = "ECHINOMAP_WECHAT_APP_ID", value_name = "APPID")]
    pub wechat_app_id: Option<String>,
    /// The mini-program's AppSecret. A secret: ECHINOMAP_WECHAT_APP_SECRET or the secrets
    /// file (`wechat_app_secret`), never the command line of a service.
    #[arg(
        long,
        env = "ECHINOMAP_WECHAT_APP_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub wechat_app_secret: Option<String>,
    /// WeChat's API, where code2Session (/sns/jscode2session) is asked.
    #[arg(long, env = "ECHINOMAP_WECHAT_API_BASE", default_value = crate::settings::WECHAT_API_BASE, value_name = "URL", value_parser = parse_api_base)]
    pub wechat_api_base: String,
}

/// An https URL without a query, kept without its trailing `/`; plain http only to this
/// machine (a stand-in for tests and training): the AppSecret travels in the query.
fn parse_api_base(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let loopback = |u: &url::Url| match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    };
    match url::Url::parse(s) {
        Ok(u) if u.query().is_none() && u.has_host() && u.scheme() == "https" => Ok(s.to_owned()),
        Ok(u) if u.query().is_none() && u.scheme() == "http" && loopback(&u) => Ok(s.to_owned()),
        Ok(u) if u.scheme() == "http" => Err(format!(
            "{s:?}: plain http only to this machine (127.0.0.1, ::1, localhost); WeChat's API is https://api.weixin.qq.com (the AppSecret is sent with every request)"
        )),
        _ => Err(format!(
            "{s:?} is not an https URL such as https://api.weixin.qq.com"
        )),
    }
}

impl WechatArgs {
    pub fn settings(&self) -> crate::settings::WechatSettings {
        // An empty variable (`ECHINOMAP_WECHAT_APP_ID=`) is no value.
        let set = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        crate::settings::WechatSettings {
            app_id: set(&self.wechat_app_id),
            app_secret: set(&self.wechat_app_secret).map(Secret::new),
            api_base: self.wechat_api_base.clone(),
            ..Default::default()
        }
    }
}

/// The control programme's settings: rule files, the deworming day, work lists.
#[derive(Debug, Args)]
pub struct ProgrammeArgs {
    /// A stage rule file (JSON) replacing the built-in `config/stage_rules.json`.
    #[arg(long, env = "ECHINOMAP_STAGE_RULES")]
    pub stage_rules: Option<PathBuf>,
    /// A risk configuration (JSON) replacing the built-in `config/risk.json`.
    #[arg(long, env = "ECHINOMAP_RISK_CONFIG")]
    pub risk_config: Option<PathBuf>,
    /// The county's monthly deworming day (1–28).
    #[arg(long, env = "ECHINOMAP_DEWORMING_DAY", default_value_t = 15)]
    pub deworming_day: u32,
    /// Days a follow-up may be late before it counts as overdue.
    #[arg(long, env = "ECHINOMAP_FOLLOWUP_GRACE_DAYS", default_value_t = 0)]
    pub followup_grace_days: u32,
    /// A village is due for dog faecal sampling when its last sample is older than this many days.
    #[arg(long, env = "ECHINOMAP_FAECAL_SAMPLING_DAYS", default_value_t = 90)]
    pub faecal_sampling_days: u32,
    /// A fixed "today" (YYYY-MM-DD) for indicators, work lists and risk; default: the date.
    #[arg(long, env = "ECHINOMAP_TODAY")]
    pub today: Option<chrono::NaiveDate>,
    /// Counts from 1 to this are hidden from roles without case access (DOMAIN.md §7).
    #[arg(long, env = "ECHINOMAP_SMALL_COUNTS_INSIDE_MAX", default_value_t = Suppression::DEFAULT.inside_max())]
    pub small_counts_inside_max: i64,
    /// Counts from 1 to this are hidden in what is shared outside the organisation.
    #[arg(long, env = "ECHINOMAP_SMALL_COUNTS_OUTSIDE_MAX", default_value_t = Suppression::DEFAULT.outside_max())]
    pub small_counts_outside_max: i64,
}

impl ProgrammeArgs {
    pub fn settings(&self) -> echinomap_programme::config::ProgrammeSettings {
        echinomap_programme::config::ProgrammeSettings {
            stage_rules: self.stage_rules.clone(),
            risk_config: self.risk_config.clone(),
            deworming_day: self.deworming_day,
            followup_grace_days: self.followup_grace_days,
            faecal_sampling_days: self.faecal_sampling_days,
            today: self.today,
            small_counts: (self.small_counts_inside_max, self.small_counts_outside_max),
        }
    }
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
    /// The statement limits and the embedded cluster's restart pauses.
    pub fn database_settings(&self) -> echinomap_programme::db::DbSettings {
        use std::time::Duration;
        echinomap_programme::db::DbSettings {
            limits: echinomap_programme::db::Limits {
                request: Duration::from_secs(self.statement_timeout_secs),
                tile: Duration::from_secs(self.tile_statement_timeout_secs),
                long: Duration::from_secs(self.long_statement_timeout_secs),
            },
            restart: echinomap_programme::embedded_pg::RestartPolicy {
                max_backoff: Duration::from_secs(self.pg_restart_max_backoff_secs.max(1)),
                ..Default::default()
            },
            sizing: self.database_sizing,
            pg_settings: self.pg_setting.clone(),
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            data_dir: self.data_dir.clone(),
            database_url: self
                .database_url
                .clone()
                .filter(|u| !u.is_empty())
                .map(Secret::new),
            include_xpcc: self.include_xpcc,
            password_policy: self.password_policy,
            tile_cache_mb: self.tile_cache_mb,
            database: self.database_settings(),
            admin_password: self
                .admin_password
                .clone()
                .filter(|p| !p.is_empty())
                .map(Secret::new),
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
            programme: self.programme.settings(),
            http: self.http.limits(),
            login: self.login.settings(),
            tls: crate::settings::TlsSettings {
                cert: self.tls_cert.clone(),
                key: self.tls_key.clone(),
                redirect_listen: self.redirect_listen,
            },
            // An empty variable (`ECHINOMAP_BACKUP_DIR=`) is the default.
            backup_dir: self
                .backup_dir
                .clone()
                .filter(|d| !d.as_os_str().is_empty()),
            wechat: self.wechat.settings(),
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
            let db = echinomap_programme::db::Database::open(
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
            let result = echinomap_programme::demo::load(
                &db.pool,
                &demo,
                settings.include_xpcc,
                args.replace,
            )
            .await
            .context("loading the demo data");
            let closed = db.close().await;
            let stats = result?;
            closed?;
            println!("{stats}");
            Ok(())
        }
        Command::User(args) => run_user(args).await,
        Command::Hotspots(args) => stats::run_hotspots(args).await,
        Command::Scan(args) => stats::run_scan(args).await,
        Command::Import(args) => import::run(args).await,
        Command::Doctor(args) => doctor::run(args).await,
        Command::Backup(args) => backup::run_backup(args).await,
        Command::Restore(args) => backup::run_restore(args).await,
        Command::Migrate(args) => {
            let settings = args.settings();
            let db = echinomap_programme::db::Database::open_with(
                settings.database_url.as_ref().map(Secret::expose),
                &settings.data_dir,
                settings.database.clone(),
            )
            .await?;
            println!("migrations applied to {}", db.description);
            db.close().await
        }
    }
}

/// A password for `user add`/`user passwd`: stdin, the environment, or a generated one that
/// is printed once.
fn new_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let p = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!p.is_empty(), "no password on standard input");
        return Ok((p, false));
    }
    if let Some(p) = std::env::var("ECHINOMAP_NEW_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
    {
        return Ok((p, false));
    }
    Ok((password::generate(), true))
}

async fn run_user(args: UserArgs) -> anyhow::Result<()> {
    let settings = args.db.settings();
    let db = echinomap_programme::db::Database::open(
        settings.database_url.as_ref().map(Secret::expose),
        &settings.data_dir,
    )
    .await?;
    // Accounts need the gazetteer (jurisdictions are its codes).
    echinomap_programme::demo::load_gazetteer_if_empty(&db.pool, settings.include_xpcc).await?;
    let result = user_command(&db.pool, args.command, settings.password_policy).await;
    let closed = db.close().await;
    result?;
    closed
}

async fn user_command(
    pool: &sqlx::PgPool,
    command: UserCommand,
    policy: PasswordPolicy,
) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let app = |e: echinomap_programme::Error| anyhow::anyhow!("{e}");
    match command {
        UserCommand::Add {
            username,
            role,
            jurisdiction,
            display_name,
            password_stdin,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown role {role:?}; one of {}",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })?;
            let (password, generated) = new_password(password_stdin)?;
            let user = store::create(
                pool,
                store::NewUser {
                    username,
                    display_name,
                    role,
                    jurisdiction,
                    password: password.clone(),
                    demo: false,
                },
                policy,
                &actor,
            )
            .await
            .map_err(app)?;
            println!(
                "created {} ({}, {})",
                user.username,
                user.role.as_str(),
                user.jurisdiction
            );
            if generated {
                println!("password (shown once): {password}");
            }
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let (password, generated) = new_password(password_stdin)?;
            store::set_password(pool, &username, &password, policy, &actor)
                .await
                .map_err(app)?;
            println!("password of {username} changed");
            if generated {
                println!("password (shown once): {password}");
            }
        }
        UserCommand::Disable { username } => {
            store::set_disabled(pool, &username, true, &actor)
                .await
                .map_err(app)?;
            println!("{username} disabled");
        }
        UserCommand::Enable { username } => {
            store::set_disabled(pool, &username, false, &actor)
                .await
                .map_err(app)?;
            println!("{username} enabled");
        }
        UserCommand::List => {
            println!(
                "{:<24} {:<16} {:<14} {:<8} {:<6}",
                "username", "role", "jurisdiction", "status", "demo"
            );
            for u in store::list(pool).await? {
                println!(
                    "{:<24} {:<16} {:<14} {:<8} {:<6}",
                    u.username,
                    u.role.as_str(),
                    u.jurisdiction,
                    if u.disabled { "disabled" } else { "active" },
                    if u.demo { "yes" } else { "" }
                );
            }
        }
        UserCommand::Token { username, name } => {
            let (id, token) = store::create_token(pool, &username, &name, &actor)
                .await
                .map_err(app)?;
            println!(
                "token id {id} for {username} (shown once; send it as `Authorization: Bearer <token>`):"
            );
            println!("{token}");
        }
        UserCommand::Unlock { username } => {
            let cleared = store::unlock(pool, &username, &actor).await.map_err(app)?;
            println!("{username} unlocked ({cleared} addresses with failed logins cleared)");
        }
        UserCommand::Revoke { token_id } => {
            store::revoke_token(pool, token_id, &actor)
                .await
                .map_err(app)?;
            println!("token {token_id} revoked");
        }
    }
    Ok(())
}

/// What one client may hold or send (README "HTTP limits").
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Seconds for a request's line and headers to arrive.
    #[arg(long, env = "ECHINOMAP_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,
    /// Seconds a request body may send nothing before it is cut.
    #[arg(long, env = "ECHINOMAP_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_secs: u64,
    /// Seconds a kept-alive connection may wait for its next request.
    #[arg(long, env = "ECHINOMAP_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "ECHINOMAP_MAX_CONNECTIONS", default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// The most characters of one query parameter.
    #[arg(long, env = "ECHINOMAP_MAX_PARAM_CHARS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_param_chars: u64,
    /// Send Strict-Transport-Security, for a TLS proxy in front (with --tls-cert it is sent
    /// anyway).
    #[arg(long, env = "ECHINOMAP_HSTS")]
    pub hsts: bool,
}

impl HttpArgs {
    pub fn limits(&self) -> crate::settings::HttpLimits {
        use std::time::Duration;
        crate::settings::HttpLimits {
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            max_connections: self.max_connections,
            max_param_chars: usize::try_from(self.max_param_chars).unwrap_or(usize::MAX),
            hsts: self.hsts,
        }
    }
}

/// How logins are throttled (README "Logins").
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Login attempts one client address may make in a minute (any name, right or wrong).
    #[arg(long, env = "ECHINOMAP_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = Throttle::DEFAULT.per_address_per_minute, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_attempts_per_minute: u32,
    /// Failed logins of one name from one address before its attempts from there wait.
    #[arg(long, env = "ECHINOMAP_LOGIN_FREE_FAILURES", default_value_t = Throttle::DEFAULT.free_failures)]
    pub login_free_failures: u32,
    /// The wait after the last free failure, in seconds; it doubles with each further failure.
    #[arg(long, env = "ECHINOMAP_LOGIN_FIRST_DELAY_SECS", default_value_t = Throttle::DEFAULT.first_delay_secs, value_parser = clap::value_parser!(u64).range(1..))]
    pub login_first_delay_secs: u64,
    /// The longest wait after failed logins, in seconds.
    #[arg(long, env = "ECHINOMAP_LOGIN_MAX_DELAY_SECS", default_value_t = Throttle::DEFAULT.max_delay_secs, value_parser = clap::value_parser!(u64).range(1..))]
    pub login_max_delay_secs: u64,
    /// Reverse proxies whose X-Forwarded-For names the client: addresses or CIDR ranges,
    /// comma-separated (default none: the client is the connection's peer).
    #[arg(long, env = "ECHINOMAP_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    pub trusted_proxies: Vec<Option<ipnet::IpNet>>,
}

/// An address (`10.0.0.5`, a network of one) or a CIDR range (`10.0.0.0/8`); nothing for an
/// empty value (`ECHINOMAP_TRUSTED_PROXIES=`).
fn parse_net(s: &str) -> Result<Option<ipnet::IpNet>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(Some)
        .map_err(|_| format!("{s:?} is not an IP address or a CIDR range (10.0.0.0/8)"))
}

impl LoginArgs {
    pub fn settings(&self) -> crate::settings::LoginSettings {
        crate::settings::LoginSettings {
            throttle: Throttle {
                per_address_per_minute: self.login_attempts_per_minute,
                free_failures: self.login_free_failures,
                first_delay_secs: self.login_first_delay_secs,
                max_delay_secs: self.login_max_delay_secs,
            },
            trusted_proxies: self.trusted_proxies.iter().flatten().copied().collect(),
        }
    }
}

//! One typed configuration. Every setting has a default that runs the demo with no
//! configuration at all; each can be set by a command-line flag or an `ECHINOMAP_*` variable
//! (`DATABASE_URL` for an external database).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use echinomap_programme::auth::password::PasswordPolicy;
use echinomap_programme::demo::DemoSettings;

/// A value that must not be printed: `Debug` shows `***`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; default 127.0.0.1:8080.
    pub listen: SocketAddr,
    /// Root of the embedded cluster (`DATA_DIR/pg`) and other local state; default `./var`.
    pub data_dir: PathBuf,
    /// An external PostgreSQL + PostGIS; when unset, the embedded cluster is used.
    pub database_url: Option<Secret>,
    /// Load the demo data into an empty database at start.
    pub demo: Option<DemoSettings>,
    /// Include the two XPCC regiment units (兵团) in the gazetteer; off by default.
    pub include_xpcc: bool,
    /// `default` (10 characters) or `mlps` (等保: four classes, 90-day expiry).
    pub password_policy: PasswordPolicy,
    /// The first admin's password on a first start; random (printed once) when unset.
    pub admin_password: Option<Secret>,
    /// Memory for rendered tiles, in MiB (0 turns the tile cache off).
    pub tile_cache_mb: u64,
    /// Stage rules, risk weights, deworming day, work-list settings.
    pub programme: echinomap_programme::config::ProgrammeSettings,
    /// How logins are throttled and whose `X-Forwarded-For` is believed (README "Logins").
    pub login: LoginSettings,
    /// Connection timeouts and caps, parameter lengths, HSTS (README "HTTP limits").
    pub http: HttpLimits,
    /// Statement time limits per class of work, and the embedded cluster's restarts.
    pub database: echinomap_programme::db::DbSettings,
    /// HTTPS on `listen`, and the plain-HTTP redirect (`http::tls`); none by default.
    pub tls: TlsSettings,
    /// Where `echinomap backup` writes (`--backup-dir`); `None`: `DATA_DIR/backups`
    /// ([`Settings::backup_dir`]). `/metrics` reports the newest backup there.
    pub backup_dir: Option<PathBuf>,
    /// The WeChat mini-program's sign-in (`http::wechat`): off unless an AppID and AppSecret
    /// are set.
    pub wechat: WechatSettings,
}

/// The mini-program's AppID and AppSecret, and where code2Session is asked
/// (`/sns/jscode2session` under `api_base`). Without both the AppID and the AppSecret the
/// sign-in routes answer 503 `wechat_not_configured`.
#[derive(Debug, Clone)]
pub struct WechatSettings {
    pub app_id: Option<String>,
    pub app_secret: Option<Secret>,
    /// WeChat's API, `https://api.weixin.qq.com` by default; tests point it at a stand-in.
    pub api_base: String,
    /// The longest wait for a connection to WeChat.
    pub connect_timeout: std::time::Duration,
    /// The longest wait for WeChat's whole answer, connection included.
    pub timeout: std::time::Duration,
}

/// WeChat's API base URL.
pub const WECHAT_API_BASE: &str = "https://api.weixin.qq.com";

impl Default for WechatSettings {
    fn default() -> Self {
        Self {
            app_id: None,
            app_secret: None,
            api_base: WECHAT_API_BASE.to_owned(),
            connect_timeout: std::time::Duration::from_secs(3),
            timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// The certificate and key (PEM files) that make `listen` serve HTTPS, and the address whose
/// plain HTTP only redirects to it. Both files or neither; the redirect only with them
/// (`http::tls::Tls::from_settings` checks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub redirect_listen: Option<SocketAddr>,
}

impl Settings {
    pub fn defaults() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("var"),
            database_url: None,
            demo: None,
            include_xpcc: false,
            password_policy: PasswordPolicy::Default,
            admin_password: None,
            tile_cache_mb: 256,
            programme: echinomap_programme::config::ProgrammeSettings::default(),
            login: LoginSettings::default(),
            http: HttpLimits::default(),
            database: echinomap_programme::db::DbSettings::default(),
            tls: TlsSettings::default(),
            backup_dir: None,
            wechat: WechatSettings::default(),
        }
    }

    /// The backup directory: `--backup-dir`, else `DATA_DIR/backups`.
    pub fn backup_dir(&self) -> PathBuf {
        self.backup_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
    }
}

/// What one client may hold or send (README "HTTP limits"): the serve loop
/// (`http::connections`) applies the timeouts and the connection cap, `http::hardening` the
/// parameter length and HSTS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's line and headers must arrive within this, from the connection's start or the
    /// first byte of a later request.
    pub header_timeout: std::time::Duration,
    /// A request body that sends nothing for this long is cut (the time between chunks, not the
    /// whole upload).
    pub body_timeout: std::time::Duration,
    /// A kept-alive connection with no request for this long is closed (never while an answer is
    /// being computed or written).
    pub idle_timeout: std::time::Duration,
    /// Connections served at once; more wait in the listen backlog until one closes.
    pub max_connections: u32,
    /// The most characters of one query parameter (name or value); longer is a 400.
    pub max_param_chars: usize,
    /// Send `Strict-Transport-Security`: for a TLS proxy in front; with echinomap's own TLS it
    /// is sent anyway (`Application::build`).
    pub hsts: bool,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(30),
            idle_timeout: std::time::Duration::from_secs(60),
            max_connections: 2048,
            max_param_chars: 1000,
            hsts: false,
        }
    }
}

/// How logins are throttled (`echinomap_programme::auth::sessions::Throttle`: attempts per
/// client address and minute, the free failures of a name at an address, the longest wait) and
/// which proxies may name the client in `X-Forwarded-For` (none by default: the client is the
/// connection's peer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginSettings {
    pub throttle: echinomap_programme::auth::sessions::Throttle,
    /// Addresses or CIDR ranges of the reverse proxies in front of the service.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

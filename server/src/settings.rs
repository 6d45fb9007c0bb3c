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
        }
    }
}

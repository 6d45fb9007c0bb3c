//! The configuration file: `/etc/echinomap/echinomap.toml` on an installed host.
//!
//! ```toml
//! # /etc/echinomap/echinomap.toml (flat keys; every one optional)
//! listen = "0.0.0.0:443"
//! redirect_listen = "0.0.0.0:80"
//! tls_cert = "/etc/echinomap/tls/fullchain.pem"
//! tls_key = "/etc/echinomap/tls/privkey.pem"
//! data_dir = "/var/lib/echinomap"
//! backup_dir = "/var/lib/echinomap/backups"
//! database_sizing = "auto"
//! pg_setting = ["work_mem=64MB"]       # a list argument takes a TOML array
//! trusted_proxies = ["127.0.0.1"]
//! hsts = true                          # a switch takes a TOML boolean
//! tile_cache_mb = 512                  # numbers may be TOML numbers or strings
//! secrets_file = "/etc/echinomap/secrets.toml"
//!
//! # /etc/echinomap/secrets.toml (mode 0600, only the secret keys)
//! database_url = "postgres://echinomap:…@db.internal/echinomap"
//! admin_password = "…"
//! wechat_app_secret = "…"             # with wechat_app_id = "wx…" in the main file
//! ```
//!
//! **Keys.** A key is the long option of a command-line argument that has an `ECHINOMAP_*`
//! variable (or `DATABASE_URL`), with `-` written `_`: `--tile-cache-mb` /
//! `ECHINOMAP_TILE_CACHE_MB` is `tile_cache_mb`. The keys are found by walking the clap
//! command of every subcommand, never listed by hand, so an argument added to the command line
//! is a key of the file at once; `echinomap` names them all when it meets an unknown key. One
//! file serves every subcommand (`serve`, `migrate`, `backup`, `doctor` …): a key the running
//! subcommand does not have is ignored, a key no subcommand has is an error.
//!
//! **Precedence.** Command-line flag, then `ECHINOMAP_*` variable, then the file, then the
//! built-in default. The file's values become the arguments' defaults before clap parses the
//! command line, so clap itself applies the order; the environment is never modified.
//!
//! **Checks.** Every value goes through the argument's own clap value parser before anything
//! starts: `error: FILE: listen: invalid value "x": invalid socket address syntax`. A switch
//! takes `true` or `false`; an array is accepted only by a list argument. An unknown key:
//! `error: FILE: unknown key "listn" (known keys: …)`. Exit status 1, nothing started.
//!
//! **Secrets.** The secret keys are the arguments whose environment values clap hides
//! (`hide_env_values`): today `database_url`, `admin_password` and `wechat_app_secret`. They belong in the file named
//! by `secrets_file` (a relative path is taken from the main file's directory); the main file
//! may not hold them, and the secrets file may hold nothing else. A secrets file that its group
//! or others may read (`mode & 0o077 != 0`) is refused; a secret's value is never shown in
//! `--help`.
//!
//! **Which file.** `--config PATH` (a global flag of every subcommand) or `ECHINOMAP_CONFIG`;
//! without either, `/etc/echinomap/echinomap.toml` when it exists and the running user can read
//! it; `--config none` reads no file. [`loaded`] tells the rest of the program which files were
//! read (backups archive them).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::{ArgAction, Command};

/// The file read when neither `--config` nor `ECHINOMAP_CONFIG` names one.
pub const DEFAULT_PATH: &str = "/etc/echinomap/echinomap.toml";
/// The variable that names the file (as `--config`).
pub const CONFIG_ENV: &str = "ECHINOMAP_CONFIG";
/// The value of `--config` / `ECHINOMAP_CONFIG` that reads no file at all.
pub const NONE: &str = "none";
/// The main file's key naming the secrets file.
pub const SECRETS_FILE_KEY: &str = "secrets_file";

/// The files this process read its configuration from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub path: PathBuf,
    pub secrets_path: Option<PathBuf>,
}

static LOADED: OnceLock<Loaded> = OnceLock::new();

/// The configuration files read at start, if any (set once, before the command runs).
pub fn loaded() -> Option<&'static Loaded> {
    LOADED.get()
}

/// Why the configuration could not be used. Each is one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read it: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not valid TOML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}: unknown key {key:?} (known keys: {})", path.display(), known.join(", "))]
    UnknownKey {
        path: PathBuf,
        key: String,
        known: Vec<String>,
    },
    #[error("{}: {key}: invalid value {value:?}: {reason}", path.display())]
    BadValue {
        path: PathBuf,
        key: String,
        value: String,
        reason: String,
    },
    #[error("{}: {key}: {expected}", path.display())]
    WrongType {
        path: PathBuf,
        key: String,
        expected: &'static str,
    },
    #[error(
        "{}: {key} is a secret: it belongs in the secrets file (secrets_file = \"/etc/echinomap/secrets.toml\", mode 0600)",
        path.display()
    )]
    SecretInMainFile { path: PathBuf, key: String },
    #[error(
        "{}: {key} is not a secret: it belongs in the main configuration file (the secrets file holds only {})",
        path.display(), secrets.join(", ")
    )]
    NotASecret {
        path: PathBuf,
        key: String,
        secrets: Vec<String>,
    },
    #[error("{} is readable by others (mode {mode:04o}): chmod 600 it", path.display())]
    SecretsReadable { path: PathBuf, mode: u32 },
    /// The command line itself is wrong (or asks for help): clap prints and exits.
    #[error("{0}")]
    CommandLine(#[from] clap::Error),
}

/// Parses the command line of `P` with the configuration file's values as the arguments'
/// defaults, and records the file in [`loaded`].
pub fn try_parse_from<P: clap::Parser>(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<P, Error> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let env = std::env::var_os(CONFIG_ENV);
    let mut cmd = P::command();
    if let Some(path) = locate(&args, env.as_deref(), Path::new(DEFAULT_PATH)) {
        let (values, loaded) = read(&cmd, &path)?;
        cmd = apply(cmd, &values);
        // A second parse in one process (tests) keeps the first record.
        let _ = LOADED.set(loaded);
    }
    let mut matches = cmd.try_get_matches_from_mut(args)?;
    Ok(
        <P as clap::FromArgMatches>::from_arg_matches_mut(&mut matches)
            .map_err(|e| e.format(&mut cmd))?,
    )
}

/// The file to read: `--config` (or `--config=`), else `ECHINOMAP_CONFIG`, else `default` when
/// it can be opened; `none` in either place reads none.
fn locate(args: &[OsString], env: Option<&OsStr>, default: &Path) -> Option<PathBuf> {
    let mut flag = None;
    for (i, a) in args.iter().enumerate().skip(1) {
        if a == "--" {
            break;
        }
        if a == "--config" {
            flag = args.get(i + 1).cloned();
        } else if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            flag = Some(OsString::from(v));
        }
    }
    match flag.or_else(|| env.filter(|e| !e.is_empty()).map(OsStr::to_owned)) {
        Some(named) if named == NONE => None,
        Some(named) => Some(PathBuf::from(named)),
        None => std::fs::File::open(default)
            .is_ok()
            .then(|| default.to_owned()),
    }
}

/// One argument that a key sets: the subcommand it is defined in, and how it takes values.
#[derive(Debug, Clone)]
struct Target {
    path: Vec<String>,
    long: String,
    switch: bool,
    list: bool,
    secret: bool,
}

/// Every key of the file, with the arguments it sets (one per subcommand defining it).
fn keys(cmd: &Command) -> BTreeMap<String, Vec<Target>> {
    fn walk(cmd: &Command, path: &mut Vec<String>, out: &mut BTreeMap<String, Vec<Target>>) {
        for arg in cmd.get_arguments() {
            let (Some(long), Some(key)) = (arg.get_long(), key_of(arg)) else {
                continue;
            };
            out.entry(key).or_default().push(Target {
                path: path.clone(),
                long: long.to_owned(),
                switch: matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse),
                list: matches!(arg.get_action(), ArgAction::Append)
                    || arg.get_value_delimiter().is_some(),
                secret: arg.is_hide_env_values_set(),
            });
        }
        for sub in cmd.get_subcommands() {
            path.push(sub.get_name().to_owned());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut out = BTreeMap::new();
    walk(cmd, &mut Vec::new(), &mut out);
    out
}

/// The key of an argument the file may set: its long option in snake case, when it has an
/// `ECHINOMAP_*` variable (besides `ECHINOMAP_CONFIG`) or `DATABASE_URL`.
fn key_of(arg: &clap::Arg) -> Option<String> {
    let env = arg.get_env()?.to_str()?;
    let configurable =
        env == "DATABASE_URL" || (env.starts_with("ECHINOMAP_") && env != CONFIG_ENV);
    configurable.then(|| arg.get_long().map(|l| l.replace('-', "_")))?
}

/// Reads the main file (and its secrets file) into checked values per key.
fn read(cmd: &Command, path: &Path) -> Result<(BTreeMap<String, Vec<String>>, Loaded), Error> {
    let keys = keys(cmd);
    let known = || {
        let mut k: Vec<String> = keys.keys().cloned().collect();
        k.push(SECRETS_FILE_KEY.to_owned());
        k.sort();
        k
    };
    let secret_keys = || -> Vec<String> {
        keys.iter()
            .filter(|(_, t)| t.iter().any(|t| t.secret))
            .map(|(k, _)| k.clone())
            .collect()
    };
    let mut values = BTreeMap::new();
    let mut secrets_path = None;
    for (key, value) in parse_file(path)? {
        flat(path, &key, &value)?;
        if key == SECRETS_FILE_KEY {
            let toml::Value::String(file) = value else {
                return Err(Error::WrongType {
                    path: path.to_owned(),
                    key,
                    expected: "expects the path of the secrets file, as a string",
                });
            };
            let file = PathBuf::from(file);
            secrets_path = Some(match path.parent() {
                Some(dir) if file.is_relative() => dir.join(file),
                _ => file,
            });
            continue;
        }
        let Some(targets) = keys.get(&key) else {
            return Err(Error::UnknownKey {
                path: path.to_owned(),
                key,
                known: known(),
            });
        };
        if targets.iter().any(|t| t.secret) {
            return Err(Error::SecretInMainFile {
                path: path.to_owned(),
                key,
            });
        }
        let v = strings(path, &key, value, targets)?;
        values.insert(key, v);
    }
    if let Some(secrets) = &secrets_path {
        check_private(secrets)?;
        for (key, value) in parse_file(secrets)? {
            flat(secrets, &key, &value)?;
            let Some(targets) = keys.get(&key).filter(|_| key != SECRETS_FILE_KEY) else {
                return Err(Error::UnknownKey {
                    path: secrets.clone(),
                    key,
                    known: known(),
                });
            };
            if !targets.iter().any(|t| t.secret) {
                return Err(Error::NotASecret {
                    path: secrets.clone(),
                    key,
                    secrets: secret_keys(),
                });
            }
            let v = strings(secrets, &key, value, targets)?;
            values.insert(key, v);
        }
    }
    check_values(cmd, &keys, &values, path, secrets_path.as_deref())?;
    // Absolute, for the log and for a backup taken from another directory.
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    Ok((
        values,
        Loaded {
            path: absolute(path),
            secrets_path: secrets_path.as_deref().map(absolute),
        },
    ))
}

/// `[server]` and its like: the keys are flat.
fn flat(path: &Path, key: &str, value: &toml::Value) -> Result<(), Error> {
    match value {
        toml::Value::Table(_) => Err(Error::WrongType {
            path: path.to_owned(),
            key: key.to_owned(),
            expected: TABLE,
        }),
        _ => Ok(()),
    }
}

const TABLE: &str =
    "a table is not a value: the keys are flat (write `key = value` at the top level)";

fn parse_file(path: &Path) -> Result<toml::Table, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<toml::Table>().map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        Error::Syntax {
            path: path.to_owned(),
            message: match line {
                Some(line) => format!("line {line}: {}", e.message().trim_end()),
                None => e.message().trim_end().to_owned(),
            },
        }
    })
}

/// The secrets file must be the service's alone.
fn check_private(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Error::SecretsReadable {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// A TOML value as the argument's command-line values: a switch takes a boolean, a list
/// argument an array or one value, any other argument one string, number or date.
fn strings(
    path: &Path,
    key: &str,
    value: toml::Value,
    targets: &[Target],
) -> Result<Vec<String>, Error> {
    let wrong = |expected| Error::WrongType {
        path: path.to_owned(),
        key: key.to_owned(),
        expected,
    };
    if targets.iter().all(|t| t.switch) {
        return match value {
            toml::Value::Boolean(b) => Ok(vec![b.to_string()]),
            _ => Err(wrong("expects true or false")),
        };
    }
    let scalar = |v: toml::Value| match v {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        toml::Value::Array(_) => Err(wrong("a list inside a list is not a value")),
        toml::Value::Table(_) => Err(wrong(TABLE)),
    };
    match value {
        toml::Value::Array(items) if targets.iter().any(|t| t.list) => {
            items.into_iter().map(scalar).collect()
        }
        toml::Value::Array(_) => Err(wrong("takes one value, not a list")),
        other => Ok(vec![scalar(other)?]),
    }
}

/// Runs every value through its argument's own value parser, in every subcommand that defines
/// the argument, before anything starts (clap checks defaults only when they are used).
fn check_values(
    cmd: &Command,
    keys: &BTreeMap<String, Vec<Target>>,
    values: &BTreeMap<String, Vec<String>>,
    path: &Path,
    secrets_path: Option<&Path>,
) -> Result<(), Error> {
    // The process's own ECHINOMAP_* variables must not speak in the check of the file.
    let probe = without_env(cmd.clone());
    let mut by_command: BTreeMap<&[String], Vec<(&str, &Target)>> = BTreeMap::new();
    for (key, targets) in keys {
        if values.contains_key(key) {
            for t in targets.iter().filter(|t| !t.switch) {
                by_command.entry(&t.path).or_default().push((key, t));
            }
        }
    }
    for (sub, args) in by_command {
        let argv = |args: &[(&str, &Target)]| -> Vec<String> {
            let mut argv = vec![cmd.get_name().to_owned()];
            argv.extend(sub.iter().cloned());
            for (key, t) in args {
                for v in values.get(*key).into_iter().flatten() {
                    argv.push(format!("--{}={v}", t.long));
                }
            }
            argv
        };
        if bad_value(&probe, argv(&args)).is_none() {
            continue;
        }
        // Which one: each alone.
        for one in args.chunks(1) {
            if let Some(reason) = bad_value(&probe, argv(one)) {
                let (key, t) = one[0];
                let file = match secrets_path {
                    Some(s) if t.secret => s,
                    _ => path,
                };
                let value = if t.secret {
                    "…".to_owned()
                } else {
                    values.get(key).map(|v| v.join(",")).unwrap_or_default()
                };
                return Err(Error::BadValue {
                    path: file.to_owned(),
                    key: key.to_owned(),
                    value,
                    reason,
                });
            }
        }
    }
    Ok(())
}

fn without_env(cmd: Command) -> Command {
    cmd.mut_args(|a| a.env(None::<&str>))
        .mut_subcommands(without_env)
}

/// The reason clap refuses a value in `argv`, if it does (other complaints, such as a
/// missing subcommand or a required argument, are not about the file's values).
fn bad_value(probe: &Command, argv: Vec<String>) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let e = probe.clone().try_get_matches_from(argv).err()?;
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue
            | ErrorKind::ValueValidation
            | ErrorKind::InvalidUtf8
            | ErrorKind::TooManyValues
            | ErrorKind::TooFewValues
            | ErrorKind::WrongNumberOfValues
    ) {
        return None;
    }
    if let Some(source) = std::error::Error::source(&e) {
        return Some(source.to_string());
    }
    if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
        return Some(format!("one of {}", valid.join(", ")));
    }
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    Some(first.strip_prefix("error: ").unwrap_or(first).to_owned())
}

/// The file's values as the arguments' defaults, in every subcommand (a secret's default is
/// never printed by `--help`).
fn apply(cmd: Command, values: &BTreeMap<String, Vec<String>>) -> Command {
    cmd.mut_args(|arg| {
        let Some(v) = key_of(&arg).and_then(|k| values.get(&k)) else {
            return arg;
        };
        let secret = arg.is_hide_env_values_set();
        let arg = arg.default_values(v.clone());
        if secret {
            arg.hide_default_value(true)
        } else {
            arg
        }
    })
    .mut_subcommands(|sub| apply(sub, values))
}

/// Logs which files were read (one line at start).
pub fn log_loaded() {
    match loaded() {
        Some(l) => tracing::info!(
            config.path = %l.path.display(),
            config.secrets_path = l.secrets_path.as_ref().map(|p| p.display().to_string()),
            "configuration file read"
        ),
        None => tracing::debug!("no configuration file read"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, CommandFactory, Parser, Subcommand};

    #[derive(Debug, Parser)]
    struct Cli {
        #[arg(long, env = "ECHINOMAP_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Debug, Subcommand)]
    enum Sub {
        Serve(ServeArgs),
        Migrate(Db),
    }

    #[derive(Debug, Args)]
    struct ServeArgs {
        #[arg(
            long,
            env = "ECHINOMAP_TEST_CF_LISTEN",
            default_value = "127.0.0.1:8080"
        )]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        db: Db,
        #[arg(long, env = "ECHINOMAP_TEST_CF_HSTS")]
        hsts: bool,
        #[arg(long, env = "ECHINOMAP_TEST_CF_PROXIES", value_delimiter = ',')]
        trusted_proxies: Vec<std::net::IpAddr>,
        #[arg(long, env = "ECHINOMAP_TEST_CF_SIZING", value_parser = ["auto", "small"], default_value = "auto")]
        database_sizing: String,
        /// No variable: not a key.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    }

    #[derive(Debug, Args)]
    struct Db {
        #[arg(
            long,
            env = "ECHINOMAP_TEST_CF_DATA_DIR",
            default_value = "var",
            global = true
        )]
        data_dir: PathBuf,
        #[arg(long, env = "ECHINOMAP_TEST_CF_TILE_CACHE_MB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..), global = true)]
        tile_cache_mb: u64,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
        database_url: Option<String>,
        #[arg(
            long,
            env = "ECHINOMAP_TEST_CF_ADMIN_PASSWORD",
            hide = true,
            hide_env_values = true,
            global = true
        )]
        admin_password: Option<String>,
    }

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write the file");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    fn serve(cli: Cli) -> ServeArgs {
        match cli.command {
            Sub::Serve(s) => s,
            Sub::Migrate(_) => panic!("not serve"),
        }
    }

    fn parse(file: &Path, extra: &[&str]) -> Result<Cli, Error> {
        let mut argv = vec![
            "echinomap",
            "serve",
            "--config",
            file.to_str().expect("utf-8"),
        ];
        argv.extend(extra);
        try_parse_from::<Cli>(argv)
    }

    #[test]
    fn the_keys_are_the_long_options_with_a_variable() {
        let keys = keys(&Cli::command());
        let names: Vec<&str> = keys.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "admin_password",
                "data_dir",
                "database_sizing",
                "database_url",
                "hsts",
                "listen",
                "tile_cache_mb",
                "trusted_proxies"
            ]
        );
        assert!(keys["database_url"].iter().all(|t| t.secret));
        assert!(keys["hsts"][0].switch && keys["trusted_proxies"][0].list);
        // Defined in both subcommands.
        assert_eq!(keys["data_dir"].len(), 2);
    }

    #[test]
    fn the_service_s_keys_come_from_its_command_line() {
        let keys = keys(&crate::cli::Cli::command());
        for key in [
            "listen",
            "data_dir",
            "tile_cache_mb",
            "hsts",
            "trusted_proxies",
            "database_url",
            "admin_password",
            "wechat_app_id",
            "wechat_app_secret",
            "wechat_api_base",
        ] {
            assert!(keys.contains_key(key), "{key} is a key");
        }
        assert!(
            !keys.contains_key("config"),
            "the file does not name a file"
        );
        let secrets: Vec<&str> = keys
            .iter()
            .filter(|(_, t)| t.iter().any(|t| t.secret))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            secrets,
            ["admin_password", "database_url", "wechat_app_secret"]
        );
        // One key, one kind of value, in every subcommand that has it.
        for (key, targets) in &keys {
            assert!(
                targets.iter().all(|t| (t.switch, t.list, t.secret)
                    == (targets[0].switch, targets[0].list, targets[0].secret)),
                "{key} takes different values in different subcommands"
            );
        }
    }

    #[test]
    fn the_file_s_values_are_defaults_that_a_flag_overrides() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(
            dir.path(),
            "e.toml",
            "listen = \"0.0.0.0:9443\"\ntile_cache_mb = 64\nhsts = true\n\
             trusted_proxies = [\"127.0.0.1\", \"10.0.0.1\"]\ndatabase_sizing = \"small\"\n",
            0o644,
        );
        let s = serve(parse(&f, &[]).expect("parses"));
        assert_eq!(s.listen.to_string(), "0.0.0.0:9443");
        assert_eq!(s.db.tile_cache_mb, 64);
        assert!(s.hsts);
        assert_eq!(s.trusted_proxies.len(), 2);
        assert_eq!(s.database_sizing, "small");
        assert_eq!(s.seed, 1);
        let s =
            serve(parse(&f, &["--listen", "127.0.0.1:1", "--tile-cache-mb", "3"]).expect("parses"));
        assert_eq!(s.listen.to_string(), "127.0.0.1:1");
        assert_eq!(s.db.tile_cache_mb, 3);
        // One file for every subcommand: `migrate` takes what it has and ignores `listen`.
        let argv = [
            "echinomap",
            "--config",
            f.to_str().expect("utf-8"),
            "migrate",
        ];
        match try_parse_from::<Cli>(argv).expect("parses").command {
            Sub::Migrate(db) => assert_eq!(db.tile_cache_mb, 64),
            Sub::Serve(_) => panic!("not migrate"),
        }
    }

    #[test]
    fn an_unknown_key_is_named_with_the_file_and_the_known_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(dir.path(), "e.toml", "listn = \"0.0.0.0:1\"\n", 0o644);
        let e = parse(&f, &[]).expect_err("refused").to_string();
        assert!(
            e.contains(&format!("{}: unknown key \"listn\"", f.display())),
            "{e}"
        );
        assert!(e.contains("known keys: admin_password, data_dir"), "{e}");
        // `seed` has no variable: not a key either.
        let f = write(dir.path(), "e.toml", "seed = 3\n", 0o644);
        assert!(matches!(parse(&f, &[]), Err(Error::UnknownKey { key, .. }) if key == "seed"));
    }

    #[test]
    fn a_bad_value_is_refused_by_the_argument_s_own_parser() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (text, key, words) in [
            ("listen = \"x\"", "listen", "invalid socket address"),
            ("tile_cache_mb = 0", "tile_cache_mb", "0 is not in 1.."),
            ("tile_cache_mb = \"lots\"", "tile_cache_mb", "invalid digit"),
            (
                "database_sizing = \"huge\"",
                "database_sizing",
                "one of auto, small",
            ),
            (
                "trusted_proxies = [\"127.0.0.1\", \"nope\"]",
                "trusted_proxies",
                "invalid IP",
            ),
        ] {
            let f = write(dir.path(), "e.toml", text, 0o644);
            let e = parse(&f, &[]).expect_err(text).to_string();
            assert!(
                e.starts_with(&format!("{}: {key}: invalid value", f.display())),
                "{e}"
            );
            assert!(e.contains(words), "{text}: {e}");
        }
        for (text, words) in [
            ("hsts = \"yes\"", "hsts: expects true or false"),
            (
                "listen = [\"127.0.0.1:1\"]",
                "listen: takes one value, not a list",
            ),
            (
                "[server]\nlisten = \"127.0.0.1:1\"",
                "server: a table is not a value",
            ),
            ("listen = ", "not valid TOML: line 1"),
        ] {
            let f = write(dir.path(), "e.toml", text, 0o644);
            let e = parse(&f, &[]).expect_err(text).to_string();
            assert!(e.contains(words), "{text}: {e}");
        }
    }

    #[test]
    fn secrets_live_in_a_private_file_of_their_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(
            dir.path(),
            "e.toml",
            "database_url = \"postgres://x\"\n",
            0o600,
        );
        let e = parse(&f, &[]).expect_err("secret in main").to_string();
        assert!(
            e.contains("database_url is a secret: it belongs in the secrets file"),
            "{e}"
        );

        let f = write(dir.path(), "e.toml", "secrets_file = \"s.toml\"\n", 0o644);
        let s = write(
            dir.path(),
            "s.toml",
            "database_url = \"postgres://x\"\n",
            0o644,
        );
        let e = parse(&f, &[]).expect_err("readable").to_string();
        assert_eq!(
            e,
            format!(
                "{} is readable by others (mode 0644): chmod 600 it",
                s.display()
            )
        );

        write(
            dir.path(),
            "s.toml",
            "database_url = \"postgres://x\"\nadmin_password = \"pw\"\n",
            0o600,
        );
        let served = serve(parse(&f, &[]).expect("private secrets"));
        assert_eq!(served.db.database_url.as_deref(), Some("postgres://x"));
        assert_eq!(served.db.admin_password.as_deref(), Some("pw"));

        write(dir.path(), "s.toml", "listen = \"127.0.0.1:1\"\n", 0o600);
        let e = parse(&f, &[]).expect_err("not a secret").to_string();
        assert!(e.contains("listen is not a secret"), "{e}");
        assert!(e.contains("holds only admin_password, database_url"), "{e}");
    }

    #[test]
    fn the_file_is_named_by_the_flag_else_the_variable_else_the_default() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        let dir = tempfile::tempdir().expect("tempdir");
        let default = write(dir.path(), "d.toml", "", 0o644);
        let missing = dir.path().join("missing.toml");
        let env = Some(OsStr::new("/env.toml"));
        assert_eq!(
            locate(&args(&["e", "serve", "--config", "/f.toml"]), env, &default),
            Some(PathBuf::from("/f.toml"))
        );
        assert_eq!(
            locate(&args(&["e", "--config=/f.toml", "serve"]), env, &default),
            Some(PathBuf::from("/f.toml"))
        );
        assert_eq!(
            locate(&args(&["e", "serve"]), env, &default),
            Some(PathBuf::from("/env.toml"))
        );
        assert_eq!(
            locate(&args(&["e", "serve"]), None, &default),
            Some(default.clone())
        );
        assert_eq!(locate(&args(&["e", "serve"]), None, &missing), None);
        assert_eq!(
            locate(&args(&["e", "serve", "--config", "none"]), env, &default),
            None
        );
        assert_eq!(
            locate(&args(&["e", "serve"]), Some(OsStr::new("none")), &default),
            None
        );
    }
}

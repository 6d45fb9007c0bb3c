//! The configuration file (`--config`, `ECHINOMAP_CONFIG`, /etc/echinomap/echinomap.toml) read
//! by the real binary: its values are used, variables and flags override them, an unknown key
//! or a bad value stops everything with one line naming the key and the file, and the secrets
//! live in a file of their own that only its owner may read.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use echinomap_tests::{
    Result, TEST_LOG_FILTER, TestDb, binary, free_port, keep_log, log_dir, shared_tempdir,
};

/// The binary with a clean environment for what this file tests (no configuration, database
/// or listen address from the test's own environment).
fn echinomap() -> Command {
    let mut c = Command::new(binary());
    for var in [
        "ECHINOMAP_CONFIG",
        "DATABASE_URL",
        "ECHINOMAP_LISTEN",
        "ECHINOMAP_DATA_DIR",
        "ECHINOMAP_ADMIN_PASSWORD",
    ] {
        c.env_remove(var);
    }
    c.env("ECHINOMAP_LOG", TEST_LOG_FILTER)
        .env("ECHINOMAP_DATABASE_SIZING", "small");
    c
}

fn write(dir: &Path, name: &str, text: &str, mode: u32) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    Ok(path)
}

/// Runs a command that should end at once; its stderr joins the run's logs.
fn run(c: &mut Command, name: &str) -> Result<Output> {
    let out = c.stdin(Stdio::null()).output()?;
    keep_log(name, &out.stderr);
    Ok(out)
}

/// The one line a refused configuration prints, after checking that it is one line and exit
/// status 1.
fn refused(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
    stderr.trim_end().to_owned()
}

/// `echinomap serve` started with `args` and `env`, killed when dropped.
struct Served {
    child: Child,
    log: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Starts `serve` and waits until `port` answers /healthz (or the process ends).
async fn serve(args: &[&str], env: &[(&str, &str)], port: u16) -> Result<Served> {
    let log = log_dir().join(format!("config-file-serve-{port}.log"));
    let child = echinomap()
        .arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?;
    let mut served = Served { child, log };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
            && r.status().is_success()
        {
            return Ok(served);
        }
        if let Some(status) = served.child.try_wait()? {
            anyhow::bail!("serve ended with {status}: {}", served.log());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "nothing answered on port {port} in 60 s: {}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn listen(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn nothing_listens_on(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[test]
fn an_unknown_key_stops_the_start_naming_the_key_and_the_file() -> Result<()> {
    let dir = shared_tempdir();
    let data = dir.path().join("data");
    let file = write(
        dir.path(),
        "echinomap.toml",
        &format!(
            "data_dir = {:?}\nlistn = \"127.0.0.1:9\"\n",
            data.display().to_string()
        ),
        0o644,
    )?;
    let out = run(
        echinomap().args(["serve", "--config"]).arg(&file),
        "config-unknown-key",
    )?;
    let line = refused(&out);
    assert!(
        line.starts_with(&format!(
            "error: {}: unknown key \"listn\" (known keys: ",
            file.display()
        )),
        "{line}"
    );
    assert!(
        line.contains(" listen,") && line.contains(" secrets_file,"),
        "{line}"
    );
    assert!(!data.exists(), "nothing started: no data directory");
    Ok(())
}

#[test]
fn a_bad_value_stops_the_start_naming_the_key() -> Result<()> {
    let dir = shared_tempdir();
    let data = dir.path().join("data");
    for (text, expected) in [
        (
            "listen = \"nowhere\"",
            "listen: invalid value \"nowhere\": invalid socket address syntax",
        ),
        (
            "max_connections = 0",
            "max_connections: invalid value \"0\": 0 is not in 1..",
        ),
        (
            "password_policy = \"lax\"",
            "password_policy: invalid value \"lax\": unknown password policy",
        ),
        ("hsts = \"yes\"", "hsts: expects true or false"),
        (
            "listen = [\"127.0.0.1:1\"]",
            "listen: takes one value, not a list",
        ),
    ] {
        let file = write(
            dir.path(),
            "echinomap.toml",
            &format!("data_dir = {:?}\n{text}\n", data.display().to_string()),
            0o644,
        )?;
        let out = run(
            echinomap().args(["serve", "--config"]).arg(&file),
            "config-bad-value",
        )?;
        let line = refused(&out);
        assert!(
            line.starts_with(&format!("error: {}: {expected}", file.display())),
            "{text}: {line}"
        );
        assert!(!data.exists(), "{text}: nothing started");
    }
    Ok(())
}

#[tokio::test]
async fn the_file_s_listen_address_is_the_one_served() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    let port = free_port();
    let file = write(
        dir.path(),
        "echinomap.toml",
        &format!("listen = \"{}\"\n", listen(port)),
        0o644,
    )?;
    let served = serve(
        &["--config", &file.display().to_string()],
        &[("DATABASE_URL", &db.url())],
        port,
    )
    .await?;
    let log = served.log();
    assert!(
        log.contains("configuration file read") && log.contains(&file.display().to_string()),
        "one line at start names the file: {log}"
    );
    Ok(())
}

#[tokio::test]
async fn a_variable_overrides_the_file_and_a_flag_overrides_the_variable() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    let (in_file, in_env, in_flag) = (free_port(), free_port(), free_port());
    let file = write(
        dir.path(),
        "echinomap.toml",
        &format!("listen = \"{}\"\n", listen(in_file)),
        0o644,
    )?;
    let config = file.display().to_string();
    let url = db.url();

    let env_listen = listen(in_env);
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("ECHINOMAP_LISTEN", env_listen.as_str()),
    ];
    let served = serve(&["--config", &config], &env, in_env).await?;
    assert!(
        nothing_listens_on(in_file),
        "the variable won over the file"
    );
    drop(served);

    let flag_listen = listen(in_flag);
    let served = serve(
        &["--config", &config, "--listen", &flag_listen],
        &env,
        in_flag,
    )
    .await?;
    assert!(
        nothing_listens_on(in_env) && nothing_listens_on(in_file),
        "the flag won over the variable and the file"
    );
    drop(served);
    Ok(())
}

#[tokio::test]
async fn a_secrets_file_others_may_read_is_refused_and_a_private_one_is_used() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    let data = dir.path().join("data");
    let port = free_port();
    let file = write(
        dir.path(),
        "echinomap.toml",
        &format!(
            "listen = \"{}\"\ndata_dir = {:?}\nsecrets_file = \"secrets.toml\"\n",
            listen(port),
            data.display().to_string()
        ),
        0o644,
    )?;
    let password = "Secret-File-Admin-2026";
    let secrets = write(
        dir.path(),
        "secrets.toml",
        &format!(
            "database_url = {:?}\nadmin_password = \"{password}\"\n",
            db.url()
        ),
        0o644,
    )?;
    let config = file.display().to_string();

    let out = run(
        echinomap().args(["serve", "--config", &config]),
        "config-secrets-readable",
    )?;
    assert_eq!(
        refused(&out),
        format!(
            "error: {} is readable by others (mode 0644): chmod 600 it",
            secrets.display()
        )
    );
    assert!(
        nothing_listens_on(port) && !data.exists(),
        "nothing started"
    );

    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600))?;
    let served = serve(&["--config", &config], &[], port).await?;
    // The database of the secrets file, not an embedded cluster under data_dir …
    assert!(
        !data.join("pg").exists(),
        "no embedded cluster: {}",
        served.log()
    );
    // … whose first admin got the secrets file's password.
    let login = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .await?;
    assert_eq!(login.status().as_u16(), 200);
    assert!(
        !served.log().contains(password),
        "the secret is not in the log"
    );
    Ok(())
}

#[test]
fn a_secret_in_the_main_file_is_refused() -> Result<()> {
    let dir = shared_tempdir();
    let url = "postgres://echinomap:hunter2-Secret@db.example/echinomap";
    for key in ["database_url", "admin_password", "wechat_app_secret"] {
        let file = write(
            dir.path(),
            "echinomap.toml",
            &format!("{key} = \"{url}\"\n"),
            0o600,
        )?;
        let out = run(
            echinomap().args(["migrate", "--config"]).arg(&file),
            "config-secret-in-main",
        )?;
        let line = refused(&out);
        assert!(
            line.starts_with(&format!(
                "error: {}: {key} is a secret: it belongs in the secrets file",
                file.display()
            )),
            "{line}"
        );
        assert!(
            !line.contains("hunter2"),
            "the secret is not repeated: {line}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_variable_names_the_file_and_config_none_reads_none() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    let bad = write(dir.path(), "bad.toml", "listn = 1\n", 0o644)?;
    let bad = bad.display().to_string();
    let url = db.url();

    let out = run(
        echinomap()
            .arg("migrate")
            .env("ECHINOMAP_CONFIG", &bad)
            .env("DATABASE_URL", &url),
        "config-env",
    )?;
    assert!(
        refused(&out).contains(&format!("{bad}: unknown key \"listn\"")),
        "ECHINOMAP_CONFIG names the file"
    );

    for args in [
        &["migrate", "--config", "none"][..],
        &["--config=none", "migrate"][..],
    ] {
        let out = run(
            echinomap()
                .args(args)
                .env("ECHINOMAP_CONFIG", &bad)
                .env("DATABASE_URL", &url),
            "config-none",
        )?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("migrations applied"),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[tokio::test]
async fn every_subcommand_reads_the_file_and_ignores_the_keys_it_does_not_have() -> Result<()> {
    let db = TestDb::empty().await?;
    let dir = shared_tempdir();
    // `listen` and `hsts` are `serve`'s; `migrate` and `user` ignore them.
    let file = write(
        dir.path(),
        "echinomap.toml",
        "listen = \"127.0.0.1:9\"\nhsts = true\nsecrets_file = \"secrets.toml\"\n",
        0o644,
    )?;
    write(
        dir.path(),
        "secrets.toml",
        &format!("database_url = {:?}\n", db.url()),
        0o600,
    )?;
    let config = file.display().to_string();
    for (args, expected) in [
        (vec!["migrate", "--config", &config], "migrations applied"),
        (vec!["--config", &config, "migrate"], "migrations applied"),
        (vec!["user", "list", "--config", &config], "username"),
    ] {
        let out = run(echinomap().args(&args), "config-subcommands")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(expected),
            "{args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

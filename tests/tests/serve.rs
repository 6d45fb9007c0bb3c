//! The real `echinomap` binary: the embedded cluster's whole life (first start, reuse, clean
//! stop, a SIGKILL), and the one-line errors of bad settings.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use echinomap_tests::{binary, free_port, processes_mentioning, shared_tempdir, workspace_root};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

struct Served {
    child: Child,
    port: u16,
    data_dir: std::path::PathBuf,
    stderr: std::sync::mpsc::Receiver<String>,
}

/// A failed test must not leave its server running (the watchdog then stops the cluster).
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Its cluster's own log joins the run's logs (the personal-data check reads them).
        let _ = std::fs::copy(
            self.data_dir.join("pg").join("postgresql.log"),
            echinomap_tests::log_dir().join(format!("serve-binary-{}-postgresql.log", self.port)),
        );
    }
}

/// Starts `echinomap serve` on a free port with its own data dir, and waits for /healthz.
fn serve(data_dir: &std::path::Path, extra: &[&str]) -> Served {
    let port = free_port();
    let mut child = Command::new(binary())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .env_remove("DATABASE_URL")
        .env("ECHINOMAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("ECHINOMAP_LOG", "debug")
        .env("ECHINOMAP_CONFIG", "none")
        .env("ECHINOMAP_DATABASE_SIZING", "small")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn echinomap");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let log_path = echinomap_tests::log_dir().join(format!("serve-binary-{port}.log"));
    std::thread::spawn(move || {
        let mut log = std::fs::File::create(log_path).ok();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(f) = log.as_mut() {
                use std::io::Write;
                let _ = writeln!(f, "{line}");
            }
            let _ = tx.send(line);
        }
    });
    let served = Served {
        child,
        port,
        data_dir: data_dir.to_owned(),
        stderr: rx,
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(body) = http_get(port, "/healthz")
            && body.contains("\"status\":\"ok\"")
        {
            return served;
        }
        if Instant::now() > deadline {
            let log: Vec<String> = served.stderr.try_iter().collect();
            panic!(
                "echinomap did not become healthy in 90 s; its log:\n{}",
                log.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

const ADMIN_PASSWORD: &str = "Serve-Test-2024";

/// A minimal blocking HTTP/1.1 exchange over loopback (the tests stay off any other address).
fn http(port: u16, method: &str, path: &str, headers: &str, body: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    http(port, "GET", path, "", "")
}

/// Logs in as the first admin and lists the villages with the session cookie.
fn villages_as_admin(port: u16) -> String {
    let login = http(
        port,
        "POST",
        "/api/auth/login",
        "",
        &format!(r#"{{"username":"admin","password":"{ADMIN_PASSWORD}"}}"#),
    )
    .expect("login");
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie in {login}"))
        .to_owned();
    http(
        port,
        "GET",
        "/api/villages",
        &format!("Cookie: {cookie}\r\n"),
        "",
    )
    .expect("villages")
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "echinomap did not exit in {within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn postgres_processes(pgdata: &std::path::Path) -> Vec<(u32, String)> {
    processes_mentioning(&pgdata.display().to_string())
        .into_iter()
        .filter(|(_, cmd)| cmd.contains("postgres") && !cmd.contains("/bin/sh"))
        .collect()
}

fn wait_no_postgres(pgdata: &std::path::Path, within: Duration) -> Vec<(u32, String)> {
    let deadline = Instant::now() + within;
    loop {
        let left = postgres_processes(pgdata);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_stopped_server_leaves_no_postgres_behind_and_the_next_start_reuses_the_data() {
    let dir = shared_tempdir();
    let data = dir.path().join("var");

    // First start: initdb, migrations, the gazetteer.
    let mut first = serve(&data, &[]);
    let pgdata = data.join("pg").canonicalize().expect("pgdata exists");
    assert!(pgdata.join("PG_VERSION").is_file());
    assert!(!postgres_processes(&pgdata).is_empty(), "the cluster runs");
    let villages = villages_as_admin(first.port);
    assert!(villages.contains("654022100001"), "{villages}");
    let created = std::fs::metadata(pgdata.join("PG_VERSION"))
        .and_then(|m| m.modified())
        .expect("mtime");

    kill(Pid::from_raw(first.child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let status = wait_exit(&mut first.child, Duration::from_secs(60));
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let left = wait_no_postgres(&pgdata, Duration::from_secs(10));
    assert!(
        left.is_empty(),
        "PostgreSQL processes left behind: {left:?}"
    );

    // Second start: the same cluster, not a new one.
    let mut second = serve(&data, &[]);
    let log: Vec<String> = second.stderr.try_iter().collect();
    assert!(
        !log.iter().any(|l| l.contains("initialising the embedded")),
        "the second start ran initdb again: {log:?}"
    );
    let again = std::fs::metadata(pgdata.join("PG_VERSION"))
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(created, again);
    let villages = villages_as_admin(second.port);
    assert!(villages.contains("654022100001"));

    // A crash (SIGKILL): the watchdog stops the cluster, and the next start works.
    kill(Pid::from_raw(second.child.id() as i32), Signal::SIGKILL).expect("SIGKILL");
    wait_exit(&mut second.child, Duration::from_secs(10));
    let left = wait_no_postgres(&pgdata, Duration::from_secs(30));
    assert!(
        left.is_empty(),
        "PostgreSQL outlived a killed echinomap: {left:?}"
    );

    let mut third = serve(&data, &[]);
    kill(Pid::from_raw(third.child.id() as i32), Signal::SIGINT).expect("SIGINT");
    assert!(wait_exit(&mut third.child, Duration::from_secs(60)).success());
    assert!(wait_no_postgres(&pgdata, Duration::from_secs(10)).is_empty());
}

#[test]
fn a_stale_postmaster_pid_from_a_crash_does_not_stop_the_next_start() {
    let dir = shared_tempdir();
    let data = dir.path().join("var");
    let mut first = serve(&data, &[]);
    let pgdata = data.join("pg").canonicalize().expect("pgdata");
    kill(Pid::from_raw(first.child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    wait_exit(&mut first.child, Duration::from_secs(60));
    assert!(wait_no_postgres(&pgdata, Duration::from_secs(10)).is_empty());

    // What a power cut leaves: a postmaster.pid naming a process that is not PostgreSQL.
    let stale = format!(
        "{}\n{}\n1700000000\n5432\n{}\n\n  5432001         0\nready   \n",
        std::process::id(),
        pgdata.display(),
        pgdata.display()
    );
    std::fs::write(pgdata.join("postmaster.pid"), stale).expect("write pid file");
    let mut second = serve(&data, &[]);
    kill(Pid::from_raw(second.child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    assert!(wait_exit(&mut second.child, Duration::from_secs(60)).success());
}

/// Runs the binary with `args`, expecting a failure with one clear line on stderr.
fn fails_with_one_line(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(binary())
        .args(args)
        .envs(env.iter().copied())
        .env("ECHINOMAP_LOG", "off")
        .output()
        .expect("run echinomap");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected a failure for {args:?}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    stderr
}

#[test]
fn a_port_in_use_is_one_clear_line_and_a_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = shared_tempdir();
    let err = fails_with_one_line(
        &[
            "serve",
            "--listen",
            &addr,
            "--data-dir",
            &dir.path().join("v").display().to_string(),
        ],
        &[],
    );
    assert!(
        err.contains("cannot listen on") && err.contains(&addr),
        "{err}"
    );
}

#[test]
fn an_unusable_database_url_is_one_clear_line_and_a_failure() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // The URL carries a password: the error line names the URL without it.
    let err = fails_with_one_line(
        &["serve", "--listen", &listen],
        &[(
            "DATABASE_URL",
            "postgres://nobody:S3cret-pw@127.0.0.1:1/none?connect_timeout=2",
        )],
    );
    assert!(err.contains("cannot connect to the database"), "{err}");
    assert!(err.contains("nobody:***@127.0.0.1:1"), "{err}");
    assert!(
        !err.contains("S3cret-pw"),
        "the password is in the error: {err}"
    );
    let err = fails_with_one_line(
        &["serve", "--listen", &listen],
        &[("DATABASE_URL", "mysql://nobody:S3cret-pw@127.0.0.1:1/none")],
    );
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert!(err.contains("mysql://nobody:***@127.0.0.1:1"), "{err}");
    assert!(
        !err.contains("S3cret-pw"),
        "the password is in the error: {err}"
    );
}

#[test]
fn a_data_directory_that_cannot_be_written_is_one_clear_line_and_a_failure() {
    let port = free_port();
    let err = fails_with_one_line(
        &[
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            "/proc/echinomap-cannot-be-here",
        ],
        &[],
    );
    assert!(err.contains("data directory"), "{err}");
}

#[test]
fn missing_postgresql_binaries_are_named_with_the_package_to_install() {
    let port = free_port();
    let dir = shared_tempdir();
    // The binaries looked for where they are not.
    let out = Command::new(binary())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("v"))
        .env("ECHINOMAP_PG_BINDIR", "/nonexistent")
        .env("ECHINOMAP_LOG", "off")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("apt-get install"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn the_readme_commands_are_the_ones_ci_runs() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    assert!(readme.contains("make run") && readme.contains("make test"));
    let ci_commands: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with('#') && !l.starts_with("set ") && !l.starts_with("cd ")
        })
        .collect();
    assert_eq!(
        ci_commands,
        vec!["make test"],
        ".ci/run must only run the README's command"
    );
    let makefile = std::fs::read_to_string(root.join("Makefile")).expect("Makefile");
    assert!(makefile.contains("\ntest:") && makefile.contains("\nrun:"));
}

#[test]
fn a_service_that_started_beside_another_owner_keeps_the_cluster_when_that_owner_ends() {
    // Boot, or a restart of the unit, while `echinomap backup` owns the cluster: the service is
    // its guest. When the owner ends and stops the cluster, the service takes it over and starts
    // it again; then it stops it like an owner when it stops itself.
    let dir = shared_tempdir();
    let data = dir.path().join("var");
    let mut owner = serve(&data, &[]);
    let pgdata = data.join("pg").canonicalize().expect("pgdata exists");
    let mut guest = serve(&data, &[]);
    let log: Vec<String> = guest.stderr.try_iter().collect();
    assert!(
        log.iter()
            .any(|l| l.contains("using the embedded cluster of a running echinomap")),
        "the second one is a guest: {log:?}"
    );

    kill(Pid::from_raw(owner.child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    assert!(wait_exit(&mut owner.child, Duration::from_secs(60)).success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let healthy = loop {
        let body = http_get(guest.port, "/healthz").unwrap_or_default();
        if body.contains("\"status\":\"ok\"") && body.contains("\"restarts\":1") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the guest did not take the cluster over: {body}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(healthy.contains("\"restarts\":1"), "{healthy}");
    let villages = villages_as_admin(guest.port);
    assert!(villages.contains("654022100001"), "{villages}");
    let owner_file = std::fs::read_to_string(data.join("pg.owner")).expect("pg.owner");
    assert_eq!(
        owner_file.lines().next(),
        Some(guest.child.id().to_string().as_str()),
        "the service names itself the owner"
    );

    kill(Pid::from_raw(guest.child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    assert!(wait_exit(&mut guest.child, Duration::from_secs(60)).success());
    let left = wait_no_postgres(&pgdata, Duration::from_secs(10));
    assert!(
        left.is_empty(),
        "the successor left PostgreSQL running: {left:?}"
    );
}

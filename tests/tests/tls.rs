//! HTTPS served by the real binary (issue 19): certificates made here with `rcgen` (a test CA
//! and leaf certificates for `localhost`), a client that trusts only that CA, the plain-HTTP
//! redirect, HSTS, the handshake under the header timeout, a certificate swapped by SIGHUP
//! while a kept-alive connection goes on, and the one-line refusals of bad TLS settings.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use echinomap_tests::{Result, TestDb, binary, free_port, log_dir, shared_tempdir};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A test certificate authority: what the client trusts.
struct Ca {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Self {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "echinomap test CA");
        let cert = params.self_signed(&key).expect("the CA certificate");
        Self {
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `localhost` signed by this CA: (PEM certificate, PEM PKCS#8 key, DER).
    fn leaf(&self, name: &str) -> (String, String, CertificateDer<'static>) {
        let key = KeyPair::generate().expect("a leaf key");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("the leaf certificate");
        (cert.pem(), key.serialize_pem(), cert.der().clone())
    }

    fn client(&self) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).expect("the CA as a root");
        #[expect(
            deprecated,
            reason = "the server's provider (ring), on the client's side too"
        )]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }
}

/// Writes a certificate and key as `NAME.pem` / `NAME.key` under `dir`.
fn write_pair(dir: &Path, name: &str, cert: &str, key: &str) -> (PathBuf, PathBuf) {
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, cert).expect("write the certificate");
    std::fs::write(&k, key).expect("write the key");
    (c, k)
}

/// The binary serving a test database; killed when dropped.
struct Served {
    child: Child,
    port: u16,
    log: PathBuf,
    _db: TestDb,
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

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("send a signal");
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Starts `echinomap serve` on a free port with `args` and `env`, and waits until
/// `ready(port)` answers.
async fn serve<F, Fut>(name: &str, args: &[&str], env: &[(&str, &str)], ready: F) -> Result<Served>
where
    F: Fn(u16) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let db = TestDb::empty().await?;
    let port = free_port();
    let log = log_dir().join(format!("{name}-{port}.log"));
    let child = Command::new(binary())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("DATABASE_URL", db.url())
        // Only what the test gives: not a configuration file installed on this host.
        .env("ECHINOMAP_CONFIG", "none")
        .env(
            "ECHINOMAP_ADMIN_PASSWORD",
            echinomap_tests::TEST_ADMIN_PASSWORD,
        )
        .env("ECHINOMAP_LOG", echinomap_tests::TEST_LOG_FILTER)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()?;
    let mut served = Served {
        child,
        port,
        log,
        _db: db,
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while !ready(port).await {
        anyhow::ensure!(
            served.running(),
            "echinomap exited at start: {}",
            served.log()
        );
        anyhow::ensure!(
            Instant::now() < deadline,
            "echinomap did not start: {}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(served)
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// A TLS connection to `localhost` on `port`, trusting `client`'s CA only.
async fn connect(client: &tokio_rustls::TlsConnector, port: u16) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from("localhost").expect("a server name");
    client.connect(name, tcp).await
}

/// The certificate the server presented on `conn`.
fn presented(conn: &Tls) -> CertificateDer<'static> {
    conn.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("a server certificate")
        .clone()
}

/// One answer: status, headers (lower-case names), body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET path` with `host` on a kept-alive connection and reads one answer (a body with
/// Content-Length).
async fn get<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut S,
    host: &str,
    path: &str,
) -> Result<Answer> {
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await?;
    conn.flush().await?;
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk)).await??;
        anyhow::ensure!(n > 0, "the connection closed before an answer");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status line in {head}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk)).await??;
        anyhow::ensure!(n > 0, "the connection closed inside a body");
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// True when `/healthz` answers over HTTPS with a certificate `client` trusts.
async fn https_ready(client: &tokio_rustls::TlsConnector, port: u16) -> bool {
    match connect(client, port).await {
        Ok(mut conn) => get(&mut conn, "localhost", "/healthz")
            .await
            .is_ok_and(|a| a.status == 200),
        Err(_) => false,
    }
}

/// How long until the server closes `conn` (which sends nothing), at most `within`.
async fn closed_after<S: AsyncRead + Unpin>(conn: &mut S, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut byte = [0u8; 1];
    loop {
        match tokio::time::timeout(within, conn.read(&mut byte)).await {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn https_serves_healthz_with_hsts_plain_http_is_redirected_and_handshakes_are_timed()
-> Result<()> {
    let ca = Ca::new();
    let client = ca.client();
    let dir = shared_tempdir();
    let (cert, key, _) = ca.leaf("first");
    let (cert, key) = write_pair(dir.path(), "server", &cert, &key);
    let redirect_port = free_port();
    let redirect = format!("127.0.0.1:{redirect_port}");
    let args = [
        "--tls-cert",
        &cert.display().to_string(),
        "--tls-key",
        &key.display().to_string(),
        "--redirect-listen",
        &redirect,
        "--header-timeout-secs",
        "2",
    ]
    .map(str::to_owned);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut served = serve("tls-serve", &args, &[], |port| https_ready(&client, port)).await?;
    let port = served.port;

    // HTTPS: the health check, with HSTS (TLS implies it without --hsts).
    let mut conn = connect(&client, port).await?;
    let health = get(&mut conn, "localhost", "/healthz").await?;
    assert_eq!(health.status, 200, "{health:?}");
    assert!(health.body.contains("\"status\":\"ok\""), "{health:?}");
    assert_eq!(
        health.header("strict-transport-security"),
        Some("max-age=31536000"),
        "{health:?}"
    );

    // Plain HTTP on the HTTPS port gets no answer in plain text.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).await?;
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"),
        "plain HTTP was served on the HTTPS port"
    );

    // The redirect listener: 308 to the same host, path and query on the HTTPS port.
    let mut http = TcpStream::connect(("127.0.0.1", redirect_port)).await?;
    let moved = get(
        &mut http,
        &format!("localhost:{redirect_port}"),
        "/api/villages?township=654022100&page=2",
    )
    .await?;
    assert_eq!(moved.status, 308, "{moved:?}");
    assert_eq!(
        moved.header("location"),
        Some(format!("https://localhost:{port}/api/villages?township=654022100&page=2").as_str()),
        "{moved:?}"
    );
    // It serves nothing else: the API and the health check are redirected too.
    let health_moved = get(&mut http, "localhost", "/healthz").await?;
    assert_eq!(health_moved.status, 308, "{health_moved:?}");
    assert!(!health_moved.body.contains("status"), "{health_moved:?}");
    // A Host that is not a host name is refused, not redirected anywhere.
    for bad in ["evil.example@localhost", "localhost/evil", "a b"] {
        let mut http = TcpStream::connect(("127.0.0.1", redirect_port)).await?;
        let refused = get(&mut http, bad, "/").await?;
        assert_eq!(refused.status, 400, "Host {bad:?}: {refused:?}");
        assert_eq!(refused.header("location"), None, "Host {bad:?}");
    }

    // The header timeout (2 s) bounds a handshake that never comes ...
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await?;
    let cut = closed_after(&mut silent, Duration::from_secs(8)).await;
    assert!(
        cut.is_some_and(|d| d >= Duration::from_millis(1500) && d < Duration::from_secs(5)),
        "a connection without a handshake was closed after {cut:?}"
    );
    // ... and, from the connection's start, a request head that never comes after one.
    let mut idle = connect(&client, port).await?;
    let cut = closed_after(&mut idle, Duration::from_secs(8)).await;
    assert!(
        cut.is_some_and(|d| d < Duration::from_secs(5)),
        "a TLS connection without a request was closed after {cut:?}"
    );

    // SIGTERM drains and ends cleanly, the redirect listener with it.
    served.signal(Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = served.child.try_wait()? {
            break status;
        }
        anyhow::ensure!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status:?}: {}", served.log());
    assert!(
        TcpStream::connect(("127.0.0.1", redirect_port))
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn sighup_gives_new_connections_the_new_certificate_and_keeps_the_open_one() -> Result<()> {
    let ca = Ca::new();
    let client = ca.client();
    let dir = shared_tempdir();
    let (cert_a, key_a, der_a) = ca.leaf("first");
    let (cert, key) = write_pair(dir.path(), "server", &cert_a, &key_a);
    // From the environment, as the package's unit may set them.
    let (cert_env, key_env) = (cert.display().to_string(), key.display().to_string());
    let mut served = serve(
        "tls-reload",
        &[],
        &[
            ("ECHINOMAP_TLS_CERT", cert_env.as_str()),
            ("ECHINOMAP_TLS_KEY", key_env.as_str()),
        ],
        |port| https_ready(&client, port),
    )
    .await?;
    let port = served.port;

    let mut kept = connect(&client, port).await?;
    assert_eq!(presented(&kept), der_a);
    assert_eq!(get(&mut kept, "localhost", "/healthz").await?.status, 200);

    // A renewal: both files replaced, then `systemctl reload` (SIGHUP).
    let (cert_b, key_b, der_b) = ca.leaf("second");
    write_pair(dir.path(), "server", &cert_b, &key_b);
    served.signal(Signal::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let fresh = connect(&client, port).await?;
        if presented(&fresh) == der_b {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no new certificate after SIGHUP: {}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served.running(), "SIGHUP stopped the service");
    // The connection made before the reload goes on, with the certificate it began with.
    let again = get(&mut kept, "localhost", "/healthz").await?;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(presented(&kept), der_a);
    let mut fresh = connect(&client, port).await?;
    assert_eq!(get(&mut fresh, "localhost", "/healthz").await?.status, 200);

    // A broken renewal (a half-written certificate): one warning, the current one stays.
    std::fs::write(&cert, &cert_b[..cert_b.len() / 2])?;
    served.signal(Signal::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served.log().contains("TLS reload failed") {
        anyhow::ensure!(Instant::now() < deadline, "no warning: {}", served.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served.running(), "a failed reload stopped the service");
    let mut after = connect(&client, port).await?;
    assert_eq!(presented(&after), der_b);
    assert_eq!(get(&mut after, "localhost", "/healthz").await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn sighup_without_tls_is_logged_and_the_service_goes_on() -> Result<()> {
    async fn plain_ready(port: u16) -> bool {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(mut conn) => get(&mut conn, "localhost", "/healthz")
                .await
                .is_ok_and(|a| a.status == 200),
            Err(_) => false,
        }
    }
    let mut served = serve("tls-none-sighup", &[], &[], plain_ready).await?;
    let mut kept = TcpStream::connect(("127.0.0.1", served.port)).await?;
    assert_eq!(get(&mut kept, "localhost", "/healthz").await?.status, 200);
    served.signal(Signal::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served.log().contains("SIGHUP: no TLS configured") {
        anyhow::ensure!(
            Instant::now() < deadline,
            "SIGHUP not logged: {}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served.running(), "SIGHUP stopped the service");
    assert_eq!(get(&mut kept, "localhost", "/healthz").await?.status, 200);
    assert!(plain_ready(served.port).await);
    Ok(())
}

/// Runs `serve` with `args`; expects exit 1, one line on stderr, and no database started (the
/// embedded cluster's data directory is never created).
fn refused(args: &[&str]) -> String {
    let dir = shared_tempdir();
    let data = dir.path().join("var");
    let out = Command::new(binary())
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(&data)
        .args(args)
        .env_remove("DATABASE_URL")
        .env("ECHINOMAP_CONFIG", "none")
        .env_remove("ECHINOMAP_TLS_CERT")
        .env_remove("ECHINOMAP_TLS_KEY")
        .env_remove("ECHINOMAP_REDIRECT_LISTEN")
        .env("ECHINOMAP_LOG", "off")
        .output()
        .expect("run echinomap");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "one line expected for {args:?}, got: {stderr}"
    );
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        !data.exists(),
        "{args:?}: the database was started before the refusal"
    );
    stderr
}

#[test]
fn bad_tls_settings_are_one_line_and_exit_1_before_the_database_starts() {
    let ca = Ca::new();
    let dir = shared_tempdir();
    let (cert_a, key_a, _) = ca.leaf("a");
    let (_, key_b, _) = ca.leaf("b");
    let (cert, key) = write_pair(dir.path(), "a", &cert_a, &key_a);
    let other_key = dir.path().join("b.key");
    std::fs::write(&other_key, key_b).expect("write a key");
    let garbage = dir.path().join("garbage.key");
    std::fs::write(&garbage, "not a key\n").expect("write garbage");
    let missing = dir.path().join("missing.pem");
    let (cert, key, other_key, garbage, missing) = (
        cert.display().to_string(),
        key.display().to_string(),
        other_key.display().to_string(),
        garbage.display().to_string(),
        missing.display().to_string(),
    );
    let dir_path = dir.path().display().to_string();

    let err = refused(&["--tls-cert", &missing, "--tls-key", &key]);
    assert!(
        err.contains("cannot read the TLS certificate") && err.contains(&missing),
        "{err}"
    );
    let err = refused(&["--tls-cert", &cert]);
    assert!(
        err.contains("--tls-cert") && err.contains("--tls-key"),
        "{err}"
    );
    let err = refused(&["--tls-key", &key]);
    assert!(
        err.contains("--tls-key") && err.contains("--tls-cert"),
        "{err}"
    );
    let err = refused(&["--tls-cert", &cert, "--tls-key", &other_key]);
    assert!(
        err.contains("does not belong to the certificate") && err.contains(&other_key),
        "{err}"
    );
    let err = refused(&["--tls-cert", &cert, "--tls-key", &garbage]);
    assert!(
        err.contains("no usable private key") && err.contains(&garbage),
        "{err}"
    );
    // A directory where the key should be: unreadable as a file.
    let err = refused(&["--tls-cert", &cert, "--tls-key", &dir_path]);
    assert!(err.contains("cannot read the TLS key"), "{err}");
    // A key given as the certificate.
    let err = refused(&["--tls-cert", &key, "--tls-key", &key]);
    assert!(
        err.contains("holds no certificate") && err.contains(&key),
        "{err}"
    );
    let err = refused(&["--redirect-listen", "127.0.0.1:0"]);
    assert!(
        err.contains("--redirect-listen") && err.contains("needs TLS"),
        "{err}"
    );
}

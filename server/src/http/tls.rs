//! HTTPS served by echinomap itself (issue 19): rustls with the ring provider, the certificate
//! and key from PEM files (`--tls-cert`, `--tls-key`), a new certificate taken on SIGHUP, and
//! the plain-HTTP listener that only redirects to HTTPS (`--redirect-listen`).
//!
//! Decisions:
//! - **The files are checked before anything starts**: both or neither, readable, PEM, the key
//!   the certificate's (rustls compares the public keys), each failure one line naming the
//!   file. A service that would start and then fail every handshake is worse than one that
//!   does not start.
//! - **Reload swaps, it never drops.** The [`Resolver`] holds the current `CertifiedKey`; SIGHUP
//!   ([`reload_on_hangup`], `systemctl reload echinomap`) reads both files again and swaps it in.
//!   A handshake takes the key once, so connections made before keep theirs (and keep working);
//!   new handshakes get the new one. Files that fail the checks leave the old key in place and
//!   one warning in the log, so a half-copied renewal does not take the service down.
//! - **The redirect goes to the host that was asked**, checked to be a host name or an IP
//!   address (no user part, no path), on the HTTPS port; any other Host is a 400. The redirect
//!   listener serves nothing else: no API, no assets, nothing that could leak over plain HTTP.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::error::AppError;
use crate::settings::TlsSettings;

/// The service's TLS configuration: the files it came from and the key handshakes use now.
#[derive(Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    resolver: Arc<Resolver>,
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The TLS of `settings`: `None` when neither file is given; an error (one line, naming the
    /// file) when only one is, when a file cannot be read or parsed, when the key is not the
    /// certificate's, or when `redirect_listen` is given without TLS.
    pub fn from_settings(settings: &TlsSettings) -> anyhow::Result<Option<Self>> {
        match (&settings.cert, &settings.key) {
            (None, None) => {
                anyhow::ensure!(
                    settings.redirect_listen.is_none(),
                    "--redirect-listen (redirect_listen) needs TLS: give --tls-cert and --tls-key too"
                );
                Ok(None)
            }
            (Some(_), None) => anyhow::bail!(
                "--tls-cert (tls_cert) is given without --tls-key (tls_key): give both or neither"
            ),
            (None, Some(_)) => anyhow::bail!(
                "--tls-key (tls_key) is given without --tls-cert (tls_cert): give both or neither"
            ),
            (Some(cert), Some(key)) => Self::load(cert, key).map(Some),
        }
    }

    fn load(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        #[expect(
            deprecated,
            reason = "ring is the chosen provider (aws-lc-rs needs cmake and a C toolchain in the \
                      build); what ring lacks is post-quantum key exchange only"
        )]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified = certified_key(cert, key, &provider)?;
        let resolver = Arc::new(Resolver(RwLock::new(Arc::new(certified))));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS: the ring provider offers no protocol version")?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        // The serve loop speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            resolver,
            config: Arc::new(config),
        })
    }

    /// What the serve loop hands each new connection to.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    /// Reads both files again and, when they pass the checks of the start, gives the next
    /// handshakes the new key; otherwise the current key stays and the error says why.
    pub fn reload(&self) -> anyhow::Result<()> {
        let certified = certified_key(&self.cert, &self.key, self.config.crypto_provider())?;
        *self
            .resolver
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
        Ok(())
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert
    }
}

/// The chain in `cert` and the key in `key`, checked to belong together.
fn certified_key(
    cert: &Path,
    key: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> anyhow::Result<CertifiedKey> {
    let chain = read_chain(cert)?;
    let pem =
        std::fs::read(key).with_context(|| format!("cannot read the TLS key {}", key.display()))?;
    let private = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        anyhow::anyhow!(
            "the TLS key {} holds no usable private key (PEM: PKCS#8, RSA or EC): {e}",
            key.display()
        )
    })?;
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| anyhow::anyhow!("the TLS key {} cannot be used: {e}", key.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            anyhow::bail!(
                "the TLS key {} does not belong to the certificate {}",
                key.display(),
                cert.display()
            )
        }
        Err(e) => anyhow::bail!("the TLS certificate {} cannot be used: {e}", cert.display()),
    }
}

/// Every certificate of the PEM file `path`, the server's first (a chain as CAs issue it).
fn read_chain(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read the TLS certificate {}", path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("the TLS certificate {} is not PEM: {e}", path.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "the TLS certificate {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
        path.display()
    );
    Ok(chain)
}

/// Gives every handshake the current key (one server name, one certificate: SNI is not
/// consulted).
struct Resolver(RwLock<Arc<CertifiedKey>>);

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// Listens for SIGHUP for as long as the service runs: reloads the certificate and key with
/// TLS, logs and ignores it without. `hangup` is registered at start, before the database, so
/// that a SIGHUP never ends the process (its default action).
pub async fn reload_on_hangup(mut hangup: tokio::signal::unix::Signal, tls: Option<Tls>) {
    while hangup.recv().await.is_some() {
        match &tls {
            None => tracing::info!("SIGHUP: no TLS configured, nothing to reload"),
            Some(tls) => match tls.reload() {
                Ok(()) => tracing::info!(
                    cert = %tls.cert_path().display(),
                    "SIGHUP: TLS certificate and key reloaded; new connections use them"
                ),
                Err(e) => tracing::warn!(
                    error = %format!("{e:#}"),
                    "SIGHUP: TLS reload failed; the previous certificate stays in use"
                ),
            },
        }
    }
}

/// The plain-HTTP service of `--redirect-listen`: every request gets a 308 to the same host,
/// path and query over HTTPS on `https_port`.
pub fn redirect_router(https_port: u16) -> Router {
    Router::new().fallback(move |req: Request| async move { redirect(&req, https_port) })
}

fn redirect(req: &Request, https_port: u16) -> Response {
    let Some(location) = redirect_location(req.headers().get(header::HOST), req.uri(), https_port)
    else {
        // `bad_request`: a code the clients already word (`web/src/reasons.ts`).
        return AppError::bad_request(
            "bad_request",
            "this address only redirects to HTTPS: the request needs a Host header with a host name",
        )
        .into_response();
    };
    match HeaderValue::try_from(location) {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => {
            AppError::bad_request("bad_request", "the path cannot be redirected").into_response()
        }
    }
}

/// `https://HOST[:PORT]/path?query` for a request to `host` (its own port dropped), or `None`
/// when `host` is not a plain host name, IPv4 or bracketed IPv6 address with an optional port.
fn redirect_location(
    host: Option<&HeaderValue>,
    uri: &axum::http::Uri,
    https_port: u16,
) -> Option<String> {
    let host = host?.to_str().ok()?;
    let authority: axum::http::uri::Authority = host.parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    // What follows the host: nothing, or a port of digits (`http` takes `host:junk` too).
    let rest = &authority.as_str()[authority.host().len()..];
    let port_ok = rest.is_empty()
        || rest
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if !port_ok {
        return None;
    }
    let name = authority.host().to_ascii_lowercase();
    let valid = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
        None => {
            name.len() <= 253
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        }
    };
    if !valid {
        return None;
    }
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    // Origin-form only: an absolute-form or `*` target still goes to the path of this host.
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/");
    Some(format!("https://{name}{port}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(host: &str, target: &str, port: u16) -> Option<String> {
        let uri: axum::http::Uri = target.parse().expect("a request target");
        redirect_location(
            Some(&HeaderValue::from_str(host).expect("a header value")),
            &uri,
            port,
        )
    }

    #[test]
    fn the_redirect_keeps_host_path_and_query_and_takes_the_https_port() {
        assert_eq!(
            location("Example.org:80", "/api/x?a=1&b=2", 443).as_deref(),
            Some("https://example.org/api/x?a=1&b=2")
        );
        assert_eq!(
            location("10.1.2.3", "/", 8443).as_deref(),
            Some("https://10.1.2.3:8443/")
        );
        assert_eq!(
            location("[::1]:8080", "/healthz", 8443).as_deref(),
            Some("https://[::1]:8443/healthz")
        );
        // An absolute-form target cannot name another host.
        assert_eq!(
            location("example.org", "http://evil.example/x", 443).as_deref(),
            Some("https://example.org/x")
        );
        // A path that looks like a host stays a path of this host.
        assert_eq!(
            location("example.org", "//evil.example/x", 443).as_deref(),
            Some("https://example.org//evil.example/x")
        );
    }

    #[test]
    fn a_host_that_is_not_a_plain_host_name_is_not_redirected() {
        for bad in [
            "",
            "user@example.org",
            "example.org/evil",
            "exa mple.org",
            "example..org",
            "[not-v6]",
            "example.org:port",
        ] {
            assert_eq!(location(bad, "/", 443), None, "{bad:?}");
        }
        let uri: axum::http::Uri = "/".parse().expect("a request target");
        assert_eq!(redirect_location(None, &uri, 443), None);
    }

    /// Runs the `openssl` command in `dir` (it makes keys in the forms rcgen does not).
    fn openssl(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("the openssl command (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn keys_in_pkcs1_rsa_sec1_and_pkcs8_pem_are_taken_and_a_foreign_key_is_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let d = dir.path();
        let self_signed = |key: &str, cert: &str| {
            openssl(
                d,
                &[
                    "req",
                    "-new",
                    "-x509",
                    "-key",
                    key,
                    "-out",
                    cert,
                    "-days",
                    "2",
                    "-subj",
                    "/CN=localhost",
                ],
            );
        };
        openssl(d, &["genrsa", "-traditional", "-out", "rsa.key", "2048"]);
        self_signed("rsa.key", "rsa.pem");
        openssl(
            d,
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "ec.key",
            ],
        );
        self_signed("ec.key", "ec.pem");
        openssl(
            d,
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", "ec.key", "-out", "ec8.key",
            ],
        );
        for (key, form) in [
            ("rsa.key", "BEGIN RSA PRIVATE KEY"),
            ("ec.key", "BEGIN EC PRIVATE KEY"),
            ("ec8.key", "BEGIN PRIVATE KEY"),
        ] {
            let text = std::fs::read_to_string(d.join(key)).expect("the key");
            assert!(text.contains(form), "{key} is not in the form {form}");
        }
        let settings = |cert: &str, key: &str| TlsSettings {
            cert: Some(d.join(cert)),
            key: Some(d.join(key)),
            redirect_listen: None,
        };
        for (cert, key) in [
            ("rsa.pem", "rsa.key"),
            ("ec.pem", "ec.key"),
            ("ec.pem", "ec8.key"),
        ] {
            let tls = Tls::from_settings(&settings(cert, key));
            assert!(matches!(tls, Ok(Some(_))), "{cert} + {key}: {tls:?}");
        }
        let err = Tls::from_settings(&settings("rsa.pem", "ec.key"))
            .expect_err("a key of another certificate");
        assert!(
            err.to_string()
                .contains("does not belong to the certificate"),
            "{err}"
        );
    }
}

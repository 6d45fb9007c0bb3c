//! Logging in and out, the session cookie and API tokens on each request, and the guard that
//! every route passes through (authentication, CSRF, permission). What is stored (accounts,
//! sessions, tokens, the throttle of logins, the cache of resolved callers) lives in
//! `echinomap_programme::auth::sessions`; this module keeps the cookies, the headers, the
//! client's address ([`ClientAddr`]) and the answers (a throttled login is a 429 with
//! `Retry-After`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{AppError, AppResult, error_body};
use crate::http::AppState;
use crate::settings::LoginSettings;
use echinomap_programme::audit::Actor;
use echinomap_programme::auth::sessions::{self, Attempt, Credentials, LoginGate, SESSION_HOURS};
use echinomap_programme::auth::{AuthVia, Perm, Role, store};

pub use echinomap_programme::auth::purge::purge_expired_sessions;
pub use echinomap_programme::auth::sessions::CallerCache;

pub const SESSION_COOKIE: &str = "echinomap_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What a route needs: nothing, a login, or a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Access {
    Public,
    /// Nothing, and a write from another origin is let in too: for routes that read and set no
    /// cookie, called by clients that keep none and send their own `Referer` (the WeChat
    /// mini-program's sign-in, `http::wechat`). A cross-site page gains nothing there that it
    /// could not get by calling the route itself.
    PublicNoCookie,
    LoggedIn,
    Needs(Perm),
    /// A request from this machine ([`is_local`]: a loopback peer, not forwarded by a proxy),
    /// or else a caller with the permission (`/metrics`: a scraper on the host, or an admin).
    LocalOr(Perm),
}

/// Forwarding headers a reverse proxy adds: a request that carries one came through a proxy,
/// even from a loopback peer (nginx on the same host), and is not local.
const FORWARDED_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// A request made on this machine: its connection's peer (never `X-Forwarded-For`) is a loopback
/// address and it carries no forwarding header. Without the peer's address (a router served
/// without `ConnectInfo`) nothing is local.
pub fn is_local(peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
    peer.is_some_and(|p| p.to_canonical().is_loopback())
        && !FORWARDED_HEADERS.iter().any(|h| headers.contains_key(*h))
}

/// The outcome of looking at a request's credentials.
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    Caller(echinomap_programme::auth::Caller),
    Invalid(&'static str),
}

/// Middleware: resolves the caller (if any) once per request and stores it for the guard and
/// the handlers. Never rejects by itself; the guard decides.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Already resolved in front of the router (the tiles' fast path).
    if req.extensions().get::<Auth>().is_some() {
        return next.run(req).await;
    }
    let auth = match resolve(&state, req.headers()).await {
        Ok(auth) => auth,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(auth);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    // A trusted proxy on this machine forwards remote clients: its requests are never local,
    // with or without forwarding headers (a TCP-level forwarder adds none).
    if is_local(peer, req.headers()) && !peer.is_some_and(|p| state.logins.trusted(p)) {
        req.extensions_mut().insert(LocalRequest);
    }
    next.run(req).await
}

/// Marks a request [`is_local`] whose peer is not a trusted proxy (set by [`authenticate`]):
/// what `Access::LocalOr` lets in without credentials.
#[derive(Debug, Clone, Copy)]
pub struct LocalRequest;

/// The caller of a request, from its token or session cookie (through the fence and the
/// caller cache).
pub async fn resolve(state: &AppState, headers: &HeaderMap) -> AppResult<Auth> {
    let credentials = Credentials {
        pool: &state.pool,
        watch: &state.watch,
        cache: &state.callers,
    };
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let Some(secret) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
            return Ok(Auth::Invalid(
                "the Authorization header must be `Bearer <token>`",
            ));
        };
        let caller = credentials.by_token(secret.trim()).await?;
        return Ok(caller.map_or(
            Auth::Invalid("the API token is unknown or revoked"),
            Auth::Caller,
        ));
    }
    let jar = CookieJar::from_headers(headers);
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        let caller = credentials.by_session(cookie.value()).await?;
        return Ok(caller.map_or(
            Auth::Invalid("the session has expired or is not valid; log in again"),
            Auth::Caller,
        ));
    }
    Ok(Auth::Anonymous)
}

/// The guard of one route: login, CSRF for cookie writes, permission.
pub async fn guard(access: Access, req: Request, next: Next) -> Response {
    match check(access, &req) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check(access: Access, req: &Request) -> AppResult<()> {
    let auth = req
        .extensions()
        .get::<Auth>()
        .cloned()
        .unwrap_or(Auth::Anonymous);
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if access == Access::Public {
        // Login forms are CSRF targets too: a cross-site POST is refused.
        if unsafe_method && cross_origin(req.headers()) {
            return Err(AppError::forbidden("cross-origin request refused"));
        }
        return Ok(());
    }
    if access == Access::PublicNoCookie {
        return Ok(());
    }
    if let Access::LocalOr(_) = access
        && !unsafe_method
        && req.extensions().get::<LocalRequest>().is_some()
    {
        return Ok(());
    }
    let caller = match auth {
        Auth::Caller(c) => c,
        Auth::Anonymous => return Err(AppError::unauthorized("login_required", "log in first")),
        Auth::Invalid(why) => return Err(AppError::unauthorized("invalid_credentials", why)),
    };
    if unsafe_method && let AuthVia::Session { csrf_token } = &caller.via {
        let token_ok = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == csrf_token);
        if !token_ok && !same_origin(req.headers()) {
            return Err(AppError::Forbidden {
                code: "csrf",
                message: format!(
                    "a write with a session cookie needs a same-origin Origin header or the {CSRF_HEADER} header"
                ),
            });
        }
    }
    if caller.must_change_password && !req.uri().path().starts_with("/api/auth/") {
        return Err(password_change_required());
    }
    if let Access::Needs(perm) | Access::LocalOr(perm) = access {
        caller.require(perm)?;
    }
    Ok(())
}

/// The answer to an account whose password an administrator reset, for anything but signing
/// out and choosing its own password.
pub fn password_change_required() -> AppError {
    AppError::Forbidden {
        code: "password_change_required",
        message: "请先设置新密码 / choose a new password first (POST /api/auth/password)"
            .to_owned(),
    }
}

fn origin_host(headers: &HeaderMap) -> Option<String> {
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))?
        .to_str()
        .ok()?;
    let rest = origin.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest).to_owned())
}

fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    matches!((origin_host(headers), host), (Some(o), Some(h)) if o == h)
}

/// An Origin/Referer that names another host; no header at all is not cross-origin (curl).
fn cross_origin(headers: &HeaderMap) -> bool {
    origin_host(headers).is_some() && !same_origin(headers)
}

/// The authenticated caller, as a handler argument: the programme's
/// [`echinomap_programme::auth::Caller`] that the guard resolved, behind `Deref`. Anonymous or
/// invalid credentials are a 401.
#[derive(Debug, Clone)]
pub struct Caller(pub echinomap_programme::auth::Caller);

impl Caller {
    /// The caller as the programme's writes and audited reads take it: the audit actor and
    /// the jurisdiction.
    pub fn who(&self) -> echinomap_programme::records::import::Who {
        echinomap_programme::records::import::Who {
            actor: echinomap_programme::audit::Actor::user(self.user_id, &self.username),
            scope: Some(self.scope.jurisdiction().clone()),
        }
    }
}

impl std::ops::Deref for Caller {
    type Target = echinomap_programme::auth::Caller;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Auth>() {
            Some(Auth::Caller(c)) => Ok(Self(c.clone())),
            Some(Auth::Invalid(why)) => Err(AppError::unauthorized("invalid_credentials", *why)),
            _ => Err(AppError::unauthorized("login_required", "log in first")),
        }
    }
}

/// Logins as this server throttles them: the programme's gate (attempts per address, waits per
/// name and address) and the proxies whose `X-Forwarded-For` names the client.
#[derive(Debug, Default)]
pub struct Logins {
    pub gate: LoginGate,
    trusted_proxies: Vec<ipnet::IpNet>,
}

impl Logins {
    pub fn new(settings: &LoginSettings) -> Self {
        Self {
            gate: LoginGate::new(settings.throttle),
            trusted_proxies: settings.trusted_proxies.clone(),
        }
    }

    pub fn trusted(&self, address: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&address))
    }

    /// The client's address: the connection's peer; when the peer is a trusted proxy, the last
    /// address of `X-Forwarded-For` that is not a trusted proxy (the hop the proxies saw: a
    /// client cannot choose it by sending its own header, which the proxy appends to). A router
    /// served without the peer's address (`ConnectInfo`) sees every client as the loopback
    /// address.
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        let peer = peer.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |p| p.to_canonical());
        if !self.trusted(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| {
                let hop = hop.trim();
                hop.parse::<IpAddr>()
                    .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
                    .ok()
            })
            .map(|a| a.to_canonical())
            .collect();
        hops.iter()
            .rev()
            .find(|a| !self.trusted(**a))
            .or(hops.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// The address a request comes from ([`Logins::client_address`]), as a handler argument.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Self(state.logins.client_address(peer, &parts.headers)))
    }
}

/// A refused login as an answer: a throttled one is 429 with `Retry-After` and
/// `details.retry_after_seconds`; anything else as [`AppError`] maps it.
pub(crate) fn refused(e: echinomap_programme::Error) -> Response {
    match e {
        echinomap_programme::Error::Locked {
            code,
            message,
            retry_after_secs,
        } => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_secs.to_string())],
            Json(error_body(
                code,
                &message,
                json!({ "retry_after_seconds": retry_after_secs }),
            )),
        )
            .into_response(),
        e => AppError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

fn is_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    jar: CookieJar,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(CookieJar, Json<Value>), Response> {
    let Json(body) = body.map_err(|e| AppError::from(e).into_response())?;
    let session = sessions::login(
        &state.pool,
        &body.username,
        &body.password,
        state.password_policy,
        Attempt {
            address,
            gate: &state.logins.gate,
        },
    )
    .await
    .map_err(refused)?;
    let user = &session.user;
    let cookie = Cookie::build((SESSION_COOKIE, session.secret.clone()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(is_tls(&headers))
        .max_age(time_duration_hours(SESSION_HOURS))
        .build();
    Ok((
        jar.add(cookie),
        Json(
            json!({ "user": me_json(&user.username, user.role, &user.jurisdiction, user.display_name.as_deref()), "csrf_token": session.csrf_token }),
        ),
    ))
}

fn time_duration_hours(hours: i64) -> time::Duration {
    time::Duration::hours(hours)
}

fn me_json(username: &str, role: Role, jurisdiction: &str, display_name: Option<&str>) -> Value {
    json!({
        "username": username,
        "display_name": display_name,
        "role": role,
        "jurisdiction": jurisdiction,
        "permissions": role.permissions(),
    })
}

pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    jar: CookieJar,
) -> AppResult<(CookieJar, Json<Value>)> {
    sessions::logout(
        &state.pool,
        &Actor::user(caller.user_id, &caller.username),
        jar.get(SESSION_COOKIE).map(Cookie::value),
    )
    .await?;
    let removal = Cookie::build((SESSION_COOKIE, "")).path("/").build();
    Ok((jar.remove(removal), Json(json!({ "ok": true }))))
}

/// `GET /api/auth/session`: who is logged in, without an error for nobody (a page asks this on
/// load; a 401 there would be logged by the browser as a failed request), and whether WeChat
/// sign-in is configured (`wechat`: the pages offer binding the mini-program only then).
pub async fn session(
    state: State<AppState>,
    parts: axum::http::request::Parts,
) -> AppResult<Json<Value>> {
    let wechat = state.wechat.is_configured();
    match parts.extensions.get::<Auth>() {
        Some(Auth::Caller(c)) => {
            let me = me(state, Caller(c.clone())).await?;
            Ok(Json(
                json!({ "authenticated": true, "user": me.0, "wechat": wechat }),
            ))
        }
        _ => Ok(Json(
            json!({ "authenticated": false, "user": null, "wechat": wechat }),
        )),
    }
}

pub async fn me(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    let (name, display, must_change) = store::profile(&state.pool, caller.user_id).await?;
    let mut body = me_json(
        &caller.username,
        caller.role,
        caller.scope.prefix(),
        display.as_deref(),
    );
    body["jurisdiction_name"] = json!(name);
    // A mini-program session carries less than the role (`auth::Caller::can`).
    body["permissions"] = json!(caller.permissions());
    body["wechat"] = json!(state.wechat.is_configured());
    // An administrator set or generated the password: the page asks for a new one.
    body["must_change_password"] = json!(must_change);
    body["csrf_token"] = match &caller.via {
        AuthVia::Session { csrf_token } => json!(csrf_token),
        AuthVia::Token { .. } | AuthVia::WeChat { .. } => Value::Null,
    };
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    username: String,
    old_password: String,
    new_password: String,
}

/// Changes one's own password with the old one (also when it has expired).
pub async fn change_password(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    body: Result<Json<PasswordBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, Response> {
    let Json(body) = body.map_err(|e| AppError::from(e).into_response())?;
    sessions::change_password(
        &state.pool,
        &body.username,
        &body.old_password,
        &body.new_password,
        state.password_policy,
        Attempt {
            address,
            gate: &state.logins.gate,
        },
    )
    .await
    .map_err(refused)?;
    Ok(Json(json!({ "ok": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_peer_without_forwarding_headers_is_local() {
        let none = HeaderMap::new();
        let v4: IpAddr = "127.0.0.1".parse().expect("an address");
        let v6: IpAddr = "::1".parse().expect("an address");
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("an address");
        let lan: IpAddr = "192.0.2.7".parse().expect("an address");
        assert!(is_local(Some(v4), &none));
        assert!(is_local(Some(v6), &none));
        assert!(is_local(Some(mapped), &none));
        assert!(!is_local(Some(lan), &none));
        // No peer known: not local (fail closed).
        assert!(!is_local(None, &none));
        // A proxy on this host forwards other clients' requests: never local, whatever the
        // header says (a client cannot remove what the proxy adds).
        for name in FORWARDED_HEADERS {
            let mut forwarded = HeaderMap::new();
            forwarded.insert(name, "127.0.0.1".parse().expect("a header value"));
            assert!(!is_local(Some(v4), &forwarded), "{name}");
        }
        // A remote client claiming to be local is its peer address.
        let mut claims = HeaderMap::new();
        claims.insert(
            "x-forwarded-for",
            "127.0.0.1".parse().expect("a header value"),
        );
        assert!(!is_local(Some(lan), &claims));
    }
}

//! WeChat mini-program sign-in over HTTP: the code2Session client ([`WeChat`]) and the routes
//! of docs/API.md "WeChat mini-program sign-in". What is stored (bindings, binding codes, the
//! count of wrong codes, the mini-program's sessions) is `echinomap_programme::auth::wechat`.
//!
//! The mini-program sends the code of `wx.login`; [`WeChat::code2session`] exchanges it at
//! `{api_base}/sns/jscode2session` for the user's openid (the `session_key` WeChat sends along
//! is never read). WeChat's refusals become one error each (Chinese, then English):
//!
//! | WeChat | answer |
//! |---|---|
//! | 40029 invalid code, 40163 code used | 401 `wechat_code_invalid` |
//! | 45011 rate limit | 429 `wechat_rate_limited`, `Retry-After: 60` |
//! | 40226 high-risk user | 403 `wechat_high_risk` |
//! | any other errcode | 502 `wechat_error` (`details.errcode`) |
//! | no answer in time, refused, not JSON | 502 `wechat_unreachable` |
//!
//! The client is hyper's over rustls with the ring provider and the platform's roots, connect
//! timeout 3 s, whole answer 5 s (`settings::WechatSettings`). Not reqwest: its TLS features
//! would be unified into every reqwest client of the workspace (the tests'), which would then
//! need a process-wide crypto provider. The request URL carries the AppSecret and the login
//! code: it is never logged, and hyper's errors do not carry it.
//!
//! The two public POSTs (sign in, bind) read and set no cookie, and WeChat sends them with its
//! own `Referer` (`https://servicewechat.com/{appid}/…`): they are `Access::PublicNoCookie`,
//! not refused as cross-origin.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiPath, ApiQuery};
use super::session::{Access, Caller, ClientAddr, password_change_required, refused};
use super::{AppState, Handler, RouteSpec};
use crate::error::{AppError, AppResult, error_body};
use crate::settings::{Secret, WechatSettings};
use echinomap_programme::audit::Actor;
use echinomap_programme::auth::wechat::{self as store, SignedIn};
use echinomap_programme::auth::{
    AuthVia, MINI_PROGRAM_WITHOUT, Perm, mini_program_refused, store as accounts,
};

/// The routes of the mini-program's sign-in and of the bindings.
pub(super) fn routes() -> Vec<(RouteSpec, Handler)> {
    let spec = |method: Method, path: &'static str, access: Access, handler: Handler| {
        (
            RouteSpec {
                method,
                path,
                access,
            },
            handler,
        )
    };
    vec![
        spec(
            Method::POST,
            "/api/auth/wechat",
            Access::PublicNoCookie,
            post(sign_in),
        ),
        spec(
            Method::POST,
            "/api/auth/wechat/bind",
            Access::PublicNoCookie,
            post(bind),
        ),
        spec(
            Method::POST,
            "/api/auth/wechat/binding-code",
            Access::LoggedIn,
            post(binding_code),
        ),
        spec(
            Method::POST,
            "/api/auth/wechat/logout",
            Access::LoggedIn,
            post(logout),
        ),
        spec(
            Method::GET,
            "/api/wechat/bindings",
            Access::LoggedIn,
            get(list),
        ),
        spec(
            Method::DELETE,
            "/api/wechat/bindings/{id}",
            Access::LoggedIn,
            delete(unbind),
        ),
    ]
}

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
>;

/// The code2Session client of the configured mini-program, or nothing (sign-in off).
pub struct WeChat(Option<Arc<Configured>>);

struct Configured {
    app_id: String,
    secret: Secret,
    api_base: String,
    timeout: Duration,
    client: HttpsClient,
}

impl std::fmt::Debug for WeChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(c) => f
                .debug_struct("WeChat")
                .field("app_id", &c.app_id)
                .field("secret", &c.secret)
                .field("api_base", &c.api_base)
                .finish_non_exhaustive(),
            None => f.write_str("WeChat(not configured)"),
        }
    }
}

/// The largest answer read from code2Session (a real one is about 150 bytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

impl WeChat {
    /// Sign-in off: every sign-in route answers 503 `wechat_not_configured`.
    pub fn not_configured() -> Self {
        Self(None)
    }

    /// The client of `settings`, or [`WeChat::not_configured`] without an AppID and AppSecret.
    pub fn from_settings(settings: &WechatSettings) -> anyhow::Result<Self> {
        let (Some(app_id), Some(secret)) = (&settings.app_id, &settings.app_secret) else {
            return Ok(Self::not_configured());
        };
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config()?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        tracing::info!(wechat.api_base = %settings.api_base, "WeChat mini-program sign-in is on");
        Ok(Self(Some(Arc::new(Configured {
            app_id: app_id.clone(),
            secret: secret.clone(),
            api_base: settings.api_base.trim_end_matches('/').to_owned(),
            timeout: settings.timeout,
            client,
        }))))
    }

    /// Sign-in is on (an AppID and an AppSecret are set): `/api/auth/session` and
    /// `/api/auth/me` say so, and the clients offer binding only then.
    pub fn is_configured(&self) -> bool {
        self.0.is_some()
    }

    fn configured(&self) -> Result<&Configured, NotConfigured> {
        self.0.as_deref().ok_or(NotConfigured)
    }
}

/// The answer of every sign-in route while WeChat sign-in is off.
#[derive(Debug, Clone, Copy)]
struct NotConfigured;

impl IntoResponse for NotConfigured {
    fn into_response(self) -> Response {
        wechat_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "wechat_not_configured",
            "本服务未配置微信小程序登录 / WeChat sign-in is not configured on this service (ECHINOMAP_WECHAT_APP_ID, ECHINOMAP_WECHAT_APP_SECRET)",
            Value::Null,
        )
    }
}

/// rustls with the ring provider and the platform's roots (none found: a warning, and every
/// HTTPS request to WeChat then fails as `wechat_unreachable`).
fn tls_config() -> anyhow::Result<rustls::ClientConfig> {
    use hyper_rustls::ConfigBuilderExt;
    #[expect(
        deprecated,
        reason = "ring is the chosen provider (aws-lc-rs needs cmake and a C toolchain in the \
                  build); what ring lacks is post-quantum key exchange only"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = || {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow::anyhow!("TLS for WeChat: {e}"))
    };
    Ok(match builder()?.with_native_roots() {
        Ok(b) => b.with_no_client_auth(),
        Err(e) => {
            tracing::warn!(error = %e, "no CA certificates of the platform: HTTPS to WeChat will fail");
            builder()?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        }
    })
}

/// Why code2Session gave no openid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// 40029 (invalid code), 40163 (code used).
    CodeInvalid(i64),
    /// 45011.
    RateLimited,
    /// 40226.
    HighRisk,
    /// Any other errcode (-1: busy …).
    Other(i64),
    /// No answer in time, refused, not JSON, no openid.
    Unreachable,
}

impl Failure {
    fn of_errcode(errcode: i64) -> Self {
        match errcode {
            40029 | 40163 => Self::CodeInvalid(errcode),
            45011 => Self::RateLimited,
            40226 => Self::HighRisk,
            other => Self::Other(other),
        }
    }

    /// The `reason` of the audit row.
    fn reason(self) -> &'static str {
        match self {
            Self::CodeInvalid(_) => "code_invalid",
            Self::RateLimited => "rate_limited",
            Self::HighRisk => "high_risk",
            Self::Other(_) => "wechat_error",
            Self::Unreachable => "unreachable",
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::CodeInvalid(errcode) => wechat_error(
                StatusCode::UNAUTHORIZED,
                "wechat_code_invalid",
                "微信登录码无效或已使用，请重新打开小程序再试 / the WeChat login code is invalid or was used already: open the mini-program again",
                json!({ "errcode": errcode }),
            ),
            Self::RateLimited => {
                let mut r = wechat_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "wechat_rate_limited",
                    "微信登录过于频繁，请 1 分钟后再试 / WeChat limits sign-ins: try again in a minute",
                    json!({ "errcode": 45011, "retry_after_seconds": 60 }),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
                r
            }
            Self::HighRisk => wechat_error(
                StatusCode::FORBIDDEN,
                "wechat_high_risk",
                "微信判定该用户存在安全风险，拒绝登录；请用其他方式登录或联系微信客服 / WeChat refused this user as high-risk: sign in another way",
                json!({ "errcode": 40226 }),
            ),
            Self::Other(errcode) => wechat_error(
                StatusCode::BAD_GATEWAY,
                "wechat_error",
                &format!(
                    "微信服务器拒绝了登录（错误码 {errcode}），请稍后再试 / WeChat refused the sign-in (errcode {errcode}): try again later"
                ),
                json!({ "errcode": errcode }),
            ),
            Self::Unreachable => wechat_error(
                StatusCode::BAD_GATEWAY,
                "wechat_unreachable",
                "暂时无法连接微信服务器，请稍后再试 / WeChat's server did not answer: try again later",
                Value::Null,
            ),
        }
    }
}

fn wechat_error(status: StatusCode, code: &str, message: &str, details: Value) -> Response {
    (status, Json(error_body(code, message, details))).into_response()
}

/// What code2Session answers; `session_key` and `unionid` are never read.
#[derive(Debug, Deserialize)]
struct Answer {
    openid: Option<String>,
    #[serde(default)]
    errcode: i64,
}

impl Configured {
    /// The openid of the `wx.login` code `code`.
    async fn code2session(&self, code: &str) -> Result<String, Failure> {
        let mut url = url::Url::parse(&format!("{}/sns/jscode2session", self.api_base))
            .map_err(|_| Failure::Unreachable)?;
        url.query_pairs_mut()
            .append_pair("appid", &self.app_id)
            .append_pair("secret", self.secret.expose())
            .append_pair("js_code", code)
            .append_pair("grant_type", "authorization_code");
        let request = axum::http::Request::get(url.as_str())
            .header(header::USER_AGENT, "echinomap")
            .body(Empty::<Bytes>::new())
            .map_err(|_| Failure::Unreachable)?;
        drop(url);
        let exchange = async {
            let answer = self
                .client
                .request(request)
                .await
                .map_err(|e| anyhow::anyhow!("{e}: {:?}", std::error::Error::source(&e)))?;
            let status = answer.status();
            let body = Limited::new(answer.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?
                .to_bytes();
            Ok::<_, anyhow::Error>((status, body))
        };
        let started = std::time::Instant::now();
        let (status, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "code2Session failed");
                return Err(Failure::Unreachable);
            }
            Err(_) => {
                tracing::warn!(
                    duration_ms = started.elapsed().as_millis() as u64,
                    "code2Session did not answer in time"
                );
                return Err(Failure::Unreachable);
            }
        };
        // WeChat answers `text/plain` at times: the body is read as JSON whatever its type.
        let Ok(answer) = serde_json::from_slice::<Answer>(&body) else {
            tracing::warn!(
                http.status = status.as_u16(),
                bytes = body.len(),
                "code2Session's answer is not JSON"
            );
            return Err(Failure::Unreachable);
        };
        drop(body);
        if answer.errcode != 0 {
            tracing::info!(
                wechat.errcode = answer.errcode,
                "code2Session refused the code"
            );
            return Err(Failure::of_errcode(answer.errcode));
        }
        match answer.openid {
            Some(openid)
                if !openid.is_empty()
                    && openid.len() <= 128
                    && !openid.chars().any(char::is_control) =>
            {
                Ok(openid)
            }
            _ => {
                tracing::warn!("code2Session answered without an openid");
                Err(Failure::Unreachable)
            }
        }
    }
}

/// A `wx.login` code as WeChat makes them: 1–128 visible ASCII characters.
fn check_login_code(code: &str) -> Result<(), AppError> {
    if (1..=128).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(AppError::invalid_field(
            "code",
            "code 须为 wx.login 返回的登录码 / code must be the code of wx.login",
        ))
    }
}

/// Exchanges `code`, auditing a refusal as `wechat_login_failed` (as `actor`).
async fn openid_of(
    state: &AppState,
    wechat: &Configured,
    code: &str,
    during: &str,
    address: IpAddr,
    actor: &Actor,
) -> Result<String, Response> {
    match wechat.code2session(code).await {
        Ok(openid) => Ok(openid),
        Err(failure) => {
            store::record_failure(&state.pool, failure.reason(), during, None, address, actor)
                .await
                .map_err(|e| AppError::from(e).into_response())?;
            Err(failure.into_response())
        }
    }
}

/// The answer to a sign-in or a binding: the session's token (here once), its idle limit and
/// the account.
async fn signed_in(state: &AppState, s: &SignedIn) -> Result<Value, Response> {
    let (jurisdiction_name, display_name, _) = accounts::profile(&state.pool, s.user.id)
        .await
        .map_err(|e| AppError::from(e).into_response())?;
    Ok(json!({
        "token": s.token,
        "token_id": s.token_id,
        "idle_days": store::IDLE_DAYS,
        "user": {
            "username": s.user.username,
            "display_name": display_name,
            "role": s.user.role,
            "jurisdiction": s.user.jurisdiction,
            "jurisdiction_name": jurisdiction_name,
            // What the session may do: the role's, less what a mini-program session may not.
            "permissions": s.user.role.permissions().iter()
                .filter(|p| !MINI_PROGRAM_WITHOUT.contains(p))
                .collect::<Vec<_>>(),
        },
    }))
}

const NO_STORE: [(header::HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    /// The code of `wx.login`.
    code: String,
}

/// `POST /api/auth/wechat`: a bound WeChat user signs in and gets a mini-program session.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    body: Result<Json<SignInBody>, JsonRejection>,
) -> Result<impl IntoResponse, Response> {
    let wechat = state
        .wechat
        .configured()
        .map_err(IntoResponse::into_response)?;
    let Json(body) = body.map_err(|e| AppError::from(e).into_response())?;
    check_login_code(&body.code).map_err(IntoResponse::into_response)?;
    state.logins.gate.admit(address).map_err(refused)?;
    let nobody = Actor {
        user_id: None,
        username: "wechat".to_owned(),
    };
    let openid = openid_of(&state, wechat, &body.code, "sign_in", address, &nobody).await?;
    let session = store::sign_in(&state.pool, &wechat.app_id, &openid, address)
        .await
        .map_err(refused)?;
    Ok((NO_STORE, Json(signed_in(&state, &session).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindBody {
    /// The code of `wx.login`.
    code: String,
    /// The account, as typed.
    username: String,
    /// The 6 digits the account asked for (`POST /api/auth/wechat/binding-code`).
    binding_code: String,
}

/// `POST /api/auth/wechat/bind`: binds the WeChat user to the account of the binding code and
/// signs in.
pub async fn bind(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    body: Result<Json<BindBody>, JsonRejection>,
) -> Result<impl IntoResponse, Response> {
    let wechat = state
        .wechat
        .configured()
        .map_err(IntoResponse::into_response)?;
    let Json(body) = body.map_err(|e| AppError::from(e).into_response())?;
    check_login_code(&body.code).map_err(IntoResponse::into_response)?;
    state.logins.gate.admit(address).map_err(refused)?;
    // The binding code first: guesses never reach WeChat, and a refused login code spends no
    // binding code.
    let verified =
        store::check_binding_code(&state.pool, &body.username, &body.binding_code, address)
            .await
            .map_err(refused)?;
    let actor = Actor::user(verified.user.id, &verified.user.username);
    let openid = openid_of(&state, wechat, &body.code, "bind", address, &actor).await?;
    let session = store::bind(&state.pool, &verified, &wechat.app_id, &openid, address)
        .await
        .map_err(refused)?;
    let mut answer = signed_in(&state, &session).await?;
    answer["binding_id"] = json!(session.binding_id);
    Ok((NO_STORE, Json(answer)))
}

/// `POST /api/auth/wechat/binding-code`: a one-time 6-digit code to bind a WeChat user to the
/// caller's account (valid 10 minutes; a new one supersedes the unused ones). Not with a
/// mini-program session: a phone signed in must not bind a second WeChat user on its own.
pub async fn binding_code(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, Response> {
    state
        .wechat
        .configured()
        .map_err(IntoResponse::into_response)?;
    if caller.is_mini_program() {
        return Err(AppError::from(mini_program_refused()).into_response());
    }
    // `/api/auth/*` is open to an account that must change its password; binding is not.
    if caller.must_change_password {
        return Err(password_change_required().into_response());
    }
    let code = store::new_binding_code(&state.pool, &Actor::user(caller.user_id, &caller.username))
        .await
        .map_err(|e| AppError::from(e).into_response())?;
    Ok((
        StatusCode::CREATED,
        NO_STORE,
        Json(json!({
            "code": code.code,
            "expires_at": code.expires_at,
            "valid_minutes": store::CODE_MINUTES,
        })),
    ))
}

/// `POST /api/auth/wechat/logout`: ends the mini-program session the request came with.
pub async fn logout(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    let AuthVia::WeChat { token_id } = caller.via else {
        return Err(store::not_a_wechat_session().into());
    };
    store::logout(
        &state.pool,
        token_id,
        &Actor::user(caller.user_id, &caller.username),
    )
    .await?;
    Ok(Json(json!({ "ok": true })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// An administrator's filter: one account's bindings.
    user_id: Option<i64>,
}

/// `GET /api/wechat/bindings`: an administrator's: every live binding (or one account's);
/// anyone else's: their own.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ListParams>,
) -> AppResult<Json<Value>> {
    let user_id = if caller.can(Perm::Admin) {
        params.user_id
    } else {
        Some(caller.user_id)
    };
    let items = store::bindings(&state.pool, user_id).await?;
    Ok(Json(json!({ "items": items })))
}

/// `DELETE /api/wechat/bindings/{id}`: unbinds (one's own, or any for an administrator); the
/// binding's sessions end at once.
pub async fn unbind(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Value>> {
    store::unbind(
        &state.pool,
        id,
        &Actor::user(caller.user_id, &caller.username),
        caller.can(Perm::Admin),
    )
    .await?;
    Ok(Json(json!({ "ok": true, "id": id })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechat_s_error_codes_map_to_their_answers() {
        let status = |f: Failure| f.into_response().status().as_u16();
        assert_eq!(status(Failure::of_errcode(40029)), 401);
        assert_eq!(status(Failure::of_errcode(40163)), 401);
        assert_eq!(status(Failure::of_errcode(45011)), 429);
        assert_eq!(status(Failure::of_errcode(40226)), 403);
        assert_eq!(status(Failure::of_errcode(-1)), 502);
        assert_eq!(status(Failure::Unreachable), 502);
        let limited = Failure::RateLimited.into_response();
        assert_eq!(limited.headers()[header::RETRY_AFTER], "60");
    }

    #[test]
    fn the_secret_is_never_printed() {
        let w = WeChat::from_settings(&WechatSettings {
            app_id: Some("wx0123456789abcdef".to_owned()),
            app_secret: Some(Secret::new("s3cr3t-value".to_owned())),
            ..WechatSettings::default()
        })
        .expect("a client");
        let printed = format!("{w:?}");
        assert!(printed.contains("wx0123456789abcdef"), "{printed}");
        assert!(!printed.contains("s3cr3t-value"), "{printed}");
    }
}

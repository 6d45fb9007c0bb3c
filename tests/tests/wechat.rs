//! WeChat mini-program sign-in (issue 21), against the real server and database. WeChat's
//! code2Session is the one service that cannot be reached from here: each test starts a
//! stand-in for it on 127.0.0.1 (login codes → openids, 40029, 40163 on reuse, 45011, 40226,
//! -1, an answer that is not JSON, one that never comes) and points the configured API base at
//! it. The mini-program's requests carry no cookie and WeChat's own `Referer`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use echinomap_programme::auth::Role;
use echinomap_server::settings::{Secret, Settings, WechatSettings};
use echinomap_tests::{
    ApiClient, BinaryServer, Result, TEST_USER_PASSWORD, TestApp, TestDb, api_client, log_dir,
};
use serde_json::{Value, json};

const APP_ID: &str = "wxd0c0ffee12345678";
const APP_SECRET: &str = "a-secret-that-no-log-may-hold-0042";
/// What WeChat sends with every request of a mini-program.
const REFERER: &str = "https://servicewechat.com/wxd0c0ffee12345678/3/page-frame.html";
const COUNTY: &str = "654022";
const VILLAGE: &str = "654022100200";

/// The openid the stand-in answers for the WeChat user `name`.
fn openid(name: &str) -> String {
    format!("oQx7W-{name}-OpenIdOfThisUser-9k3J")
}

static CODES: AtomicU32 = AtomicU32::new(0);

/// A fresh `wx.login` code of `kind`: `user:NAME` (the user's openid), `bad`, `limit`, `risky`,
/// `busy`, `garbage` or `slow`.
fn login_code(kind: &str) -> String {
    format!("{kind}:{}", CODES.fetch_add(1, Ordering::SeqCst))
}

/// The stand-in for `GET /sns/jscode2session`: the codes it has seen (a second use is 40163).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<HashSet<String>>>);

type Plain = ([(axum::http::HeaderName, &'static str); 1], String);

/// WeChat answers JSON as text/plain: the server must not care.
fn plain(body: String) -> Plain {
    ([(axum::http::header::CONTENT_TYPE, "text/plain")], body)
}

fn errcode(errcode: i64) -> Plain {
    plain(json!({ "errcode": errcode, "errmsg": "stand-in" }).to_string())
}

async fn code2session(
    State(seen): State<Seen>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Plain {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("appid") != APP_ID
        || get("secret") != APP_SECRET
        || get("grant_type") != "authorization_code"
    {
        return errcode(40013);
    }
    let code = get("js_code").to_owned();
    let fresh = seen
        .0
        .lock()
        .map(|mut s| s.insert(code.clone()))
        .unwrap_or(false);
    let mut parts = code.split(':');
    match parts.next().unwrap_or_default() {
        "bad" => errcode(40029),
        "limit" => errcode(45011),
        "risky" => errcode(40226),
        "busy" => errcode(-1),
        "garbage" => plain("<html>502 Bad Gateway</html>".to_owned()),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            errcode(-1)
        }
        _ if !fresh => errcode(40163),
        "user" => plain(
            json!({
                "openid": openid(parts.next().unwrap_or_default()),
                "session_key": "c2Vzc2lvbi1rZXktbmV2ZXItc3RvcmVk",
            })
            .to_string(),
        ),
        _ => errcode(40029),
    }
}

/// Starts the stand-in on 127.0.0.1:0; its base URL.
async fn stand_in() -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/sns/jscode2session", axum::routing::get(code2session))
        .with_state(Seen::default());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

/// The server with WeChat sign-in pointed at a new stand-in, and `X-Forwarded-For` believed
/// from 127.0.0.1 (so that a test can come from several addresses).
async fn app_with_wechat() -> Result<TestApp> {
    let base = stand_in().await?;
    TestApp::spawn_with(TestDb::empty().await?, None, move |s: &mut Settings| {
        s.wechat = WechatSettings {
            app_id: Some(APP_ID.to_owned()),
            app_secret: Some(Secret::new(APP_SECRET.to_owned())),
            api_base: base,
            ..WechatSettings::default()
        };
        s.login.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a CIDR range")];
    })
    .await
}

/// A POST as the mini-program makes it (no cookie, WeChat's Referer), from `address`.
async fn mp_post(
    app: &TestApp,
    path: &str,
    body: &Value,
    address: Option<&str>,
) -> Result<(u16, Value, reqwest::header::HeaderMap)> {
    let mut req = app
        .client
        .post(app.url(path))
        .header("referer", REFERER)
        .json(body);
    if let Some(a) = address {
        req = req.header("x-forwarded-for", a);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await?;
    let body = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("POST {path}: {status}, not JSON ({e}): {text}"))?;
    Ok((status, body, headers))
}

async fn sign_in(app: &TestApp, code: &str) -> Result<(u16, Value)> {
    let (s, b, _) = mp_post(app, "/api/auth/wechat", &json!({ "code": code }), None).await?;
    Ok((s, b))
}

async fn bind_from(
    app: &TestApp,
    who: &str,
    username: &str,
    binding_code: &str,
    address: Option<&str>,
) -> Result<(u16, Value, reqwest::header::HeaderMap)> {
    mp_post(
        app,
        "/api/auth/wechat/bind",
        &json!({ "code": login_code(&format!("user:{who}")), "username": username, "binding_code": binding_code }),
        address,
    )
    .await
}

async fn bind(
    app: &TestApp,
    who: &str,
    username: &str,
    binding_code: &str,
) -> Result<(u16, Value)> {
    let (s, b, _) = bind_from(app, who, username, binding_code, None).await?;
    Ok((s, b))
}

/// A binding code of the account of `client` (an API token).
async fn mint(client: &ApiClient) -> Result<String> {
    let body = client
        .post_json("/api/auth/wechat/binding-code", &json!({}), 201)
        .await?;
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{body}"
    );
    Ok(code)
}

/// A request with a mini-program session's token: its status.
async fn with_token(app: &TestApp, token: &str, path: &str) -> Result<u16> {
    Ok(app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await?
        .status()
        .as_u16())
}

async fn count(app: &TestApp, sql: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.db.pool)
        .await?)
}

/// Nothing of a binding or a session was written.
async fn assert_nothing_written(app: &TestApp, what: &str) -> Result<()> {
    assert_eq!(
        count(app, "SELECT count(*) FROM wechat_bindings").await?,
        0,
        "{what}: a binding was written"
    );
    assert_eq!(
        count(app, "SELECT count(*) FROM api_tokens WHERE kind = 'wechat'").await?,
        0,
        "{what}: a session was written"
    );
    Ok(())
}

/// No audit row holds any of `secrets` (openids, codes, the AppSecret).
async fn assert_audit_holds_none_of(app: &TestApp, secrets: &[String]) -> Result<()> {
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', username, row_id, before::text, after::text, detail::text) FROM audit_log",
    )
    .fetch_all(&app.db.pool)
    .await?;
    for row in &rows {
        for s in secrets {
            assert!(!row.contains(s.as_str()), "an audit row holds {s:?}: {row}");
        }
    }
    Ok(())
}

async fn audited(app: &TestApp, action: &str) -> Result<Vec<Value>> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(detail, '{}'::jsonb) FROM audit_log WHERE action::text = $1 ORDER BY id",
    )
    .bind(action)
    .fetch_all(&app.db.pool)
    .await?)
}

#[tokio::test]
async fn a_code_minted_on_field_binds_wechat_and_the_mini_program_then_signs_in() -> Result<()> {
    let app = app_with_wechat().await?;
    let vd = app.user(Role::VillageDoctor, VILLAGE).await?;
    let admin = app.user(Role::Admin, COUNTY).await?;

    // Not bound yet: refused, and nothing written.
    let (s, b) = sign_in(&app, &login_code("user:guo")).await?;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["error"]["code"], "wechat_not_bound");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("绑定码"),
        "{b}"
    );
    assert_nothing_written(&app, "an unbound sign-in").await?;

    // The /field page asks for a code with its cookie and CSRF token.
    let browser = reqwest::Client::builder().cookie_store(true).build()?;
    let login: Value = browser
        .post(app.url("/api/auth/login"))
        .json(&json!({ "username": vd.username, "password": TEST_USER_PASSWORD }))
        .send()
        .await?
        .json()
        .await?;
    let csrf = login["csrf_token"].as_str().unwrap_or_default().to_owned();
    let r = browser
        .post(app.url("/api/auth/wechat/binding-code"))
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let minted: Value = r.json().await?;
    let code = minted["code"].as_str().unwrap_or_default().to_owned();
    assert_eq!(code.len(), 6, "{minted}");
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(minted["expires_at"].clone())?;
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::Duration::minutes(9) && left <= chrono::Duration::minutes(10),
        "{minted}"
    );

    // The mini-program binds with the username as typed (any case) and the code.
    let typed = vd.username.to_uppercase();
    let (s, bound) = bind(&app, "guo", &format!(" {typed} "), &code).await?;
    assert_eq!(s, 200, "{bound}");
    assert_eq!(bound["idle_days"], 30);
    assert_eq!(bound["user"]["username"], vd.username.as_str());
    assert_eq!(bound["user"]["role"], "village_doctor");
    assert_eq!(bound["user"]["jurisdiction"], VILLAGE);
    assert_eq!(bound["user"]["jurisdiction_name"], "宁古齐牛录村");
    assert!(
        bound["user"]["permissions"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
    let token = bound["token"].as_str().unwrap_or_default().to_owned();
    assert!(token.starts_with("emt_"), "{bound}");
    assert!(bound["binding_id"].as_i64().is_some(), "{bound}");
    // The session works as a bearer token.
    let me: Value = app
        .client
        .get(app.url("/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(me["username"], vd.username.as_str());

    // Signed in again later, with a new login code.
    let (s, again) = sign_in(&app, &login_code("user:guo")).await?;
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["user"]["username"], vd.username.as_str());
    assert_ne!(again["token"], bound["token"]);

    // The code is spent; a login code is good once (WeChat's 40163).
    let (s, b) = bind(&app, "guo", &vd.username, &code).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("binding_code_used")),
        "{b}"
    );
    let reused = login_code("user:guo");
    assert_eq!(sign_in(&app, &reused).await?.0, 200);
    let (s, b) = sign_in(&app, &reused).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("wechat_code_invalid")),
        "{b}"
    );
    assert_eq!(b["error"]["details"]["errcode"], 40163);

    // The sessions are listed with the account's tokens.
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(&vd.username)
        .fetch_one(&app.db.pool)
        .await?;
    let tokens = admin
        .get_json(&format!("/api/users/{user_id}/tokens"), 200)
        .await?;
    let wechat: Vec<&Value> = tokens["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["kind"] == "wechat")
        .collect();
    assert_eq!(wechat.len(), 3, "{tokens}");
    assert!(
        wechat
            .iter()
            .all(|t| t["idle_days"] == 30 && t["name"] == "微信小程序" && t["active"] == true)
    );
    assert!(
        tokens["items"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["kind"] == "api" && t["idle_days"].is_null())
    );

    // Audited, without the openid, the codes or the secret.
    assert_eq!(audited(&app, "wechat_bind").await?.len(), 1);
    assert_eq!(audited(&app, "wechat_login").await?.len(), 2);
    assert_eq!(audited(&app, "wechat_binding_code").await?.len(), 1);
    let failed = audited(&app, "wechat_login_failed").await?;
    let reasons: Vec<&str> = failed.iter().filter_map(|d| d["reason"].as_str()).collect();
    assert_eq!(reasons, ["not_bound", "binding_code_used", "code_invalid"]);
    assert_eq!(failed[0]["openid_hint"], "9k3J");
    assert_audit_holds_none_of(
        &app,
        &[openid("guo"), code, reused, APP_SECRET.to_owned(), token],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn wechat_s_refusals_become_clear_answers_and_write_nothing() -> Result<()> {
    let app = app_with_wechat().await?;
    for (kind, status, code, errcode) in [
        ("bad", 401, "wechat_code_invalid", Some(40029)),
        ("limit", 429, "wechat_rate_limited", Some(45011)),
        ("risky", 403, "wechat_high_risk", Some(40226)),
        ("busy", 502, "wechat_error", Some(-1)),
        ("garbage", 502, "wechat_unreachable", None),
    ] {
        let (s, b, headers) = mp_post(
            &app,
            "/api/auth/wechat",
            &json!({ "code": login_code(kind) }),
            None,
        )
        .await?;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{kind}: {b}"
        );
        let message = b["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.chars().next().is_some_and(|c| !c.is_ascii()) && message.contains(" / "),
            "{kind}: Chinese first, then English: {message}"
        );
        if let Some(e) = errcode {
            assert_eq!(b["error"]["details"]["errcode"], e, "{kind}: {b}");
        }
        if kind == "limit" {
            assert_eq!(headers["retry-after"], "60");
        }
    }
    // A WeChat that never answers: refused within the 5-second limit.
    let started = Instant::now();
    let (s, b) = sign_in(&app, &login_code("slow")).await?;
    let took = started.elapsed();
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (502, Some("wechat_unreachable")),
        "{b}"
    );
    assert!(
        took >= Duration::from_millis(4500) && took < Duration::from_secs(8),
        "answered after {took:?}"
    );
    // Malformed bodies never reach WeChat.
    let (s, b, _) = mp_post(&app, "/api/auth/wechat", &json!({ "code": "" }), None).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("invalid_field")),
        "{b}"
    );
    let (s, _, _) = mp_post(
        &app,
        "/api/auth/wechat",
        &json!({ "code": "x", "openid": "y" }),
        None,
    )
    .await?;
    assert_eq!(s, 400);
    let reasons: Vec<String> = audited(&app, "wechat_login_failed")
        .await?
        .iter()
        .filter_map(|d| d["reason"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        reasons,
        [
            "code_invalid",
            "rate_limited",
            "high_risk",
            "wechat_error",
            "unreachable",
            "unreachable"
        ]
    );
    assert_nothing_written(&app, "WeChat's refusals").await?;

    // Without an AppID and AppSecret the routes say so.
    let off = TestApp::empty().await?;
    let (s, b) = sign_in(&off, &login_code("user:x")).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (503, Some("wechat_not_configured")),
        "{b}"
    );
    Ok(())
}

#[tokio::test]
async fn expired_superseded_used_and_someone_else_s_binding_codes_are_refused_and_write_nothing()
-> Result<()> {
    let app = app_with_wechat().await?;
    let a = app.user(Role::VillageDoctor, VILLAGE).await?;
    let b = app.user(Role::TownshipStaff, "654022100").await?;

    // Expired: ten minutes have passed.
    let code = mint(&a).await?;
    sqlx::query(
        "UPDATE wechat_binding_codes SET created_at = now() - interval '11 minutes', expires_at = now() - interval '1 minute'",
    )
    .execute(&app.db.pool)
    .await?;
    let (s, body) = bind(&app, "a", &a.username, &code).await?;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("binding_code_expired")),
        "{body}"
    );
    // Superseded: a newer code replaces it.
    let first = mint(&a).await?;
    let second = mint(&a).await?;
    if first != second {
        let (s, body) = bind(&app, "a", &a.username, &first).await?;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (422, Some("binding_code_expired")),
            "{body}"
        );
    }
    // Someone else's: b's code typed with a's name is a wrong code, counted.
    let bs = mint(&b).await?;
    if bs != second {
        let (s, body) = bind(&app, "a", &a.username, &bs).await?;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (422, Some("binding_code_wrong")),
            "{body}"
        );
        assert_eq!(body["error"]["details"]["tries_left"], 4);
        assert_eq!(body["error"]["details"]["field"], "binding_code");
    }
    assert_nothing_written(&app, "refused binding codes").await?;
    // A login code WeChat refuses spends no binding code.
    let (s, body, _) = mp_post(
        &app,
        "/api/auth/wechat/bind",
        &json!({ "code": login_code("bad"), "username": a.username, "binding_code": second }),
        None,
    )
    .await?;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("wechat_code_invalid")),
        "{body}"
    );
    assert_nothing_written(&app, "a refused login code").await?;
    let (s, body) = bind(&app, "a", &a.username, &second).await?;
    assert_eq!(s, 200, "{body}");

    // A WeChat user bound to a is not bound to b as well: 409, never naming a.
    let (s, body) = bind(&app, "a", &b.username, &bs).await?;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("wechat_already_bound")),
        "{body}"
    );
    assert!(!body.to_string().contains(&a.username), "{body}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM wechat_bindings").await?,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM api_tokens WHERE kind = 'wechat'"
        )
        .await?,
        1
    );
    // b's code was not spent by the refusal: b binds another WeChat user with it.
    let (s, body) = bind(&app, "b", &b.username, &bs).await?;
    assert_eq!(s, 200, "{body}");
    assert_audit_holds_none_of(&app, &[openid("a"), openid("b"), code, first, second, bs]).await?;
    Ok(())
}

#[tokio::test]
async fn five_wrong_codes_lock_an_account_and_an_address_for_fifteen_minutes() -> Result<()> {
    let app = app_with_wechat().await?;
    let a = app.user(Role::VillageDoctor, VILLAGE).await?;
    let c = app.user(Role::Vet, COUNTY).await?;
    let right = mint(&a).await?;
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };

    // Per account: five wrong codes from five addresses.
    for (i, left) in [4, 3, 2, 1].into_iter().enumerate() {
        let at = format!("192.0.2.{}", i + 1);
        let (s, b, _) = bind_from(&app, "a", &a.username, wrong, Some(&at)).await?;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (422, Some("binding_code_wrong")),
            "{b}"
        );
        assert_eq!(b["error"]["details"]["tries_left"], left, "{b}");
    }
    let (s, b, h) = bind_from(&app, "a", &a.username, wrong, Some("192.0.2.5")).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("binding_locked")),
        "{b}"
    );
    let wait = b["error"]["details"]["retry_after_seconds"]
        .as_u64()
        .unwrap_or_default();
    assert!((890..=900).contains(&wait), "{b}");
    assert_eq!(h["retry-after"], wait.to_string().as_str());
    // Locked: the right code from yet another address is refused too.
    let (s, b, _) = bind_from(&app, "a", &a.username, &right, Some("192.0.2.6")).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("binding_locked")),
        "{b}"
    );
    // An unknown name behaves the same.
    for i in 0..4 {
        let (s, b, _) = bind_from(
            &app,
            "x",
            "no_such_user",
            wrong,
            Some(&format!("198.51.100.{i}")),
        )
        .await?;
        assert_eq!(
            (s, b["error"]["details"]["tries_left"].as_i64()),
            (422, Some(4 - i)),
            "{b}"
        );
    }
    let (s, b, _) = bind_from(&app, "x", "No_Such_User", wrong, Some("198.51.100.9")).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("binding_locked")),
        "{b}"
    );

    // Per address: five wrong codes of five names from one address.
    let crowded = "203.0.113.7";
    for i in 0..5 {
        let (s, _, _) = bind_from(&app, "y", &format!("guess{i}"), wrong, Some(crowded)).await?;
        assert_eq!(s, if i < 4 { 422 } else { 429 });
    }
    let cs = mint(&c).await?;
    let (s, b, _) = bind_from(&app, "c", &c.username, &cs, Some(crowded)).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("binding_locked")),
        "{b}"
    );
    assert_nothing_written(&app, "locked attempts").await?;
    // From elsewhere c binds, which clears c's and that address's counts.
    let (s, b, _) = bind_from(&app, "c", &c.username, &wrong_or(&cs), Some("203.0.113.8")).await?;
    assert_eq!(
        (s, b["error"]["details"]["tries_left"].as_i64()),
        (422, Some(4)),
        "{b}"
    );
    let (s, b, _) = bind_from(&app, "c", &c.username, &cs, Some("203.0.113.8")).await?;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM wechat_bind_failures WHERE key IN ('203.0.113.8')"
        )
        .await?,
        0
    );
    // Fifteen minutes later a's lock has run out: the right code binds.
    sqlx::query("UPDATE wechat_bind_failures SET locked_until = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await?;
    let (s, b, _) = bind_from(&app, "a", &a.username, &right, Some("192.0.2.6")).await?;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM wechat_bind_failures WHERE kind = 'account' AND key = '{}'",
                a.username
            )
        )
        .await?,
        0,
        "a success clears the account's count"
    );
    Ok(())
}

/// A six-digit code other than `code`.
fn wrong_or(code: &str) -> String {
    if code == "999999" {
        "999998".to_owned()
    } else {
        "999999".to_owned()
    }
}

#[tokio::test]
async fn a_mini_program_session_ends_at_once_on_revoke_or_disable_and_after_30_idle_days()
-> Result<()> {
    let app = app_with_wechat().await?;
    let vd = app.user(Role::VillageDoctor, VILLAGE).await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(&vd.username)
        .fetch_one(&app.db.pool)
        .await?;
    let code = mint(&vd).await?;
    let (s, b) = bind(&app, "vd", &vd.username, &code).await?;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(with_token(&app, &token, "/api/villages").await?, 200);

    // Revoked by an administrator: refused from the next request on.
    let id = b["token_id"].as_i64().unwrap_or_default();
    let r = admin
        .request(reqwest::Method::DELETE, &format!("/api/tokens/{id}"))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(with_token(&app, &token, "/api/villages").await?, 401);

    // A disabled account: its session stops at once, and it cannot sign in.
    let (s, b) = sign_in(&app, &login_code("user:vd")).await?;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(with_token(&app, &token, "/api/villages").await?, 200);
    let r = admin
        .request(reqwest::Method::PATCH, &format!("/api/users/{user_id}"))
        .json(&json!({ "disabled": true }))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(with_token(&app, &token, "/api/villages").await?, 401);
    let (s, b) = sign_in(&app, &login_code("user:vd")).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("account_disabled")),
        "{b}"
    );
    let r = admin
        .request(reqwest::Method::PATCH, &format!("/api/users/{user_id}"))
        .json(&json!({ "disabled": false }))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);

    // Thirty days without use.
    let (s, b) = sign_in(&app, &login_code("user:vd")).await?;
    assert_eq!(s, 200, "{b}");
    let idle = b["token"].as_str().unwrap_or_default().to_owned();
    let idle_id = b["token_id"].as_i64().unwrap_or_default();
    sqlx::query("UPDATE api_tokens SET created_at = now() - interval '40 days', last_used_at = now() - interval '30 days 1 minute' WHERE id = $1")
        .bind(idle_id)
        .execute(&app.db.pool)
        .await?;
    assert_eq!(with_token(&app, &idle, "/api/villages").await?, 401);
    let tokens = admin
        .get_json(&format!("/api/users/{user_id}/tokens"), 200)
        .await?;
    let listed = tokens["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["id"] == idle_id)
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed["active"], false, "{listed}");
    // Used 29 days ago: still good.
    let (s, b) = sign_in(&app, &login_code("user:vd")).await?;
    assert_eq!(s, 200, "{b}");
    sqlx::query("UPDATE api_tokens SET last_used_at = now() - interval '29 days' WHERE id = $1")
        .bind(b["token_id"].as_i64())
        .execute(&app.db.pool)
        .await?;
    let recent = b["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(with_token(&app, &recent, "/api/villages").await?, 200);

    // Signing out of the mini-program ends that session; a browser's logout is elsewhere.
    let r = app
        .client
        .post(app.url("/api/auth/wechat/logout"))
        .bearer_auth(&recent)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(with_token(&app, &recent, "/api/villages").await?, 401);
    let r = vd
        .post_json("/api/auth/wechat/logout", &json!({}), 400)
        .await?;
    assert_eq!(r["error"]["code"], "not_a_wechat_session");

    // A password an administrator reset must be changed before the mini-program signs in.
    let r = admin
        .request(
            reqwest::Method::POST,
            &format!("/api/users/{user_id}/password"),
        )
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let (s, b) = sign_in(&app, &login_code("user:vd")).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("password_change_required")),
        "{b}"
    );
    Ok(())
}

#[tokio::test]
async fn admins_list_and_remove_any_binding_and_others_only_their_own() -> Result<()> {
    let app = app_with_wechat().await?;
    let a = app.user(Role::VillageDoctor, VILLAGE).await?;
    let b = app.user(Role::Vet, COUNTY).await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let mut tokens = Vec::new();
    for (who, client) in [("a", &a), ("b", &b)] {
        let code = mint(client).await?;
        let (s, body) = bind(&app, who, &client.username, &code).await?;
        assert_eq!(s, 200, "{body}");
        tokens.push(body["token"].as_str().unwrap_or_default().to_owned());
    }
    // Binding again replaces the binding: the old one is removed and its session ends.
    let code = mint(&a).await?;
    let (s, body) = bind(&app, "a2", &a.username, &code).await?;
    assert_eq!(s, 200, "{body}");
    assert_eq!(with_token(&app, &tokens[0], "/api/villages").await?, 401);
    let a_token = body["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(with_token(&app, &a_token, "/api/villages").await?, 200);

    let own = a.get_json("/api/wechat/bindings", 200).await?;
    let items = own["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{own}");
    assert_eq!(items[0]["username"], a.username.as_str());
    assert_eq!(items[0]["app_id"], APP_ID);
    assert_eq!(items[0]["openid_hint"], "9k3J");
    assert!(!own.to_string().contains(&openid("a2")), "{own}");
    // A non-admin's filter names only themselves.
    let b_id = items[0]["user_id"].as_i64().unwrap_or_default() + 1;
    let still_own = a
        .get_json(&format!("/api/wechat/bindings?user_id={b_id}"), 200)
        .await?;
    assert_eq!(still_own, own);
    let all = admin.get_json("/api/wechat/bindings", 200).await?;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2), "{all}");
    let b_binding = all["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["username"] == b.username.as_str())
        .cloned()
        .unwrap_or_default();
    let one = admin
        .get_json(
            &format!("/api/wechat/bindings?user_id={}", b_binding["user_id"]),
            200,
        )
        .await?;
    assert_eq!(one["items"].as_array().map(Vec::len), Some(1), "{one}");

    // a cannot remove b's binding (not shown to exist); b's session goes on.
    let r = a
        .request(
            reqwest::Method::DELETE,
            &format!("/api/wechat/bindings/{}", b_binding["id"]),
        )
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(with_token(&app, &tokens[1], "/api/villages").await?, 200);
    // a removes their own: its session ends at once, and WeChat is no longer bound.
    let own_id = items[0]["id"].as_i64().unwrap_or_default();
    let r = a
        .request(
            reqwest::Method::DELETE,
            &format!("/api/wechat/bindings/{own_id}"),
        )
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    let ok: Value = r.json().await?;
    assert_eq!(ok, json!({ "ok": true, "id": own_id }));
    assert_eq!(with_token(&app, &a_token, "/api/villages").await?, 401);
    let (s, body) = sign_in(&app, &login_code("user:a2")).await?;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("wechat_not_bound")),
        "{body}"
    );
    // The administrator removes b's.
    let r = admin
        .request(
            reqwest::Method::DELETE,
            &format!("/api/wechat/bindings/{}", b_binding["id"]),
        )
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(with_token(&app, &tokens[1], "/api/villages").await?, 401);
    let empty = admin.get_json("/api/wechat/bindings", 200).await?;
    assert_eq!(empty["items"], json!([]));

    let unbinds = audited(&app, "wechat_unbind").await?;
    let by: Vec<&str> = unbinds.iter().filter_map(|d| d["by"].as_str()).collect();
    assert_eq!(by, ["self", "admin"]);
    assert_eq!(audited(&app, "wechat_bind").await?.len(), 3);
    assert_audit_holds_none_of(&app, &[openid("a"), openid("a2"), openid("b")]).await?;
    Ok(())
}

#[tokio::test]
async fn echinomap_serve_takes_wechat_s_settings_from_its_environment_and_logs_no_secret()
-> Result<()> {
    let base = stand_in().await?;
    let db = TestDb::empty().await?;
    let server = BinaryServer::start_with_env(
        &db,
        "wechat-serve",
        &[
            ("ECHINOMAP_WECHAT_APP_ID", APP_ID),
            ("ECHINOMAP_WECHAT_APP_SECRET", APP_SECRET),
            ("ECHINOMAP_WECHAT_API_BASE", &base),
        ],
    )
    .await?;
    let vd = api_client(&db.pool, &server.base, Role::VillageDoctor, VILLAGE).await?;
    let code = mint(&vd).await?;
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{}{path}", server.base))
            .header("referer", REFERER)
            .json(&body)
            .send()
    };
    let r = post(
        "/api/auth/wechat",
        json!({ "code": login_code("user:bin") }),
    )
    .await?;
    assert_eq!(r.status().as_u16(), 403);
    let bind_code = login_code("user:bin");
    let r = post(
        "/api/auth/wechat/bind",
        json!({ "code": bind_code, "username": vd.username, "binding_code": code }),
    )
    .await?;
    assert_eq!(r.status().as_u16(), 200);
    let bound: Value = r.json().await?;
    let r = post("/api/auth/wechat", json!({ "code": login_code("bad") })).await?;
    assert_eq!(r.status().as_u16(), 401);
    let port = server
        .base
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    drop(server);
    let log = std::fs::read_to_string(log_dir().join(format!("wechat-serve-{port}.log")))?;
    assert!(log.contains("WeChat mini-program sign-in is on"), "{log}");
    for secret in [
        APP_SECRET.to_owned(),
        openid("bin"),
        code,
        bind_code,
        bound["token"].as_str().unwrap_or("emt_").to_owned(),
        "c2Vzc2lvbi1rZXktbmV2ZXItc3RvcmVk".to_owned(),
    ] {
        assert!(!log.contains(&secret), "the log holds {secret:?}");
    }
    Ok(())
}

/// A bind request as the mini-program sends it, from `address`, ready to be sent on its own
/// task: its status and body.
fn bind_request(
    app: &TestApp,
    who: &str,
    username: &str,
    binding_code: &str,
    address: &str,
) -> impl std::future::Future<Output = Result<(u16, Value)>> + Send + 'static {
    let req = app
        .client
        .post(app.url("/api/auth/wechat/bind"))
        .header("referer", REFERER)
        .header("x-forwarded-for", address)
        .json(&json!({ "code": login_code(&format!("user:{who}")), "username": username, "binding_code": binding_code }));
    async move {
        let r = req.send().await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await?))
    }
}

#[tokio::test]
async fn wrong_codes_sent_all_at_once_are_counted_one_by_one_and_the_right_code_then_waits()
-> Result<()> {
    let app = app_with_wechat().await?;
    let a = app.user(Role::VillageDoctor, VILLAGE).await?;
    let right = mint(&a).await?;
    let wrong = wrong_or(&right);
    let from = "192.0.2.77";
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..24 {
        burst.spawn(bind_request(&app, "a", &a.username, &wrong, from));
    }
    // The right code joins the burst once the fifth wrong one has locked the address.
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(
        &app,
        "SELECT count(*) FROM wechat_bind_failures WHERE kind = 'address' AND key = '192.0.2.77' AND locked_until > now()",
    )
    .await?
        == 0
    {
        assert!(Instant::now() < deadline, "the address was never locked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (s, b) = bind_request(&app, "a", &a.username, &right, from).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("binding_locked")),
        "{b}"
    );
    let mut answered = Vec::new();
    let mut tries_left = Vec::new();
    while let Some(joined) = burst.join_next().await {
        let (s, b) = joined??;
        if s == 422 {
            tries_left.push(b["error"]["details"]["tries_left"].as_i64().unwrap_or(-1));
        }
        answered.push((
            s,
            b["error"]["code"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    tries_left.sort_unstable();
    // Exactly as if sent one after the other: four answered, the fifth locks, the rest wait.
    assert_eq!(tries_left, [1, 2, 3, 4], "{answered:?}");
    assert_eq!(
        answered
            .iter()
            .filter(|(s, c)| *s == 429 && c == "binding_locked")
            .count(),
        20,
        "{answered:?}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT max(failures)::bigint FROM wechat_bind_failures WHERE key = '192.0.2.77'"
        )
        .await?,
        5
    );
    let wrongs = audited(&app, "wechat_login_failed")
        .await?
        .iter()
        .filter(|d| d["reason"] == "binding_code_wrong")
        .count();
    assert_eq!(wrongs, 5, "wrong codes compared");
    assert_nothing_written(&app, "a burst of guesses").await?;
    Ok(())
}

#[tokio::test]
async fn the_addresses_of_one_ipv6_slash_64_share_one_count_of_wrong_codes() -> Result<()> {
    let app = app_with_wechat().await?;
    let c = app.user(Role::Vet, COUNTY).await?;
    let right = mint(&c).await?;
    let wrong = wrong_or(&right);
    // A phone's privacy addresses: one /64, a new interface id each time.
    for (i, at) in [
        "2001:db8:5:6::1",
        "2001:db8:5:6:8a2e:370:7334:1",
        "2001:db8:5:6:ffff:ffff:ffff:ffff",
        "2001:db8:5:6:1234::9",
        "2001:db8:5:6:abcd::42",
    ]
    .into_iter()
    .enumerate()
    {
        let (s, b, _) = bind_from(&app, "x", &format!("guess{i}"), &wrong, Some(at)).await?;
        assert_eq!(s, if i < 4 { 422 } else { 429 }, "{at}: {b}");
    }
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM wechat_bind_failures WHERE kind = 'address' AND key = '2001:db8:5:6::/64' AND failures = 5"
        )
        .await?,
        1
    );
    // Yet another address of that /64, with the right code: locked.
    let (s, b, _) = bind_from(&app, "c", &c.username, &right, Some("2001:db8:5:6:5::5")).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("binding_locked")),
        "{b}"
    );
    // The next /64 is another client.
    let (s, b, _) = bind_from(&app, "c", &c.username, &right, Some("2001:db8:5:7::1")).await?;
    assert_eq!(s, 200, "{b}");
    Ok(())
}

#[tokio::test]
async fn a_session_whose_binding_is_removed_is_refused_though_its_token_was_not_revoked()
-> Result<()> {
    let app = app_with_wechat().await?;
    let vd = app.user(Role::VillageDoctor, VILLAGE).await?;
    let code = mint(&vd).await?;
    let (s, b) = bind(&app, "vd", &vd.username, &code).await?;
    assert_eq!(s, 200, "{b}");
    let token = b["token"].as_str().unwrap_or_default().to_owned();
    // Used once, so that the server's caller cache holds it.
    assert_eq!(with_token(&app, &token, "/api/villages").await?, 200);
    // As an unbinding that committed between a sign-in's read of the binding and its token:
    // the binding is gone, the token row is not revoked.
    sqlx::query("UPDATE wechat_bindings SET removed_at = now()")
        .execute(&app.db.pool)
        .await?;
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM api_tokens WHERE kind = 'wechat' AND revoked_at IS NULL"
        )
        .await?,
        1
    );
    assert_eq!(with_token(&app, &token, "/api/villages").await?, 401);
    // And no new session opens for it.
    let (s, b) = sign_in(&app, &login_code("user:vd")).await?;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("wechat_not_bound")),
        "{b}"
    );
    Ok(())
}

#[tokio::test]
async fn a_mini_program_session_may_not_administer_export_or_mint_binding_codes() -> Result<()> {
    let app = app_with_wechat().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let code = mint(&admin).await?;
    let (s, b) = bind(&app, "boss", &admin.username, &code).await?;
    assert_eq!(s, 200, "{b}");
    let permissions = b["user"]["permissions"].clone();
    assert!(
        permissions
            .as_array()
            .is_some_and(|p| p.contains(&json!("case_rows"))
                && !p.contains(&json!("admin"))
                && !p.contains(&json!("export"))),
        "{b}"
    );
    let token = b["token"].as_str().unwrap_or_default().to_owned();
    let me: Value = app
        .client
        .get(app.url("/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(me["permissions"], permissions, "{me}");
    assert_eq!(with_token(&app, &token, "/api/villages").await?, 200);
    for path in [
        "/api/users",
        "/api/audit",
        "/api/export/villages.csv",
        "/ogc",
    ] {
        assert_eq!(with_token(&app, &token, path).await?, 403, "{path}");
    }
    let r = app
        .client
        .post(app.url("/api/auth/wechat/binding-code"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403);
    let refused: Value = r.json().await?;
    assert_eq!(refused["error"]["code"], "forbidden", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("小程序会话")),
        "{refused}"
    );
    // The administrator's own API token is not affected.
    admin.get_json("/api/users", 200).await?;
    // Nor the bindings: a session lists and removes only its own.
    let bindings: Value = app
        .client
        .get(app.url("/api/wechat/bindings"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        bindings["items"].as_array().map(Vec::len),
        Some(1),
        "{bindings}"
    );
    Ok(())
}

#[tokio::test]
async fn the_session_answers_say_whether_wechat_sign_in_is_configured() -> Result<()> {
    let on = app_with_wechat().await?;
    let off = TestApp::empty().await?;
    for (app, configured) in [(&on, true), (&off, false)] {
        let anonymous = app.get_json("/api/auth/session", 200).await?;
        assert_eq!(anonymous["authenticated"], false);
        assert_eq!(anonymous["wechat"], configured, "{anonymous}");
        let vd = app.user(Role::VillageDoctor, VILLAGE).await?;
        let me = vd.get_json("/api/auth/me", 200).await?;
        assert_eq!(me["wechat"], configured, "{me}");
        let session = vd.get_json("/api/auth/session", 200).await?;
        assert_eq!(
            (&session["authenticated"], &session["wechat"]),
            (&json!(true), &json!(configured)),
            "{session}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn day_old_counts_that_lock_nothing_and_day_old_codes_are_purged() -> Result<()> {
    let app = app_with_wechat().await?;
    let vd = app.user(Role::VillageDoctor, VILLAGE).await?;
    mint(&vd).await?;
    mint(&vd).await?;
    sqlx::query(
        "INSERT INTO wechat_bind_failures (kind, key, failures, locked_until, last_failed_at) VALUES
           ('account', 'typed-once-long-ago', 1, NULL, now() - interval '25 hours'),
           ('account', 'ran-out-long-ago', 5, now() - interval '24 hours', now() - interval '25 hours'),
           ('address', '192.0.2.1', 5, now() + interval '10 minutes', now() - interval '25 hours'),
           ('address', '192.0.2.2', 2, NULL, now() - interval '1 hour')",
    )
    .execute(&app.db.pool)
    .await?;
    // The first code expired a day and a minute ago; the second is live.
    sqlx::query(
        "UPDATE wechat_binding_codes SET created_at = now() - interval '2 days',
                expires_at = now() - interval '1 day 1 minute'
         WHERE id = (SELECT min(id) FROM wechat_binding_codes)",
    )
    .execute(&app.db.pool)
    .await?;
    let purged = echinomap_programme::auth::wechat::purge(&app.db.pool).await?;
    assert_eq!(purged, (2, 1));
    let left: Vec<String> = sqlx::query_scalar("SELECT key FROM wechat_bind_failures ORDER BY key")
        .fetch_all(&app.db.pool)
        .await?;
    assert_eq!(left, ["192.0.2.1", "192.0.2.2"]);
    assert_eq!(
        count(&app, "SELECT count(*) FROM wechat_binding_codes").await?,
        1
    );
    Ok(())
}

#[test]
fn wechat_s_api_base_takes_plain_http_only_to_this_machine() -> Result<()> {
    use echinomap_server::cli::{Cli, Command};
    use echinomap_server::config_file::try_parse_from;
    let base = |args: &[&str]| -> std::result::Result<String, String> {
        let argv = ["echinomap", "--config", "none", "serve"]
            .into_iter()
            .chain(args.iter().copied());
        match try_parse_from::<Cli>(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Serve(s) => Ok(s.wechat.wechat_api_base.clone()),
            _ => Err("not serve".to_owned()),
        }
    };
    for ok in [
        "https://api.weixin.qq.com",
        "https://api.weixin.qq.com/",
        "http://127.0.0.1:8099",
        "http://localhost:8099/",
        "http://[::1]:8099",
    ] {
        let parsed = base(&["--wechat-api-base", ok]);
        assert_eq!(parsed.as_deref(), Ok(ok.trim_end_matches('/')), "{ok}");
    }
    for refused in [
        "http://api.weixin.qq.com",
        "http://192.0.2.1:8080",
        "http://127.0.0.1.example.com",
    ] {
        let e = base(&["--wechat-api-base", refused]).expect_err(refused);
        assert!(
            e.contains("plain http only to this machine"),
            "{refused}: {e}"
        );
    }
    assert!(base(&["--wechat-api-base", "ftp://api.weixin.qq.com"]).is_err());
    // The configuration file's value goes through the same check.
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("echinomap.toml");
    std::fs::write(&file, "wechat_api_base = \"http://api.weixin.qq.com\"\n")?;
    let argv = [
        "echinomap",
        "--config",
        file.to_str().unwrap_or_default(),
        "serve",
    ];
    let e = try_parse_from::<Cli>(argv)
        .map(|_| ())
        .expect_err("plain http to WeChat");
    let e = e.to_string();
    assert!(
        e.contains("wechat_api_base") && e.contains("plain http only"),
        "{e}"
    );
    Ok(())
}

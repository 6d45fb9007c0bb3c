//! Administration against the real server and database (issue 18 §5–§7): changing accounts
//! (role, jurisdiction, display name, disabled), password resets, API tokens, the audit log's
//! filters, the review of data-quality findings, and the display names of the demo accounts.

use echinomap_programme::audit::Actor;
use echinomap_programme::auth::password::PasswordPolicy;
use echinomap_programme::auth::{Role, store};
use echinomap_tests::{ApiClient, Result, TEST_ADMIN_PASSWORD, TestApp, TestDb};
use reqwest::Method;
use serde_json::{Value, json};

const COUNTY: &str = "654022";
const OWN_TOWNSHIP: &str = "654022100";
const SIBLING_TOWNSHIP: &str = "654022101";
const VILLAGE: &str = "654022100200";
const PASSWORD: &str = "Long-enough-1";

async fn send(
    c: &ApiClient,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value)> {
    let mut req = c.request(method, path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    let text = r.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap_or_default()
}

async fn login(app: &TestApp, c: &reqwest::Client, username: &str, password: &str) -> Result<u16> {
    Ok(c.post(app.url("/api/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await?
        .status()
        .as_u16())
}

async fn me(app: &TestApp, c: &reqwest::Client) -> Result<(u16, Value)> {
    let r = c.get(app.url("/api/auth/me")).send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await?))
}

/// A call as the holder of a bare token.
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

/// Creates an account through the API; its id.
async fn create_user(
    admin: &ApiClient,
    username: &str,
    role: &str,
    jurisdiction: &str,
) -> Result<i64> {
    let body = json!({ "username": username, "role": role, "jurisdiction": jurisdiction, "password": PASSWORD, "display_name": "李四" });
    let created = admin.post_json("/api/users", &body, 201).await?;
    assert_eq!(created["username"], username, "{created}");
    assert!(created.get("password_hash").is_none(), "{created}");
    Ok(created["id"].as_i64().expect("id"))
}

fn item_of(list: &Value, id: i64) -> Value {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

#[tokio::test]
async fn an_admin_changes_role_jurisdiction_and_display_name_and_each_change_is_audited()
-> Result<()> {
    let app = TestApp::empty().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let id = create_user(&admin, "li.si", "epidemiologist", COUNTY).await?;
    let list = admin.get_json("/api/users", 200).await?;
    let u = item_of(&list, id);
    assert_eq!(u["display_name"], "李四");
    assert_eq!(u["role"], "epidemiologist");
    assert_eq!(u["role_zh"], "流行病学专业人员");
    assert_eq!(u["jurisdiction"], COUNTY);
    assert_eq!(u["jurisdiction_name"], "察布查尔锡伯自治县", "{u}");
    assert_eq!(u["disabled"], false);
    assert_eq!(u["must_change_password"], false);
    assert_eq!(u["last_login_at"], Value::Null, "never logged in: {u}");
    assert!(u["created_at"].is_string(), "{u}");
    // The user logs in; the list then knows when.
    let b = browser();
    assert_eq!(login(&app, &b, "li.si", PASSWORD).await?, 200);
    let u = item_of(&admin.get_json("/api/users", 200).await?, id);
    assert!(u["last_login_at"].is_string(), "{u}");

    let changed = admin
        .request(Method::PATCH, &format!("/api/users/{id}"))
        .json(&json!({ "role": "township_staff", "jurisdiction": OWN_TOWNSHIP, "display_name": " 李四（察布查尔镇） " }))
        .send()
        .await?;
    assert_eq!(changed.status().as_u16(), 200);
    let changed: Value = changed.json().await?;
    assert_eq!(changed["role"], "township_staff");
    assert_eq!(changed["role_zh"], "乡镇防治人员");
    assert_eq!(changed["jurisdiction"], OWN_TOWNSHIP);
    assert_eq!(changed["jurisdiction_name"], "察布查尔镇", "{changed}");
    assert_eq!(changed["display_name"], "李四（察布查尔镇）");
    // The session sees its new role and jurisdiction on its next request.
    let (status, who) = me(&app, &b).await?;
    assert_eq!(status, 200);
    assert_eq!(who["role"], "township_staff", "{who}");
    assert_eq!(who["jurisdiction"], OWN_TOWNSHIP);
    assert_eq!(who["display_name"], "李四（察布查尔镇）");

    // Refused changes leave the account as it was.
    for (body, status, field) in [
        (json!({ "jurisdiction": "654022999" }), 422, "jurisdiction"),
        (json!({ "jurisdiction": "65402" }), 422, "jurisdiction"),
        (json!({ "role": "boss" }), 422, "role"),
        (
            json!({ "display_name": "长".repeat(65) }),
            422,
            "display_name",
        ),
    ] {
        let (s, err) = send(
            &admin,
            Method::PATCH,
            &format!("/api/users/{id}"),
            Some(body),
        )
        .await?;
        assert_eq!(s, status, "{err}");
        assert_eq!(err["error"]["details"]["field"], field, "{err}");
    }
    let (s, err) = send(
        &admin,
        Method::PATCH,
        &format!("/api/users/{id}"),
        Some(json!({ "password": "x" })),
    )
    .await?;
    assert_eq!(s, 400, "unknown fields are refused: {err}");
    // null removes the display name.
    let (s, cleared) = send(
        &admin,
        Method::PATCH,
        &format!("/api/users/{id}"),
        Some(json!({ "display_name": null })),
    )
    .await?;
    assert_eq!(s, 200);
    assert_eq!(cleared["display_name"], Value::Null);
    assert_eq!(cleared["role"], "township_staff", "the rest is kept");

    // The account's history: created, then two changes with what they changed.
    let history = admin
        .get_json(&format!("/api/audit?table=users&record_id={id}"), 200)
        .await?;
    let rows = history["items"].as_array().expect("items");
    let actions: Vec<&str> = rows
        .iter()
        .map(|r| r["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        actions,
        ["user_update", "user_update", "user_create"],
        "{history}"
    );
    assert!(
        rows.iter()
            .all(|r| r["row_id"].as_str() == Some(id.to_string().as_str())
                && r["username"] == admin.username.as_str())
    );
    let first_change = &rows[1];
    assert_eq!(first_change["before"]["role"], "epidemiologist");
    assert_eq!(first_change["after"]["role"], "township_staff");
    assert_eq!(first_change["before"]["jurisdiction"], COUNTY);
    assert_eq!(first_change["after"]["jurisdiction"], OWN_TOWNSHIP);
    assert!(
        !history.to_string().contains("argon2"),
        "no hash in the audit"
    );
    Ok(())
}

#[tokio::test]
async fn a_disabled_users_session_and_token_stop_working_on_the_next_request() -> Result<()> {
    let app = TestApp::empty().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let id = create_user(&admin, "wang.wu", "viewer", COUNTY).await?;
    let b = browser();
    assert_eq!(login(&app, &b, "wang.wu", PASSWORD).await?, 200);
    let t = admin
        .post_json(
            &format!("/api/users/{id}/tokens"),
            &json!({ "name": "QGIS" }),
            201,
        )
        .await?;
    let token = t["token"].as_str().expect("token").to_owned();
    // Both work, and the token is cached by now.
    for _ in 0..2 {
        assert_eq!(me(&app, &b).await?.0, 200);
        assert_eq!(with_token(&app, &token, "/api/auth/me").await?, 200);
    }
    let (s, off) = send(
        &admin,
        Method::PATCH,
        &format!("/api/users/{id}"),
        Some(json!({ "disabled": true })),
    )
    .await?;
    assert_eq!(s, 200, "{off}");
    assert_eq!(off["disabled"], true);
    assert_eq!(me(&app, &b).await?.0, 401, "the session ended");
    assert_eq!(
        with_token(&app, &token, "/api/auth/me").await?,
        401,
        "the token is refused"
    );
    assert_eq!(login(&app, &browser(), "wang.wu", PASSWORD).await?, 401);
    // Enabled again: the token works again, the ended session does not come back.
    let (s, _) = send(
        &admin,
        Method::PATCH,
        &format!("/api/users/{id}"),
        Some(json!({ "disabled": false })),
    )
    .await?;
    assert_eq!(s, 200);
    assert_eq!(with_token(&app, &token, "/api/auth/me").await?, 200);
    assert_eq!(me(&app, &b).await?.0, 401);
    assert_eq!(login(&app, &b, "wang.wu", PASSWORD).await?, 200);
    Ok(())
}

#[tokio::test]
async fn admins_cannot_disable_themselves_or_leave_the_service_without_an_admin() -> Result<()> {
    let app = TestApp::empty().await?;
    // The first admin (`admin`, made at the first start) and this one.
    let me_admin = app.user(Role::Admin, COUNTY).await?;
    let list = me_admin.get_json("/api/users", 200).await?;
    let id_of = |name: &str| {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|u| u["username"] == name)
            .and_then(|u| u["id"].as_i64())
            .unwrap_or_else(|| panic!("{name} in {list}"))
    };
    let first = id_of("admin");
    let mine = id_of(&me_admin.username);
    let patch = |id: i64, body: Value| {
        let c = &me_admin;
        async move { send(c, Method::PATCH, &format!("/api/users/{id}"), Some(body)).await }
    };
    let (s, err) = patch(mine, json!({ "disabled": true })).await?;
    assert_eq!(s, 409);
    assert_eq!(err["error"]["code"], "cannot_disable_self");
    let (s, _) = patch(first, json!({ "disabled": true })).await?;
    assert_eq!(s, 200, "another admin may be disabled");
    for body in [
        json!({ "role": "viewer" }),
        json!({ "role": "epidemiologist", "display_name": "x" }),
    ] {
        let (s, err) = patch(mine, body).await?;
        assert_eq!(s, 409, "{err}");
        assert_eq!(err["error"]["code"], "last_admin", "{err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("系统管理员"))
        );
    }
    // The refusals changed nothing.
    let role: String = sqlx::query_scalar("SELECT role::text FROM users WHERE id = $1")
        .bind(mine)
        .fetch_one(&app.db.pool)
        .await?;
    assert_eq!(role, "admin");
    // With the first admin enabled again, this one may step down.
    let (s, _) = patch(first, json!({ "disabled": false })).await?;
    assert_eq!(s, 200);
    let (s, _) = patch(mine, json!({ "display_name": "赵管理" })).await?;
    assert_eq!(s, 200, "changes that keep an admin are fine");
    let (s, stepped) = patch(mine, json!({ "role": "viewer" })).await?;
    assert_eq!(s, 200, "{stepped}");
    assert_eq!(
        with_token(&app, &me_admin.token, "/api/users").await?,
        403,
        "a viewer now, on the next request"
    );
    // The command line keeps the rule too.
    let err = store::set_disabled(&app.db.pool, "admin", true, &Actor::cli())
        .await
        .expect_err("the last admin");
    assert!(err.to_string().contains("administrator"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_reset_password_is_shown_once_and_must_be_changed_and_the_old_one_fails() -> Result<()> {
    let app = TestApp::empty().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let id = create_user(&admin, "zhao.liu", "vet", COUNTY).await?;
    let b = browser();
    assert_eq!(login(&app, &b, "zhao.liu", PASSWORD).await?, 200);
    // A weak password is refused with a reason code, and changes nothing.
    let (s, err) = send(
        &admin,
        Method::POST,
        &format!("/api/users/{id}/password"),
        Some(json!({ "password": "password12" })),
    )
    .await?;
    assert_eq!(s, 422, "{err}");
    assert_eq!(err["error"]["code"], "weak_password");
    assert_eq!(err["error"]["details"]["field"], "password");
    assert_eq!(me(&app, &b).await?.0, 200, "nothing changed");
    // Generated: in this answer only, not to be cached.
    let r = admin
        .request(Method::POST, &format!("/api/users/{id}/password"))
        .json(&json!({}))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let answer: Value = r.json().await?;
    let generated = answer["password"].as_str().expect("password").to_owned();
    assert!(generated.chars().count() >= 16, "{generated}");
    assert!(PasswordPolicy::Mlps.check(&generated, "zhao.liu").is_ok());
    assert_eq!(me(&app, &b).await?.0, 401, "the reset ended the session");
    assert_eq!(
        login(&app, &browser(), "zhao.liu", PASSWORD).await?,
        401,
        "the old password fails"
    );
    let b2 = browser();
    assert_eq!(login(&app, &b2, "zhao.liu", &generated).await?, 200);
    let (_, who) = me(&app, &b2).await?;
    assert_eq!(who["must_change_password"], true, "{who}");
    let listed = item_of(&admin.get_json("/api/users", 200).await?, id);
    assert_eq!(listed["must_change_password"], true);
    // Until then the temporary password opens nothing but signing out and changing it: not
    // the data, not the map (the administrator who knows it cannot work as the user).
    for path in [
        "/api/cases",
        "/api/villages",
        "/tiles/villages/9/371/186.mvt",
    ] {
        let r = b2
            .get(app.url(path))
            .header("Accept", "application/json")
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 403, "{path}");
        let e: Value = r.json().await?;
        assert_eq!(e["error"]["code"], "password_change_required", "{path}");
    }
    // The user chooses their own: the mark is gone.
    let r = b2
        .post(app.url("/api/auth/password"))
        .json(&json!({ "username": "zhao.liu", "old_password": generated, "new_password": "Mine-Own-Passw0rd" }))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        login(&app, &b2, "zhao.liu", "Mine-Own-Passw0rd").await?,
        200
    );
    assert_eq!(me(&app, &b2).await?.1["must_change_password"], false);
    let r = b2.get(app.url("/api/villages")).send().await?;
    assert_eq!(
        r.status().as_u16(),
        200,
        "the own password opens the data again"
    );
    // An admin may also set one: it must be changed as well.
    let (s, set) = send(
        &admin,
        Method::POST,
        &format!("/api/users/{id}/password"),
        Some(json!({ "password": "Given-Passw0rd-9" })),
    )
    .await?;
    assert_eq!(s, 200, "{set}");
    assert!(
        set.get("password").is_none(),
        "a set password is not echoed: {set}"
    );
    assert_eq!(
        login(&app, &browser(), "zhao.liu", "Given-Passw0rd-9").await?,
        200
    );
    // Audited, never with the password.
    let log = admin
        .get_json(
            &format!("/api/audit?table=users&record_id={id}&action=password_change"),
            200,
        )
        .await?;
    let rows = log["items"].as_array().expect("items");
    assert_eq!(rows.len(), 3, "two resets and the user's own change: {log}");
    assert!(
        rows.iter()
            .any(|r| r["detail"]["generated"] == true && r["detail"]["must_change"] == true)
    );
    let text = log.to_string();
    assert!(
        !text.contains(&generated)
            && !text.contains("Given-Passw0rd-9")
            && !text.contains("Mine-Own")
    );
    // Unknown accounts.
    send(
        &admin,
        Method::POST,
        "/api/users/999999/password",
        Some(json!({})),
    )
    .await
    .map(|(s, _)| assert_eq!(s, 404))?;
    Ok(())
}

#[tokio::test]
async fn tokens_are_created_once_listed_without_their_secret_expire_and_are_revoked() -> Result<()>
{
    let app = TestApp::empty().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let id = create_user(&admin, "sun.qi", "planner", COUNTY).await?;
    let made = admin
        .post_json(
            &format!("/api/users/{id}/tokens"),
            &json!({ "name": "QGIS 工作站", "expires_in_days": 30 }),
            201,
        )
        .await?;
    let token = made["token"].as_str().expect("token").to_owned();
    let token_id = made["id"].as_i64().expect("id");
    assert!(
        token.starts_with("emt_") && token.starts_with(made["prefix"].as_str().expect("prefix"))
    );
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(made["expires_at"].clone())?;
    let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.9..=30.1).contains(&days), "{days}");
    let forever = admin
        .post_json(
            &format!("/api/users/{id}/tokens"),
            &json!({ "name": "script" }),
            201,
        )
        .await?;
    assert_eq!(forever["expires_at"], Value::Null);
    let list = admin
        .get_json(&format!("/api/users/{id}/tokens"), 200)
        .await?;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert!(
        !list.to_string().contains(&token),
        "never the token in a list"
    );
    let listed = items.iter().find(|t| t["id"] == token_id).expect("listed");
    assert_eq!(listed["name"], "QGIS 工作站");
    assert_eq!(listed["active"], true);
    assert_eq!(listed["revoked_at"], Value::Null);
    assert_eq!(
        item_of(&admin.get_json("/api/users", 200).await?, id)["active_tokens"],
        2
    );
    // It works; revoked, it stops on the next request.
    assert_eq!(with_token(&app, &token, "/api/summary").await?, 200);
    assert_eq!(with_token(&app, &token, "/api/summary").await?, 200);
    let (s, _) = send(
        &admin,
        Method::DELETE,
        &format!("/api/tokens/{token_id}"),
        None,
    )
    .await?;
    assert_eq!(s, 200);
    assert_eq!(with_token(&app, &token, "/api/summary").await?, 401);
    let (s, err) = send(
        &admin,
        Method::DELETE,
        &format!("/api/tokens/{token_id}"),
        None,
    )
    .await?;
    assert_eq!(s, 404, "{err}");
    let list = admin
        .get_json(&format!("/api/users/{id}/tokens"), 200)
        .await?;
    let listed = item_of(&list, token_id);
    assert!(
        listed["revoked_at"].is_string() && listed["active"] == false,
        "{listed}"
    );
    // An expired token is refused like a revoked one.
    let secret = forever["token"].as_str().expect("token");
    sqlx::query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(forever["id"].as_i64())
        .execute(&app.db.pool)
        .await?;
    assert_eq!(with_token(&app, secret, "/api/summary").await?, 401);
    // Refused requests.
    for (body, field, code) in [
        (json!({ "name": " " }), "name", "required"),
        (
            json!({ "name": "x", "expires_in_days": 0 }),
            "expires_in_days",
            "out_of_range",
        ),
        (
            json!({ "name": "x", "expires_in_days": 4000 }),
            "expires_in_days",
            "out_of_range",
        ),
    ] {
        let (s, err) = send(
            &admin,
            Method::POST,
            &format!("/api/users/{id}/tokens"),
            Some(body),
        )
        .await?;
        assert_eq!(s, 422, "{err}");
        assert_eq!(err["error"]["details"]["field"], field, "{err}");
        assert_eq!(err["error"]["code"], code, "{err}");
    }
    // Audited with the account and the name, never the token.
    let log = admin
        .get_json("/api/audit?table=api_tokens&limit=1000", 200)
        .await?;
    let text = log.to_string();
    assert!(!text.contains(&token) && !text.contains(secret));
    let rows = log["items"].as_array().expect("items");
    assert!(rows.iter().any(|r| r["action"] == "token_revoke"
        && r["row_id"].as_str() == Some(token_id.to_string().as_str())
        && r["detail"]["for"] == "sun.qi"));
    assert!(
        rows.iter()
            .any(|r| r["action"] == "token_create" && r["detail"]["name"] == "QGIS 工作站")
    );
    Ok(())
}

#[tokio::test]
async fn the_audit_log_filters_by_record_by_part_of_a_name_and_shows_display_names() -> Result<()> {
    let app = TestApp::with_demo().await?;
    let admin = app.user(Role::Admin, COUNTY).await?;
    let epi = app.epi().await?;
    // The admin gets a display name; the epidemiologist opens two patients.
    let mine = item_of_name(&admin.get_json("/api/users", 200).await?, &admin.username);
    let (s, _) = send(
        &admin,
        Method::PATCH,
        &format!("/api/users/{mine}"),
        Some(json!({ "display_name": "审计员 何平" })),
    )
    .await?;
    assert_eq!(s, 200);
    let cases: Vec<i64> = sqlx::query_scalar("SELECT id FROM cases ORDER BY id LIMIT 2")
        .fetch_all(&app.db.pool)
        .await?;
    for id in &cases {
        epi.get_json(&format!("/api/cases/{id}"), 200).await?;
    }
    let one = admin
        .get_json(
            &format!("/api/audit?table=cases&record_id={}", cases[0]),
            200,
        )
        .await?;
    let rows = one["items"].as_array().expect("items");
    assert!(!rows.is_empty(), "{one}");
    assert!(
        rows.iter().all(|r| r["table_name"] == "cases"
            && r["row_id"].as_str() == Some(cases[0].to_string().as_str())),
        "{one}"
    );
    assert!(
        rows.iter()
            .any(|r| r["action"] == "read" && r["username"] == epi.username.as_str())
    );
    // Part of a display name, any case; wildcards are plain characters.
    let by_name = admin.get_json("/api/audit?q=何平&limit=1000", 200).await?;
    let rows = by_name["items"].as_array().expect("items");
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r["username"] == admin.username.as_str() && r["display_name"] == "审计员 何平"), "{by_name}");
    let part = &epi.username[..epi.username.len() - 1].to_uppercase();
    let by_part = admin
        .get_json(&format!("/api/audit?q={part}&action=read"), 200)
        .await?;
    assert!(
        by_part["items"].as_array().is_some_and(|r| r.len() >= 2
            && r.iter().all(|r| r["username"]
                .as_str()
                .is_some_and(|u| u.starts_with(&part.to_lowercase())))),
        "{by_part}"
    );
    let none = admin.get_json("/api/audit?q=%25", 200).await?;
    assert_eq!(
        none["items"].as_array().map(Vec::len),
        Some(0),
        "% matches itself only: {none}"
    );
    // The filters that were there: who, what, when.
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today - chrono::Days::new(1), today + chrono::Days::new(1));
    let reads = admin
        .get_json(
            &format!(
                "/api/audit?user={}&action=read&table=cases&from={from}&to={to}",
                epi.username
            ),
            200,
        )
        .await?;
    let rows = reads["items"].as_array().expect("items");
    assert_eq!(rows.len(), 2, "{reads}");
    let before = admin
        .get_json(
            &format!("/api/audit?user={}&to=2020-01-01", epi.username),
            200,
        )
        .await?;
    assert_eq!(before["items"].as_array().map(Vec::len), Some(0));
    Ok(())
}

fn item_of_name(list: &Value, username: &str) -> i64 {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["username"] == username)
        .and_then(|u| u["id"].as_i64())
        .unwrap_or_else(|| panic!("{username} in {list}"))
}

#[tokio::test]
async fn quality_findings_are_marked_reviewed_filtered_and_unmarked_by_the_reviewers_only()
-> Result<()> {
    let app = TestApp::with_demo().await?;
    let epi = app.epi().await?;
    let all = epi.get_json("/api/quality?limit=5000", 200).await?;
    assert_eq!(all["may_review"], true);
    let items = all["items"].as_array().expect("items");
    assert!(!items.is_empty(), "the demo has findings");
    for i in items {
        assert_eq!(i["reviewed"], Value::Null, "{i}");
        assert_eq!(
            i["key"],
            format!(
                "{}:{}:{}",
                i["check"].as_str().unwrap_or(""),
                i["register"].as_str().unwrap_or(""),
                i["record_id"]
            ),
            "{i}"
        );
        assert!(
            i["village_code"].is_string() && i["village_name"].is_string(),
            "{i}"
        );
    }
    // A finding in the sibling township: outside an own-township epidemiologist's view.
    let target = items
        .iter()
        .find(|i| i["township_code"] == SIBLING_TOWNSHIP)
        .expect("a finding in 654022101")
        .clone();
    let key = target["key"].as_str().expect("key").to_owned();
    let total = |q: &Value| -> i64 {
        q["totals"]
            .as_object()
            .map_or(0, |t| t.values().filter_map(Value::as_i64).sum())
    };
    let before_total = total(&all);

    // Who may not mark it.
    let ts = app.user(Role::TownshipStaff, SIBLING_TOWNSHIP).await?;
    let (s, err) = send(
        &ts,
        Method::POST,
        "/api/quality/reviews",
        Some(json!({ "key": key })),
    )
    .await?;
    assert_eq!(s, 403, "{err}");
    assert_eq!(err["error"]["code"], "quality_reviewer");
    assert_eq!(ts.get_json("/api/quality", 200).await?["may_review"], false);
    let vet = app.user(Role::Vet, COUNTY).await?;
    let (s, _) = send(
        &vet,
        Method::POST,
        "/api/quality/reviews",
        Some(json!({ "key": key })),
    )
    .await?;
    assert_eq!(s, 403);
    let elsewhere = app.user(Role::Epidemiologist, OWN_TOWNSHIP).await?;
    let (s, err) = send(
        &elsewhere,
        Method::POST,
        "/api/quality/reviews",
        Some(json!({ "key": key })),
    )
    .await?;
    assert_eq!(s, 404, "outside the jurisdiction reads as unknown: {err}");
    for bad in [
        "future_date:dogs:0",
        "nonsense",
        "far_from_village:households:x",
    ] {
        let (s, _) = send(
            &epi,
            Method::POST,
            "/api/quality/reviews",
            Some(json!({ "key": bad })),
        )
        .await?;
        assert_eq!(s, 404, "{bad}");
    }

    // The county epidemiologist marks it.
    let (s, marked) = send(
        &epi,
        Method::POST,
        "/api/quality/reviews",
        Some(json!({ "key": key, "note": "已电话核实，数据无误" })),
    )
    .await?;
    assert_eq!(s, 200, "{marked}");
    assert_eq!(marked["reviewed"]["note"], "已电话核实，数据无误");
    assert!(marked["reviewed"]["at"].is_string());
    let open = epi
        .get_json("/api/quality?limit=5000&reviewed=false", 200)
        .await?;
    assert!(
        !open["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["key"] == key.as_str())
    );
    assert_eq!(total(&open), before_total - 1);
    assert_eq!(open["reviewed_count"], 1);
    let done = epi
        .get_json("/api/quality?limit=5000&reviewed=true", 200)
        .await?;
    let done_items = done["items"].as_array().expect("items");
    assert_eq!(done_items.len(), 1, "{done}");
    assert_eq!(done_items[0]["key"], key.as_str());
    assert_eq!(
        done_items[0]["reviewed"]["by"],
        epi.username.as_str(),
        "no display name: the username"
    );
    assert_eq!(done_items[0]["reviewed"]["note"], "已电话核实，数据无误");
    // The township's staff see the review too.
    let seen = ts.get_json("/api/quality?limit=5000", 200).await?;
    assert!(
        seen["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["key"] == key.as_str() && i["reviewed"]["note"] == "已电话核实，数据无误")
    );
    // Marked again: the note is replaced.
    let (s, _) = send(
        &epi,
        Method::POST,
        "/api/quality/reviews",
        Some(json!({ "key": key, "note": "复核" })),
    )
    .await?;
    assert_eq!(s, 200);
    // Only the reviewers take it back; then it is open again.
    let path = format!("/api/quality/reviews/{}", key.replace(':', "%3A"));
    let (s, _) = send(&ts, Method::DELETE, &path, None).await?;
    assert_eq!(s, 403);
    let (s, _) = send(&epi, Method::DELETE, &path, None).await?;
    assert_eq!(s, 200);
    let (s, err) = send(&epi, Method::DELETE, &path, None).await?;
    assert_eq!(s, 404, "{err}");
    assert_eq!(err["error"]["code"], "review_not_found");
    let open = epi
        .get_json("/api/quality?limit=5000&reviewed=false", 200)
        .await?;
    assert_eq!(total(&open), before_total);
    // Audited: marked, re-marked, taken back.
    let admin = app.user(Role::Admin, COUNTY).await?;
    let log = admin
        .get_json(
            &format!("/api/audit?table=quality_reviews&record_id={key}"),
            200,
        )
        .await?;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["delete", "update", "create"], "{log}");
    Ok(())
}

#[tokio::test]
async fn demo_accounts_have_display_names_in_me_the_user_list_and_the_village_contacts()
-> Result<()> {
    let db = TestDb::demo().await?;
    // A demo account made before demo accounts had display names gets one at the next start.
    store::create(
        &db.pool,
        store::NewUser {
            username: "epi".to_owned(),
            display_name: None,
            role: Role::Epidemiologist,
            jurisdiction: COUNTY.to_owned(),
            password: store::DEMO_PASSWORD.to_owned(),
            demo: true,
        },
        PasswordPolicy::Default,
        &Actor::system(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = TestApp::spawn(db, Some(echinomap_tests::demo_settings())).await?;
    let mut names = Vec::new();
    for (username, role, _) in store::demo_accounts() {
        let b = browser();
        assert_eq!(
            login(&app, &b, &username, store::DEMO_PASSWORD).await?,
            200,
            "{username}"
        );
        let (s, who) = me(&app, &b).await?;
        assert_eq!(s, 200);
        let name = who["display_name"].as_str().unwrap_or_default().to_owned();
        assert_eq!(name, store::demo_display_name(role), "{username}: {who}");
        assert!(
            !name.is_empty() && !name.is_ascii(),
            "{username}: a Chinese name, not the username"
        );
        names.push(name);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), store::demo_accounts().len(), "one person each");
    // The admin's list shows them.
    let admin = browser();
    assert_eq!(
        login(&app, &admin, "admin", store::DEMO_PASSWORD).await?,
        200
    );
    let list: Value = admin
        .get(app.url("/api/users"))
        .send()
        .await?
        .json()
        .await?;
    for (username, role, _) in store::demo_accounts() {
        let u = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|u| u["username"] == username.as_str())
            .cloned()
            .expect("listed");
        assert_eq!(u["display_name"], store::demo_display_name(role), "{u}");
    }
    // The field page's 负责人: the village doctor and the township staff by name.
    let contacts: Value = admin
        .get(app.url(&format!("/api/villages/{VILLAGE}/contacts")))
        .send()
        .await?
        .json()
        .await?;
    let people: Vec<(String, String)> = contacts["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| {
            (
                c["role"].as_str().unwrap_or("").to_owned(),
                c["display_name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        people.contains(&(
            "village_doctor".to_owned(),
            store::demo_display_name(Role::VillageDoctor).to_owned()
        )),
        "{contacts}"
    );
    assert!(
        people.contains(&(
            "township_staff".to_owned(),
            store::demo_display_name(Role::TownshipStaff).to_owned()
        )),
        "{contacts}"
    );
    // The first admin of an installation without demo accounts is named in Chinese too.
    let empty = TestApp::empty().await?;
    let b = browser();
    assert_eq!(login(&empty, &b, "admin", TEST_ADMIN_PASSWORD).await?, 200);
    assert_eq!(me(&empty, &b).await?.1["display_name"], "系统管理员");
    Ok(())
}

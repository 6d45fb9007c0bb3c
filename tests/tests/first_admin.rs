//! The first admin of an installation nobody watches the console of (the package,
//! docs/OPERATIONS.md §5): its generated password is kept in `DATA_DIR/initial-admin-password`
//! (0600), the first login must replace it, and the file goes at the next start after that.

use std::os::unix::fs::PermissionsExt;

use echinomap_tests::{BinaryServer, Result, shared_tempdir};
use serde_json::{Value, json};

fn browser() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder().cookie_store(true).build()?)
}

async fn login(base: &str, c: &reqwest::Client, password: &str) -> Result<u16> {
    let r = c
        .post(format!("{base}/api/auth/login"))
        .json(&json!({ "username": "admin", "password": password }))
        .send()
        .await?;
    Ok(r.status().as_u16())
}

#[tokio::test]
async fn the_generated_first_admin_password_waits_in_a_private_file_until_it_is_changed()
-> Result<()> {
    let dir = shared_tempdir();
    // No configured admin password: the service generates one.
    let no_password = [("ECHINOMAP_ADMIN_PASSWORD", "")];
    let server = BinaryServer::start_embedded(dir.path(), "first-admin", &no_password).await?;
    let file = dir.path().join("initial-admin-password");
    let mode = std::fs::metadata(&file)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the service's user may read it");
    let generated = std::fs::read_to_string(&file)?.trim().to_owned();
    assert!(generated.chars().count() >= 16, "a strong password");

    let c = browser()?;
    assert_eq!(login(&server.base, &c, &generated).await?, 200);
    let me: Value = c
        .get(format!("{}/api/auth/me", server.base))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(me["must_change_password"], true, "{me}");
    let r = c
        .get(format!("{}/api/villages", server.base))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 403, "nothing opens before the change");

    // A restart before the change keeps the file (the password still works).
    drop(server);
    let server = BinaryServer::start_embedded(dir.path(), "first-admin", &no_password).await?;
    assert!(file.exists(), "the password still works: its file stays");
    assert_eq!(
        std::fs::read_to_string(&file)?.trim(),
        generated,
        "a second start generates nothing"
    );

    let c = browser()?;
    assert_eq!(login(&server.base, &c, &generated).await?, 200);
    let r = c
        .post(format!("{}/api/auth/password", server.base))
        .json(&json!({ "username": "admin", "old_password": generated, "new_password": "County-Admin-2026" }))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    drop(server);

    let server = BinaryServer::start_embedded(dir.path(), "first-admin", &no_password).await?;
    assert!(
        !file.exists(),
        "a changed password's file is removed at the next start"
    );
    let c = browser()?;
    assert_eq!(login(&server.base, &c, &generated).await?, 401);
    assert_eq!(login(&server.base, &c, "County-Admin-2026").await?, 200);
    Ok(())
}

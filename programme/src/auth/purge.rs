//! The hourly purge of what is refused or ignored anyway: expired sessions, forgotten login
//! failures and the WeChat sign-in's stale rows. Its own module so that `sessions` and `wechat`
//! need not know each other.

use std::time::Duration;

use sqlx::PgPool;

use super::sessions::FAILURES_FORGOTTEN_AFTER_HOURS;

/// Removes expired sessions, forgotten login failures and the WeChat sign-in's stale rows
/// ([`super::wechat::purge`]) now and then, forever.
pub async fn purge_expired_sessions(pool: PgPool) {
    loop {
        if let Err(e) = super::wechat::purge(&pool).await {
            tracing::warn!(error = %e, "purging the WeChat sign-in's stale rows failed");
        }
        let _ = sqlx::query("DELETE FROM sessions WHERE expires_at < now()")
            .execute(&pool)
            .await;
        let _ = sqlx::query(
            "DELETE FROM login_failures WHERE last_failed_at < now() - make_interval(hours => $1)",
        )
        .bind(FAILURES_FORGOTTEN_AFTER_HOURS)
        .execute(&pool)
        .await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

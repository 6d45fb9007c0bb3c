//! No personal data in logs: after the whole suite has run (`make test` runs this last, with
//! `--ignored`), the logs of every test process and every spawned server are searched for the
//! demo's national ID numbers and phone numbers.

use std::collections::HashSet;

use echinomap_tests::{Result, TestDb, log_dir};

/// Runs of ASCII digits (and a trailing X) of exactly `len` characters in `text`.
fn runs(text: &str, len: usize) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == 'X'))
        .filter(move |t| t.len() == len)
}

#[tokio::test]
#[ignore = "run by `make test` after the whole suite, over its logs"]
async fn the_logs_of_a_full_test_run_hold_no_id_or_phone_number() -> Result<()> {
    let db = TestDb::demo().await?;
    let ids: HashSet<String> = sqlx::query_scalar::<_, String>(
        "SELECT id_number::text FROM people WHERE id_number IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await?
    .into_iter()
    .collect();
    let phones: HashSet<String> =
        sqlx::query_scalar::<_, String>("SELECT phone FROM people WHERE phone IS NOT NULL")
            .fetch_all(&db.pool)
            .await?
            .into_iter()
            .collect();
    assert!(ids.len() > 100_000 && !phones.is_empty());
    let mut files = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(log_dir())? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        files += 1;
        bytes += text.len();
        for id in runs(&text, 18) {
            assert!(
                !ids.contains(id),
                "{} holds a national ID number",
                path.display()
            );
        }
        for phone in runs(&text, 11) {
            assert!(
                !phones.contains(phone),
                "{} holds a phone number",
                path.display()
            );
        }
    }
    // The run this test checks must have logged something.
    assert!(
        files >= 3 && bytes > 10_000,
        "{files} log files, {bytes} bytes: run the suite first"
    );
    Ok(())
}

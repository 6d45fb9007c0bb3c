//! No personal data in logs: after the whole suite has run (`make test` runs this last, with
//! `--ignored`), every log the run wrote to `target/test-logs/` (the test processes' own, every
//! server the tests and the browser tests started, at debug level, the commands they ran and
//! the PostgreSQL clusters' logs) is searched for anything shaped like an identity number or a
//! mobile number, whoever wrote it: an 18-character number with a valid check character and
//! birth date, and an 11-digit number of a mainland mobile range.

use std::str::FromStr;

use echinomap_domain::IdNumber;
use echinomap_tests::log_dir;
use sqlx::{ConnectOptions, Connection};

/// Runs of ASCII digits (with X or x, an ID number's check character) in `text`.
fn runs(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_ascii_digit() || c == 'X' || c == 'x'))
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_uppercase)
}

/// Mobile numbers written in groups, `139-1234-5678` or `139 1234 5678`, as one run.
fn grouped_mobiles(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| {
        b.get(from..from + n)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let sep = |at: usize| matches!(b.get(at), Some(b'-' | b' '));
    let mut out = Vec::new();
    for i in 0..b.len() {
        let bounded = (i == 0 || !b[i - 1].is_ascii_digit())
            && !b.get(i + 13).is_some_and(u8::is_ascii_digit);
        if bounded
            && digits(i, 3)
            && sep(i + 3)
            && digits(i + 4, 4)
            && sep(i + 8)
            && digits(i + 9, 4)
        {
            out.push(format!(
                "{}{}{}",
                &text[i..i + 3],
                &text[i + 4..i + 8],
                &text[i + 9..i + 13]
            ));
        }
    }
    out
}

/// An identity number (GB 11643: check character and a real birth date since 1900).
fn is_id_number(run: &str) -> bool {
    IdNumber::parse(run)
        .ok()
        .and_then(|id| id.birth_date())
        .is_some_and(|d| d >= chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(d))
}

/// A mainland mobile number: 11 digits, 13x–19x.
fn is_mobile_number(run: &str) -> bool {
    let b = run.as_bytes();
    b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
}

/// The personal numbers found in `text`, masked for the failure message: an ID number anywhere
/// in a run of digits (also after other digits, as in `%20` + ID), a mobile number as a run of
/// its own, after the country code 86, or written in groups.
fn findings(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for run in runs(text).chain(grouped_mobiles(text)) {
        for start in 0..=run.len().saturating_sub(18) {
            let window = run.get(start..start + 18).unwrap_or_default();
            if is_id_number(window) {
                found.push(format!(
                    "ID {}",
                    echinomap_domain::mask_middle(window, 6, 4)
                ));
            }
        }
        let mobile = run
            .strip_prefix("86")
            .filter(|r| r.len() == 11)
            .unwrap_or(&run);
        if is_mobile_number(mobile) {
            found.push(format!(
                "mobile {}",
                echinomap_domain::mask_middle(mobile, 3, 4)
            ));
        }
    }
    found
}

#[test]
fn the_detector_finds_ids_and_mobiles_in_their_usual_forms_and_nothing_else() {
    let first17 = "65402219850312002";
    let id = format!("{first17}{}", IdNumber::check_character(first17));
    let lower = id.to_ascii_lowercase();
    for (text, n) in [
        (format!("path=/api/people id={id} phone=13912345678 x"), 2),
        (format!("q=%20{id}&tel=+8613912345678"), 2),
        (format!("id={lower}"), 1),
        ("tel: 139-1234-5678 / 139 1234 5678".to_owned(), 2),
    ] {
        assert_eq!(findings(&text).len(), n, "{text}: {:?}", findings(&text));
    }
    // A wrong check character, an impossible birth date, a landline, an H3 cell, a millisecond
    // timestamp, a 12-digit village code, a number not of a mobile range.
    let wrong = if id.ends_with('1') { '2' } else { '1' };
    let not_personal = format!(
        "{first17}{wrong} 654022199913450012 09012345678 608533325578682367 1733520000000 \
         654022100200 12345678901 2026-12-06 21:47:52"
    );
    assert_eq!(findings(&not_personal), Vec::<String>::new());
}

#[tokio::test]
async fn the_detector_finds_every_id_and_phone_number_of_the_demo() -> echinomap_tests::Result<()> {
    let db = echinomap_tests::TestDb::demo().await?;
    let people: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT id_number::text, phone FROM people")
            .fetch_all(&db.pool)
            .await?;
    let (mut ids, mut phones) = (0, 0);
    for (id, phone) in &people {
        if let Some(id) = id {
            assert_eq!(
                findings(&format!("x={id};")).len(),
                1,
                "a demo ID number is missed"
            );
            ids += 1;
        }
        if let Some(phone) = phone {
            assert_eq!(
                findings(&format!("x={phone};")).len(),
                1,
                "a demo phone is missed"
            );
            phones += 1;
        }
    }
    assert!(
        ids > 100_000 && phones > 1_000,
        "{ids} ID numbers, {phones} phones"
    );
    Ok(())
}

#[tokio::test]
async fn a_write_refused_by_the_database_leaves_no_personal_data_in_its_log()
-> echinomap_tests::Result<()> {
    let db = echinomap_tests::TestDb::demo().await?;
    let (person, id_number, phone): (i64, String, String) = sqlx::query_as(
        "SELECT id, id_number::text, phone FROM people
         WHERE id_number IS NOT NULL AND phone IS NOT NULL LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(findings(&format!("{id_number} {phone}")).len(), 2);
    // A connection of its own that does not log its statements: this test's process log must
    // not hold the values it writes into statements on purpose.
    let options = sqlx::postgres::PgConnectOptions::from_str(&db.url())?;
    let mut conn = sqlx::PgConnection::connect_with(&options.disable_statement_logging()).await?;
    // A unique violation on an ID number (the registers' own natural keys are no longer unique:
    // a repeat is a possible duplicate), bound and as a literal in the statement's text:
    // PostgreSQL would quote the key (DETAIL) and the statement (STATEMENT).
    sqlx::query("CREATE TEMP TABLE refused_ids (id_number text UNIQUE)")
        .execute(&mut conn)
        .await?;
    sqlx::query("INSERT INTO refused_ids VALUES ($1)")
        .bind(&id_number)
        .execute(&mut conn)
        .await?;
    let bound = sqlx::query("INSERT INTO refused_ids VALUES ($1)")
        .bind(&id_number)
        .execute(&mut conn)
        .await;
    assert!(bound.is_err(), "the unique index refuses a second holder");
    let literal = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO refused_ids VALUES ('{id_number}')"
    )))
    .execute(&mut conn)
    .await;
    assert!(
        literal.is_err(),
        "the unique index refuses it as a literal too"
    );
    // A person breaking the CHECK on phone (digits, +, - and spaces): PostgreSQL would quote the
    // whole row, ID number and phone ("Failing row contains …"), and the statement.
    let bad_phone = sqlx::query("UPDATE people SET phone = $2 || '!' WHERE id = $1")
        .bind(person)
        .bind(&phone)
        .execute(&mut conn)
        .await;
    assert!(bad_phone.is_err(), "the CHECK on phone refuses a '!'");
    let literal_phone = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE people SET phone = '{phone}!' WHERE id_number = '{id_number}'"
    )))
    .execute(&mut conn)
    .await;
    assert!(
        literal_phone.is_err(),
        "the CHECK on phone refuses it as a literal too"
    );
    let broken = sqlx::query("UPDATE people SET birth_date = DATE '1800-01-01' WHERE id = $1")
        .bind(person)
        .execute(&mut conn)
        .await;
    assert!(broken.is_err(), "the CHECK on birth_date refuses 1800");
    conn.close().await?;
    let log = std::fs::read_to_string(echinomap_tests::cluster_log())?;
    assert!(
        log.contains("refused_ids_id_number_key") && log.contains("people_phone_check"),
        "the refusals are logged (without their values)"
    );
    assert!(
        !log.contains("STATEMENT:") && !log.contains("DETAIL:"),
        "PostgreSQL logs the statements or the rows it refused"
    );
    assert!(
        findings(&log).is_empty() && !log.contains(&id_number) && !log.contains(&phone),
        "PostgreSQL's log holds personal data: {:?}",
        findings(&log)
    );
    Ok(())
}

#[test]
#[ignore = "run by `make test` after the whole suite, over its logs"]
fn the_logs_of_a_full_test_run_hold_no_id_or_phone_number() -> echinomap_tests::Result<()> {
    // The clusters of the test processes that ran before, and any cluster of a served data
    // directory a test left behind: their PostgreSQL logs join the rest.
    echinomap_tests::collect_postgres_logs();
    let mut files = Vec::new();
    let mut bytes = 0;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(log_dir())? {
        let path = entry?.path();
        let raw = std::fs::read(&path)?;
        let text = String::from_utf8_lossy(&raw);
        bytes += raw.len();
        for f in findings(&text) {
            found.push(format!("{}: {f}", path.display()));
        }
        files.push(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    assert!(
        found.is_empty(),
        "personal numbers in the logs:\n{}",
        found.join("\n")
    );
    // The run this test checks must have logged something, from every kind of writer.
    for kind in ["postgresql-", "web-", "serve-binary-", "import-kill-"] {
        assert!(
            files.iter().any(|f| f.starts_with(kind)),
            "no {kind}* log among {files:?}: run the whole suite first (make test)"
        );
    }
    assert!(bytes > 100_000, "{} log files, {bytes} bytes", files.len());
    Ok(())
}

//! No personal data in logs: after the whole suite has run (`make test` runs this last, with
//! `--ignored`), every log the run wrote to `target/test-logs/` (the test processes' own, every
//! server the tests and the browser tests started, at debug level, the commands they ran and
//! the PostgreSQL clusters' logs) is searched for anything shaped like an identity number or a
//! mobile number, whoever wrote it: an 18-character number with a valid check character and
//! birth date, and an 11-digit number of a mainland mobile range.

use echinomap_domain::IdNumber;
use echinomap_tests::log_dir;

/// Runs of ASCII digits (and a trailing X) of exactly `len` characters in `text`.
fn runs(text: &str, len: usize) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == 'X'))
        .filter(move |t| t.len() == len)
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

/// The personal numbers found in `text`, masked for the failure message.
fn findings(text: &str) -> Vec<String> {
    let ids = runs(text, 18)
        .filter(|r| is_id_number(r))
        .map(|r| format!("ID {}", echinomap_domain::mask_middle(r, 6, 4)));
    let phones = runs(text, 11)
        .filter(|r| is_mobile_number(r))
        .map(|r| format!("mobile {}", echinomap_domain::mask_middle(r, 3, 4)));
    ids.chain(phones).collect()
}

#[test]
fn the_detector_finds_ids_and_mobiles_and_nothing_else() {
    let id = format!(
        "65402219850312002{}",
        IdNumber::check_character("65402219850312002")
    );
    let text = format!("path=/api/people id={id} phone=13912345678 x");
    assert_eq!(findings(&text).len(), 2, "{:?}", findings(&text));
    // A wrong check character, an impossible birth date, a landline, an H3 cell, a timestamp.
    let wrong = if id.ends_with('1') { "2" } else { "1" };
    let bad_check = format!("{}{wrong}", &id[..17]);
    let not_personal = format!(
        "{bad_check} 654022199913450012 09012345678 608533325578682367 1733520000000 12345678901"
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

#[test]
#[ignore = "run by `make test` after the whole suite, over its logs"]
fn the_logs_of_a_full_test_run_hold_no_id_or_phone_number() -> echinomap_tests::Result<()> {
    // The clusters of the test processes that ran before: their PostgreSQL logs join the rest.
    echinomap_tests::remove_clusters_of_ended_runs();
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

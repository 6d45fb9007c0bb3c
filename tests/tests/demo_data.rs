//! The demo data in a real PostGIS: migrations apply to an empty database, the demo loads, and
//! its invariants hold (places inside the county, every record linked to a village, numbers in
//! the ranges the Foundation issue names, same seed → same data).

use echinomap_tests::{Result, TestDb, demo_settings, demo_today};
use sqlx::PgPool;

async fn scalar_i64(pool: &PgPool, sql: &'static str) -> Result<i64> {
    Ok(sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await?)
}

async fn scalar_f64(pool: &PgPool, sql: &'static str) -> Result<f64> {
    Ok(sqlx::query_scalar::<_, f64>(sql).fetch_one(pool).await?)
}

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_enable_postgis() -> Result<()> {
    let db = TestDb::empty().await?;
    let postgis: String = sqlx::query_scalar("SELECT postgis_lib_version()")
        .fetch_one(&db.pool)
        .await?;
    assert!(postgis.starts_with('3'));
    let applied = scalar_i64(
        &db.pool,
        "SELECT count(*) FROM _sqlx_migrations WHERE success",
    )
    .await?;
    assert_eq!(
        applied as usize,
        echinomap_programme::db::MIGRATOR.iter().count()
    );
    // Running them again is a no-op.
    echinomap_programme::db::MIGRATOR.run(&db.pool).await?;
    Ok(())
}

#[tokio::test]
async fn every_place_lies_inside_its_county_and_township() -> Result<()> {
    let db = TestDb::demo().await?;
    let p = &db.pool;
    assert_eq!(scalar_i64(p, "SELECT count(*) FROM villages").await?, 84);
    let outside_county = scalar_i64(
        p,
        "SELECT count(*) FROM villages v JOIN townships t ON t.code = v.township_code
         JOIN counties c ON c.code = t.county_code WHERE NOT ST_Contains(c.geom, v.geom)",
    )
    .await?;
    assert_eq!(outside_county, 0, "villages outside the county polygon");
    let outside_township = scalar_i64(
        p,
        "SELECT count(*) FROM villages v JOIN townships t ON t.code = v.township_code
         WHERE NOT ST_Covers(t.geom, v.geom)",
    )
    .await?;
    assert_eq!(outside_township, 0, "villages outside their township area");
    let seats_outside = scalar_i64(
        p,
        "SELECT count(*) FROM townships t JOIN counties c ON c.code = t.county_code WHERE NOT ST_Covers(c.geom, t.seat)",
    )
    .await?;
    assert_eq!(seats_outside, 0);
    // Township areas tile the county: same area, no overlaps.
    let ratio = scalar_f64(
        p,
        "SELECT (SELECT sum(ST_Area(geom::geography)) FROM townships) / (SELECT ST_Area(geom::geography) FROM counties)",
    )
    .await?;
    assert!(
        (ratio - 1.0).abs() < 0.002,
        "township areas / county area = {ratio}"
    );
    let overlaps = scalar_f64(
        p,
        "SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
         FROM townships a JOIN townships b ON a.code < b.code AND ST_Intersects(a.geom, b.geom)",
    )
    .await?;
    assert!(overlaps < 1e5, "township overlap {overlaps} m²");
    // Synthetic geometry says so.
    assert_eq!(
        scalar_i64(p, "SELECT count(*) FROM villages WHERE NOT synthetic").await?,
        0
    );
    assert_eq!(
        scalar_i64(p, "SELECT count(*) FROM townships WHERE NOT synthetic").await?,
        0
    );
    // H3 cells were filled from the position.
    let wrong_cells = scalar_i64(
        p,
        "SELECT count(*) FROM villages WHERE h3_r7 = 0 OR h3_r8 = 0 OR h3_r9 = 0",
    )
    .await?;
    assert_eq!(wrong_cells, 0);
    Ok(())
}

#[tokio::test]
async fn every_record_is_linked_to_a_village_consistently() -> Result<()> {
    let db = TestDb::demo().await?;
    let p = &db.pool;
    for (what, sql) in [
        (
            "dogs in another village than their household",
            "SELECT count(*) FROM dogs d JOIN households h ON h.id = d.household_id WHERE h.village_id <> d.village_id",
        ),
        (
            "dewormings counted in another village than their dog's",
            "SELECT count(*) FROM dewormings w JOIN dogs d ON d.id = w.dog_id WHERE w.village_id <> d.village_id",
        ),
        (
            "people in another village than their household",
            "SELECT count(*) FROM people x JOIN households h ON h.id = x.household_id WHERE h.village_id <> x.village_id",
        ),
        (
            "dewormings of a dog before its registration or after its death",
            "SELECT count(*) FROM dewormings w JOIN dogs d ON d.id = w.dog_id
             WHERE w.dosed_on < d.registered_on OR (d.status <> 'alive' AND w.dosed_on > d.status_on)",
        ),
        (
            "records without a link method",
            "SELECT (SELECT count(*) FROM dogs WHERE link_method IS NULL) + (SELECT count(*) FROM people WHERE link_method IS NULL)",
        ),
        (
            "slaughter inspections with an unlinked origin",
            "SELECT count(*) FROM slaughter_inspections WHERE origin_village_id IS NOT NULL AND link_method IS NULL",
        ),
        (
            "point records outside the county",
            "SELECT count(*) FROM slaughter_points s, counties c WHERE NOT ST_Covers(c.geom, s.geom)",
        ),
    ] {
        let n = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(p)
            .await?;
        assert_eq!(n, 0, "{what}: {n}");
    }
    Ok(())
}

#[tokio::test]
async fn the_demo_numbers_are_plausible_for_the_county() -> Result<()> {
    let db = TestDb::demo().await?;
    let p = &db.pool;
    let today = demo_today();

    let population = scalar_i64(
        p,
        "SELECT sum(population)::bigint FROM village_denominators WHERE year = (SELECT max(year) FROM village_denominators)",
    )
    .await?;
    assert!(
        (165_000..=195_000).contains(&population),
        "population {population}"
    );
    let people = scalar_i64(p, "SELECT count(*) FROM people").await?;
    assert!((165_000..=195_000).contains(&people), "people {people}");

    // About one dog per 4–5 rural households.
    let per_household = scalar_f64(
        p,
        "SELECT (SELECT count(*) FROM households h JOIN villages v ON v.id = h.village_id WHERE v.kind <> 'residents_committee')::float8
              / (SELECT count(*) FROM dogs)",
    )
    .await?;
    assert!(
        (3.8..=5.5).contains(&per_household),
        "rural households per dog {per_household}"
    );

    // 24 months of deworming up to this month, none in the future.
    let months = scalar_i64(
        p,
        "SELECT count(DISTINCT date_trunc('month', dosed_on)) FROM dewormings",
    )
    .await?;
    assert_eq!(months, 24);
    let last: chrono::NaiveDate = sqlx::query_scalar("SELECT max(dosed_on) FROM dewormings")
        .fetch_one(p)
        .await?;
    assert!(last <= today);
    // Coverage by village over the period: between about 50% and 98%.
    let (lo, hi): (f64, f64) = sqlx::query_as(
        "WITH m AS (
            SELECT d.village_id, date_trunc('month', w.dosed_on) AS month, count(DISTINCT w.dog_id) AS dosed
            FROM dewormings w JOIN dogs d ON d.id = w.dog_id GROUP BY 1, 2),
         v AS (
            SELECT m.village_id, avg(m.dosed::float8 / nullif((SELECT count(*) FROM dogs g
                 WHERE g.village_id = m.village_id AND g.registered_on <= m.month + interval '1 month' - interval '1 day'
                   AND (g.status = 'alive' OR g.status_on >= m.month)), 0)) AS coverage
            FROM m GROUP BY 1)
         SELECT min(coverage), max(coverage) FROM v",
    )
    .fetch_one(p)
    .await?;
    assert!(
        lo >= 0.40 && (0.85..=1.0).contains(&hi),
        "coverage by village {lo:.2}..{hi:.2}"
    );

    // Faecal positivity 1–8% overall.
    let positivity = scalar_f64(
        p,
        "SELECT avg((result = 'positive')::int)::float8 FROM faecal_tests",
    )
    .await?;
    assert!(
        (0.01..=0.08).contains(&positivity),
        "faecal positivity {positivity}"
    );

    // About 15 slaughter points, infection 2–12%, some without disposal.
    let points = scalar_i64(p, "SELECT count(*) FROM slaughter_points").await?;
    assert!((10..=20).contains(&points), "{points} slaughter points");
    let infection = scalar_f64(
        p,
        "SELECT sum(infected)::float8 / sum(slaughtered) FROM slaughter_inspections",
    )
    .await?;
    assert!(
        (0.02..=0.12).contains(&infection),
        "livestock infection {infection}"
    );
    assert!(
        scalar_i64(
            p,
            "SELECT count(*) FROM slaughter_points WHERE disposal_facility = 'none'"
        )
        .await?
            > 0
    );

    // 150–300 human cases, mostly CE, AE in the southern pastoral townships.
    let cases = scalar_i64(p, "SELECT count(*) FROM cases").await?;
    assert!((150..=300).contains(&cases), "{cases} cases");
    let ce_share = scalar_f64(p, "SELECT avg((case_type = 'CE')::int)::float8 FROM cases").await?;
    assert!(ce_share > 0.6 && ce_share < 1.0, "CE share {ce_share}");
    let ae_south = scalar_f64(
        p,
        "SELECT avg((v.township_code IN ('654022104', '654022105', '654022404'))::int)::float8
         FROM cases c JOIN villages v ON v.id = c.village_id WHERE c.case_type = 'AE'",
    )
    .await?;
    assert!(ae_south >= 0.5, "share of AE cases in the south {ae_south}");
    // Stages, treatments and follow-ups, some overdue.
    assert!(
        scalar_i64(p, "SELECT count(DISTINCT case_id) FROM imaging_exams").await? >= cases * 9 / 10
    );
    assert!(scalar_i64(p, "SELECT count(*) FROM treatments").await? > 0);
    let overdue: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM followups WHERE visited_on IS NULL AND due_on < $1",
    )
    .bind(today)
    .fetch_one(p)
    .await?;
    assert!(overdue > 0, "no overdue follow-ups");
    assert!(scalar_i64(p, "SELECT count(*) FROM screening_campaigns").await? > 0);
    assert!(scalar_i64(p, "SELECT count(*) FROM stock_movements").await? > 0);

    // Nothing is dated after today.
    for sql in [
        "SELECT max(dosed_on) FROM dewormings",
        "SELECT max(sampled_on) FROM faecal_tests",
        "SELECT max(inspected_on) FROM slaughter_inspections",
        "SELECT max(reported_on) FROM cases",
        "SELECT max(visited_on) FROM followups",
        "SELECT max(screened_on) FROM screening_campaigns",
        "SELECT max(moved_on) FROM stock_movements",
        "SELECT max(registered_on) FROM dogs",
    ] {
        let max: Option<chrono::NaiveDate> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(p)
                .await?;
        assert!(max.is_some_and(|d| d <= today), "{sql}: {max:?}");
    }
    // National ID numbers are valid and unique.
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id_number::text FROM people WHERE id_number IS NOT NULL")
            .fetch_all(p)
            .await?;
    assert!(ids.len() > 100_000);
    for id in &ids {
        assert!(
            echinomap_domain::IdNumber::parse(id).is_ok(),
            "invalid ID number in the demo"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_same_seed_loads_the_same_data() -> Result<()> {
    let template = TestDb::demo().await?;
    let again = TestDb::empty().await?;
    echinomap_programme::demo::load(&again.pool, &demo_settings(), false, false).await?;
    for table in [
        "villages",
        "townships",
        "people",
        "dogs",
        "dewormings",
        "cases",
        "followups",
        "slaughter_inspections",
    ] {
        // created_at/updated_at say when the load ran; everything else must be identical.
        let sql = format!(
            "SELECT md5(string_agg((to_jsonb(t) - 'created_at' - 'updated_at')::text, '|' ORDER BY t::text)) FROM {table} t"
        );
        let a: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&template.pool)
            .await?;
        let b: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&again.pool)
            .await?;
        assert!(a.is_some(), "{table} is empty");
        assert_eq!(a, b, "{table} differs between two loads with the same seed");
    }
    Ok(())
}

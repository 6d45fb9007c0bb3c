-- 犬驱虫覆盖率, one month per period (the engine sums months into quarters and years), read from
-- the rollup that `indicators::rollup::refresh` has just brought up to date; the numbers are
-- those of deworming_coverage_raw.sql.
SELECT vil.code, per.i, r.dogs_dosed::float8, r.dogs_due::float8, '{}'::jsonb
FROM deworming_rollup r
JOIN vil ON vil.id = r.village_id
JOIN per ON per.s = r.month

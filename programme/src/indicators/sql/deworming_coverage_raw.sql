-- 犬驱虫覆盖率 from the registers, one month per period (the rollup is filled with this):
-- distinct dogs dosed in the month (by dewormings.village_id) among the dogs of the
-- denominator / dogs registered by the month's last day and alive on its first day, by their
-- current village. Restricting the numerator to the denominator's dogs keeps it ≤ 100%.
, den AS (
    SELECT d.village_id, per.i, count(*)::float8 AS n
    FROM dogs d
    JOIN vil ON vil.id = d.village_id
    JOIN per ON d.registered_on <= per.e AND (d.status = 'alive' OR d.status_on >= per.s)
    WHERE d.deleted_at IS NULL
    GROUP BY 1, 2
), dosed AS (
    -- One row per dog and month (a dog dosed twice in a month counts once).
    SELECT DISTINCT w.village_id, per.i, w.dog_id
    FROM dewormings w
    JOIN vil ON vil.id = w.village_id
    JOIN per ON per.s = date_trunc('month', w.dosed_on)::date
    JOIN dogs d ON d.id = w.dog_id AND d.village_id = w.village_id AND d.deleted_at IS NULL
         AND d.registered_on <= per.e AND (d.status = 'alive' OR d.status_on >= per.s)
    WHERE w.deleted_at IS NULL
      AND w.dosed_on BETWEEN (SELECT min(s) FROM per) AND (SELECT max(e) FROM per)
), num AS (
    SELECT village_id, i, count(*)::float8 AS n FROM dosed GROUP BY 1, 2
)
SELECT vil.code, den.i, coalesce(num.n, 0), den.n, '{}'::jsonb
FROM den
JOIN vil ON vil.id = den.village_id
LEFT JOIN num ON num.village_id = den.village_id AND num.i = den.i

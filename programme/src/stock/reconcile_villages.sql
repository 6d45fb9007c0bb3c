-- The reconciliation's village side (docs/STOCK.md, 核销): per village and month, the
-- praziquantel handed to the village (`use` rows of PZQ items, in units and in doses), the
-- doses the deworming register records, and the dogs due (the deworming-coverage indicator's
-- denominator, read from `deworming_rollup`, which the caller has just refreshed).
-- $1 the code prefix of the villages, $2/$3 the months' first and last days (arrays, in order).
-- Only rows with something to say are returned.
WITH per AS (
    SELECT u.i::int AS i, u.s, u.e FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS u(s, e, i)
), vil AS (
    SELECT id FROM villages WHERE code LIKE $1 || '%'
), x AS (
    SELECT m.village_id, per.i,
           -sum(m.quantity)::bigint AS issued_units,
           -sum(m.quantity / coalesce(it.units_per_dose, 1))::float8 AS issued_doses,
           0::bigint AS recorded, 0::bigint AS dogs
    FROM stock_movements m
    JOIN stock_items it ON it.id = m.item_id AND it.kind = 'praziquantel'
    JOIN per ON per.s = date_trunc('month', m.moved_on)::date
    WHERE m.kind = 'use'
      AND m.village_id IN (SELECT id FROM vil)
      AND m.moved_on BETWEEN (SELECT min(s) FROM per) AND (SELECT max(e) FROM per)
    GROUP BY 1, 2
    UNION ALL
    SELECT w.village_id, per.i, 0, 0, count(*), 0
    FROM dewormings w
    JOIN per ON per.s = date_trunc('month', w.dosed_on)::date
    WHERE w.deleted_at IS NULL AND w.drug = 'praziquantel'
      AND w.village_id IN (SELECT id FROM vil)
      AND w.dosed_on BETWEEN (SELECT min(s) FROM per) AND (SELECT max(e) FROM per)
    GROUP BY 1, 2
    UNION ALL
    SELECT r.village_id, per.i, 0, 0, 0, r.dogs_due
    FROM deworming_rollup r
    JOIN per ON per.s = r.month
    WHERE r.village_id IN (SELECT id FROM vil) AND r.dogs_due > 0
)
SELECT v.code::text, x.i, sum(x.issued_units)::bigint, sum(x.issued_doses)::float8,
       sum(x.recorded)::bigint, sum(x.dogs)::bigint
FROM x
JOIN villages v ON v.id = x.village_id
GROUP BY 1, 2

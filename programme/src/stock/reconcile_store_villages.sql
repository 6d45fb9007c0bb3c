-- The reconciliation's store rows (docs/STOCK.md, 核销): per store placed inside the unit and
-- month, the villages that store handed praziquantel to in the month (its `use` rows of PZQ
-- items naming a village, wherever the village lies), and over those villages only the doses
-- the deworming register records and the dogs due (from `deworming_rollup`, just refreshed).
-- $1 the code prefix of the stores' places, $2/$3 the months' first and last days (arrays).
WITH per AS (
    SELECT u.i::int AS i, u.s, u.e FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS u(s, e, i)
), h AS (
    SELECT DISTINCT m.store_id, per.i, per.s, per.e, m.village_id
    FROM stock_movements m
    JOIN stock_items it ON it.id = m.item_id AND it.kind = 'praziquantel'
    JOIN per ON per.s = date_trunc('month', m.moved_on)::date
    WHERE m.kind = 'use' AND m.village_id IS NOT NULL
      AND m.store_id IN (SELECT id FROM stock_stores WHERE place_code LIKE $1 || '%')
      AND m.moved_on BETWEEN (SELECT min(s) FROM per) AND (SELECT max(e) FROM per)
)
SELECT h.store_id, h.i,
       coalesce(sum((SELECT count(*) FROM dewormings w
                     WHERE w.village_id = h.village_id AND w.deleted_at IS NULL
                       AND w.drug = 'praziquantel' AND w.dosed_on BETWEEN h.s AND h.e)), 0)::bigint,
       coalesce(sum((SELECT r.dogs_due FROM deworming_rollup r
                     WHERE r.village_id = h.village_id AND r.month = h.s)), 0)::bigint
FROM h
GROUP BY 1, 2

-- The reconciliation's store side (docs/STOCK.md, 核销): per store placed inside the unit and
-- month, its praziquantel on hand at the month's end (units), at the month's start (units and
-- doses), and its own `use` rows in the month (units and doses). PZQ items are stock_items of
-- kind `praziquantel`; a dose is `units_per_dose` units of the row's item (1 when not set).
-- $1 the code prefix of the stores' places, $2/$3 the months' first and last days.
WITH per AS (
    SELECT u.i::int AS i, u.s, u.e FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS u(s, e, i)
), mv AS (
    SELECT m.store_id, m.moved_on, m.kind = 'use' AS is_use, m.quantity::bigint AS units,
           (m.quantity / coalesce(it.units_per_dose, 1))::float8 AS doses
    FROM stock_movements m
    JOIN stock_items it ON it.id = m.item_id AND it.kind = 'praziquantel'
    WHERE m.store_id IN (SELECT id FROM stock_stores WHERE place_code LIKE $1 || '%')
      AND m.moved_on <= (SELECT max(e) FROM per)
)
SELECT mv.store_id, per.i,
       coalesce(sum(mv.units) FILTER (WHERE mv.moved_on <= per.e), 0)::bigint AS left_units,
       coalesce(sum(mv.units) FILTER (WHERE mv.moved_on < per.s), 0)::bigint AS start_units,
       coalesce(sum(mv.doses) FILTER (WHERE mv.moved_on < per.s), 0)::float8 AS start_doses,
       coalesce(-sum(mv.units) FILTER (WHERE mv.is_use AND mv.moved_on >= per.s), 0)::bigint AS used_units,
       coalesce(-sum(mv.doses) FILTER (WHERE mv.is_use AND mv.moved_on >= per.s), 0)::float8 AS used_doses
FROM mv
JOIN per ON mv.moved_on <= per.e
GROUP BY 1, 2

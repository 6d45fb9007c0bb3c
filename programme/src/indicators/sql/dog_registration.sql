-- 家犬登记管理率: registered non-stray dogs alive at the period's end / the village's estimated
-- dogs for the period's year. A village without a denominator row has no rate (no row here).
SELECT vil.code, per.i,
       (SELECT count(*) FROM dogs d
         WHERE d.village_id = vil.id AND d.deleted_at IS NULL AND d.kind <> 'stray'
           AND d.registered_on <= per.e
           AND (d.status = 'alive' OR d.status_on > per.e))::float8,
       dn.dogs_estimated::float8,
       '{}'::jsonb
FROM vil
CROSS JOIN per
JOIN village_denominators dn ON dn.village_id = vil.id AND dn.year = extract(year FROM per.e)::int

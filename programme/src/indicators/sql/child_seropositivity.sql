-- 儿童血清阳性率: positives / screened in school surveys (ages 6–12) by serum ELISA.
SELECT vil.code, per.i, sum(sc.positives)::float8, sum(sc.screened)::float8, '{}'::jsonb
FROM screening_campaigns sc
JOIN vil ON vil.id = sc.village_id
JOIN per ON sc.screened_on BETWEEN per.s AND per.e
WHERE sc.deleted_at IS NULL AND sc.target_group = 'school_children' AND sc.method = 'serology_elisa'
GROUP BY vil.code, per.i

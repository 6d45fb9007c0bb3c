-- 人群患病率: positives / people screened by B-ultrasound (every target group).
SELECT vil.code, per.i, sum(sc.positives)::float8, sum(sc.screened)::float8, '{}'::jsonb
FROM screening_campaigns sc
JOIN vil ON vil.id = sc.village_id
JOIN per ON sc.screened_on BETWEEN per.s AND per.e
WHERE sc.deleted_at IS NULL AND sc.method = 'ultrasound'
GROUP BY vil.code, per.i

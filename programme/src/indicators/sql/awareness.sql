-- 知晓率: correct answers / respondents of the knowledge surveys held in the period.
SELECT vil.code, per.i, sum(h.aware)::float8, sum(h.respondents)::float8, '{}'::jsonb
FROM health_education h
JOIN vil ON vil.id = h.village_id
JOIN per ON h.held_on BETWEEN per.s AND per.e
WHERE h.deleted_at IS NULL
GROUP BY vil.code, per.i

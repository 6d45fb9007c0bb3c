-- 鼠类感染率 (AE, for the stage rules): rodents infected / rodents dissected.
SELECT vil.code, per.i, sum(r.infected)::float8, sum(r.dissected)::float8, '{}'::jsonb
FROM rodent_surveys r
JOIN vil ON vil.id = r.village_id
JOIN per ON r.surveyed_on BETWEEN per.s AND per.e
WHERE r.deleted_at IS NULL
GROUP BY vil.code, per.i

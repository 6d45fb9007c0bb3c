-- 新发病例: distinct people with a first (non-revisit) case report in the period, counted in
-- the case's village; only the diagnosis classes of the stage rule set's case definition.
SELECT vil.code, per.i,
       count(DISTINCT c.person_id)::float8,
       0::float8,
       jsonb_build_object(
           'CE', count(DISTINCT c.person_id) FILTER (WHERE c.case_type = 'CE'),
           'AE', count(DISTINCT c.person_id) FILTER (WHERE c.case_type = 'AE'))
FROM cases c
JOIN people pe ON pe.id = c.person_id AND pe.deleted_at IS NULL
JOIN vil ON vil.id = c.village_id
JOIN per ON c.reported_on BETWEEN per.s AND per.e
CROSS JOIN p
WHERE c.deleted_at IS NULL AND NOT c.is_revisit AND c.diagnosis_class::text = ANY (p.classes)
GROUP BY vil.code, per.i

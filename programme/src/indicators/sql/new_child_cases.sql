-- 新发儿童病例: as new_cases, for people aged at most the rule set's child age (whole years at
-- the report date).
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
  AND extract(year FROM age(c.reported_on, pe.birth_date)) <= p.child_max_age
GROUP BY vil.code, per.i

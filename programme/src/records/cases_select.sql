-- One case with its person, village, latest imaging stage and its next follow-up due by the one
-- schedule (`followup_schedule`, migrations/20261208000001): `$1` is the as-of day (today), `$2`
-- the grace days; the caller's WHERE clause numbers its own parameters from `$3`.
SELECT c.id,
       c.case_type::text AS case_type,
       c.diagnosis_class::text AS diagnosis_class,
       c.organ::text AS organ,
       c.discovery_route::text AS discovery_route,
       c.reported_on,
       c.status::text AS status,
       c.is_revisit,
       c.nndrs_id,
       c.onset_on,
       c.diagnosed_on,
       c.reporting_unit,
       v.code::text AS village_code,
       v.name AS village_name,
       v.township_code::text AS township_code,
       p.id AS person_id,
       p.name AS person_name,
       p.sex::text AS sex,
       p.birth_date,
       p.id_number::text AS id_number,
       p.phone,
       (SELECT coalesce(e.ce_stage::text, e.pnm_p::text || e.pnm_n::text || e.pnm_m::text)
          FROM imaging_exams e
         WHERE e.case_id = c.id AND e.deleted_at IS NULL
         ORDER BY e.examined_on DESC
         LIMIT 1) AS latest_stage,
       fs.next_due AS next_followup_due,
       coalesce(followup_overdue(fs.next_due, $1::date, $2::int), false) AS followup_overdue
FROM cases c
JOIN people p ON p.id = c.person_id
JOIN villages v ON v.id = c.village_id
-- Lateral, so that a page of cases reads the schedule of its own cases only.
LEFT JOIN LATERAL (SELECT s.next_due FROM followup_schedule($1::date) s WHERE s.case_id = c.id) fs
    ON true

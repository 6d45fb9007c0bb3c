-- Patients whose next follow-up is overdue as of $2 (due + $3 grace days < $2), and, when $4 is
-- given, those not overdue whose next visit is due by $2 + $4 days (upcoming). The schedule is
-- the one of the case line list and `patients_managed`: `followup_schedule`
-- (migrations/20261208000001_followup_schedule.sql, docs/INDICATORS.md).
SELECT v.code::text AS code, v.name, v.township_code::text AS township,
       ca.id, ca.case_type::text AS case_type, ca.status::text AS status, s.remote,
       s.treatment_start, s.start, s.last_visit, s.next_due,
       followup_overdue(s.next_due, $2::date, $3::int) AS overdue
FROM followup_schedule($2::date) s
JOIN cases ca ON ca.id = s.case_id
JOIN villages v ON v.id = s.village_id
WHERE v.code LIKE $1 || '%'
  AND (followup_overdue(s.next_due, $2::date, $3::int)
       OR ($4::int IS NOT NULL AND s.next_due <= $2::date + $4::int))
ORDER BY code, s.next_due, ca.id

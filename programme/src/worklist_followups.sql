-- Patients (first reports, under treatment or watch-and-wait) whose next follow-up is overdue:
-- with no visit since the start of albendazole (or since diagnosis), the first visit is due a
-- month after that start; after a visit, the next is due 3 months later (6 in remote villages).
WITH c AS (
    SELECT v.code::text AS code, v.name, v.township_code::text AS township, v.remote,
           ca.id, ca.case_type::text AS case_type, ca.status::text AS status,
           coalesce(ca.diagnosed_on, ca.reported_on) AS diagnosed,
           (SELECT min(t.started_on) FROM treatments t
             WHERE t.case_id = ca.id AND t.deleted_at IS NULL AND t.kind = 'albendazole') AS start,
           (SELECT max(f.visited_on) FROM followups f
             WHERE f.case_id = ca.id AND f.deleted_at IS NULL AND f.visited_on <= $2) AS last_visit
    FROM cases ca
    JOIN villages v ON v.id = ca.village_id
    WHERE v.code LIKE $1 || '%' AND ca.deleted_at IS NULL AND NOT ca.is_revisit
      AND ca.status IN ('under_treatment', 'watch_and_wait')
), d AS (
    SELECT c.*,
           CASE WHEN c.last_visit IS NULL OR c.last_visit < coalesce(c.start, c.diagnosed)
                THEN (coalesce(c.start, c.diagnosed) + interval '1 month')::date
                ELSE (c.last_visit + CASE WHEN c.remote THEN interval '6 months' ELSE interval '3 months' END)::date
           END AS next_due
    FROM c
)
SELECT code, name, township, id, case_type, status, remote, start, last_visit, next_due
FROM d
WHERE next_due + $3 < $2
ORDER BY code, next_due, id

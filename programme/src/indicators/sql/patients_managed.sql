-- 规范管理率, as of the period's end (or today when the period is not over): the patients
-- followed then by the one follow-up schedule (`followup_schedule`, docs/INDICATORS.md: first
-- reports under treatment or watch-and-wait, reported by then), managed when their next
-- follow-up was not overdue then (due + grace days not passed). `extra.overdue` counts the
-- others: the number the case list, the work list and the field page give for the same day.
, c AS (
    SELECT vil.code, per.i, followup_overdue(s.next_due, least(per.e, p.as_of), p.grace) AS overdue
    FROM per
    CROSS JOIN p
    CROSS JOIN LATERAL followup_schedule(least(per.e, p.as_of)) s
    JOIN vil ON vil.id = s.village_id
)
SELECT c.code, c.i,
       count(*) FILTER (WHERE NOT c.overdue)::float8,
       count(*)::float8,
       jsonb_build_object('overdue', count(*) FILTER (WHERE c.overdue))
FROM c
GROUP BY c.code, c.i

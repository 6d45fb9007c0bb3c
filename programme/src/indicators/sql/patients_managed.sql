-- 规范管理率, as of the period's end (or today when the period is not over): patients under
-- treatment or watch-and-wait reported by then, managed when no follow-up was overdue then
-- (due more than the grace days before and not visited by then) and, once a month has passed
-- since their first albendazole course began, they had a visit within that month.
, c AS (
    SELECT vil.code, per.i, least(per.e, p.as_of) AS asof, ca.id,
           (SELECT min(t.started_on) FROM treatments t
             WHERE t.case_id = ca.id AND t.deleted_at IS NULL AND t.kind = 'albendazole') AS first_start
    FROM cases ca
    JOIN people pe ON pe.id = ca.person_id AND pe.deleted_at IS NULL
    JOIN vil ON vil.id = ca.village_id
    CROSS JOIN per
    CROSS JOIN p
    WHERE ca.deleted_at IS NULL AND ca.status IN ('under_treatment', 'watch_and_wait')
      AND ca.reported_on <= least(per.e, p.as_of)
)
SELECT c.code, c.i,
       count(*) FILTER (WHERE
           NOT EXISTS (SELECT 1 FROM followups f
                        WHERE f.case_id = c.id AND f.deleted_at IS NULL
                          AND f.due_on + p.grace < c.asof
                          AND (f.visited_on IS NULL OR f.visited_on > c.asof))
           AND (c.first_start IS NULL
                OR (c.first_start + interval '1 month')::date + p.grace >= c.asof
                OR EXISTS (SELECT 1 FROM followups f
                            WHERE f.case_id = c.id AND f.deleted_at IS NULL
                              AND f.visited_on BETWEEN c.first_start
                                  AND (c.first_start + interval '1 month')::date + p.grace))
       )::float8,
       count(*)::float8,
       '{}'::jsonb
FROM c
CROSS JOIN p
GROUP BY c.code, c.i

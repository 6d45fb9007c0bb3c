-- The one follow-up schedule of patients (docs/INDICATORS.md, "Follow-up schedule"): the case
-- line list, the patient's record, the work list, the field page (through the work list), the
-- village profile (through the line list) and `patients_managed` (so the annual case report)
-- all read it, so that they cannot disagree on who is overdue.
--
-- Followed: cases not deleted, of a person not deleted, first reports (`NOT is_revisit`: a
-- revisit is the same patient reported again, followed on the first report), with status
-- under treatment or watch-and-wait, reported by `as_of`.
-- Next visit due: with no visit on or after the start (the first albendazole course begun by
-- `as_of`, else the diagnosis date, else the report date), one month after that start; after a
-- visit, three months after the latest visit made by `as_of` (six in villages marked `remote`).
-- A visit closes every earlier due date; the planned `followups.due_on` does not decide.
CREATE FUNCTION followup_schedule(as_of date)
RETURNS TABLE (
    case_id    bigint,
    village_id integer,
    remote     boolean,
    -- The first albendazole course begun by as_of, if any.
    treatment_start date,
    -- What the first visit is counted from: treatment_start, else diagnosis, else report.
    start      date,
    last_visit date,
    next_due   date
)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT s.id, s.village_id, s.remote, s.treatment_start, s.start, s.last_visit,
           CASE WHEN s.last_visit IS NULL OR s.last_visit < s.start
                THEN (s.start + interval '1 month')::date
                ELSE (s.last_visit + CASE WHEN s.remote THEN interval '6 months'
                                          ELSE interval '3 months' END)::date
           END
    FROM (
        SELECT ca.id, ca.village_id, v.remote,
               t.treatment_start,
               coalesce(t.treatment_start, ca.diagnosed_on, ca.reported_on) AS start,
               f.last_visit
        FROM cases ca
        JOIN villages v ON v.id = ca.village_id
        JOIN people pe ON pe.id = ca.person_id AND pe.deleted_at IS NULL
        CROSS JOIN LATERAL (
            SELECT min(tr.started_on) AS treatment_start FROM treatments tr
            WHERE tr.case_id = ca.id AND tr.deleted_at IS NULL
              AND tr.kind = 'albendazole' AND tr.started_on <= as_of
        ) t
        -- Laterals, not scalar subqueries: the CASE above reads last_visit three times.
        CROSS JOIN LATERAL (
            SELECT max(fu.visited_on) AS last_visit FROM followups fu
            WHERE fu.case_id = ca.id AND fu.deleted_at IS NULL AND fu.visited_on <= as_of
        ) f
        WHERE ca.deleted_at IS NULL AND NOT ca.is_revisit
          AND ca.status IN ('under_treatment', 'watch_and_wait')
          AND ca.reported_on <= as_of
    ) s
$$;

COMMENT ON FUNCTION followup_schedule(date) IS
    'The next follow-up due of every followed patient as of a day (docs/INDICATORS.md).';

-- Overdue: `as_of` is past the due date plus the configured grace days.
CREATE FUNCTION followup_overdue(next_due date, as_of date, grace_days integer)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT as_of > next_due + grace_days $$;

-- 病害脏器无害化处理率: infected animals whose offal was disposed of (disposal_done, a method
-- other than none) / infected animals found, at the slaughter point's village.
SELECT vil.code, per.i,
       coalesce(sum(si.infected) FILTER (WHERE si.disposal_done AND si.disposal_method <> 'none'), 0)::float8,
       coalesce(sum(si.infected), 0)::float8,
       jsonb_build_object('slaughtered', coalesce(sum(si.slaughtered), 0))
FROM slaughter_inspections si
JOIN slaughter_points sp ON sp.id = si.point_id AND sp.deleted_at IS NULL
JOIN vil ON vil.id = sp.village_id
JOIN per ON si.inspected_on BETWEEN per.s AND per.e
WHERE si.deleted_at IS NULL
GROUP BY vil.code, per.i

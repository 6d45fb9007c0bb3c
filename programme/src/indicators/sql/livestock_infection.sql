-- 家畜患病率 in animals under 2 years (the target's age class): animals with cysts / animals
-- inspected, attributed to the animals' origin village. Rows without an origin count only at
-- county level: they come out under the county code of the slaughter point's village.
SELECT coalesce(ov.code, substr(pv.code, 1, 6))::text, per.i,
       coalesce(sum(si.infected) FILTER (WHERE si.age_class = 'under_2y'), 0)::float8,
       coalesce(sum(si.slaughtered) FILTER (WHERE si.age_class = 'under_2y'), 0)::float8,
       jsonb_build_object(
           'all_ages_infected', coalesce(sum(si.infected), 0),
           'all_ages_inspected', coalesce(sum(si.slaughtered), 0),
           'sheep_under_2y_infected', coalesce(sum(si.infected) FILTER (WHERE si.age_class = 'under_2y' AND si.species = 'sheep'), 0),
           'sheep_under_2y_inspected', coalesce(sum(si.slaughtered) FILTER (WHERE si.age_class = 'under_2y' AND si.species = 'sheep'), 0),
           'cattle_under_2y_infected', coalesce(sum(si.infected) FILTER (WHERE si.age_class = 'under_2y' AND si.species = 'cattle'), 0),
           'cattle_under_2y_inspected', coalesce(sum(si.slaughtered) FILTER (WHERE si.age_class = 'under_2y' AND si.species = 'cattle'), 0))
FROM slaughter_inspections si
JOIN slaughter_points sp ON sp.id = si.point_id AND sp.deleted_at IS NULL
JOIN villages pv ON pv.id = sp.village_id
LEFT JOIN villages ov ON ov.id = si.origin_village_id
JOIN per ON si.inspected_on BETWEEN per.s AND per.e
CROSS JOIN p
WHERE si.deleted_at IS NULL
  AND (ov.code LIKE p.prefix || '%' OR (ov.id IS NULL AND pv.code LIKE p.prefix || '%'))
GROUP BY 1, 2

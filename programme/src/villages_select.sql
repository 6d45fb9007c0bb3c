-- One row per village with its township and its latest year's denominators.
SELECT v.code::text AS code,
       v.name,
       v.kind::text AS kind,
       v.township_code::text AS township_code,
       t.name AS township_name,
       ST_X(v.geom) AS lon,
       ST_Y(v.geom) AS lat,
       d.population,
       d.households,
       d.dogs_estimated,
       d.year AS denominator_year,
       v.synthetic,
       v.remote
FROM villages v
JOIN townships t ON t.code = v.township_code
LEFT JOIN LATERAL (
    SELECT population, households, dogs_estimated, year
    FROM village_denominators
    WHERE village_id = v.id
    ORDER BY year DESC
    LIMIT 1
) d ON true

-- 犬粪抗原阳性率: positive / (positive + negative) samples taken in the period, by the sample's
-- village; inconclusive results and the split by method are reported beside it.
SELECT vil.code, per.i,
       count(*) FILTER (WHERE f.result = 'positive')::float8,
       count(*) FILTER (WHERE f.result IN ('positive', 'negative'))::float8,
       jsonb_build_object(
           'inconclusive', count(*) FILTER (WHERE f.result = 'inconclusive'),
           'copro_elisa_positive', count(*) FILTER (WHERE f.method = 'copro_elisa' AND f.result = 'positive'),
           'copro_elisa_tested', count(*) FILTER (WHERE f.method = 'copro_elisa' AND f.result IN ('positive', 'negative')),
           'copro_pcr_positive', count(*) FILTER (WHERE f.method = 'copro_pcr' AND f.result = 'positive'),
           'copro_pcr_tested', count(*) FILTER (WHERE f.method = 'copro_pcr' AND f.result IN ('positive', 'negative')))
FROM faecal_tests f
JOIN vil ON vil.id = f.village_id
JOIN per ON f.sampled_on BETWEEN per.s AND per.e
WHERE f.deleted_at IS NULL
GROUP BY vil.code, per.i

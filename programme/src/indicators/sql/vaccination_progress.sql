-- 羊免疫进度: animals immunised / animals due (target) on vaccination rows dated in the period.
SELECT vil.code, per.i, sum(va.immunised)::float8, sum(va.target)::float8,
       jsonb_build_object('rows_over_target', count(*) FILTER (WHERE va.immunised > va.target))
FROM vaccinations va
JOIN vaccination_campaigns vc ON vc.id = va.campaign_id AND vc.deleted_at IS NULL
JOIN vil ON vil.id = va.village_id
JOIN per ON va.vaccinated_on BETWEEN per.s AND per.e
WHERE va.deleted_at IS NULL
GROUP BY vil.code, per.i

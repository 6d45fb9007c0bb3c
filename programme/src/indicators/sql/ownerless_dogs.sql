-- 无主犬: ownerless dogs recorded in the period (sum of n_dogs over every stray-dog event, all
-- actions: an upper bound, the same dogs may be seen then captured) per village.
SELECT vil.code, per.i,
       coalesce((SELECT sum(s.n_dogs) FROM stray_dog_events s
                  WHERE s.village_id = vil.id AND s.deleted_at IS NULL
                    AND s.occurred_on BETWEEN per.s AND per.e), 0)::float8,
       1::float8,
       '{}'::jsonb
FROM vil
CROSS JOIN per

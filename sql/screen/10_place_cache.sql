-- reads: benefit_place, screened, to_compute
-- writes: place_p, screen_place_cache
-- params: -
-- The benefit place of every screened person (rules.md §2): fresh for the persons of to_compute
-- (TEMP benefit_place, sql/screen/benefit_place.sql), cached for the others. The cache holds one
-- row per screened person (NULL place columns for 170: their place is the insured region's
-- province, sql/screen/20_facts.sql); persons no longer screened leave it.
DELETE FROM screen_place_cache
WHERE id_no IN (SELECT id_no FROM to_compute) OR id_no NOT IN (SELECT id_no FROM screened);

INSERT INTO screen_place_cache
SELECT t.id_no, bp.benefit_province, bp.place_rule, bp.hukou_province, bp.current_province,
       bp.acc_current, bp.acc_months
FROM to_compute t LEFT JOIN benefit_place bp USING (id_no);

-- the cache now holds exactly the screened persons (facts joins it from screened)
CREATE OR REPLACE TEMP VIEW place_p AS SELECT * FROM screen_place_cache;

-- reads: benefit_place, screened, to_compute
-- writes: _left_place (dropped), place_p, screen_place_cache
-- params: -
-- The benefit place of every screened person (rules.md §2): fresh for the persons of to_compute
-- (TEMP benefit_place, sql/screen/benefit_place.sql), cached for the others. The cache holds one
-- row per screened person (NULL place columns for 170: their place is the insured region's
-- province, sql/screen/20_facts.sql); persons no longer screened leave it.
-- The persons no longer screened are found by one grouped pass over both tables' IDs, which DuckDB
-- spills past its memory limit, not by `id_no NOT IN (SELECT id_no FROM screened)`: at 25,000,000
-- persons and 1 GB that statement (in sql/screen/30_flags.sql) ran out of memory in an INCR month
-- (issue 19, docs/benchmarks.md). The same rows: id_no is never NULL (schema_screen.sql, persons_p).
CREATE OR REPLACE TEMP TABLE _left_place AS
SELECT id_no FROM (SELECT id_no, false AS screened FROM screen_place_cache
                   UNION ALL SELECT id_no, true FROM screened)
GROUP BY id_no HAVING NOT bool_or(screened);
DELETE FROM screen_place_cache
WHERE id_no IN (SELECT id_no FROM to_compute UNION ALL SELECT id_no FROM _left_place);
DROP TABLE _left_place;

INSERT INTO screen_place_cache
SELECT t.id_no, bp.benefit_province, bp.place_rule, bp.hukou_province, bp.current_province,
       bp.acc_current, bp.acc_months
FROM to_compute t LEFT JOIN benefit_place bp USING (id_no);

-- the cache now holds exactly the screened persons (facts joins it from screened)
CREATE OR REPLACE TEMP VIEW place_p AS SELECT * FROM screen_place_cache;

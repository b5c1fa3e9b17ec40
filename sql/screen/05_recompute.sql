-- reads: person_versions, screen_place_cache, screened, segment_versions, segments_p
-- writes: bp_persons, bp_segments, to_compute
-- params: cached_seq, full, seq
-- Who needs the month-independent screening computed afresh (see sql/warehouse/schema_screen.sql):
-- everyone screened when {{ full }}; else the screened persons the cache lacks, and everyone whose
-- person row or segments have a version that began or ended after the cache's seq {{ cached_seq }}
-- up to this month's seq {{ seq }} (an INCR's I/U/D, a FULL's changes and left-the-push versions).
CREATE OR REPLACE TEMP TABLE to_compute AS
{% if full %}
SELECT id_no FROM screened;
{% else %}
SELECT s.id_no FROM screened s
WHERE NOT EXISTS (SELECT 1 FROM screen_place_cache c WHERE c.id_no = s.id_no)   -- one row per person
UNION
SELECT s.id_no FROM screened s
WHERE s.id_no IN (
    SELECT id_no FROM person_versions
    WHERE (valid_from_seq > {{ cached_seq }} AND valid_from_seq <= {{ seq }})
       OR (valid_to_seq > {{ cached_seq }} AND valid_to_seq <= {{ seq }})
    UNION ALL
    SELECT id_no FROM segment_versions
    WHERE (valid_from_seq > {{ cached_seq }} AND valid_from_seq <= {{ seq }})
       OR (valid_to_seq > {{ cached_seq }} AND valid_to_seq <= {{ seq }}));
{% endif %}

-- Inputs of the benefit-place rule (rules.md §2), for sql/screen/benefit_place.sql: the persons
-- to compute only.
CREATE OR REPLACE TEMP VIEW bp_persons AS
SELECT id_no, hukou_region, benefit_region_ministry, insured_region, deemed_region, deemed_months, deemed_status
FROM screened {% if not full %}SEMI JOIN to_compute USING (id_no) {% endif %}WHERE insurance_type = 110;

CREATE OR REPLACE TEMP VIEW bp_segments AS
SELECT s.id_no, s.region_code, s.start_mi, s.end_mi, s.relation_status
FROM segments_p s SEMI JOIN bp_persons b USING (id_no);

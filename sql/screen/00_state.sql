-- The push state a month is computed on: every person and segment version valid at seq {{ seq }}.
CREATE OR REPLACE TEMP VIEW persons_p AS
SELECT * FROM person_versions
WHERE valid_from_seq <= {{ seq }} AND (valid_to_seq IS NULL OR valid_to_seq > {{ seq }});

CREATE OR REPLACE TEMP VIEW segments_p AS
SELECT * FROM segment_versions
WHERE valid_from_seq <= {{ seq }} AND (valid_to_seq IS NULL OR valid_to_seq > {{ seq }});

-- Screened: everyone in the push, and everyone whose ledger entry is still open.
CREATE OR REPLACE TEMP TABLE screened AS
SELECT p.* FROM persons_p p
WHERE p.in_push
   OR p.id_no IN (SELECT id_no FROM ledger_entries WHERE closed_mi IS NULL);

-- Inputs of the benefit-place rule (rules.md §2), for sql/screen/benefit_place.sql.
CREATE OR REPLACE TEMP VIEW bp_persons AS
SELECT id_no, hukou_region, benefit_region_ministry, insured_region, deemed_region, deemed_months, deemed_status
FROM screened WHERE insurance_type = 110;

CREATE OR REPLACE TEMP VIEW bp_segments AS
SELECT s.id_no, s.region_code, s.start_mi, s.end_mi, s.relation_status
FROM segments_p s SEMI JOIN bp_persons b USING (id_no);

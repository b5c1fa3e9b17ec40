-- reads: -
-- writes: _notice_ins, notice_log
-- params: source
-- Insert the rendered notices of {{ source }}; a key already present is skipped (never two
-- notices of the same person, kind and reference month, rules.md §5).
-- The anti-joins pick what is not there yet into _notice_ins (the caller counts it per kind);
-- 35_unique.sql then refuses (and rolls the stage back) anything that would slip through: the
-- table has no UNIQUE index since issue 19 (ON CONFLICT, which needs one, checked row by row anyway:
-- 36,000 notices took a minute at 1,000,000 persons). The log is read only for the source's persons and notice ids
-- (issue 19: hash tables the size of the source, not of the log).
CREATE OR REPLACE TEMP TABLE _notice_ins AS
SELECT s.* FROM {{ source }} s
WHERE NOT EXISTS (SELECT 1 FROM notice_log n
                  WHERE n.id_no = s.id_no AND n.kind = s.kind AND n.reference_mi = s.reference_mi
                    AND n.id_no IN (SELECT id_no FROM {{ source }}))
  AND NOT EXISTS (SELECT 1 FROM notice_log n WHERE n.notice_id = s.notice_id
                    AND n.notice_id IN (SELECT notice_id FROM {{ source }}))
ORDER BY s.notice_id;

INSERT INTO notice_log (notice_id, id_no, entry_id, kind, reference_mi, issued_mi, office_code,
                     channel, phone, text, segments, offline_reason, created_at)
SELECT notice_id, id_no, entry_id, kind, reference_mi, issued_mi, office_code,
       channel, phone, text, segments, offline_reason, now()
FROM _notice_ins;

-- Coordination letters (附件1) of month P: the benefit-place office asks the pre-review office
-- for the archive pre-review result. Cases:
--   * handovers of P of kind OFFICE_CHANGE or BENEFIT_PLACE_IN: from_code (previous office or
--     province, where the pre-review was done) -> to_code (the new responsible office);
--   * open ledger entries whose pre_review_office is set and differs from office_code.
-- Only persons with a ledger entry open in P (the letter belongs to the pre-service).
-- One letter per (person, sender, recipient); the letter id is free of personal data.
WITH open_e AS (
    SELECT * FROM ledger_entries
    WHERE opened_mi <= {{ month_mi }} AND (closed_mi IS NULL OR closed_mi > {{ month_mi }})
    QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY opened_mi DESC, entry_id DESC) = 1
),
cases AS (
    SELECT h.id_no, h.to_code AS sender, h.from_code AS recipient, h.kind AS basis
    FROM handovers h SEMI JOIN open_e e ON e.id_no = h.id_no
    WHERE h.month_mi = {{ month_mi }} AND h.kind IN ('OFFICE_CHANGE', 'BENEFIT_PLACE_IN')
    UNION ALL
    SELECT e.id_no, e.office_code AS sender, e.pre_review_office AS recipient, 'PRE_REVIEW_OFFICE' AS basis
    FROM open_e e
    WHERE nullif(trim(e.pre_review_office), '') IS NOT NULL AND e.pre_review_office <> e.office_code
),
letters AS (
    SELECT id_no, sender, recipient, string_agg(DISTINCT basis, ';' ORDER BY basis) AS basis
    FROM cases WHERE sender <> recipient
    GROUP BY id_no, sender, recipient
)
SELECT 'XT-' || replace(mi_text({{ month_mi }}), '-', '') || '-' || person_key(l.id_no) || '-' || l.recipient AS letter_id,
       l.sender, l.recipient, l.basis, l.id_no, person_key(l.id_no) AS person_key,
       p.name, p.insurance_type, e.officer_id, e.entry_id
FROM letters l
JOIN open_e e ON e.id_no = l.id_no
LEFT JOIN {{ persons }} p ON p.id_no = l.id_no
ORDER BY l.sender, letter_id

-- reads: coordination_letters, ledger_entries
-- writes: -
-- params: month_mi, persons
-- Coordination letters (附件1) of month P: the benefit-place office asks the pre-review office
-- for the archive pre-review result. Cases:
--   * handovers of P of kind OFFICE_CHANGE or BENEFIT_PLACE_IN: from_code (previous office or
--     province, where the pre-review was done) -> to_code (the new responsible office);
--   * open ledger entries whose pre_review_office is set and differs from office_code.
-- Only persons with a ledger entry open in P when the letter became due (the letter belongs to
-- the pre-service); a replay writes it even if the entry closed after P's run.
-- One letter per (person, sender, recipient), written once: in the month it first became due
-- (table coordination_letters); the letter id is free of personal data.
WITH letters AS (  -- decided by 55_letters_due.sql in the month they first became due
    SELECT id_no, sender, recipient, basis, entry_id, officer_id FROM coordination_letters
    WHERE first_mi = {{ month_mi }}
),
-- letters recorded before the entry was stored with them: the latest entry opened by P (it was
-- open when the letter was recorded; it may have closed since — the letter still stands)
latest_e AS (
    SELECT * FROM ledger_entries
    WHERE opened_mi <= {{ month_mi }} AND id_no IN (SELECT id_no FROM letters WHERE entry_id IS NULL)
    QUALIFY row_number() OVER (PARTITION BY id_no ORDER BY opened_mi DESC, entry_id DESC) = 1
)
SELECT 'XT-' || replace(mi_text({{ month_mi }}), '-', '') || '-' || person_key(l.id_no) || '-' || l.recipient AS letter_id,
       l.sender, l.recipient, l.basis, l.id_no, person_key(l.id_no) AS person_key,
       p.name, p.insurance_type,
       CASE WHEN l.entry_id IS NOT NULL THEN l.officer_id ELSE e.officer_id END AS officer_id,
       coalesce(l.entry_id, e.entry_id) AS entry_id
FROM letters l
LEFT JOIN latest_e e ON e.id_no = l.id_no AND l.entry_id IS NULL
LEFT JOIN {{ persons }} p ON p.id_no = l.id_no
ORDER BY l.sender, letter_id

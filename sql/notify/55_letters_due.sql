-- reads: handovers, ledger_entries
-- writes: coordination_letters
-- params: month_mi
-- Coordination letters (附件1) that become due in month P, recorded once (see 60_letters.sql):
--   * handovers of P of kind OFFICE_CHANGE or BENEFIT_PLACE_IN: from_code (previous office or
--     province, where the pre-review was done) -> to_code (the new responsible office);
--   * open ledger entries whose pre_review_office is set and differs from office_code.
-- Only persons with a ledger entry open in P. A (person, sender, recipient) already recorded in
-- an earlier month is not due again; a rerun of P finds its own rows and adds nothing. The entry
-- and its officer are recorded with the letter (60_letters.sql writes it from them).
-- A rerun of P whose push moved the person to another office since P's earlier run (a correction
-- push of P) first drops P's letters written by an office that no longer holds the person: an
-- office never receives another office's persons (outputs.md); the handover of P says the move
-- (sql/ledger/20_office_change.sql), and the office that holds the person now gets its own letter.
DELETE FROM coordination_letters l
WHERE l.first_mi = {{ month_mi }}
  AND l.sender <> (SELECT arg_max(e.office_code, e.opened_mi) FROM ledger_entries e
                   WHERE e.id_no = l.id_no AND e.opened_mi <= {{ month_mi }});

INSERT INTO coordination_letters
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
)
SELECT c.id_no, c.sender, c.recipient, {{ month_mi }}, string_agg(DISTINCT c.basis, ';' ORDER BY c.basis),
       any_value(e.entry_id), any_value(e.officer_id)
FROM cases c
JOIN open_e e ON e.id_no = c.id_no
WHERE c.sender <> c.recipient
  AND NOT EXISTS (SELECT 1 FROM coordination_letters l
                  WHERE l.id_no = c.id_no AND l.sender = c.sender AND l.recipient = c.recipient)
GROUP BY c.id_no, c.sender, c.recipient;

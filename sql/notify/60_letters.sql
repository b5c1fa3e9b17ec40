-- reads: coordination_letters, ledger_entries, ledger_transitions
-- writes: -
-- params: month_mi, persons, reviewed_stages
-- Coordination letters (附件1) of month P: the benefit-place office asks the pre-review office
-- for the archive pre-review result. Cases:
--   * handovers of P of kind OFFICE_CHANGE or BENEFIT_PLACE_IN: from_code (previous office or
--     province, where the pre-review was done) -> to_code (the new responsible office);
--   * open ledger entries whose pre_review_office is set and differs from office_code.
-- Only persons with a ledger entry open in P when the letter became due (the letter belongs to
-- the pre-service); a replay writes it even if the entry closed after P's run.
-- One letter per (person, sender, recipient), written once: in the month it first became due
-- (table coordination_letters); the letter id is free of personal data.
-- What the letter may say of the addressee (docs/decisions.md "A coordination letter tells what the
-- ledger records"): `review` is
--   * REVIEWED: the ledger records a pre-review there — the addressee is the entry's pre_review_office
--     (PRE_REVIEW_OFFICE, set by county feedback ARCHIVE_REVIEWED), or the entry left it in
--     ARCHIVE_REVIEWED or a later stage (rules.md §7): 附件1's wording as it stands;
--   * NOT_REVIEWED: the entry left it in ENROLLED or NOTIFIED (rules.md §7): no pre-review there;
--   * UNKNOWN: the ledger has no record of the addressee's work (another province, BENEFIT_PLACE_IN;
--     a move without its transition).
-- `left_stage` is the stage the entry was in when it left the addressee: sql/ledger/20_office_change.sql
-- records each move as a transition 'office <from> -> <to>' of month P that keeps the stage (from_stage
-- = to_stage), immutable, so a rerun or replay of P writes the same letter.
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
),
with_e AS (
    SELECT l.id_no, l.sender, l.recipient, l.basis,
           CASE WHEN l.entry_id IS NOT NULL THEN l.officer_id ELSE e.officer_id END AS officer_id,
           coalesce(l.entry_id, e.entry_id) AS entry_id
    FROM letters l
    LEFT JOIN latest_e e ON e.id_no = l.id_no AND l.entry_id IS NULL
),
-- the stage the entry was in when it left the addressee in P (the latest such move of P)
left_at AS (
    SELECT w.entry_id, w.recipient, arg_max(t.from_stage, t.recorded_at) AS left_stage
    FROM with_e w
    JOIN ledger_transitions t
      ON t.entry_id = w.entry_id AND t.month_mi = {{ month_mi }} AND t.from_stage = t.to_stage
     AND starts_with(t.detail, 'office ' || w.recipient || ' -> ')
    WHERE list_contains(string_split(w.basis, ';'), 'OFFICE_CHANGE')
    GROUP BY w.entry_id, w.recipient
)
SELECT 'XT-' || replace(mi_text({{ month_mi }}), '-', '') || '-' || person_key(w.id_no) || '-' || w.recipient AS letter_id,
       w.sender, w.recipient, w.basis, w.id_no, person_key(w.id_no) AS person_key,
       p.name, p.insurance_type, w.officer_id, w.entry_id, a.left_stage,
       CASE WHEN list_contains(string_split(w.basis, ';'), 'PRE_REVIEW_OFFICE')
                 OR a.left_stage IN ({{ reviewed_stages | sql_list }}) THEN 'REVIEWED'
            WHEN a.left_stage IS NOT NULL THEN 'NOT_REVIEWED'
            ELSE 'UNKNOWN' END AS review
FROM with_e w
LEFT JOIN left_at a ON a.entry_id = w.entry_id AND a.recipient = w.recipient
LEFT JOIN {{ persons }} p ON p.id_no = w.id_no
ORDER BY w.sender, letter_id

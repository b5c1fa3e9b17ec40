-- The notices of P with the office whose files carry each one (file_office): the office whose
-- worklist of P holds the notice's entry, so that a person who moved office in P (a DECLARATION
-- or RESULT issued before P's run moved the entry) is in the new office's files with the rest of
-- his or her month (outputs.md: "an office never receives another office's persons"); else,
-- with no entry on P's worklist (e.g. `declare` on the 1st, before P's run), the issuing office.
-- The text was rendered at issue and is kept as issued.
CREATE OR REPLACE TEMP VIEW _notices_p AS
SELECT n.*, coalesce(w.office_code, n.office_code) AS file_office
FROM notice_log n
LEFT JOIN worklist_rows w ON w.month_mi = {{ month_mi }} AND w.entry_id = n.entry_id
WHERE n.issued_mi = {{ month_mi }};

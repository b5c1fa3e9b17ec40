-- Screened: everyone in the push, and everyone whose ledger entry is still open.
CREATE OR REPLACE TEMP TABLE screened AS
SELECT p.* FROM persons_p p
WHERE p.in_push
   OR p.id_no IN (SELECT id_no FROM ledger_entries WHERE closed_mi IS NULL);

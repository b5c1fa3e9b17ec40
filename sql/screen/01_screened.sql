-- reads: ledger_entries, ledger_transitions, persons_p
-- writes: screened
-- params: month_mi
-- Screened: everyone in the push, and everyone whose ledger entry was open in P (still open, or
-- closed in P or later: a rerun of P after its ledger stage closed an entry LEFT_PUSH must screen
-- that person again, or the closed entry would drop off P's worklist).
-- `retired` is the push's field, or a retirement the county already reported (a feedback RETIRED
-- dated by P): the push lags behind the county, and a person whose retirement was handled is never
-- taken in again (docs/decisions.md). A RETIRED the run itself recorded from the push follows the
-- push, which may correct it.
-- Without the columns no rule reads (the name, the row's hash, its seqs): at 5,000,000 persons
-- they were ≈ 90 bytes a row of screened and again of facts, which spill beyond DuckDB's memory
-- (issue 19; docs/benchmarks.md, thirteenth session).
CREATE OR REPLACE TEMP TABLE screened AS
SELECT p.* EXCLUDE (name, row_hash, valid_from_seq, valid_to_seq) REPLACE (p.retired OR p.id_no IN (
           SELECT id_no FROM ledger_transitions
           WHERE to_stage = 'RETIRED' AND source LIKE 'feedback:%' AND month_mi <= {{ month_mi }}) AS retired)
FROM persons_p p
WHERE p.in_push
   OR p.id_no IN (SELECT id_no FROM ledger_entries
                  WHERE opened_mi <= {{ month_mi }} AND (closed_mi IS NULL OR closed_mi >= {{ month_mi }}));

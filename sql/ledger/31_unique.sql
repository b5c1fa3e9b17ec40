-- reads: ledger_entries
-- writes: -
-- params: source
-- The uniqueness of entry_id, checked after the insert into the ledger and before the writer's COMMIT
-- (rules.md §3, §7: one entry per person and enrolment; entry_id is the key of every transition,
-- notice, conclusion and worklist row). ledger_entries has no PRIMARY KEY (issue 19, ninth session:
-- DuckDB keeps the index entries a transaction inserts in memory until COMMIT, and a FULL month of
-- 25,000,000 persons opens ≈ 17 M entries); this is that constraint. {{ source }} holds the entries
-- just inserted: every entry of the ledger sharing an entry_id with one of them is counted (old and new
-- alike), so a duplicate against the ledger or within the insert is found; the ledger is read only
-- for those ids (one scan of one column, a hash table the size of the insert).
-- Returns the number of entry_ids held twice (or more); the caller refuses anything but 0.
SELECT count(*) FROM (SELECT 1 FROM ledger_entries
                      WHERE entry_id IN (SELECT entry_id FROM {{ source }})
                      GROUP BY entry_id HAVING count(*) > 1);

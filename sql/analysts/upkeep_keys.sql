-- reads: ledger_entries, person_keys (and the previous file's copy, db.ledger_current)
-- writes: -
-- params: db
-- Whether the person keys were rotated since the copy was built (pipelines/analysts.py; issues 17/18):
-- the entries of a thousand rows of the copy whose person key is no longer the warehouse's. Any: the
-- file is written afresh.
SELECT count(*)
FROM (SELECT entry_id, person_key FROM {{ db | sql_ident }}.ledger_current LIMIT 1000) o
JOIN ledger_entries e USING (entry_id)
JOIN person_keys k ON k.id_no = e.id_no
WHERE k.person_key <> o.person_key;

-- reads: _an_units (and the table's own SELECT, the param select; the previous file's copy of the table, db.table)
-- writes: _an_units (and the analysts' table the params db and table name)
-- params: db, table, key, stamp, since, since_type, select
-- Upkeep of an analysts' table with several rows per key and no key of its own, whose source only
-- ever gains rows, each stamped when recorded (pipelines/analysts.py Units; issues 17/18): every key
-- with a row recorded at or after the latest stamp of the previous file's copy has its rows deleted
-- and inserted again from the SELECT; the others are left as they are. transitions: the warehouse
-- only appends to ledger_transitions (recorded_at: the recording transaction's start), and an entry
-- changes office only with a transition of its own (sql/ledger/20_office_change.sql). since: the
-- copy's latest stamp (text, cast to since_type: the stamp's type as the copy's catalog names it), a
-- literal (so that it filters the source table before any join).
CREATE OR REPLACE TEMP TABLE _an_units AS
SELECT DISTINCT {{ key | sql_ident }} AS k FROM ({{ select }}) s
WHERE {{ stamp | sql_ident }} >= CAST({{ since | sql_str }} AS {{ since_type }});

DELETE FROM {{ db | sql_ident }}.{{ table | sql_ident }} WHERE {{ key | sql_ident }} IN (SELECT k FROM _an_units);
INSERT INTO {{ db | sql_ident }}.{{ table | sql_ident }} BY NAME
SELECT * FROM ({{ select }}) s WHERE {{ key | sql_ident }} IN (SELECT k FROM _an_units);
DROP TABLE _an_units;

-- reads: officers
-- writes: _assign, _load, _ranked_officers, ledger_entries
-- params: -
-- Responsible officer for entries without one (new, or moved office): the roster of the office,
-- balanced by open load — the k-th unassigned entry (by entry_id) goes to the k-th officer in
-- order of current load, cycling.
CREATE OR REPLACE TEMP TABLE _load AS
SELECT o.office_code, o.officer_id,
       (SELECT count(*) FROM ledger_entries e WHERE e.officer_id = o.officer_id AND e.closed_mi IS NULL) AS open_load
FROM officers o;

CREATE OR REPLACE TEMP TABLE _ranked_officers AS
SELECT office_code, officer_id,
       row_number() OVER (PARTITION BY office_code ORDER BY open_load, officer_id) - 1 AS k,
       count(*) OVER (PARTITION BY office_code) AS n
FROM _load;

CREATE OR REPLACE TEMP TABLE _assign AS
SELECT e.entry_id, ro.officer_id
FROM (SELECT entry_id, office_code,
             row_number() OVER (PARTITION BY office_code ORDER BY entry_id) - 1 AS j
      FROM ledger_entries WHERE closed_mi IS NULL AND officer_id IS NULL) e
JOIN _ranked_officers ro ON ro.office_code = e.office_code AND ro.k = e.j % ro.n;

UPDATE ledger_entries e SET officer_id = a.officer_id FROM _assign a WHERE e.entry_id = a.entry_id;

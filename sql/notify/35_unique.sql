-- reads: notice_log
-- writes: -
-- params: source
-- The uniqueness of the log, checked after every insert into it and before the writer's COMMIT
-- (rules.md §5: never two notices of the same person, kind and reference month; notice_id is the key
-- of every file and count). notice_log has no PRIMARY KEY or UNIQUE (issue 19: DuckDB keeps the index
-- entries a transaction inserts in memory, ~130 bytes a notice, and a FULL month of 5,000,000 persons
-- did not COMMIT within 1 GB); this is that constraint. {{ source }} holds the rows just inserted:
-- every row of the log sharing a key with one of them is counted (old and new alike), so a duplicate
-- against the log or within the insert is found; the log is read only for those persons and ids.
-- Returns (duplicated keys, duplicated notice ids); the caller refuses anything but (0, 0).
SELECT
    (SELECT count(*) FROM (SELECT 1 FROM notice_log
                           WHERE id_no IN (SELECT id_no FROM {{ source }})
                           GROUP BY id_no, kind, reference_mi HAVING count(*) > 1)),
    (SELECT count(*) FROM (SELECT 1 FROM notice_log
                           WHERE notice_id IN (SELECT notice_id FROM {{ source }})
                           GROUP BY notice_id HAVING count(*) > 1))

-- reads: - (the new file's flags_current, db.flags_current, written whole in the same upkeep)
-- writes: - (a SELECT: flags_month's rows of the latest month)
-- params: db
-- flags_month's rows of the latest month screened (sql/analysts/flags_month.sql restricted to it) from
-- the flags_current just written after a run: the same flags with the same offices (flags_current is
-- flags ⋈ person_keys ⋈ screen_results of that month; the caller checks it has as many rows as flags
-- has that month, i.e. no flag lacks a person key), counted from a few columns of the new file instead
-- of joining 800,000 flags with a million screenings again (pipelines/analysts.py "months").
SELECT month, CAST(left(month, 4) AS INTEGER) * 12 + CAST(right(month, 2) AS INTEGER) - 1 AS month_mi,
       office_code, code, count(*) AS persons
FROM {{ db | sql_ident }}.flags_current
GROUP BY ALL

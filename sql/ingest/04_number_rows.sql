-- reads: _blank_records
-- writes: - (TEMP {{ raw }}, {{ rej }} renumbered; {{ raw }}_load dropped)
-- params: blanks, columns, raw, rej, rejects
-- The records read (01_read_csv.sql) numbered as data rows from 1, in file order (insertion order),
-- around the rejects (02_csv_rejects.sql), into TEMP {{ raw }}(row_no, <the contract's columns>).
{% if blanks -%}
-- a reject after blank lines (03_blank_records.sql) is that many data rows earlier
UPDATE {{ rej }} SET row_no = row_no - (SELECT count(*) FROM _blank_records b WHERE b.rec <= {{ rej }}.row_no);
{% endif -%}
{% if not rejects -%}
CREATE OR REPLACE TEMP TABLE {{ raw }} AS
SELECT rowid - (SELECT min(rowid) FROM {{ raw }}_load) + 1 AS row_no, {{ columns | join(", ") }}
FROM {{ raw }}_load;
{% else -%}
-- The k-th accepted record (k from 0) is data row k + 1 + (rejects before it).  With the rejects'
-- rows r_1 < r_2 < … numbered j, t_j = r_j - j accepted records precede reject j, so the rejects
-- before record k are the largest j with t_j <= k: one ASOF join (sort-merge, O(n log n); a join
-- on a computed range was quadratic in practice).
CREATE OR REPLACE TEMP TABLE {{ raw }} AS
WITH l AS (SELECT rowid - (SELECT min(rowid) FROM {{ raw }}_load) AS k, * FROM {{ raw }}_load),
rj AS (SELECT t, max(j) AS j FROM (
           SELECT row_no - row_number() OVER (ORDER BY row_no) AS t,
                  row_number() OVER (ORDER BY row_no) AS j FROM {{ rej }}) GROUP BY t)
SELECT l.k + 1 + coalesce(rj.j, 0) AS row_no, {% for c in columns %}l.{{ c }}{{ ", " if not loop.last }}{% endfor %}
FROM l ASOF LEFT JOIN rj ON l.k >= rj.t;
{% endif -%}
DROP TABLE {{ raw }}_load;

-- reads: -
-- writes: - (TEMP {{ raw }})
-- params: columns, path, raw
-- A Parquet file read as the contract's text (push-format.md), numbered from 1 in file order:
-- columns arrive typed, and each is turned back into the CSV's text by how it was stored
-- (pipelines.ingest.files._stage_file reads the file's schema to choose; the names are the contract's):
--   binary: text stored as BINARY, decoded as UTF-8 (a value that is not UTF-8 marks its row _bad_utf8);
--   date:   a DATE/TIMESTAMP back to its YYYYMMDD / YYYYMM text;  boolean: retired 0/1 typed as a boolean;
--   text:   anything else cast to VARCHAR.
{% set binary = columns | selectattr(1, "equalto", "binary") | map(attribute=0) | list -%}
CREATE OR REPLACE TEMP TABLE {{ raw }} AS
SELECT file_row_number + 1 AS row_no,
{%- for c, how, fmt in columns %}
       {% if how == "binary" %}try(decode({{ c }})){% elif how == "date" %}strftime({{ c }}, {{ fmt | sql_str }}){% elif how == "boolean" %}CASE WHEN {{ c }} THEN '1' WHEN NOT {{ c }} THEN '0' END{% else %}CAST({{ c }} AS VARCHAR){% endif %} AS {{ c }},
{%- endfor %}
       {% for c in binary %}({{ c }} IS NOT NULL AND try(decode({{ c }})) IS NULL){{ " OR " if not loop.last }}{% else %}false{% endfor %} AS _bad_utf8
FROM read_parquet({{ path | sql_str }}, file_row_number = true);

-- reads: - (the table's SELECT, the param select; the previous file's copy, db.notices)
-- writes: - (only the copy's notices, named by the param db)
-- params: db, select, done, since
-- Upkeep of notices (pipelines/analysts.py; issues 17/18). A notice of a month whose batch had gone
-- out when the copy was built (a run of the month DONE, per the copy's month_runs) and recorded
-- before the copy's latest notice is frozen (done: those months, since: that notice's created_at, as
-- text; the condition holds them as literals, so that it filters the warehouse's notice_log before
-- any join): the warehouse settles,
-- withdraws and restores notices only in a month not yet published (sql/notify/46_withdraw.sql,
-- 47_settle_batch.sql) and never changes an issued one. Every other row of the copy is deleted and
-- the SELECT's rows that are not frozen are inserted. The caller checks the count against the SELECT's.
{%- set frozen -%}
{%- if done and since -%}
issued_month IN ({{ done | sql_list }}) AND created_at < CAST({{ since | sql_str }} AS TIMESTAMPTZ)
{%- else -%}
false
{%- endif -%}
{%- endset %}
DELETE FROM {{ db | sql_ident }}.notices WHERE NOT coalesce({{ frozen }}, false);

INSERT INTO {{ db | sql_ident }}.notices BY NAME
SELECT * FROM ({{ select }}) s WHERE NOT coalesce({{ frozen }}, false);

-- reads: -
-- writes: _moves, ledger_entries, ledger_transitions
-- params: closed_stages, entry_ids, entry_rows, keep_since, month_mi, source, source_table, stage_days, to_stage
-- Record stage transitions for the entries of {{ source_table }} (see pipelines.ledger.record_transitions).
-- {{ source_table }}: entry_id, event_date, detail[, to_stage][, stage_since: with keep_since, the day the
-- stage began when it is not the event's (a reopened entry keeps the clock of the stage it returns to)].
{% set closed_list = closed_stages | sql_list %}
{#- the few entries named, by their rowids when given: the only way to read a few entries without
    scanning the ledger, which has no index (issue 19, ninth session) -#}
{% macro named(alias) %}{% if entry_rows %}{{ alias }}rowid IN ({% for r in entry_rows %}{{ r | int }}{% if not loop.last %}, {% endif %}{% endfor %}) AND {% endif %}{{ alias }}entry_id IN ({{ entry_ids | sql_list }}){% endmacro %}
CREATE OR REPLACE TEMP TABLE _moves AS
{% if entry_ids %}-- a few entries named (county feedback, a row at a time: entry_rows, their rowids)
WITH named AS MATERIALIZED (SELECT * FROM ledger_entries WHERE {{ named('') }})
{% endif %}SELECT e.entry_id, e.id_no, e.stage AS from_stage,
       {% if to_stage %}{{ to_stage | sql_str }}{% else %}s.to_stage{% endif %} AS to_stage,
       CAST(s.event_date AS DATE) AS event_date,
       CAST(s.detail AS VARCHAR) AS detail,
       {% if keep_since %}coalesce(CAST(s.stage_since AS DATE), CAST(s.event_date AS DATE)){% else %}CAST(s.event_date AS DATE){% endif %} AS since
FROM {{ source_table }} s
JOIN {% if entry_ids %}named{% else %}ledger_entries{% endif %} e USING (entry_id)
WHERE e.stage IS DISTINCT FROM {% if to_stage %}{{ to_stage | sql_str }}{% else %}s.to_stage{% endif %};

INSERT INTO ledger_transitions
SELECT entry_id, id_no, from_stage, to_stage, event_date, {{ month_mi }}, {{ source | sql_str }}, detail, now()
FROM _moves;

UPDATE ledger_entries e SET
    stage = m.to_stage,
    stage_since = m.since,
    due_date = CASE m.to_stage
        {% for st, days in stage_days.items() %}WHEN {{ st | sql_str }} THEN CAST(m.since + INTERVAL {{ days }} DAY AS DATE)
        {% endfor %}ELSE NULL END,
    -- a closing stage closes the entry in this month; leaving one (sql/ledger/05_reopen.sql) reopens it
    closed_mi = CASE WHEN m.to_stage IN ({{ closed_list }}) THEN {{ month_mi }}
                     WHEN m.from_stage IN ({{ closed_list }}) THEN NULL ELSE e.closed_mi END,
    close_reason = CASE WHEN m.to_stage IN ({{ closed_list }}) THEN m.to_stage
                        WHEN m.from_stage IN ({{ closed_list }}) THEN NULL ELSE e.close_reason END
FROM _moves m WHERE e.entry_id = m.entry_id{% if entry_ids %} AND {{ named('e.') }}{% endif %};

SELECT count(*) FROM _moves;

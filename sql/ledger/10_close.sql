-- reads: ledger_entries, screen_results
-- writes: _closing, handovers
-- params: month_first, month_mi
-- Close open entries (rules.md §3): deceased, retired, left the push, benefit place left Ningxia.
-- A closing in month P is dated the first day of P; first matching reason wins.
CREATE OR REPLACE TEMP TABLE _closing AS
SELECT e.entry_id, DATE {{ month_first | sql_str }} AS event_date,
       CASE WHEN NOT r.alive THEN 'DECEASED'
            WHEN r.retired THEN 'RETIRED'
            WHEN NOT r.in_push THEN 'LEFT_PUSH'
            WHEN r.benefit_province <> '640000' THEN 'MOVED_OUT' END AS to_stage,
       CASE WHEN NOT r.alive THEN 'survival_status=2 in the push'
            WHEN r.retired THEN 'retired=1 in the push'
            WHEN NOT r.in_push THEN 'no longer in the push (FULL absence or op D)'
            WHEN r.benefit_province <> '640000'
            THEN 'benefit place now ' || r.benefit_province || ' (' || r.place_rule || ')' END AS detail,
       e.id_no, e.office_code, r.benefit_province
FROM ledger_entries e
JOIN screen_results r ON r.month_mi = {{ month_mi }} AND r.id_no = e.id_no
WHERE e.closed_mi IS NULL AND e.opened_mi <= {{ month_mi }}
  AND (NOT r.alive OR r.retired OR NOT r.in_push OR r.benefit_province <> '640000');

INSERT INTO handovers
SELECT {{ month_mi }}, id_no, 'BENEFIT_PLACE_OUT', office_code, benefit_province, detail
FROM _closing WHERE to_stage = 'MOVED_OUT'
ON CONFLICT DO NOTHING;

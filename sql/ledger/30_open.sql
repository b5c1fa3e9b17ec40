-- reads: _opening, screen_results
-- writes: handovers, ledger_entries, ledger_transitions
-- params: month, month_first, month_mi, settings
-- Open the entries of the persons taken in (rules.md §3 triggers 1–3, and taken in again; the
-- persons are sql/ledger/25_opening.sql's _opening): one new entry each, its transition, and the
-- handover of a benefit place that moved into Ningxia.
INSERT INTO ledger_entries (entry_id, id_no, office_code, opened_mi, opened_by, officer_id, stage, stage_since, due_date)
SELECT entry_id, id_no, office_code, {{ month_mi }}, opened_by, NULL, 'ENROLLED', DATE {{ month_first | sql_str }},
       CAST(DATE {{ month_first | sql_str }} + INTERVAL {{ settings.stage_days['ENROLLED'] }} DAY AS DATE)
FROM _opening;

INSERT INTO ledger_transitions
SELECT entry_id, id_no, NULL, 'ENROLLED', DATE {{ month_first | sql_str }}, {{ month_mi }}, {{ ('run:' ~ month) | sql_str }},
       'taken in by ' || opened_by, now()
FROM _opening;

-- A benefit place that moved into Ningxia since the person's last screening is handed over too.
INSERT INTO handovers
SELECT {{ month_mi }}, o.id_no, 'BENEFIT_PLACE_IN', prev.benefit_province, o.office_code,
       'benefit place moved from ' || prev.benefit_province || ' to 640000'
FROM _opening o
JOIN (SELECT id_no, arg_max(benefit_province, month_mi) AS benefit_province
      FROM screen_results
      -- the persons taken in only, not every person of every earlier month
      WHERE month_mi < {{ month_mi }} AND id_no IN (SELECT id_no FROM _opening)
      GROUP BY id_no) prev USING (id_no)
WHERE prev.benefit_province <> '640000'
ON CONFLICT DO NOTHING;

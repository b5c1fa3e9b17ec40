-- reads: conclusions, flags, ledger_entries, objections, persons_p, screen_results
-- writes: worklist_rows
-- params: month_first, month_mi
-- The office ledger for month P (outputs.md worklist): entries open in P, and entries closed in P.
DELETE FROM worklist_rows WHERE month_mi = {{ month_mi }};
INSERT INTO worklist_rows
WITH ev AS (
    -- 'CODE: evidence' joined by ' | ' in code order (a sorted list: cheaper than an ordered string_agg)
    SELECT id_no, array_to_string(list_transform(list_sort(list(struct_pack(c := code, e := evidence))),
                                                 LAMBDA x: x.c || ': ' || x.e), ' | ') AS flag_evidence
    FROM flags WHERE month_mi = {{ month_mi }} GROUP BY id_no
),
-- the two columns of entry_status the worklist shows, without the rest of that view
cur AS (SELECT entry_id, objection_deadline, deadline_status FROM conclusions WHERE superseded_on IS NULL),
-- the latest objection's status, and while it waits for material the one-time notice listing it all
-- (rules.md §7 "incomplete → one notice listing all missing items": the office hands it over)
obj AS (SELECT entry_id, arg_max(status, objection_no) AS objection_status,
               arg_max(CASE WHEN status = 'INCOMPLETE' THEN missing_notice END, objection_no) AS missing_notice
        FROM objections GROUP BY entry_id)
SELECT {{ month_mi }}, e.entry_id, e.id_no, p.name, r.gender, mi_text(r.birth_mi), r.insurance_type, r.person_type,
       e.office_code,
       mi_text(r.original_age_mi), mi_text(r.statutory_age_mi),
       ((r.statutory_age_mi - r.birth_mi) // 12) || 'y' || ((r.statutory_age_mi - r.birth_mi) % 12) || 'm',
       r.delay_months, mi_text(r.benefit_start_mi),
       r.original_age_mi - {{ month_mi }}, r.statutory_age_mi - {{ month_mi }},
       mi_text(r.flexible_earliest_mi), mi_text(r.flexible_latest_mi),
       r.min_contribution_months, r.counted_months, r.projected_months, r.benefit_province,
       r.scope_rule, e.opened_by, r.flags, coalesce(ev.flag_evidence, ''),
       e.stage, strftime(e.stage_since, '%Y-%m-%d'), e.officer_id, strftime(e.due_date, '%Y-%m-%d'),
       coalesce(e.due_date < DATE {{ month_first | sql_str }}, false) AND e.closed_mi IS NULL,
       mi_text(e.elected_retirement_mi),
       -- a result received whose deadline reaches a year the working-day calendar does not know yet
       -- (CALENDAR_UNKNOWN, rules.md §7): said so, not left empty as for a result not received yet
       CASE WHEN cur.deadline_status = 'CALENDAR_UNKNOWN' THEN '待定（节假日安排未录入）'
            ELSE strftime(cur.objection_deadline, '%Y-%m-%d') END,
       obj.objection_status,
       notice_channel(phone_normalized(p.phone), r.insurance_type, p.employer_uscc, p.employer_name),
       obj.missing_notice
FROM ledger_entries e
LEFT JOIN cur ON cur.entry_id = e.entry_id
LEFT JOIN obj ON obj.entry_id = e.entry_id
JOIN screen_results r ON r.month_mi = {{ month_mi }} AND r.id_no = e.id_no
JOIN persons_p p ON p.id_no = e.id_no
LEFT JOIN ev ON ev.id_no = e.id_no
-- open in P: not closed, or closed in P (shown once, with its closing), or closed later (a county
-- RETIRED dated after P: in stage RETIRED now, closed in that month)
WHERE e.opened_mi <= {{ month_mi }} AND (e.closed_mi IS NULL OR e.closed_mi >= {{ month_mi }});

-- reads: worklist_rows, ledger_entries, notice_log, month_runs
-- writes: - (a SELECT: the analysts' table and the report)
-- params: upto_mi, include_mi (the report's P for both; none for the analysts' table)
-- The history of each office, month by month, as each month was published: its ledger by stage
-- (the month's worklist, outputs.md), new entries, overdue, open objections, notices sent by channel.
-- The analysts' table office_month and the report's key figures and 12-month trend (issue 17).
-- upto_mi: the last month shown; include_mi: a month whose run is under way, counted as run.
WITH run AS (  -- months whose run is done (their batch went out), and the month being reported
    SELECT DISTINCT month_mi FROM month_runs WHERE command = 'run' AND status = 'DONE'
    {% if include_mi is not none %}UNION ALL SELECT {{ include_mi | int }}{% endif %}
),
w AS (
    SELECT w.month_mi, w.office_code,
           count(*)                                                           AS ledger_entries,
           count(*) FILTER (e.opened_mi = w.month_mi)                         AS new_entries,
           count(*) FILTER (w.stage = 'ENROLLED')                             AS enrolled,
           count(*) FILTER (w.stage = 'NOTIFIED')                             AS notified,
           count(*) FILTER (w.stage = 'ARCHIVE_REVIEWED')                     AS archive_reviewed,
           count(*) FILTER (w.stage = 'YEARS_CONFIRMED')                      AS years_confirmed,
           count(*) FILTER (w.stage = 'RELATIONS_MERGED')                     AS relations_merged,
           count(*) FILTER (w.stage = 'CONCLUDED')                            AS concluded,
           count(*) FILTER (w.stage = 'CONFIRMED')                            AS confirmed,
           count(*) FILTER (w.stage = 'DECLARED')                             AS declared,
           count(*) FILTER (w.stage = 'RETIRED')                              AS retired,
           count(*) FILTER (w.stage IN ('DECEASED', 'LEFT_PUSH', 'MOVED_OUT')) AS closed_other,
           count(*) FILTER (w.overdue)                                        AS overdue_entries,
           count(*) FILTER (w.objection_status IN ('INCOMPLETE', 'ACCEPTED')) AS objections_open,
           -- an open objection whose stage falls due within the month, not overdue yet (decisions.md issue 17)
           count(*) FILTER (w.objection_status IN ('INCOMPLETE', 'ACCEPTED') AND NOT w.overdue
                            AND w.due_date < strftime(make_date(CAST((w.month_mi + 1) // 12 AS BIGINT),
                                                                CAST((w.month_mi + 1) % 12 + 1 AS BIGINT), 1),
                                                      '%Y-%m-%d'))   AS objections_due_in_month,
           -- an open objection whose stage was already past its due date on the 1st (the report's 其中：已超期)
           count(*) FILTER (w.objection_status IN ('INCOMPLETE', 'ACCEPTED') AND w.overdue) AS objections_overdue
    FROM worklist_rows w LEFT JOIN ledger_entries e USING (entry_id)
    WHERE w.month_mi IN (SELECT month_mi FROM run)
      {% if upto_mi is not none %}AND w.month_mi <= {{ upto_mi | int }}{% endif %}
    GROUP BY ALL
),
n AS (  -- by the office whose files carried the notice (as office_progress)
    SELECT issued_mi AS month_mi, coalesce(file_office, office_code) AS office_code,
           count(*)                                 AS notices_sent,
           count(*) FILTER (channel = 'SMS')        AS sms_sent,
           count(*) FILTER (channel = 'EMPLOYER')   AS employer_notices,
           count(*) FILTER (channel = 'TOWNSHIP')   AS township_notices,
           CAST(coalesce(sum(segments), 0) AS BIGINT) AS sms_segments
    FROM notice_log
    WHERE issued_mi IN (SELECT month_mi FROM run)
      {% if upto_mi is not none %}AND issued_mi <= {{ upto_mi | int }}{% endif %}
    GROUP BY ALL
)
SELECT month_text(month_mi) AS month, month_mi, office_code,
       coalesce(ledger_entries, 0) AS ledger_entries, coalesce(new_entries, 0) AS new_entries,
       coalesce(enrolled, 0) AS enrolled, coalesce(notified, 0) AS notified,
       coalesce(archive_reviewed, 0) AS archive_reviewed, coalesce(years_confirmed, 0) AS years_confirmed,
       coalesce(relations_merged, 0) AS relations_merged, coalesce(concluded, 0) AS concluded,
       coalesce(confirmed, 0) AS confirmed, coalesce(declared, 0) AS declared,
       coalesce(retired, 0) AS retired, coalesce(closed_other, 0) AS closed_other,
       coalesce(overdue_entries, 0) AS overdue_entries,
       CASE WHEN coalesce(ledger_entries, 0) = 0 THEN NULL
            ELSE round(overdue_entries / ledger_entries, 4) END AS overdue_rate,
       coalesce(objections_open, 0) AS objections_open,
       coalesce(objections_due_in_month, 0) AS objections_due_in_month,
       coalesce(objections_overdue, 0) AS objections_overdue,
       coalesce(notices_sent, 0) AS notices_sent, coalesce(sms_sent, 0) AS sms_sent,
       coalesce(employer_notices, 0) AS employer_notices, coalesce(township_notices, 0) AS township_notices,
       coalesce(sms_segments, 0) AS sms_segments
FROM w FULL JOIN n USING (month_mi, office_code)
ORDER BY month_mi, office_code

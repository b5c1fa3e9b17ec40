-- reads: batch_refusals, flags, ledger_entries, month_runs, notice_log, objections, person_keys, push_batches, quarantine_rows, screen_results
-- writes: analysts_evidence, batches, flags_current, ledger_current, month_text, notices, office_progress, quarantine
-- params: -
-- Analyst views (outputs.md "The warehouse, for analysts"): a pseudonymous person_key,
-- never the ID number, the name or the phone.
-- person_key comes from the table person_keys (see pipelines.warehouse.refresh_person_keys).
-- Views use only stored objects, so the DuckDB CLI can read them with no set-up.
CREATE OR REPLACE MACRO month_text(mi) AS
    CASE WHEN mi IS NULL THEN NULL
         ELSE strftime(make_date(CAST(mi // 12 AS BIGINT), CAST(mi % 12 + 1 AS BIGINT), 1), '%Y-%m') END;

CREATE OR REPLACE VIEW batches AS
SELECT seq, batch_id, push_type, base_seq, data_month, status, file_format, encoding,
       persons_rows, persons_accepted, persons_quarantined,
       segments_rows, segments_accepted, segments_quarantined,
       persons_accepted + persons_quarantined = persons_rows
         AND segments_accepted + segments_quarantined = segments_rows AS rows_balanced,
       persons_inserted, persons_updated, persons_left,
       persons_kept_segments,  -- kept their earlier segments: a segment row quarantined (docs/decisions.md)
       warnings, received_at, applied_at, message
FROM push_batches
UNION ALL
SELECT seq, batch_id, NULL, NULL, NULL, 'REFUSED', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, refused_at, NULL,
       reason_code || ': ' || coalesce(file || ' ', '') || coalesce('row ' || row_no || ' ', '')
       -- a reason that begins with its code (CONFLICT, STALE …) does not say it twice
       || CASE WHEN starts_with(reason, reason_code || ': ') THEN substr(reason, length(reason_code) + 3)
               ELSE reason END
FROM batch_refusals;

CREATE OR REPLACE VIEW quarantine AS
SELECT q.seq, q.batch_id, q.file, q.row_no, q.reason_code, q.reason,
       k.person_key
FROM quarantine_rows q LEFT JOIN person_keys k ON k.id_no = upper(trim(q.id_no_raw));

-- One row per ledger entry (一人一档), current state. "Today" is the Asia/Shanghai date, whatever
-- time zone the analyst's session is in (a UTC server is a day behind until 08:00 Shanghai time).
CREATE OR REPLACE VIEW ledger_current AS
SELECT k.person_key, e.entry_id, e.office_code, e.officer_id AS responsible_officer,
       month_text(e.opened_mi) AS opened_month, e.opened_by, e.stage, e.stage_since, e.due_date,
       e.closed_mi IS NULL AND e.due_date < CAST(timezone('Asia/Shanghai', now()) AS DATE) AS overdue,
       month_text(e.closed_mi) AS closed_month, e.close_reason,
       month_text(e.elected_retirement_mi) AS elected_retirement_month, e.pre_review_office,
       r.insurance_type, r.gender, month_text(r.original_age_mi) AS original_age_month,
       month_text(r.statutory_age_mi) AS statutory_age_month, r.benefit_province, r.flags,
       month_text(r.month_mi) AS screened_month
FROM ledger_entries e
JOIN person_keys k ON k.id_no = e.id_no
LEFT JOIN (SELECT * FROM screen_results
           QUALIFY month_mi = max(month_mi) OVER (PARTITION BY id_no)) r ON r.id_no = e.id_no;

-- A flag's evidence as analysts see it: a BIRTH_DATE_CONFLICT's days left out. The day of birth the ID
-- number gives is eight of its digits; with the office and the gender an analyst could narrow a
-- person's ID number to a few hundred (the county worklist keeps the whole evidence).
CREATE OR REPLACE MACRO analysts_evidence(code, evidence) AS
    CASE WHEN code <> 'BIRTH_DATE_CONFLICT' THEN evidence
         WHEN regexp_extract(evidence, '([0-9]{4}-[0-9]{2})-[0-9]{2}', 1)
              = regexp_extract(evidence, '[0-9]{4}-[0-9]{2}-[0-9]{2}.*([0-9]{4}-[0-9]{2})-[0-9]{2}', 1)
         THEN regexp_replace(evidence, '([0-9]{4}-[0-9]{2})-[0-9]{2}', '\1', 'g') || ' (the days differ)'
         ELSE regexp_replace(evidence, '([0-9]{4}-[0-9]{2})-[0-9]{2}', '\1', 'g') END;

-- Flags of the latest screened month, with evidence (evidence carries no ID, name or phone, nor the
-- ID number's day of birth: analysts_evidence).
CREATE OR REPLACE VIEW flags_current AS
SELECT k.person_key, month_text(f.month_mi) AS month, f.code, analysts_evidence(f.code, f.evidence) AS evidence,
       r.office_code
FROM flags f
JOIN person_keys k ON k.id_no = f.id_no
JOIN screen_results r ON r.month_mi = f.month_mi AND r.id_no = f.id_no
WHERE f.month_mi = (SELECT max(month_mi) FROM screen_results);

-- Every notice ever issued (texts stay in the base table: they may address the person).
CREATE OR REPLACE VIEW notices AS
SELECT n.notice_id, k.person_key, n.kind AS notice_kind, month_text(n.reference_mi) AS reference_month,
       month_text(n.issued_mi) AS issued_month, n.office_code, n.channel, n.segments, n.offline_reason, n.created_at
FROM notice_log n JOIN person_keys k ON k.id_no = n.id_no;

-- Per office: entries by stage, overdue, notices sent, objections open and overdue (a stage past its
-- due date while an objection is open) (outputs.md office_progress).
CREATE OR REPLACE VIEW office_progress AS
WITH e AS (
    SELECT office_code,
           count(*) FILTER (closed_mi IS NULL)                                   AS open_entries,
           count(*) FILTER (closed_mi IS NULL AND stage = 'ENROLLED')            AS enrolled,
           count(*) FILTER (closed_mi IS NULL AND stage = 'NOTIFIED')            AS notified,
           count(*) FILTER (closed_mi IS NULL AND stage = 'ARCHIVE_REVIEWED')    AS archive_reviewed,
           count(*) FILTER (closed_mi IS NULL AND stage = 'YEARS_CONFIRMED')     AS years_confirmed,
           count(*) FILTER (closed_mi IS NULL AND stage = 'RELATIONS_MERGED')    AS relations_merged,
           count(*) FILTER (closed_mi IS NULL AND stage = 'CONCLUDED')           AS concluded,
           count(*) FILTER (closed_mi IS NULL AND stage = 'CONFIRMED')           AS confirmed,
           count(*) FILTER (closed_mi IS NULL AND stage = 'DECLARED')            AS declared,
           count(*) FILTER (close_reason = 'RETIRED')                            AS retired,
           count(*) FILTER (close_reason IN ('DECEASED', 'LEFT_PUSH', 'MOVED_OUT')) AS closed_other,
           count(*) FILTER (closed_mi IS NULL AND due_date < CAST(timezone('Asia/Shanghai', now()) AS DATE))       AS overdue
    FROM ledger_entries GROUP BY office_code
),
n AS (  -- by the office whose files carried the notice; sent = in a published batch (a run of its
        -- month DONE), not one still waiting for its month's run
    SELECT coalesce(file_office, office_code) AS office_code, count(*) AS notices_sent,
           count(*) FILTER (channel = 'SMS') AS sms_sent, coalesce(sum(segments), 0) AS sms_segments,
           count(*) FILTER (channel <> 'SMS') AS offline_notices
    FROM notice_log
    WHERE issued_mi IN (SELECT month_mi FROM month_runs WHERE command = 'run' AND status = 'DONE')
    GROUP BY ALL
),
o AS (
    SELECT e.office_code,
           count(*) FILTER (o.status IN ('INCOMPLETE', 'ACCEPTED'))                       AS objections_open,
           count(*) FILTER (o.status IN ('INCOMPLETE', 'ACCEPTED') AND e.due_date < CAST(timezone('Asia/Shanghai', now()) AS DATE)) AS objections_overdue
    FROM objections o JOIN ledger_entries e USING (entry_id) GROUP BY e.office_code
)
SELECT coalesce(e.office_code, n.office_code) AS office_code,
       coalesce(open_entries, 0) AS open_entries, coalesce(enrolled, 0) AS enrolled,
       coalesce(notified, 0) AS notified, coalesce(archive_reviewed, 0) AS archive_reviewed,
       coalesce(years_confirmed, 0) AS years_confirmed, coalesce(relations_merged, 0) AS relations_merged,
       coalesce(concluded, 0) AS concluded, coalesce(confirmed, 0) AS confirmed,
       coalesce(declared, 0) AS declared, coalesce(retired, 0) AS retired,
       coalesce(closed_other, 0) AS closed_other, coalesce(overdue, 0) AS overdue_entries,
       coalesce(notices_sent, 0) AS notices_sent, coalesce(sms_sent, 0) AS sms_sent,
       coalesce(sms_segments, 0) AS sms_segments, coalesce(offline_notices, 0) AS offline_notices,
       coalesce(o.objections_open, 0) AS objections_open, coalesce(o.objections_overdue, 0) AS objections_overdue
FROM e FULL JOIN n USING (office_code)
LEFT JOIN o ON o.office_code = coalesce(e.office_code, n.office_code);

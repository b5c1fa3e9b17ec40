-- reads: ledger_entries, notice_log, screen_results
-- writes: _waiting_rows
-- params: benefit_start_offset, month_mi
-- The reminders waiting in P's unpublished batch that a run of an earlier month raised (reference
-- month before P: a rerun of a published month defers what it raises to the next batch), with what
-- their texts are rendered from, as sql/notify/10_reminders_due.sql gave it: the screening of the
-- reference month, the entry's elected month, the issuing office. pipelines.notify_settle renders
-- each again: a text rendered for the month it was raised in — what code before the thirteenth
-- session stored (docs/decisions.md "Upgrades: texts waiting for their batch") — is rendered for
-- P, the month its batch goes out in. A caught-up reminder of a skipped month has no screening of
-- its reference month and is left out (it was rendered for P already).
CREATE OR REPLACE TEMP TABLE _waiting_rows AS
SELECT n.notice_id, n.kind, n.id_no, n.entry_id, n.reference_mi, n.office_code, n.text,
       r.insurance_type, r.original_age_mi, r.statutory_age_mi, r.benefit_start_mi,
       r.flexible_earliest_mi, r.flexible_latest_mi, e.elected_retirement_mi,
       e.elected_retirement_mi + {{ benefit_start_offset | int }} AS elected_benefit_start_mi,
       coalesce(r.insurance_type = 110 AND r.gender = 2 AND r.person_type IS NULL, false) AS age_provisional
FROM notice_log AS n
INNER JOIN screen_results AS r ON n.reference_mi = r.month_mi AND n.id_no = r.id_no
INNER JOIN ledger_entries AS e ON n.entry_id = e.entry_id
WHERE n.issued_mi = {{ month_mi | int }}
    AND n.reference_mi < {{ month_mi | int }}
    AND n.kind IN ('PRE_SERVICE', 'AGE_MINUS_3', 'AGE_REACHED', 'OVERDUE')
ORDER BY n.notice_id;

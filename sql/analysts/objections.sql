-- reads: objections, ledger_entries
-- writes: - (a SELECT: the analysts' table)
-- params: -
-- Every objection to a conclusion (rules.md §7), open or resolved: filed, its deadline, accepted,
-- resolved (UPHELD / REJECTED). objections_open is the open ones with their officer; no reason, basis,
-- remedy or source file here (free text an officer typed, or a file name).
SELECT o.entry_id, e.office_code, o.objection_no, o.conclusion_version, o.filed_on,
       strftime(o.filed_on, '%Y-%m') AS filed_month, o.deadline, o.timeliness, o.status, o.missing_items,
       o.accepted_on, o.resolved_on
FROM objections o JOIN ledger_entries e USING (entry_id)
ORDER BY o.filed_on, o.entry_id, o.objection_no

-- reads: objections, ledger_entries
-- writes: -
-- params: -
-- retire-prep explain: the person's objections (异议申诉, rules.md §7; seed notice 五(二)(三)): filed, the
-- deadline it was judged against, accepted or waiting for material, resolved.
-- Bound (never rendered: an ID number is data): id_no.
SELECT o.entry_id, o.objection_no, o.conclusion_version, o.filed_on, o.deadline, o.timeliness, o.status,
       o.missing_items, o.accepted_on, o.resolved_on
FROM objections o JOIN ledger_entries e USING (entry_id)
WHERE e.id_no = ? ORDER BY o.filed_on, o.objection_no

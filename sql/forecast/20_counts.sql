-- reads: _fc_months, _fc_people, _fc_entering, _fc_notices, _fc_declarations
-- writes: _fc_counts
-- params: month_mi, offices, kinds, channels
-- One row per office and month M (every office of `offices`, the 29 of rules.md §3, zeros included).
--
-- Per office (the worklist's: the entry's office, insured_region for the entering, Ningdong's own
-- code as a setting) and month M:
--   entering                the persons taken in by the run of M (counted in their first month);
--   reaching_statutory_age  persons in the ledger in M (open after P, or entered by M) whose S is M;
--   ledger_persons          persons in the ledger after the run of M;
--   notices_<kind>_<channel> the notices due in M (rules.md §5, §6);
--   declarations_<decision> the rows of M's month-start declaration list (rules.md §6).
CREATE OR REPLACE TEMP TABLE _fc_counts AS
WITH grid AS (
    SELECT o.office_code, mo.m
    FROM (SELECT unnest([{{ offices | sql_list }}]) AS office_code
          UNION SELECT office_code FROM _fc_people) o
    CROSS JOIN _fc_months mo
),
ent AS (SELECT office_code, entry_mi AS m, count(*) AS n FROM _fc_entering GROUP BY ALL),
-- in the ledger in M: from their first month on (counted by that month, then summed up to M)
starts AS (SELECT office_code, from_mi, count(*) AS n FROM _fc_people GROUP BY ALL),
inl AS (
    SELECT s.office_code, mo.m, sum(s.n) AS persons
    FROM starts s JOIN _fc_months mo ON mo.m >= s.from_mi
    GROUP BY ALL
),
reach AS (   -- in the ledger in M and S = M (rules.md §5 AGE_REACHED's month)
    SELECT p.office_code, mo.m, count(*) AS reaching
    FROM _fc_people p JOIN _fc_months mo ON age_reached_due(p.statutory_age_mi, mo.m) AND mo.m >= p.from_mi
    GROUP BY ALL
),
nt AS (
    SELECT office_code, m,
           {% for k in kinds %}{% for c in channels %}count(*) FILTER (WHERE kind = {{ k | sql_str }} AND channel = {{ c | sql_str }}) AS notices_{{ k | lower }}_{{ c | lower }},
           {% endfor %}{% endfor %}count(*) AS notices_total
    FROM _fc_notices GROUP BY ALL
),
dc AS (
    SELECT office_code, m,
           count(*) FILTER (WHERE decision = 'DECLARATION') AS declarations_declaration,
           count(*) FILTER (WHERE decision = 'CONSULTATION') AS declarations_consultation,
           count(*) FILTER (WHERE decision = 'FOLLOW_UP') AS declarations_follow_up
    FROM _fc_declarations GROUP BY ALL
)
SELECT {{ month_mi }} AS month_mi, g.m AS forecast_mi, g.office_code,
       CAST(coalesce(ent.n, 0) AS INTEGER) AS entering,
       CAST(coalesce(reach.reaching, 0) AS INTEGER) AS reaching_statutory_age,
       CAST(coalesce(inl.persons, 0) AS INTEGER) AS ledger_persons,
       {% for k in kinds %}{% for c in channels %}CAST(coalesce(nt.notices_{{ k | lower }}_{{ c | lower }}, 0) AS INTEGER) AS notices_{{ k | lower }}_{{ c | lower }},
       {% endfor %}{% endfor %}CAST(coalesce(nt.notices_total, 0) AS INTEGER) AS notices_total,
       CAST(coalesce(dc.declarations_declaration, 0) AS INTEGER) AS declarations_declaration,
       CAST(coalesce(dc.declarations_consultation, 0) AS INTEGER) AS declarations_consultation,
       CAST(coalesce(dc.declarations_follow_up, 0) AS INTEGER) AS declarations_follow_up
FROM grid g
LEFT JOIN ent USING (office_code, m)
LEFT JOIN inl USING (office_code, m)
LEFT JOIN reach USING (office_code, m)
LEFT JOIN nt USING (office_code, m)
LEFT JOIN dc USING (office_code, m)
ORDER BY g.office_code, g.m;

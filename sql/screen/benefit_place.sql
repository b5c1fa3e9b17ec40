-- reads: bp_persons, bp_segments
-- writes: benefit_place, bp_prov_rank_desc
-- params: -
-- Benefit-claiming place (待遇领取地) of every person at once: rules.md §2, the set-based twin
-- of pipelines.policy.benefit_province (国办发〔2009〕66号 第六条, 人社部规〔2016〕5号, 人社部发〔2010〕70号).
-- In:  bp_persons(id_no, hukou_region, benefit_region_ministry, insured_region,
--                 deemed_region, deemed_months, deemed_status)       -- one row per person
--      bp_segments(id_no, region_code, start_mi, end_mi, relation_status)
-- Out: TEMP benefit_place(id_no, benefit_province, place_rule, hukou_province,
--                         current_province, acc_current, acc_months)
--      place_rule: HUKOU_NO_BASIC_MONTHS | R1_HUKOU | R2_CURRENT_120 | R3_PREVIOUS_120 | R4_HUKOU;
--      current_province: C (NULL when no non-temporary segment); acc_current: acc[C];
--      acc_months: months per province as '620000:96;640000:36' (code order), '' when none.
-- Distinct months per province by interval union, not month expansion: with a province's
-- segments ordered by start, a segment adds only its months after the furthest end of the
-- segments before it. One window pass, one grouping per (person, province), one per person.

-- 99 - the two-digit province number: the larger key for the lower code (ties by lower code).
-- ascii() instead of CAST: never fails (region codes are checked at ingest: is_region_code).
CREATE OR REPLACE TEMP MACRO bp_prov_rank_desc(prov) AS
    99 - ((ascii(substr(prov, 1, 1)) - 48) * 10 + (ascii(substr(prov, 2, 1)) - 48));

CREATE OR REPLACE TEMP TABLE benefit_place AS
WITH seg AS (   -- non-temporary segments (relation_status 1 or 2); temporary accounts (3) never count
    SELECT id_no, province_of(region_code) AS prov, start_mi, end_mi
    FROM bp_segments
    WHERE relation_status IN (1, 2) AND end_mi >= start_mi AND province_of(region_code) IS NOT NULL
),
piece AS (      -- months each segment adds to its province's union; confirmed deemed months
    SELECT id_no, prov, end_mi AS last_end,
           greatest(0, end_mi - greatest(start_mi,
               coalesce(max(end_mi) OVER (PARTITION BY id_no, prov ORDER BY start_mi, end_mi
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 1,
                        start_mi)) + 1) AS months
    FROM seg
    UNION ALL   -- deemed months count at the province of deemed_region (人社部规〔2016〕5号); none when empty
    SELECT id_no, province_of(deemed_region), NULL, deemed_months
    FROM bp_persons
    WHERE deemed_status = 1 AND deemed_months > 0 AND province_of(deemed_region) IS NOT NULL
),
acc AS (        -- acc[p]; last_end NULL: a province with deemed months only
    SELECT id_no, prov, CAST(sum(months) AS INTEGER) AS months, max(last_end) AS last_end
    FROM piece GROUP BY id_no, prov
),
per AS (
    SELECT id_no,
           list(struct_pack(p := prov, m := months, e := last_end)) AS l,
           max(last_end) AS max_end,
           -- C without the insured-region tie-break: latest end, then lower code
           arg_max(prov, CAST(last_end AS BIGINT) * 100 + bp_prov_rank_desc(prov))
               FILTER (WHERE last_end IS NOT NULL) AS c_low,
           -- rule 3 candidates: the two best provinces with acc >= 120 (latest end; deemed-only
           -- earliest; then lower code); the first that is not C is the one
           arg_max(prov, CAST(coalesce(last_end, -1) AS BIGINT) * 100 + bp_prov_rank_desc(prov), 2)
               FILTER (WHERE months >= 120) AS top120
    FROM acc GROUP BY id_no
),
cur AS (
    SELECT p.id_no,
           coalesce(province_of(p.hukou_region), province_of(p.benefit_region_ministry), '640000') AS h,
           a.l, a.top120,
           CASE WHEN a.max_end IS NULL THEN NULL
                -- ties on the latest end: the province of insured_region first
                WHEN len(list_filter(a.l, LAMBDA x: x.p = province_of(p.insured_region) AND x.e = a.max_end)) > 0
                     THEN province_of(p.insured_region)
                ELSE a.c_low END AS c
    FROM bp_persons p LEFT JOIN per a USING (id_no)
),
facts AS (
    SELECT id_no, h, c, l,
           list_filter(l, LAMBDA x: x.p = c)[1].m AS acc_c,
           CASE WHEN top120[1] IS DISTINCT FROM c THEN top120[1] ELSE top120[2] END AS r3
    FROM cur
),
decided AS (
    SELECT id_no, h, c, acc_c, r3,
           -- evidence: the struct list sorted (by province first), as text
           array_to_string(list_transform(list_sort(l), LAMBDA x: x.p || ':' || CAST(x.m AS VARCHAR)), ';') AS acc_months,
           CASE WHEN l IS NULL        THEN 'HUKOU_NO_BASIC_MONTHS'   -- no months anywhere: H
                WHEN c = h            THEN 'R1_HUKOU'                -- 第六条(一)
                WHEN acc_c >= 120     THEN 'R2_CURRENT_120'          -- 第六条(二)
                WHEN r3 IS NOT NULL   THEN 'R3_PREVIOUS_120'         -- 第六条(三)
                ELSE                       'R4_HUKOU' END AS place_rule  -- 第六条(四)
    FROM facts
)
SELECT id_no,
       CASE place_rule WHEN 'R1_HUKOU' THEN c WHEN 'R2_CURRENT_120' THEN c
                       WHEN 'R3_PREVIOUS_120' THEN r3 ELSE h END AS benefit_province,
       place_rule,
       h AS hukou_province,
       c AS current_province,
       acc_c AS acc_current,
       coalesce(acc_months, '') AS acc_months
FROM decided;

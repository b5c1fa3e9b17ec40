-- reads: -
-- writes: is_office_code, is_region_code, province_of
-- params: settings, temp
-- Region codes (rules.md §3, policy.md §7). Province = first two digits of a GB/T 2260 code.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO province_of(code) AS
    CASE WHEN code IS NULL OR length(code) <> 6 THEN NULL ELSE substr(code, 1, 2) || '0000' END;

-- 6 digits whose first two are a province-level division (every code ever valid keeps its province).
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO is_region_code(code) AS
    coalesce(regexp_full_match(code, '[0-9]{6}')
             AND substr(code, 1, 2) IN ('11','12','13','14','15','21','22','23','31','32','33','34','35',
                                        '36','37','41','42','43','44','45','46','50','51','52','53','54',
                                        '61','62','63','64','65','71','81','82'), false);

-- The 29 Ningxia offices (rules.md §3); Ningdong's code is a setting.
CREATE OR REPLACE {{ "TEMP" if temp else "" }} MACRO is_office_code(code) AS
    coalesce(code IN ('640000','640100','640200','640300','640400','640500',
                      '640104','640105','640106','640121','640122','640181',
                      '640202','640205','640221','640302','640303','640323','640324','640381',
                      '640402','640422','640423','640424','640425','640502','640521','640522',
                      {{ settings.ningdong_code | sql_str }}), false);

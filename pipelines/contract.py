"""The push interface contract's column names (push-format.md, schema 1.0).

One place for the generator (``sample``) and the ingest to agree on.
"""

PERSON_COLUMNS = (
    "op", "id_no", "name", "gender", "birth_date", "insurance_type", "person_type",
    "hukou_region", "insured_region", "benefit_region_ministry", "employer_uscc",
    "employer_name", "phone", "contribution_status", "retired", "survival_status",
    "actual_contribution_months", "deemed_months", "deemed_status", "deemed_region",
    "arrears_months",
)
SEGMENT_COLUMNS = ("id_no", "region_code", "start_month", "end_month", "relation_status")
APPLICATION_COLUMNS = ("id_no", "applicant_type", "applied_on", "channel", "county_code")

"""The push interface contract's column names (push-format.md, schema 1.0).

One place for the generator (``sample``) and the ingest to agree on.
"""

import re

# A header name worth echoing in a refusal: ASCII, starting with a letter or '_'. A file saved
# without its header has a data row there (an ID number, a phone, a name, an office code), which
# no message may carry.
_COLUMN_NAME_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_ '.-]{0,39}", re.ASCII)

PERSON_COLUMNS = (
    "op",
    "id_no",
    "name",
    "gender",
    "birth_date",
    "insurance_type",
    "person_type",
    "hukou_region",
    "insured_region",
    "benefit_region_ministry",
    "employer_uscc",
    "employer_name",
    "phone",
    "contribution_status",
    "retired",
    "survival_status",
    "actual_contribution_months",
    "deemed_months",
    "deemed_status",
    "deemed_region",
    "arrears_months",
)
SEGMENT_COLUMNS = ("id_no", "region_code", "start_month", "end_month", "relation_status")
APPLICATION_COLUMNS = ("id_no", "applicant_type", "applied_on", "channel", "county_code")


_ID_OR_PHONE_IN_NAME = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15}|1[3-9][0-9]{9})(?![0-9])")


def shown_file_name(name: str) -> str:
    """A file's name as messages, reports and logs show it: digits of what may be an ID number
    (18 or 15 digits) or a mobile number (11) are masked — a clerk may name a one-person file
    after the person; the name stays recognisable by its other characters (issue 14 review)."""
    return _ID_OR_PHONE_IN_NAME.sub(lambda m: "*" * len(m.group()), str(name))


def shown_column_names(names) -> list[str]:
    """``names`` as a refusal may show them: a name that does not look like a column name (so
    possibly a data value) becomes ``<not a column name>``."""
    return [n if _COLUMN_NAME_LIKE.fullmatch(n) else "<not a column name>" for n in names]

"""pipelines.validate: the GX suites of every stage pass on good frames and fail on each broken business rule."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import pipelines
from pipelines.errors import ValidationFailed
from pipelines.identifiers import id_check_char
from pipelines.settings import Settings
from pipelines.validate import (
    PERSONAL_COLUMNS,
    STAGES,
    SUITE_PARAMETERS,
    expected_sms_segments,
    load_suite,
    office_codes,
    suite_parameters,
    validate_frames,
)
from pipelines.warehouse import person_key

SETTINGS = Settings(person_key_secret="test-key-validate")
SIG = "【宁夏人社】"


def make_id(seq: int, birth: str = "19660315", prefix: str = "640104") -> str:
    first17 = f"{prefix}{birth}{seq:03d}"
    return first17 + id_check_char(first17)


ID1, ID2, ID3 = make_id(11), make_id(22, "19710802"), make_id(33, "19650101", "640521")
NAMES = ["张三", "李梅", "马国强"]
PHONES = ["13800001111", "15900002222", "18600003333"]


# ---------------------------------------------------------------- good frames


def good_raw() -> dict[str, pd.DataFrame]:
    df = pd.DataFrame(
        {
            "seq": [1, 1, 2, 2],
            "batch_id": ["B1", "B1", "B2", "B2"],
            "file": ["persons", "segments", "persons", "segments"],
            "manifest_rows": [100, 250, 10, 0],
            "accepted_rows": [98, 250, 10, 0],
            "quarantined_rows": [2, 0, 0, 0],
        }
    )
    df["accounted_rows"] = df["accepted_rows"] + df["quarantined_rows"]
    quarantine = pd.DataFrame(
        {
            "seq": [1, 1],
            "file": ["persons", "persons"],
            "row_no": [7, 100],
            "reason_code": ["BAD_ID_NO", "UNPARSABLE_ROW"],
            "manifest_rows": [100, 100],
        }
    )
    return {"batch_accounting": df, "quarantine": quarantine}


def good_ingest() -> dict[str, pd.DataFrame]:
    persons = pd.DataFrame(
        {
            "id_no": [ID1, ID2, ID3],
            "name": NAMES,
            "gender": pd.array([1, 2, 1], dtype="int8"),
            "birth_date": pd.to_datetime(["1966-03-15", "1971-08-02", "1965-01-01"]),
            "insurance_type": pd.array([110, 110, 170], dtype="int16"),
            "person_type": pd.array([1, 3, None], dtype="Int8"),
            "insured_region": ["640104", "640900", "640521"],
            "phone": PHONES,
            "contribution_status": [1, 2, 3],
            "survival_status": [1, 1, 9],
            "actual_contribution_months": [300, 120, 180],
            "deemed_status": [0, 2, 1],
            "arrears_months": [0, 5, 0],
            "in_push": [True, True, False],
        }
    )
    segments = pd.DataFrame(
        {
            "id_no": [ID1, ID1, ID2],
            "region_code": ["640104", "610102", "640900"],
            "start_mi": [1990 * 12, 2005 * 12 + 3, 2010 * 12],
            "end_mi": [2005 * 12 + 2, 2005 * 12 + 3, 2025 * 12 + 11],
            "relation_status": [1, 2, 3],
        }
    )
    return {"persons": persons, "segments": segments}


def good_screen() -> dict[str, pd.DataFrame]:
    return {
        "screen_results": pd.DataFrame(
            {
                "id_no": [ID1, ID2, ID3],
                "office_code": ["640104", "640900", "640521"],
                "insurance_type": [110, 110, 170],
                "scope_rule": ["a", "b", None],
                "to_original": [2, -53, -10],
                "original_age_mi": [2026 * 12 + 2, 2021 * 12 + 7, 2025 * 12],
                "statutory_age_mi": [2026 * 12 + 9, 2022 * 12 + 7, 2025 * 12],
                "benefit_province": ["640000", "640000", "610000"],
            }
        )
    }


def good_ledger() -> dict[str, pd.DataFrame]:
    return {
        "ledger": pd.DataFrame(
            {
                "id_no": [ID1, ID2, ID3],
                "office_code": ["640104", "640900", "640521"],
                "stage": ["ENROLLED", "CONCLUDED", "RETIRED"],
                "responsible_officer": ["王officer", "赵officer", None],
                "due_date": pd.to_datetime(["2026-01-15", "2026-02-01", None]),
            }
        )
    }


def _sms_text(name: str, extra: int = 0) -> str:
    return f"{SIG}尊敬的{name}，您即将达到退休年龄，请关注退休预服务。" + "详" * extra


def good_notices() -> dict[str, pd.DataFrame]:
    texts = [_sms_text(NAMES[0]), _sms_text(NAMES[1], 60), _sms_text(NAMES[0])]
    df = pd.DataFrame(
        {
            "notice_id": ["N1", "N2", "N3"],
            "notice_kind": ["PRE_SERVICE", "AGE_MINUS_3", "AGE_MINUS_3"],
            "id_no": [ID1, ID2, ID1],
            "phone": [PHONES[0], PHONES[1], PHONES[0]],
            "text": texts,
            "segments": [1, 2, 1],
            "reference_month": ["2026-01", "2026-01", "2026-01"],
        }
    )
    df["expected_segments"] = expected_sms_segments(df["text"])
    return {"sms": df}


def good_worklists() -> dict[str, pd.DataFrame]:
    return {
        "worklist": pd.DataFrame(
            {
                "id_no": [ID1, ID2, ID3],
                "name": NAMES,
                "gender": [1, 2, 1],
                "birth_month": ["1966-03", "1971-08", "1965-01"],
                "insurance_type": [110, 110, 170],
                "person_type": [1, 3, None],
                "office_code": ["640104", "640104", "640104"],
                "original_age_month": ["2026-03", "2021-08", "2025-01"],
                "statutory_age_month": ["2026-10", "2022-08", "2025-01"],
                "months_to_original": [2, -53, -12],
                "months_to_statutory": [9, -41, -12],
                "flexible_earliest_month": ["2026-03", "2021-08", None],
                "flexible_latest_month": ["2029-10", "2025-08", None],
                "min_contribution_months": [186, 180, 180],
                "counted_contribution_months": [300, 150, 180],
                "benefit_region": ["640000", "640000", "640000"],
                "flags": ["ARREARS;KEY_INFO_MISSING", "", "PAST_AGE_NOT_RETIRED"],
                "stage": ["ENROLLED", "NOTIFIED", "CONFIRMED"],
                "responsible_officer": ["王officer", "王officer", None],
                "due_date": ["2026-01-15", "2026-02-28", None],
                "channel": ["SMS", "EMPLOYER", "TOWNSHIP"],
            }
        )
    }


def good_declarations() -> dict[str, pd.DataFrame]:
    return {
        "declarations": pd.DataFrame(
            {
                "id_no": [ID1, ID2],
                "name": NAMES[:2],
                "office_code": ["640104", "640900"],
                "retirement_month": ["2026-03", "2026-04"],
                "decision": ["DECLARATION", "FOLLOW_UP"],
                "reason": ["", "pre-service not complete"],
            }
        )
    }


def good_forecast() -> dict[str, pd.DataFrame]:
    """Two offices, two months: the forecast frame as pipelines.forecast.forecast_month builds it."""
    from pipelines import forecast as F

    rows = []
    for office in ("640104", "640900"):
        for k in (1, 2):
            r = {
                "base_month": "2026-11",
                "forecast_month": f"2026-{11 + k:02d}" if k == 1 else "2027-01",
                "months_ahead": k,
                "office_code": office,
                **{c: 0 for c in F.COUNT_COLUMNS},
            }
            r.update(
                entering=2,
                ledger_persons=5,
                reaching_statutory_age=1,
                notices_pre_service_sms=1,
                notices_pre_service_township=1,
                notices_age_reached_employer=1,
                notices_total=3,
            )
            rows.append(r)
    frame = pd.DataFrame(rows)
    frame["pre_service_notices"] = frame[
        ["notices_pre_service_sms", "notices_pre_service_employer", "notices_pre_service_township"]
    ].sum(axis=1)
    frame["notices_by_kind"] = frame[list(F.NOTICE_COLUMNS)].sum(axis=1)
    frame["age_reached_notices"] = frame[
        ["notices_age_reached_sms", "notices_age_reached_employer", "notices_age_reached_township"]
    ].sum(axis=1)
    return {"forecast": frame}


GOOD = {
    "raw": good_raw,
    "ingest": good_ingest,
    "screen": good_screen,
    "ledger": good_ledger,
    "notices": good_notices,
    "worklists": good_worklists,
    "declarations": good_declarations,
    "forecast": good_forecast,
}


def run(stage, frames, out=None, **kw):
    return validate_frames(stage, frames, out, settings=SETTINGS, **kw)


def assert_no_personal_data(text: str) -> None:
    for raw in [ID1, ID2, ID3, *NAMES, *PHONES, "王officer", "赵officer"]:
        assert raw not in text, f"raw personal value {raw!r} written"


# ---------------------------------------------------------------- suites


def test_every_stage_has_a_suite():
    assert set(GOOD) == set(STAGES)
    for stage in STAGES:
        spec = load_suite(stage)
        assert spec.stage == stage and spec.expectations


@pytest.mark.parametrize("stage", STAGES)
def test_good_frames_pass_and_results_are_written(stage, tmp_path):
    res = run(stage, GOOD[stage](), tmp_path)
    assert res.success, res.message() if not res.success else ""
    assert len(res.outcomes) == len(load_suite(stage).expectations)
    doc = json.loads((tmp_path / f"{stage}.json").read_text(encoding="utf-8"))
    assert doc["success"] is True and doc["failed"] == 0
    assert all(e["success"] for e in doc["expectations"])
    page = (tmp_path / f"{stage}.html").read_text(encoding="utf-8")
    assert "PASSED" in page and "<script" not in page and "http" not in page  # offline, self-contained
    assert f"{stage}.html" in (tmp_path / "index.html").read_text(encoding="utf-8")


def _set(frame: str, col: str, row: int, value):
    def f(frames):
        frames[frame][col] = frames[frame][col].astype(object)
        frames[frame].loc[row, col] = value

    return f


def _dup(frame: str, col: str, src: int = 0, dst: int = 1):
    def f(frames):
        frames[frame].loc[dst, col] = frames[frame].loc[src, col]

    return f


def _drop(frame: str, col: str):
    def f(frames):
        del frames[frame][col]

    return f


# (stage, breakage, expectation type named in the message, column named in the message)
BROKEN = {
    # raw
    "accounted_ne_manifest": (
        "raw",
        _set("batch_accounting", "accounted_rows", 0, 99),
        "expect_column_pair_values_to_be_equal",
        "accounted_rows, manifest_rows",
    ),
    "negative_quarantine": (
        "raw",
        _set("batch_accounting", "quarantined_rows", 1, -1),
        "expect_column_values_to_be_between",
        "quarantined_rows",
    ),
    "accounting_null": (
        "raw",
        _set("batch_accounting", "accounted_rows", 2, None),
        "expect_column_values_to_not_be_null",
        "accounted_rows",
    ),
    "quarantined_twice": (
        "raw",
        _set("quarantine", "row_no", 1, 7),
        "expect_compound_columns_to_be_unique",
        "seq, file, row_no",
    ),
    "quarantine_row_beyond_the_file": (
        "raw",
        _set("quarantine", "row_no", 1, 101),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "manifest_rows, row_no",
    ),
    "quarantine_row_zero": ("raw", _set("quarantine", "row_no", 0, 0), "expect_column_values_to_be_between", "row_no"),
    "quarantine_without_reason": (
        "raw",
        _set("quarantine", "reason_code", 0, None),
        "expect_column_values_to_not_be_null",
        "reason_code",
    ),
    "accounting_twice": ("raw", _dup("batch_accounting", "file"), "expect_compound_columns_to_be_unique", "seq, file"),
    "accounting_column_missing": (
        "raw",
        _drop("batch_accounting", "accounted_rows"),
        "expect_table_columns_to_match_set",
        "missing columns accounted_rows",
    ),
    # ingest
    "person_twice": ("ingest", _dup("persons", "id_no"), "expect_column_values_to_be_unique", "id_no"),
    "id_lower_x": (
        "ingest",
        _set("persons", "id_no", 0, ID1[:17] + "x"),
        "expect_column_values_to_match_regex",
        "id_no",
    ),
    "id_newline": ("ingest", _set("persons", "id_no", 0, ID1 + "\n"), "expect_column_values_to_match_regex", "id_no"),
    "gender_3": ("ingest", _set("persons", "gender", 0, 3), "expect_column_values_to_be_in_set", "gender"),
    "insurance_120": (
        "ingest",
        _set("persons", "insurance_type", 1, 120),
        "expect_column_values_to_be_in_set",
        "insurance_type",
    ),
    "region_outside": (
        "ingest",
        _set("persons", "insured_region", 0, "610100"),
        "expect_column_values_to_be_in_set",
        "insured_region",
    ),
    "segment_backwards": (
        "ingest",
        _set("segments", "end_mi", 0, 1989 * 12),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "end_mi, start_mi",
    ),
    "segment_yyyymm": (
        "ingest",
        _set("segments", "start_mi", 1, 200504),
        "expect_column_values_to_be_between",
        "start_mi",
    ),
    "relation_4": (
        "ingest",
        _set("segments", "relation_status", 2, 4),
        "expect_column_values_to_be_in_set",
        "relation_status",
    ),
    "region_code_5": (
        "ingest",
        _set("segments", "region_code", 0, "64010"),
        "expect_column_values_to_match_regex",
        "region_code",
    ),
    # screen
    "statutory_before_original": (
        "screen",
        _set("screen_results", "statutory_age_mi", 0, 2026 * 12),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "statutory_age_mi, original_age_mi",
    ),
    "screen_office_outside": (
        "screen",
        _set("screen_results", "office_code", 2, "620100"),
        "expect_column_values_to_be_in_set",
        "office_code",
    ),
    "screen_twice": ("screen", _dup("screen_results", "id_no"), "expect_column_values_to_be_unique", "id_no"),
    "scope_a_beyond_the_window": (
        "screen",
        _set("screen_results", "to_original", 0, 13),
        "expect_column_values_to_be_between",
        "to_original",
    ),
    "scope_b_before_the_age": (
        "screen",
        _set("screen_results", "to_original", 1, 0),
        "expect_column_values_to_be_between",
        "to_original",
    ),
    "scope_c_for_an_employee": (
        "screen",
        _set("screen_results", "scope_rule", 0, "c"),
        "expect_column_values_to_be_in_set",
        "insurance_type",
    ),
    "scope_rule_unknown": (
        "screen",
        _set("screen_results", "scope_rule", 2, "d"),
        "expect_column_values_to_be_in_set",
        "scope_rule",
    ),
    # ledger
    "ledger_stage": ("ledger", _set("ledger", "stage", 0, "PENDING"), "expect_column_values_to_be_in_set", "stage"),
    "ledger_twice": ("ledger", _dup("ledger", "id_no"), "expect_column_values_to_be_unique", "id_no"),
    "ledger_office": (
        "ledger",
        _set("ledger", "office_code", 0, "640199"),
        "expect_column_values_to_be_in_set",
        "office_code",
    ),
    # notices
    "sms_unsigned": (
        "notices",
        _set("sms", "text", 0, "尊敬的张三，您即将达到退休年龄。"),
        "expect_column_values_to_match_regex",
        "text",
    ),
    "sms_segments": (
        "notices",
        _set("sms", "segments", 1, 1),
        "expect_column_pair_values_to_be_equal",
        "segments, expected_segments",
    ),
    "sms_phone": ("notices", _set("sms", "phone", 0, "0951-1234567"), "expect_column_values_to_match_regex", "phone"),
    "sms_phone_newline": (
        "notices",
        _set("sms", "phone", 0, PHONES[0] + "\n"),
        "expect_column_values_to_match_regex",
        "phone",
    ),
    "sms_twice": (
        "notices",
        _dup("sms", "notice_kind", 0, 2),
        "expect_compound_columns_to_be_unique",
        "id_no, notice_kind, reference_month",
    ),
    "sms_id_twice": ("notices", _dup("sms", "notice_id"), "expect_column_values_to_be_unique", "notice_id"),
    "sms_kind": (
        "notices",
        _set("sms", "notice_kind", 0, "REMINDER"),
        "expect_column_values_to_be_in_set",
        "notice_kind",
    ),
    "sms_too_long": (
        "notices",
        _set("sms", "text", 2, SIG + "长" * 600),
        "expect_column_value_lengths_to_be_between",
        "text",
    ),
    # worklists
    "worklist_office_outside": (
        "worklists",
        _set("worklist", "office_code", 1, "110101"),
        "expect_column_values_to_be_in_set",
        "office_code",
    ),
    "worklist_twice": ("worklists", _dup("worklist", "id_no"), "expect_column_values_to_be_unique", "id_no"),
    "worklist_channel_unknown": (
        "worklists",
        _set("worklist", "channel", 0, "EMAIL"),
        "expect_column_values_to_be_in_set",
        "channel",
    ),
    "worklist_flags_unordered": (
        "worklists",
        _set("worklist", "flags", 0, "KEY_INFO_MISSING;ARREARS"),
        "expect_column_values_to_match_regex",
        "flags",
    ),
    "worklist_flags_twice": (
        "worklists",
        _set("worklist", "flags", 0, "ARREARS;ARREARS"),
        "expect_column_values_to_match_regex",
        "flags",
    ),
    "worklist_flags_trailing": (
        "worklists",
        _set("worklist", "flags", 0, "ARREARS;"),
        "expect_column_values_to_match_regex",
        "flags",
    ),
    "worklist_statutory_before_original": (
        "worklists",
        _set("worklist", "statutory_age_month", 0, "2026-02"),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "statutory_age_month, original_age_month",
    ),
    "worklist_month_13": (
        "worklists",
        _set("worklist", "birth_month", 0, "1966-13"),
        "expect_column_values_to_match_regex",
        "birth_month",
    ),
    "worklist_flags_unknown": (
        "worklists",
        _set("worklist", "flags", 0, "ARREARS;LATE"),
        "expect_column_values_to_match_regex",
        "flags",
    ),
    "worklist_flags_lower": (
        "worklists",
        _set("worklist", "flags", 0, "arrears"),
        "expect_column_values_to_match_regex",
        "flags",
    ),
    "worklist_resident_flexible": (
        "worklists",
        _set("worklist", "flexible_earliest_month", 2, "2025-01"),
        "expect_column_values_to_be_null",
        "flexible_earliest_month",
    ),
    "worklist_employee_no_window": (
        "worklists",
        _set("worklist", "flexible_latest_month", 0, None),
        "expect_column_values_to_not_be_null",
        "flexible_latest_month",
    ),
    "worklist_due_date": (
        "worklists",
        _set("worklist", "due_date", 0, "2026/01/15"),
        "expect_column_values_to_match_regex",
        "due_date",
    ),
    "worklist_min_months": (
        "worklists",
        _set("worklist", "min_contribution_months", 0, 120),
        "expect_column_values_to_be_between",
        "min_contribution_months",
    ),
    "worklist_column_missing": (
        "worklists",
        _drop("worklist", "responsible_officer"),
        "expect_table_columns_to_match_set",
        "missing columns responsible_officer",
    ),
    # declarations
    "declaration_decision": (
        "declarations",
        _set("declarations", "decision", 0, "APPROVED"),
        "expect_column_values_to_be_in_set",
        "decision",
    ),
    "declaration_month": (
        "declarations",
        _set("declarations", "retirement_month", 1, "202604"),
        "expect_column_values_to_match_regex",
        "retirement_month",
    ),
    # forecast (issue 18)
    "forecast_wrong_office": (
        "forecast",
        _set("forecast", "office_code", 0, "640199"),
        "expect_column_values_to_be_in_set",
        "office_code",
    ),
    "forecast_month_twice": (
        "forecast",
        _set("forecast", "forecast_month", 1, "2026-12"),
        "expect_compound_columns_to_be_unique",
        "office_code, forecast_month",
    ),
    "forecast_beyond_horizon": (
        "forecast",
        _set("forecast", "months_ahead", 0, 13),
        "expect_column_values_to_be_between",
        "months_ahead",
    ),
    "forecast_entering_without_notice": (
        "forecast",
        _set("forecast", "pre_service_notices", 2, 1),
        "expect_column_pair_values_to_be_equal",
        "entering, pre_service_notices",
    ),
    "forecast_negative": (
        "forecast",
        _set("forecast", "declarations_follow_up", 3, -1),
        "expect_column_values_to_be_between",
        "declarations_follow_up",
    ),
    "forecast_more_entering_than_ledger": (
        "forecast",
        _set("forecast", "ledger_persons", 1, 1),
        "expect_column_pair_values_a_to_be_greater_than_b",
        "ledger_persons, entering",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_business_rule_fails_with_one_line_reason(case, tmp_path):
    stage, breakage, etype, cols = BROKEN[case]
    frames = GOOD[stage]()
    breakage(frames)
    with pytest.raises(ValidationFailed) as err:
        run(stage, frames, tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and "\r" not in msg
    assert f"stage {stage}" in msg
    assert etype in msg, msg
    assert cols in msg, msg
    assert_no_personal_data(msg)
    result = err.value.result
    assert not result.success
    assert any(o.type == etype for o in result.failures)
    for f in ("json", "html"):
        assert_no_personal_data((tmp_path / f"{stage}.{f}").read_text(encoding="utf-8"))
    assert "FAILED" in (tmp_path / f"{stage}.html").read_text(encoding="utf-8")


def test_stage_covers_every_business_case():
    """At least one failing case per suite, and the six the brief names."""
    assert {stage for stage, *_ in BROKEN.values()} == set(STAGES)
    for named in (
        "sms_unsigned",
        "sms_segments",
        "worklist_office_outside",
        "worklist_twice",
        "statutory_before_original",
        "worklist_statutory_before_original",
        "accounted_ne_manifest",
    ):
        assert named in BROKEN


# ---------------------------------------------------------------- masking


def test_examples_are_masked_with_the_person_key(tmp_path):
    frames = good_worklists()
    frames["worklist"].loc[1, "id_no"] = ID1
    frames["worklist"].loc[1, "name"] = NAMES[0]
    with pytest.raises(ValidationFailed) as err:
        run("worklists", frames, tmp_path, label="640104")
    pk = person_key(ID1, SETTINGS)
    assert f"pk:{pk}" in str(err.value)
    doc = json.loads((tmp_path / "worklists-640104.json").read_text(encoding="utf-8"))
    (failed,) = [e for e in doc["expectations"] if not e["success"]]
    assert failed["type"] == "expect_column_values_to_be_unique"
    assert failed["unexpected_examples"] and all(x.startswith(f"pk:{pk}") for x in failed["unexpected_examples"])
    for f in tmp_path.iterdir():
        assert_no_personal_data(f.read_text(encoding="utf-8"))


def test_compound_examples_mask_only_personal_columns(tmp_path):
    frames = good_notices()
    frames["sms"].loc[2, "notice_kind"] = "PRE_SERVICE"
    with pytest.raises(ValidationFailed):
        run("notices", frames, tmp_path)
    doc = json.loads((tmp_path / "notices.json").read_text(encoding="utf-8"))
    (failed,) = [e for e in doc["expectations"] if not e["success"]]
    ex = failed["unexpected_examples"][0]
    assert ex["notice_kind"] == "PRE_SERVICE" and ex["reference_month"] == "2026-01"
    assert ex["id_no"].startswith("pk:") and ID1 not in json.dumps(doc, ensure_ascii=False)


def test_unsigned_text_and_phone_are_masked(tmp_path):
    frames = good_notices()
    frames["sms"].loc[0, "text"] = f"尊敬的{NAMES[0]}，请于{PHONES[2]}联系。"
    frames["sms"].loc[1, "phone"] = "12345"
    with pytest.raises(ValidationFailed) as err:
        run("notices", frames, tmp_path)
    assert "phone#" in str(err.value) and "12345" not in str(err.value)
    text = (tmp_path / "notices.json").read_text(encoding="utf-8")
    assert "text#" in text and "phone#" in text and "12345" not in text
    assert_no_personal_data(text)


def test_without_a_key_masks_are_not_person_keys(tmp_path):
    frames = good_ledger()
    frames["ledger"].loc[1, "id_no"] = ID1
    with pytest.raises(ValidationFailed) as err:
        validate_frames("ledger", frames, tmp_path, settings=Settings(person_key_secret=""))
    assert "id_no#" in str(err.value) and "pk:" not in str(err.value) and ID1 not in str(err.value)


# ---------------------------------------------------------------- frames given


def test_missing_frame_is_an_error():
    frames = good_ingest()
    del frames["segments"]
    with pytest.raises(ValidationFailed, match="segments not given"):
        run("ingest", frames)


def test_unknown_frame_is_an_error():
    frames = {**good_ledger(), "ledgers": good_ledger()["ledger"]}
    with pytest.raises(ValidationFailed, match="ledgers not in the suite"):
        run("ledger", frames)


def test_not_a_dataframe_is_an_error():
    with pytest.raises(TypeError):
        run("ledger", {"ledger": [{"id_no": ID1}]})


def test_arrow_table_is_accepted():
    import pyarrow as pa

    assert run("declarations", {"declarations": pa.Table.from_pandas(good_declarations()["declarations"])}).success


def test_empty_frame_with_its_columns_passes_but_not_without(tmp_path):
    wl = good_worklists()["worklist"].iloc[0:0]
    assert run("worklists", {"worklist": wl}).success  # an office with nobody this month
    with pytest.raises(ValidationFailed, match="expect_table_columns_to_match_set"):
        run("worklists", {"worklist": pd.DataFrame()})


def test_empty_population_fails():
    frames = good_ingest()
    frames["persons"] = frames["persons"].iloc[0:0]
    with pytest.raises(ValidationFailed, match="expect_table_row_count_to_be_between"):
        run("ingest", frames)
    with pytest.raises(ValidationFailed, match="expect_table_row_count_to_be_between"):
        run(
            "raw",
            {"batch_accounting": good_raw()["batch_accounting"].iloc[0:0], "quarantine": good_raw()["quarantine"]},
        )


def test_frames_straight_from_duckdb(tmp_path):
    """DuckDB .df() gives nullable dtypes (<NA>); pair expectations must still evaluate."""
    import duckdb

    con = duckdb.connect()
    acc = con.sql("""
        SELECT * FROM (VALUES (1::BIGINT, 'B1', 'persons', 5::BIGINT, 5::BIGINT, 0::BIGINT),
                              (1, 'B1', 'segments', 7, NULL, 0)) t(seq, batch_id, file, manifest_rows, accepted_rows, quarantined_rows)
    """).df()
    acc["accounted_rows"] = acc["accepted_rows"] + acc["quarantined_rows"]
    assert str(acc["accounted_rows"].dtype) == "Int64"
    with pytest.raises(ValidationFailed) as err:
        run("raw", {"batch_accounting": acc, "quarantine": good_raw()["quarantine"].iloc[0:0]}, tmp_path)
    res = err.value.result
    failed = {o.type for o in res.failures}
    assert failed == {"expect_column_values_to_not_be_null", "expect_column_pair_values_to_be_equal"}
    assert not any(o.error for o in res.outcomes), [o.error for o in res.outcomes if o.error]

    wl = (
        con.register("wl", good_worklists()["worklist"])
        .sql("SELECT * REPLACE (person_type::TINYINT AS person_type) FROM wl")
        .df()
    )
    assert run("worklists", {"worklist": wl}).success


# ---------------------------------------------------------------- helpers and contracts


def test_expected_sms_segments():
    texts = pd.Series(["a" * 1, "a" * 70, "a" * 71, "a" * 134, "a" * 135, SIG + "字" * 64, SIG + "字" * 65])
    assert expected_sms_segments(texts).tolist() == [1, 1, 2, 2, 3, 1, 2]


def test_offices_match_the_sql_macro_and_settings():
    sql = (pipelines.SQL_DIR / "policy" / "regions.sql").read_text(encoding="utf-8")
    macro = sql[sql.index("MACRO is_office_code") :]
    macro = macro[: macro.index(";")]
    fixed = set(re.findall(r"'(\d{6})'", macro))
    assert len(fixed) == 28 and "{{ settings.ningdong_code | sql_str }}" in macro
    assert set(office_codes(SETTINGS)) == fixed | {"640900"}
    assert len(office_codes(SETTINGS)) == 29
    assert "641900" in office_codes(Settings(ningdong_code="641900"))
    assert set(suite_parameters(SETTINGS)) == set(SUITE_PARAMETERS)


def test_suite_uses_settings_for_offices_and_signature(tmp_path):
    frames = good_ledger()
    frames["ledger"].loc[1, "office_code"] = "641900"
    with pytest.raises(ValidationFailed, match="office_code"):
        run("ledger", frames)  # 641900 is no office by default...
    assert validate_frames(
        "ledger", frames, None, settings=Settings(ningdong_code="641900", person_key_secret="k")
    ).success
    with pytest.raises(ValidationFailed, match="office_code"):  # ...and then 640900 is none
        validate_frames("ledger", good_ledger(), None, settings=Settings(ningdong_code="641900", person_key_secret="k"))
    sms = good_notices()
    with pytest.raises(ValidationFailed, match="text"):
        validate_frames("notices", sms, None, settings=Settings(sms_signature="【宁夏人社厅】", person_key_secret="k"))


def test_invalid_suite_file_is_refused(tmp_path, monkeypatch):
    bad = json.loads((pipelines.EXPECTATIONS_DIR / "ledger.json").read_text(encoding="utf-8"))
    bad["expectations"][1]["type"] = "expect_column_values_to_be_uniqe"
    (tmp_path / "ledger.json").write_text(json.dumps(bad), encoding="utf-8")
    monkeypatch.setattr(pipelines, "EXPECTATIONS_DIR", tmp_path)
    with pytest.raises(ValidationFailed, match="expect_column_values_to_be_uniqe"):
        run("ledger", good_ledger())
    del bad["expectations"][1]["meta"]["frame"]
    bad["expectations"][1]["type"] = "expect_column_values_to_be_unique"
    (tmp_path / "ledger.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValidationFailed, match="meta.frame"):
        run("ledger", good_ledger())
    bad["expectations"][1]["meta"]["frame"] = "ledger"
    bad["expectations"][1]["kwargs"]["column"] = {"$PARAMETER": "id_column"}
    (tmp_path / "ledger.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValidationFailed, match="unknown .PARAMETER 'id_column'"):
        run("ledger", good_ledger())


def test_every_expectation_says_why_and_personal_columns_are_named():
    for stage in STAGES:
        for e in load_suite(stage).expectations:
            assert e["meta"]["why"].strip()
    assert {"id_no", "name", "phone"} <= PERSONAL_COLUMNS


def test_no_progress_bars_or_gx_chatter_on_stderr(capfd):
    capfd.readouterr()
    for stage in STAGES:
        run(stage, GOOD[stage]())
    frames = good_notices()
    frames["sms"].loc[0, "segments"] = 5
    with pytest.raises(ValidationFailed):
        run("notices", frames)
    out, err = capfd.readouterr()
    assert "Calculating Metrics" not in err + out
    assert err == "", err


def test_cheap_import_and_no_network(tmp_path):
    """Importing the module loads neither GX nor pandas; a validation opens no socket."""
    script = f"""
import socket, sys
import pipelines.validate as v
assert "great_expectations" not in sys.modules and "pandas" not in sys.modules, "heavy import"
def refuse(*a, **k):
    raise AssertionError("network access")
socket.socket.connect = refuse
socket.create_connection = refuse
sys.path.insert(0, {str(Path(__file__).parent)!r})
sys.path.insert(1, {str(Path(__file__).parents[1])!r})  # tests/: support
import test_validate as t
res = v.validate_frames("screen", t.good_screen(), {str(tmp_path)!r}, settings=t.SETTINGS)
assert res.success
import os
assert os.environ["GX_ANALYTICS_ENABLED"] == "False"
assert v.gx_context().config.analytics_enabled is False
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"
    assert "Calculating Metrics" not in proc.stderr


def test_a_sampled_frame_says_so_in_its_results(tmp_path):
    """A frame validated on a sample records the population it was drawn from (JSON and HTML)."""
    import json as _json

    res = validate_frames("worklists", good_worklists(), tmp_path, label="s", populations={"worklist": 30})
    doc = _json.loads(res.json_path.read_text(encoding="utf-8"))
    assert doc["frames"]["worklist"]["population"] == 30 and doc["frames"]["worklist"]["sampled"] is True
    assert "a deterministic sample of 30 rows" in res.html_path.read_text(encoding="utf-8")
    whole = validate_frames("worklists", good_worklists(), tmp_path, label="w")
    assert whole.frames["worklist"]["sampled"] is False

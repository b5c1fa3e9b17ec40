"""Issue 18: each office's workload for the months after P (pipelines/forecast.py, sql/forecast/).

* hand-made persons at every window edge of rules.md §3 (entering at exactly M = O − 12 for (a) and
  (c), (b) with contribution suspended, trigger 3 at the screening horizon, past the age, benefit
  place outside Ningxia, deceased), and explain's line for a person outside the ledger;
* the flow: the forecast made at P for each M equals what the declaration screening and the run of
  M then do on an unchanged push (an INCR without a change each month), for every office;
* the files (Chinese headers), the warehouse table, the command line (read-only), the GX suite.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines import forecast as F
from pipelines.errors import RetirePrepError
from pipelines.ingest import ingest_batches, load_applications
from pipelines.monthly import run_month
from pipelines.policy import format_month, parse_month
from pipelines.settings import load_settings
from pipelines.warehouse import connect
from support.pushkit import person, segment, write_batch

P = "2026-11"
PMI = parse_month(P)


def born(months_to_original: int, age: int = 60, month: str = P) -> str:
    """A birth date whose original age month O is P + ``months_to_original`` (age in years)."""
    b = parse_month(month) + months_to_original - 12 * age
    return f"{b // 12:04d}{b % 12 + 1:02d}15"


# ----------------------------------------------------------------------------- what a run of M did


def outcome(con, m: int) -> dict[tuple[str, int], dict[str, int]]:
    """What the declaration screening and the run of M did, per office, in the forecast's columns."""
    rows: dict[tuple[str, int], dict[str, int]] = {}

    def add(office, col, n):
        rows.setdefault((office, m), {c: 0 for c in F.COUNT_COLUMNS})[col] += int(n)

    for office, n in con.execute(
        "SELECT office_code, count(*) FROM ledger_entries WHERE opened_mi = ? GROUP BY ALL", [m]
    ).fetchall():
        add(office, "entering", n)
    for office, n, reaching in con.execute(
        "SELECT e.office_code, count(*), count(*) FILTER (WHERE r.statutory_age_mi = ?) "
        "FROM ledger_entries e JOIN screen_results r ON r.month_mi = ? AND r.id_no = e.id_no "
        "WHERE e.opened_mi <= ? AND (e.closed_mi IS NULL OR e.closed_mi > ?) GROUP BY ALL",
        [m, m, m, m],
    ).fetchall():
        add(office, "ledger_persons", n)
        add(office, "reaching_statutory_age", reaching)
    for office, kind, channel, n in con.execute(
        "SELECT coalesce(file_office, office_code), kind, channel, count(*) FROM notice_log "
        "WHERE issued_mi = ? GROUP BY ALL",
        [m],
    ).fetchall():
        add(office, f"notices_{kind.lower()}_{channel.lower()}", n)
        add(office, "notices_total", n)
    for office, decision, n in con.execute(
        "SELECT office_code, decision, count(*) FROM declaration_decisions WHERE month_mi = ? GROUP BY ALL", [m]
    ).fetchall():
        add(office, f"declarations_{decision.lower()}", n)
    return rows


def compare(con, p: int, horizon: int, forecast_con=None) -> list[str]:
    """Differences between the forecast stored by the run of P (on ``forecast_con``, default ``con``)
    and what the months then did (on ``con``)."""
    cols = ", ".join(F.COUNT_COLUMNS)
    fc = {
        (r[0], r[1]): dict(zip(F.COUNT_COLUMNS, r[2:]))
        for r in (forecast_con or con)
        .execute(f"SELECT office_code, forecast_mi, {cols} FROM forecast WHERE month_mi = ?", [p])
        .fetchall()
    }
    diffs = []
    for k in range(1, horizon + 1):
        actual = outcome(con, p + k)
        for key in sorted(set(fc) | set(actual)):
            if key[1] != p + k:
                continue
            want = fc.get(key, {c: 0 for c in F.COUNT_COLUMNS})
            got = actual.get(key, {c: 0 for c in F.COUNT_COLUMNS})
            for c in F.COUNT_COLUMNS:
                if want[c] != got[c]:
                    diffs.append(f"{format_month(key[1])} {key[0]} {c}: forecast {want[c]}, run {got[c]}")
    return diffs


# ----------------------------------------------------------------------------- the push of P

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _counted_for_insufficient_from(k: int, months_to_original: int) -> tuple[str, int]:
    """A contributing 110 man with O = P + months_to_original whose projected months fall below the
    minimum first in P + k (rules.md §4 INSUFFICIENT_YEARS moves with the month): (birth, counted)."""
    from pipelines.policy import retirement_facts

    birth = born(months_to_original)
    b = int(birth[:4]) * 12 + int(birth[4:6]) - 1
    f = retirement_facts(1, 2, 110, b)
    counted = f.min_contribution_months - (f.statutory_age_mi - (PMI + k)) - 1
    return birth, counted


def edge_persons() -> list[tuple[str, dict, list[dict], int | None, str | None]]:
    """(label, person, segments, expected entering month offset k (P + k) or None, opened_by)."""
    out = []

    def add(label, n, k, by, segs=None, **kw):
        p = person(900 + n, **kw)
        out.append((label, p, segs if segs is not None else [segment(p["id_no"])], k, by))

    add("a at exactly O-12", 1, 5, "PUSH", birth_date=born(17))
    add("c (170) at exactly O-12", 2, 5, "PUSH", birth_date=born(17), insurance_type="170", person_type="")
    add(
        "c (170) at O-12 in the horizon's last month",
        3,
        12,
        "PUSH",
        birth_date=born(24),
        insurance_type="170",
        person_type="",
    )
    add("a beyond the horizon (O-12 = P+14)", 4, None, None, birth_date=born(26))
    add("a in Ningdong (its own office)", 5, 1, "PUSH", birth_date=born(13), insured_region="640900")
    add("a, 110 woman worker (age 50)", 6, 2, "PUSH", birth_date=born(14, 50), gender=2, person_type="1")
    add(
        "b contribution suspended past O: in the ledger at P",
        7,
        None,
        None,
        birth_date=born(-5),
        contribution_status="2",
    )
    add(
        "past O, contributing: trigger 3 once past S (PAST_AGE_NOT_RETIRED)", 8, "S+1", "SCREENING", birth_date=born(-5)
    )
    add(
        "trigger 3 at exactly the screening horizon (ARREARS, O-M = 24)",
        9,
        6,
        "SCREENING",
        birth_date=born(30),
        arrears_months="3",
    )
    add("trigger 2 at exactly the application horizon (O-M = 24)", 10, 3, "APPLICATION", birth_date=born(27))
    birth, counted = _counted_for_insufficient_from(4, 20)
    add(
        "trigger 3 when INSUFFICIENT_YEARS appears",
        11,
        4,
        "SCREENING",
        birth_date=birth,
        actual_contribution_months=str(counted),
    )
    p12 = person(912, birth_date=born(13), hukou_region="620102")
    out.append(
        (
            "benefit place outside Ningxia (R3: 26 years in Gansu)",
            p12,
            [segment(p12["id_no"], "620102", "199001", "201512"), segment(p12["id_no"], "640104", "201601", "202012")],
            None,
            None,
        )
    )
    add("deceased", 13, None, None, birth_date=born(13), survival_status="2")
    add("retired", 14, None, None, birth_date=born(13), retired="1")
    return out


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """The sample's FULL of P with the edge persons added, its applications and county feedback; P
    run (again after the feedback, as a correction would); then, for each month of the horizon, the
    declaration screening, an INCR without a change (the push stays as at P) and the run. Returns (tmp, warehouse, warehouse as after
    P's run, out)."""
    from pipelines import declare as declare_mod
    from pipelines import outputs as outputs_mod
    from pipelines.declare import declare_month
    from pipelines.feedback import apply_feedback_files

    tmp = tmp_path_factory.mktemp("forecast")
    wh, out = tmp / "w.duckdb", tmp / "out"
    persons = _read(SAMPLE / "push" / "2026-11-full" / "persons.csv")
    segs = _read(SAMPLE / "push" / "2026-11-full" / "segments.csv")
    ids = {p["id_no"] for p in persons}
    for _, p, s, _, _ in edge_persons():
        assert p["id_no"] not in ids
        persons.append(p)
        segs += s
    batch = write_batch(tmp / "full", persons, segs, seq=1, month=P)
    assert not ingest_batches([batch], wh).refused
    app = tmp / "applications-extra.csv"
    app.write_text(
        "id_no,applicant_type,applied_on,channel,county_code\n"
        f"{next(e[1] for e in edge_persons() if e[4] == 'APPLICATION')['id_no']},1,20261103,counter,640104\n",
        encoding="utf-8",
    )
    load_applications(sorted((SAMPLE / "applications").glob("*.csv")) + [app], wh)
    run_month(P, wh, out, validate=False)
    apply_feedback_files(sorted((SAMPLE / "feedback").glob("*.csv")), wh)
    run_month(P, wh, out, validate=False)  # P's forecast now sees the feedback's stages
    at_p = tmp / "p.duckdb"
    shutil.copyfile(wh, at_p)
    horizon = load_settings().forecast_horizon
    # the months' warehouse work is what is compared: their files and GX are tested elsewhere
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(outputs_mod, "publish_month", lambda *a, **k: {})
        mp.setattr(declare_mod, "_validate_month", lambda *a, **k: None)
        mp.setattr(declare_mod, "write_declarations", lambda *a, **k: {})
        for k in range(1, horizon + 1):
            month = format_month(PMI + k)
            declare_month(month, wh, out)  # the 1st of M
            # M's push: an INCR without a change (the push as it was at P), then the run of M
            incr = write_batch(tmp / f"incr-{k}", [], [], seq=1 + k, month=month, push_type="INCR", base_seq=k)
            assert not ingest_batches([incr], wh, validate=False).refused
            run_month(month, wh, out, validate=False)
    return tmp, wh, at_p, out


def test_forecast_made_at_p_is_what_the_months_then_do_for_every_office(flow):
    _, wh, at_p, _ = flow
    horizon = load_settings().forecast_horizon
    with duckdb.connect(str(wh), read_only=True) as con, duckdb.connect(str(at_p), read_only=True) as pc:
        assert compare(con, PMI, horizon, pc) == []
        offices = {
            r[0] for r in pc.execute("SELECT DISTINCT office_code FROM forecast WHERE month_mi = ?", [PMI]).fetchall()
        }
        assert len(offices) == 29 and "640900" in offices
        # the comparison is not vacuous: every measure is non-zero somewhere
        sums = pc.execute(
            "SELECT " + ", ".join(f"sum({c})" for c in F.COUNT_COLUMNS) + " FROM forecast WHERE month_mi = ?", [PMI]
        ).fetchall()[0]
        zero = [c for c, s in zip(F.COUNT_COLUMNS, sums) if not s and not c.endswith(("_employer", "_township"))]
        assert zero == [], zero
        assert (
            pc.execute(
                "SELECT count(DISTINCT office_code) FROM forecast WHERE month_mi = ? AND entering > 0", [PMI]
            ).fetchall()[0][0]
            == 29
        )


@pytest.mark.parametrize("label", [e[0] for e in edge_persons()])
def test_edge_person_enters_when_and_how_the_forecast_said(flow, label):
    _, wh, at_p, _ = flow
    _, p, _, k, by = next(e for e in edge_persons() if e[0] == label)
    settings = load_settings()
    with connect(at_p, read_only=True, settings=settings) as con:
        lines = F.entry_forecast_lines(con, p["id_no"], PMI, settings)
        s_mi = con.execute(
            "SELECT statutory_age_mi FROM screen_results WHERE month_mi = ? AND id_no = ?", [PMI, p["id_no"]]
        ).fetchall()
        in_ledger_at_p = con.execute("SELECT count(*) FROM ledger_entries WHERE id_no = ?", [p["id_no"]]).fetchall()[0][
            0
        ]
    if k == "S+1":
        k = s_mi[0][0] + 1 - PMI
        assert 1 <= k <= settings.forecast_horizon
    with connect(wh, read_only=True, settings=settings) as con:
        opened = con.execute(
            "SELECT opened_mi, opened_by FROM ledger_entries WHERE id_no = ? ORDER BY opened_mi", [p["id_no"]]
        ).fetchall()
    if "in the ledger at P" in label:
        assert in_ledger_at_p == 1 and opened[0][0] == PMI
        return
    assert in_ledger_at_p == 0
    if k is None:
        assert "not taken in" in lines[1]
        assert opened == []
    else:
        month = format_month(PMI + k)
        assert f"would enter in {month}" in lines[1], lines
        assert opened == [(PMI + k, by)], (label, opened)
        assert {"PUSH": "trigger 1", "APPLICATION": "trigger 2", "SCREENING": "trigger 3"}[by] in lines[1]


def test_explain_says_when_a_person_outside_the_ledger_would_enter(flow):
    from pipelines.explain import explain_person

    _, _, at_p, _ = flow
    a = next(e for e in edge_persons() if e[0] == "a at exactly O-12")[1]
    text = explain_person(a["id_no"], P, at_p)
    assert "would enter in 2027-04 by trigger 1 push, scope (a)" in text
    assert "将于 2027-04 纳入：条件1 部级推送，纳入范围（a）" in explain_person(a["id_no"], P, at_p, lang="zh")
    assert a["id_no"] not in text and a["name"] not in text
    b = next(e for e in edge_persons() if e[0].startswith("b contribution"))[1]
    assert "would enter" not in explain_person(b["id_no"], P, at_p)  # in the ledger already


def test_files_table_and_command_line(flow, capsys):
    from pipelines.cli import main

    tmp, _, at_p, out = flow
    rows = list(csv.reader((out / P / "forecast" / "forecast.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:6] == [
        "预测基准年月",
        "预测年月",
        "预测提前月数",
        "牵头经办机构代码",
        "牵头经办机构",
        "预计新纳入人数",
    ]
    horizon = load_settings().forecast_horizon
    assert len(rows) == 1 + 29 * horizon
    t = pq.read_table(out / P / "forecast" / "forecast.parquet")
    assert t.column_names == list(F.FILE_COLUMNS)
    ningdong = [r for r in t.to_pylist() if r["office_code"] == "640900"]
    assert [r["forecast_month"] for r in ningdong] == [format_month(PMI + k) for k in range(1, horizon + 1)]
    assert ningdong[0]["entering"] >= 1  # the edge person of Ningdong enters in P+1
    # read-only: the warehouse file is not changed
    before = at_p.read_bytes()
    assert main(["forecast", "--month", P, "--warehouse", str(at_p)]) == 0
    text = capsys.readouterr().out
    assert "as the run of 2026-11 made it" in text and "640900" in text
    assert len(text.splitlines()) == 2 + 29 * horizon
    assert main(["forecast", "--month", P, "--horizon", "3", "--warehouse", str(at_p)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2 + 29 * 3
    assert main(["forecast", "--month", P, "--horizon", str(horizon + 2), "--warehouse", str(at_p)]) == 0
    text = capsys.readouterr().out
    assert "computed now" in text and len(text.splitlines()) == 2 + 29 * (horizon + 2)
    assert at_p.read_bytes() == before
    assert main(["forecast", "--month", "2026-10", "--horizon", "20", "--warehouse", str(at_p)]) == 2
    assert "has not been run" in capsys.readouterr().err
    assert main(["forecast", "--month", P, "--horizon", "0", "--warehouse", str(at_p)]) == 2


def test_the_forecast_columns_are_the_dictionary_s(flow):
    from pipelines.tabular import dictionary

    assert set(F.FILE_COLUMNS) <= set(dictionary())


def test_a_rerun_of_p_stores_the_same_forecast(flow, tmp_path):
    _, _, at_p, _ = flow
    wh = tmp_path / "w.duckdb"
    shutil.copyfile(at_p, wh)
    q = "SELECT * EXCLUDE (horizon) FROM forecast WHERE month_mi = ? ORDER BY office_code, forecast_mi"
    with duckdb.connect(str(wh), read_only=True) as con:
        before = con.execute(q, [PMI]).fetchall()
    run_month(P, wh, tmp_path / "out", validate=False)
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute(q, [PMI]).fetchall() == before


def test_horizon_is_a_setting(tmp_path, monkeypatch):
    from pipelines.settings import load_settings as load

    f = tmp_path / "s.toml"
    f.write_text('forecast_horizon = 6\nperson_key_secret = "k"\n', encoding="utf-8")
    assert load(f).forecast_horizon == 6
    f.write_text("forecast_horizont = 6\n", encoding="utf-8")
    with pytest.raises(RetirePrepError, match="unknown keys"):
        load(f)
    for bad in (0, 61, True, "12"):
        with pytest.raises(RetirePrepError, match="horizon"):
            F.check_horizon(bad)


def test_the_report_charts_each_office_s_next_months(flow):
    import re

    _, _, at_p, out = flow
    html = (out / P / "report" / "index.html").read_text(encoding="utf-8")
    assert "工作量预测" in html
    section = html[html.index("工作量预测") :]
    assert "<script" not in section and "http://" not in section.replace('xmlns="http://www.w3.org/2000/svg"', "")
    bars = re.findall(r'data-series="([^"]+)" data-month="([0-9-]+)" data-value="([0-9]+)"', section)
    horizon = load_settings().forecast_horizon
    assert len(bars) == 29 * horizon * 2
    with duckdb.connect(str(at_p), read_only=True) as con:
        want = con.execute(
            "SELECT sum(entering), sum(reaching_statutory_age) FROM forecast WHERE month_mi = ?", [PMI]
        ).fetchall()[0]
    assert sum(int(v) for s, _, v in bars if s == "预计新纳入") == want[0]
    assert sum(int(v) for s, _, v in bars if s == "预计到达法定退休年龄") == want[1]
    assert not re.search(r"\b[0-9]{17}[0-9Xx]\b", html)  # counts only

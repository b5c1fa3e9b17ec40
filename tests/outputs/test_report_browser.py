"""The supervision report in a real browser (issue 17 item 2), and what it says (item 1).

Headless Chromium (Debian package ``chromium``) loads ``OUT/2026-12/report/index.html`` of the
sample's two-month run through the DevTools protocol (tests/cdp.py): no request leaves the
file, no script error, no sideways scroll at 1,280 px, the charts are there and each chart's
numbers (read from the SVG's ``data-value``) equal its table's.  Skipped — loudly — only when no
Chromium is installed.
"""

from __future__ import annotations

import re

import duckdb
import pytest

from support import sample_world
from support.cdp import chromium_path, load_page

CHARTS = {"overdue_rate", "ledger_by_stage", "notices_by_kind", "flags_by_kind", "trend"}

PAGE_CHECK = r"""(() => {
  const figs = [...document.querySelectorAll('figure[data-chart]')].map(f => ({
    id: f.dataset.chart,
    svgs: f.querySelectorAll('svg').length,
    marks: [...f.querySelectorAll('svg [data-value]')].map(e => [e.dataset.cat, e.dataset.ser, e.dataset.value]),
    cells: [...f.querySelectorAll('table [data-value]')].map(e => [e.dataset.cat, e.dataset.ser, e.dataset.value,
                                                                   e.textContent.trim()]),
  }));
  const widest = Math.max(...[...document.querySelectorAll('body *')].filter(e => !e.parentElement.closest('.tbl')).map(e => e.getBoundingClientRect().right));
  return {scrollWidth: document.documentElement.scrollWidth, widest: widest,
          figures: figs, scripts: document.scripts.length,
          keyFigures: [...document.querySelectorAll('.figure')].map(e => e.innerText),
          headers: [...document.querySelectorAll('th')].map(e => e.innerText),
          title: document.title};
})()"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    wh, out = sample_world.build(tmp)
    return {"wh": wh, "out": out, "report": out / "2026-12" / "report" / "index.html"}


def _page(world):
    if not chromium_path():
        pytest.skip(
            "SKIPPED LOUDLY: no chromium on PATH (Debian package `chromium`): the report's browser check did not run"
        )
    if "page" not in world:
        world["page"] = load_page(world["report"], PAGE_CHECK, width=1280)
    return world["page"]


def test_report_in_a_browser_requests_nothing_and_raises_nothing(world):
    page = _page(world)
    own = world["report"].resolve().as_uri()
    assert [u for u in page["requests"] if u != own] == [], "the report fetched something beyond its own file"
    assert page["exceptions"] == [] and page["console_errors"] == []
    assert page["value"]["scripts"] == 0


def test_report_fits_1280_px(world):
    v = _page(world)["value"]
    assert v["scrollWidth"] <= 1280, f"sideways scroll: the page is {v['scrollWidth']} px wide"
    assert v["widest"] <= 1280


def test_charts_are_there_and_their_numbers_are_the_tables(world):
    figs = {f["id"]: f for f in _page(world)["value"]["figures"]}
    assert set(figs) == CHARTS
    for cid, f in figs.items():
        assert f["svgs"] >= 1 and f["marks"], cid
        marks = sorted(map(tuple, f["marks"]))
        cells = sorted((c, s, v) for c, s, v, _ in f["cells"])
        assert marks == cells, cid
        assert all(v == shown for _, _, v, shown in f["cells"]), cid  # the cell shows the charted number


def test_chart_numbers_are_the_warehouse_history(world):
    """The trend and the office ranking are the analysts' office_month history (one source)."""
    figs = {f["id"]: f for f in _page(world)["value"]["figures"]}
    ana = duckdb.connect(str(world["wh"].with_name("warehouse.analysts.duckdb")), read_only=True)
    try:
        hist = dict(
            ((m, k), v)
            for m, k, v in ana.execute("""
            UNPIVOT (SELECT month, sum(ledger_entries) AS ledger_entries, sum(notices_sent) AS notices_sent,
                            sum(overdue_entries) AS overdue_entries FROM office_month GROUP BY month)
            ON ledger_entries, notices_sent, overdue_entries INTO NAME k VALUE v""").fetchall()
        )
        overdue = {
            o: round(100 * d / n, 1)
            for o, n, d in ana.execute(
                "SELECT office_code, ledger_entries, overdue_entries FROM office_month "
                "WHERE month = '2026-12' AND ledger_entries > 0"
            ).fetchall()
        }
    finally:
        ana.close()
    trend = {(c, s): int(v) for c, s, v in figs["trend"]["marks"]}
    assert trend == hist and {m for m, _ in trend} == {"2026-11", "2026-12"}
    assert {c: float(v) for c, _, v in figs["overdue_rate"]["marks"]} == overdue


def test_report_is_chinese_with_key_figures_and_office_names(world):
    v = _page(world)["value"]
    text = world["report"].read_text(encoding="utf-8")
    labels = [k.split("\n")[0] for k in v["keyFigures"]]
    for want in (
        "台账人数",
        "本月新纳入",
        "其中：短信",
        "超期件数",
        "超期率",
        "未结异议",
        "其中：已超期",
        "其中：本月到期",
        "拒收批次",
        "暂存待补批次",
    ):
        assert want in labels
    # 2026-11 was run: every figure has its change, but new entries (everyone was new in the first run)
    assert all("较上月" in k for k in v["keyFigures"] if not k.startswith("本月新纳入"))
    # no English column names: every header is Chinese
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in v["headers"]), [
        h for h in v["headers"] if not re.search(r"[\u4e00-\u9fff]", h)
    ]
    assert '银川市兴庆区社保中心 <span class="code">640104</span>' in text  # offices by name, code small
    assert '关键信息缺失 <span class="code">KEY_INFO_MISSING</span>' in text  # codes by their label
    assert "已纳入台账" in text and "短信" in text and "预服务告知" in text
    assert "@media print" in text and "A4" in text
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text.replace("http://www.w3.org/2000/svg", ""))


def test_quarantine_and_refused_batches_by_their_chinese_labels(world):
    """Leaders read the push's rejected rows and batches in Chinese, the code beside each label."""
    text = world["report"].read_text(encoding="utf-8")
    section = text.split("隔离行：按原因")[1]
    codes = set(re.findall(r'<span class="code">([A-Z_]{4,})</span>', section))
    assert codes and "BAD_ID_NO" in codes
    for code in codes:
        assert re.search(rf'[\u4e00-\u9fff）]+ <span class="code">{code}</span>', section), code
    assert '人员信息 <span class="code">persons</span>' in section
    # text cells and their headers read from the left, numbers (and formatted ones: 96.5) from the right
    assert '<td class="t">人员信息 <span class="code">persons</span></td>' in section
    assert '<th class="t">文件</th>' in section and re.search(r"<td>[0-9]+</td>", section)
    assert re.search(r'<td><span data-cat="[^"]+" data-ser="[^"]+" data-value="[0-9.]+">[0-9.]+</span></td>', text)


def test_refused_batches_give_their_code_apart_from_a_chinese_note():
    """The refusal's record (batch_refusals: code, file, row, reason), not the `batches` view's one
    English line: the code apart, the 说明 in Chinese from the numbers the reason carries; a reason not
    known gives no 说明 (the report shows "—"), whatever it quotes."""
    from pipelines.report import STEPS
    from pipelines.steps import run_step

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE batch_refusals AS SELECT * FROM (VALUES "
        "(TIMESTAMPTZ '2026-12-02 10:00+08', 'B1', 3, '/in/b1', NULL, NULL, 'STALE', "
        "'STALE: seq 3 is not above the last applied seq 4'), "
        "(TIMESTAMPTZ '2026-12-02 11:00+08', 'B2', 5, '/in/b2', 'segments.csv', 7, 'BATCH', "
        "'the CSV record cannot be parsed, so the file cannot be read'), "
        "(TIMESTAMPTZ '2026-12-02 12:00+08', 'B3', 6, '/in/b3', 'x 640104196603150011.csv', NULL, 'BATCH', "
        "'something new: 640104196603150011')) "
        "t(refused_at, batch_id, seq, source_dir, file, row_no, reason_code, reason)"
    )
    rows = run_step(con, STEPS["60_refused_batches"], bind=[None, None, None, None])
    assert rows == [
        ("B1", 3, "STALE", "序号 3 不大于已入库的最新序号 4", None),
        ("B2", 5, "BATCH", "缴费段文件 segments.csv 第7行无法按 CSV 解析，文件无法读取", None),
        ("B3", 6, "BATCH", None, None),
    ]


def test_replay_of_the_first_month_shows_the_trend_as_it_stood(world, tmp_path):
    """A replay of 2026-11 after 2026-12 ran: the trend ends at 2026-11, the bytes are those published."""
    from pipelines.monthly import run_month

    published = (world["out"] / "2026-11" / "report" / "index.html").read_bytes()
    run_month("2026-11", world["wh"], tmp_path, replay=True, validate=False)
    replayed = (tmp_path / "2026-11" / "report" / "index.html").read_bytes()
    assert replayed == published
    assert b'data-cat="2026-12"' not in replayed and b'data-cat="2026-11" data-ser="ledger_entries"' in replayed


def _replay_report(world, tmp_path, month: str = "2026-12") -> str:
    from pipelines.monthly import run_month

    out = tmp_path / "out"
    run_month(month, world["wh"], out, replay=True, validate=False)
    return (out / month / "report" / "index.html").read_text(encoding="utf-8")


@pytest.fixture
def calendar_file(tmp_path, monkeypatch):
    """The working-day calendar's override file, replaced by a test file for one test."""
    from pipelines import workdays

    path = tmp_path / "overrides.csv"
    monkeypatch.setattr(workdays, "OVERRIDES_FILE", path)

    def write(rows: list[str]) -> None:
        path.write_text("date,kind,scope,name\n" + "".join(r + "\n" for r in rows), encoding="utf-8")

    return write


def test_the_report_and_the_run_warn_while_the_calendar_lacks_the_year_deadlines_reach(
    world, tmp_path, calendar_file, caplog
):
    """Results received from 11 December 2026 have their deadline in 2027, which chinese_calendar 1.11
    does not know: the leaders' report and the run's log say so in the month before (rules.md §7)."""
    calendar_file([])
    html = _replay_report(world, tmp_path / "a")
    block = html.split('data-warning="calendar"')[1].split("</div>")[0]
    assert "2027年工作日历尚未录入" in block and "2026-12-11起" in block and "按期内受理" in block
    assert "宁夏2026年开斋节、古尔邦节放假日期尚未录入" in block
    assert any("working-day calendar of 2027 is not entered" in r.getMessage() for r in caplog.records)
    # Ningxia's days of 2026 entered, 2027 not: the national year alone
    calendar_file(["2026,complete,ningxia,test calendar"])
    block = _replay_report(world, tmp_path / "b").split('data-warning="calendar"')[1].split("</div>")[0]
    assert "2027年工作日历尚未录入" in block and "宁夏" not in block


def test_the_report_is_quiet_once_the_calendar_knows_the_years(world, tmp_path, calendar_file, caplog):
    from support.calendar import ROWS_2027

    calendar_file([*ROWS_2027, "2026,complete,ningxia,test", "2027,complete,ningxia,test"])
    html = _replay_report(world, tmp_path)
    assert 'data-warning="calendar"' not in html and "工作日历" not in html
    assert not any("working-day calendar" in r.getMessage() for r in caplog.records)


def test_a_calendar_file_that_cannot_be_read_is_said_and_the_month_goes_on(world, tmp_path, calendar_file, caplog):
    """A half-typed calendar row stops feedback (nothing guessed), not the month: its run warns and
    its report says the deadlines are not recomputed until the file is corrected."""
    calendar_file(["2027-13-01,holiday,national,typo"])
    block = _replay_report(world, tmp_path).split('data-warning="calendar"')[1].split("</div>")[0]
    assert "工作日历文件有误" in block and "2027年工作日历尚未录入" not in block
    assert any("calendar file cannot be read" in r.getMessage() for r in caplog.records)


def test_a_held_batch_is_listed_with_the_seqs_it_waits_for(world, tmp_path):
    """A batch held at P's run (an INCR whose seq follows a missing one, push-format.md) was counted in
    the key figures (暂存待补批次 1) but listed in no table: now its own table says which and the seqs it
    waits for (what became of it since is the next month's, so that a replay re-emits the same page)."""
    import shutil

    from pipelines.ingest import ingest_batches
    from pipelines.monthly import run_month
    from support.pushkit import person, segment, write_batch

    wh = tmp_path / "w.duckdb"
    shutil.copy(world["wh"], wh)
    p = dict(person(9001), op="U")
    held = write_batch(
        tmp_path / "b4", [p], [segment(p["id_no"])], seq=4, push_type="INCR", base_seq=3, month="2027-01"
    )
    rep = ingest_batches([held], wh, validate=False)
    assert not rep.refused, rep.lines()
    run_month("2027-01", wh, tmp_path / "out", validate=False, ahead_of_push=True)
    html = (tmp_path / "out" / "2027-01" / "report" / "index.html").read_text(encoding="utf-8")
    section = html.split("暂存待补批次（本月运行时）")[1].split("</table>")[0]
    assert "<td>4</td>" in section and "NX-2027-01-0004" in section, section
    assert "<td>3</td>" in section and "2027-01" in section  # waiting for seq 3

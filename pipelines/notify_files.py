"""The notices stage's files: ``notifications/<office>/`` (SMS and offline lists) and the
coordination letters ``letters/<office>/`` of P.  Split out of :mod:`pipelines.notify`, which
re-exports these names (its module docstring holds the stage's decisions); import them from there:
imported first, this module would meet notify half-initialised.
"""

from __future__ import annotations

import csv
import os
import re
from functools import lru_cache
from pathlib import Path

import jinja2

from . import DATA_DIR, months
from .labels import label
from .errors import RetirePrepError
from .notify import (
    _LETTER_BASIS,
    _UNDEFINED_NAME,
    KINDS,
    STEPS,
    NoticeRenderError,
    _check_code,
    _dicts,
    _letter_env,
    _persons_source,
    date_zh,
    offices,
    recipient_name,
)
from .steps import query, run_step
from .tabular import write_partitioned


def notice_offices(con, month_mi: int) -> list[str]:
    """The offices whose files carry notices of P (TEMP view ``_notices_p`` made on ``con``):
    a notice goes to its ``file_office`` as P's run settled it, else to the issuing office."""
    run_step(con, STEPS["45_file_office"], month_mi=int(month_mi))
    return [r[0] for r in con.execute("SELECT DISTINCT file_office FROM _notices_p ORDER BY 1").fetchall()]


def write_notification_files(
    con,
    month_mi: int,
    out_month_dir: Path,
    office: str | None = None,
    offices: list[str] | None = None,
    settings=None,
) -> dict:
    """``notifications/<office>/sms.parquet|.csv``, ``offline.csv`` and ``offline.xlsx`` for every
    office with notices issued in P (or only ``office`` when given).  Each office gets only its own notices
    (its persons of P: see :func:`notice_offices`); an office with notices gets all its files, some of them
    possibly empty; an office without notices gets none.  ``offline.xlsx`` (the officer's, seventeenth
    session: :func:`write_offline_books`) unless ``settings.worklist_workbooks`` is off (the offices'
    workbooks' switch).

    Returns counts (additive over offices): ``notification offices``, ``sms notices``,
    ``sms segments``, ``offline notices``.
    """
    out_month_dir = Path(out_month_dir)
    month_mi = int(month_mi)
    offices_p = notice_offices(con, month_mi)
    if office is not None:
        offices_p = [o for o in offices_p if o == office]
    if offices is not None:
        offices_p = [o for o in offices_p if o in set(offices)]
    for code in offices_p:
        _check_code(code)
    if not offices_p:
        return {"notification offices": 0, "sms notices": 0, "sms segments": 0, "offline notices": 0}
    persons = _persons_source(con)
    folder = out_month_dir / "notifications"
    # one query per file kind for all the offices at once, split by office in Arrow
    sms = write_partitioned(
        con,
        query(STEPS["50_sms_file"], offices=offices_p, kinds=KINDS),
        "_office",
        lambda code: folder / code / "sms",
        offices_p,
    )
    offline = write_partitioned(
        con,
        query(STEPS["51_offline_file"], offices=offices_p, kinds=KINDS, persons=persons),
        "_office",
        lambda code: folder / code / "offline",
        offices_p,
        csv_only=True,
    )
    if settings is None or settings.worklist_workbooks:
        books = write_offline_books(
            con, month_mi, {o: folder / o / "offline.xlsx" for o in offices_p}, persons, settings
        )
        assert books == offline, "the workbook and the CSV of an office hold the same offline notices"
    segments = con.execute(
        "SELECT coalesce(sum(segments), 0) FROM _notices_p WHERE channel = 'SMS' AND list_contains(?, file_office)",
        [offices_p],
    ).fetchall()[0][0]
    return {
        "notification offices": len(offices_p),
        "sms notices": sum(sms.values()),
        "sms segments": int(segments),
        "offline notices": sum(offline.values()),
    }


#: the offline notices' workbook (pipelines.xlsx_list): the CSV's columns (51_offline_file.sql)
OFFLINE_COLUMNS = (
    "notice_id",
    "notice_kind",
    "id_no",
    "name",
    "channel",
    "employer_name",
    "employer_uscc",
    "township_hint",
    "offline_reason",
    "text",
    "reference_month",
)


def _offline_note(month: str):
    """The 说明 sheet of an office's offline.xlsx: what to do with each channel (rules.md §5)."""
    when = months.format_month_zh(month)

    def note(office: str, counts: dict) -> list[tuple[str, str]]:
        n = sum(counts.values())
        tally = "；".join(f"{label('channel', c)} {counts.get(c, 0)} 条" for c in ("EMPLOYER", "TOWNSHIP"))
        return [
            (f"{when}线下告知清单（经办机构 {office}）", ""),
            (
                "本表",
                f"{when}的告知中，本人没有有效手机号码、短信无法送达的，改由参保单位或乡镇（街道）转告（rules.md §5）。"
                "每行一条告知，按告知渠道、通知类型、公民身份号码排列；“短信内容”即应转告的全文。",
            ),
            ("本月条数", f"{tally}；共 {n} 条。" if n else "本月没有需要线下转告的告知：清单只有表头。"),
            (
                label("channel", "EMPLOYER"),
                "请将“短信内容”交参保单位（见“参保单位名称”“统一社会信用代码”），由单位转告本人。",
            ),
            (
                label("channel", "TOWNSHIP"),
                "请将“短信内容”交本人户籍所在的乡镇（街道）转告本人：“乡镇（街道）”列为户籍地行政区划代码"
                "（户籍地缺失时为本经办机构代码）。",
            ),
            ("线下告知原因", "推送数据中没有手机号码，或所填号码不是有效的手机号码。"),
            ("注意", "公民身份号码、统一社会信用代码等列为文本格式，请勿改为数字格式，否则18位号码会丢失末几位。"),
        ]

    return note


def write_offline_books(con, month_mi: int, paths: dict, persons: str, settings=None) -> dict[str, int]:
    """``offline.xlsx`` of each office of ``paths`` (office → path): the rows of its ``offline.csv``
    for the county officer (pipelines.xlsx_list; needs ``_notices_p``, :func:`notice_offices`);
    returns the rows written per office."""

    from .xlsx_list import ListBook, write_list_workbooks

    month = months.format_month(month_mi)
    book = ListBook(
        sheet="线下告知",
        title="线下告知清单",
        columns=OFFLINE_COLUMNS,
        kinds=tuple("long" if c in ("text", "notice_id") else "text" for c in OFFLINE_COLUMNS),
        keep=(2, 3),  # the ID number and the name
        note=_offline_note(month),
        count_by="_channel",
        widths={"text": 50, "notice_id": 22, "employer_name": 24},
    )
    rows = query(STEPS["52_offline_book"], offices=sorted(paths), kinds=KINDS, persons=persons)
    return write_list_workbooks(con, rows, paths, book, month=month, settings=settings)


def officer_names() -> dict[str, str]:
    """data/officers.csv: officer_id → officer_name (the roster, active or not: a letter names the
    officer recorded with it).  Read again when the file changes (a long-lived Airflow worker would
    otherwise sign letters with a roster edited since it started)."""
    st = (DATA_DIR / "officers.csv").stat()
    return _officer_names(st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=1)
def _officer_names(mtime_ns: int, size: int) -> dict[str, str]:
    with open(DATA_DIR / "officers.csv", encoding="utf-8-sig", newline="") as fh:
        return {
            r["officer_id"].strip(): (r.get("officer_name") or "").strip()
            for r in csv.DictReader(fh)
            if (r.get("officer_id") or "").strip()
        }


def officer_on_letter(officer_id: str | None) -> str | None:
    """附件1's 经办人, as the receiving office reads it: the officer's name from the roster; an id the
    roster does not name is shown as recorded; none: a blank line to fill in by hand."""
    if not officer_id:
        return None
    return officer_names().get(officer_id) or officer_id


def write_letters(con, month_mi: int, out_month_dir: Path) -> list[Path]:
    """Coordination letters (附件1) of P: ``letters/<office>/<letter id>.html`` (see
    ``sql/notify/60_letters.sql`` for the cases).  The sending office is the benefit-place
    (responsible) office; the addressee the pre-review office or province.  Returns the paths.
    """
    out_month_dir = Path(out_month_dir)
    month_mi = int(month_mi)
    from .ledger import STAGES

    reviewed = STAGES[STAGES.index("ARCHIVE_REVIEWED") :]  # rules.md §7: the archive pre-review and after
    rows = _dicts(
        con,
        query(STEPS["60_letters"], month_mi=month_mi, persons=_persons_source(con), reviewed_stages=reviewed),
    )
    template = _letter_env.get_template("coordination.html.j2")
    first_day = months.first_day(month_mi)
    paths: list[Path] = []
    for row in rows:
        sender = _check_code(row["sender"])
        recipient = row["recipient"]
        office = offices().get(sender, {})
        ctx = {
            "letter_id": row["letter_id"],
            "recipient_code": recipient,
            "recipient_name": recipient_name(recipient),
            "sender_code": sender,
            "sender_name": office.get("office_name") or f"{sender}社会保险经办机构",
            "sender_phone": office.get("phone") or None,
            "sender_address": office.get("address") or None,
            "person_name": row["name"],
            "id_no": row["id_no"],
            "officer_name": officer_on_letter(row["officer_id"]),
            "procedure_text": (
                "城乡居民基本养老保险待遇领取手续" if row["insurance_type"] == 170 else "企业职工基本养老保险退休手续"
            ),
            # what the ledger records of the addressee (sql/notify/60_letters.sql; rules.md §7)
            "title": "临退人员预服务情况协调函" if row["insurance_type"] == 170 else "临退人员档案预审结果协调函",
            "residents": row["insurance_type"] == 170,
            "review": row["review"],
            "left_stage": label("stage", row["left_stage"]) if row["left_stage"] else None,
            "place_in": "BENEFIT_PLACE_IN" in row["basis"].split(";"),
            "letter_date": date_zh(first_day),
            "basis_text": "；".join(_LETTER_BASIS.get(b, b) for b in row["basis"].split(";")),
        }
        try:
            html = template.render(**ctx)
        except jinja2.UndefinedError as exc:
            m = _UNDEFINED_NAME.search(str(exc))
            raise NoticeRenderError(
                f"cannot render the coordination letter of person {row['person_key']}: "
                f"template variable '{m.group(1) if m else '?'}' has no value"
            ) from None
        path = out_month_dir / "letters" / sender / f"{_check_code_id(row['letter_id'])}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(html.encode("utf-8"))
        os.replace(tmp, path)
        paths.append(path)
    return paths


def _check_code_id(letter_id: str) -> str:
    if not re.fullmatch(r"[0-9A-Za-z-]{1,80}", letter_id or ""):
        raise RetirePrepError(f"letter id {letter_id!r} is not usable as a file name")
    return letter_id

"""The notices' files of month P (outputs.md; issue 15: split from ``pipelines/notify.py``):
``notifications/<office>/sms.*`` and ``offline.csv`` of every office with notices in P, each
office its own notices only, and the coordination letters (附件1) ``letters/<office>/*.html``.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import jinja2

from . import TEMPLATES_DIR
from .errors import RetirePrepError
from .notify import _dicts, _persons_source, _run, _sql
from .notify_texts import KINDS, _UNDEFINED_NAME, NoticeRenderError, date_zh, offices, recipient_name
from .tabular import sql_codes, write_partitioned
from .warehouse import render_sql

_LETTER_BASIS = {
    "OFFICE_CHANGE": "牵头经办机构变更",
    "BENEFIT_PLACE_IN": "待遇领取地变更为我区",
    "PRE_REVIEW_OFFICE": "待遇领取地与档案预审地不一致",
}

_SAFE_CODE = re.compile(r"^[0-9A-Za-z]{1,20}$")

_letter_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "letters")),
    undefined=jinja2.StrictUndefined,
    autoescape=True,
    keep_trailing_newline=True,
)


def _check_code(code: str) -> str:
    if not isinstance(code, str) or not _SAFE_CODE.match(code):
        raise RetirePrepError(f"office code {code!r} is not usable as a folder name")
    return code


def _kinds_sql() -> str:
    return "[" + ", ".join(f"'{k}'" for k in KINDS) + "]"


def notice_offices(con, month_mi: int) -> list[str]:
    """The offices whose files carry notices of P (TEMP view ``_notices_p`` made on ``con``):
    a notice goes to its ``file_office`` as P's run settled it, else to the issuing office."""
    _run(con, render_sql("notify/45_file_office.sql", month_mi=int(month_mi)))
    return [r[0] for r in con.execute("SELECT DISTINCT file_office FROM _notices_p ORDER BY 1").fetchall()]


def write_notification_files(
    con, month_mi: int, out_month_dir: Path, office: str | None = None, offices: list[str] | None = None
) -> dict:
    """``notifications/<office>/sms.parquet|.csv`` and ``offline.csv`` for every office with
    notices issued in P (or only ``office`` when given).  Each office gets only its own notices
    (its persons of P: see :func:`notice_offices`); an office with notices gets all three files, one of them
    possibly empty; an office without notices gets none.

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
    only = sql_codes(offices_p)
    persons = _persons_source(con)
    kinds = _kinds_sql()
    folder = out_month_dir / "notifications"
    # one query per file kind for all the offices at once, split by office in Arrow
    sms = write_partitioned(
        con,
        _sql("50_sms_file.sql", month_mi=month_mi, offices=only, kinds=kinds),
        "_office",
        lambda code: folder / code / "sms",
        offices_p,
    )
    offline = write_partitioned(
        con,
        _sql("51_offline_file.sql", month_mi=month_mi, offices=only, kinds=kinds, persons=persons),
        "_office",
        lambda code: folder / code / "offline",
        offices_p,
        csv_only=True,
    )
    segments = con.execute(
        f"SELECT coalesce(sum(segments), 0) FROM _notices_p WHERE channel = 'SMS' AND file_office IN ({only})"
    ).fetchall()[0][0]
    return {
        "notification offices": len(offices_p),
        "sms notices": sum(sms.values()),
        "sms segments": int(segments),
        "offline notices": sum(offline.values()),
    }


def write_letters(con, month_mi: int, out_month_dir: Path) -> list[Path]:
    """Coordination letters (附件1) of P: ``letters/<office>/<letter id>.html`` (see
    ``sql/notify/60_letters.sql`` for the cases).  The sending office is the benefit-place
    (responsible) office; the addressee the pre-review office or province.  Returns the paths.
    """
    out_month_dir = Path(out_month_dir)
    month_mi = int(month_mi)
    rows = _dicts(con, _sql("60_letters.sql", month_mi=month_mi, persons=_persons_source(con)))
    template = _letter_env.get_template("coordination.html.j2")
    first_day = date(month_mi // 12, month_mi % 12 + 1, 1)
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
            "officer_id": row["officer_id"],
            "procedure_text": (
                "城乡居民基本养老保险待遇领取手续" if row["insurance_type"] == 170 else "企业职工基本养老保险退休手续"
            ),
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

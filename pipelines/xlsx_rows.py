"""The SQL that makes the XML of the workbooks' data rows (issue 16 item 7), split from
:mod:`pipelines.xlsx` (which writes the files): how each worklist column is shown (labels, the Chinese
evidence, numbers) and the ``<row>`` element XlsxWriter's ``constant_memory`` mode writes for it, on a
fast path or a careful one (escapes, formula prefixes, long texts). tests/outputs/test_xlsx_setbased.py holds
it to the cell-by-cell writer."""

from __future__ import annotations

from . import labels
from .steps import sql_str

# worklist column → label domain (shown as its Chinese label)
_LABELLED = {
    "gender": "gender",
    "insurance_type": "insurance_type",
    "person_type": "person_type",
    "stage": "stage",
    "channel": "channel",
    "scope_rule": "scope_rule",
    "objection_status": "objection_status",
    "overdue": "overdue",
}
# worklist columns that are counts (numbers in the workbook); every other column is text
_NUMBERS = {
    "months_to_original",
    "months_to_statutory",
    "min_contribution_months",
    "counted_contribution_months",
    "projected_contribution_months",
    "delay_months",
}
# long free text, wrapped in its cell
_LONG = {"flag_evidence", "objection_missing_notice"}
#: the flag evidence of the office in Chinese, while its workbook is written (a temporary table)
_EVIDENCE = "_xlsx_evidence_zh"
_FORMULA_FIRST = ("=", "+", "-", "@", "\t", "\r")
#: a cell holds at most 32,767 characters (Excel; XlsxWriter cuts a longer text there)
_STR_MAX = 32_767


def _case(domain: str, expr: str) -> str:
    return labels.sql_label(domain, expr)


def _shown(col: str) -> str:
    """The SQL of a worklist column as the workbook shows it."""
    if col in ("flags", "entered_by"):  # code lists joined by ';'
        domain = "flag" if col == "flags" else "entered_by"
        return f"array_to_string(list_transform(string_split({col}, ';'), lambda x: {_case(domain, 'x')}), '；')"
    if col == "flag_evidence":  # (translated once per distinct text into the temporary table)
        return "ev.zh"
    if col in _LABELLED:
        return _case(_LABELLED[col], col)
    if col == "statutory_age":  # 63y0m → 63岁0个月
        return r"regexp_replace(statutory_age, '^([0-9]+)y([0-9]+)m$', '\1岁\2个月')"
    if col in _NUMBERS:
        return col
    return f"CAST({col} AS VARCHAR)"


def _width(text_len: int | None) -> float:
    return float(min(50, max(6, (text_len or 0) + 2)))


_XML_WS = "\t\n \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: between the values of a row's probe (a private-use character: no class of _CAREFUL holds it)
_SEP = "\ue000"
#: a row takes the careful path when one of its values (the probe: its text values joined by _SEP)
#: needs more than the fast path's copy: ``& < >`` (XML-escaped), a control character or a literal
#: ``_xHHHH_`` (escaped as Excel does), a first character that would start a formula (quote
#: prefix), a space at either end (``xml:space="preserve"``) — or a text too long for a cell
_CAREFUL = (
    f"[&<>\\x00-\\x08\\x0b-\\x1f\ufffe\uffff]|_x[0-9a-fA-F]{{4}}_|(^|{_SEP})[=+@\\-\\r{_XML_WS}]|[{_XML_WS}]({_SEP}|$)"
)


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = chr(65 + rem) + s
    return s


def _careful(x: str) -> str:
    """The SQL turning a row's XML ``x`` (built on the fast path) into what XlsxWriter writes for a
    value with a control character, a literal ``_xHHHH_`` or a space at either end: a literal
    ``_xHHHH_`` becomes ``_x005F_xHHHH_``, a control character ``_xHHHH_`` (Excel's escape), and
    a value with a space at either end (once escaped so) gets ``<t xml:space="preserve">``.  Done on
    the whole row: tags hold none of these, values hold no ``<`` (escaped as ``&lt;``)."""
    x = f"regexp_replace({x}, '(_x[0-9a-fA-F]{{4}}_)', '_x005F\\1', 'g')"
    for code in [*range(0x00, 0x09), *range(0x0B, 0x20), 0xFFFE, 0xFFFF]:
        x = f"replace({x}, chr({code}), '_x{code:04X}_')"
    keep = '<t xml:space="preserve">'
    x = f"regexp_replace({x}, '<t>([{_XML_WS}])', '{keep}\\1', 'g')"
    return f"regexp_replace({x}, '<t>([^<]*[{_XML_WS}])</t>', '{keep}\\1</t>', 'g')"


def _rows_xml(prefix: str, kinds: list[str], xf: dict, *, careful: bool, heights: bool) -> str:
    """The SQL of one ``<row>`` element of a sheet from columns ``c0 …`` (as shown), ``rs`` (its
    row number, text), ``od`` (overdue) and ``lines`` (of its wrapped text): the XML XlsxWriter's
    ``constant_memory`` mode writes for a row of ``write_string`` / ``write_number`` /
    ``write_blank`` cells, set-based (issue 16 item 7).  ``xf``: (kind, overdue) → style index."""
    # one concat() per cell and one per row: a chain of || copies the growing row at each step
    parts = []
    for c, kind in enumerate(kinds):
        v, col = f"{prefix}{c}", _col_letter(c)
        blank = f"""CASE WHEN od THEN concat('<c r="{col}', rs, '" s="{xf[("text", True)]}"/>') ELSE '' END"""
        if kind == "number":
            style = f"CASE WHEN od THEN '{xf[('number', True)]}' ELSE '{xf[('number', False)]}' END"
            cell = f"""concat('<c r="{col}', rs, '" s="', {style}, '"><v>', CAST({v} AS VARCHAR), '</v></c>')"""
            parts.append(f"CASE WHEN {v} IS NULL THEN {blank} ELSE {cell} END")
            continue
        style = f"CASE WHEN od THEN '{xf[(kind, True)]}' ELSE '{xf[(kind, False)]}' END"
        text = v
        if careful:  # (the fast path's values need none of this: see _CAREFUL)
            style = (
                f"CASE WHEN left({v}, 1) IN ({', '.join(sql_str(ch) for ch in _FORMULA_FIRST)}) "
                f"THEN (CASE WHEN od THEN '{xf[('quoted', True)]}' ELSE '{xf[('quoted', False)]}' END) "
                f"ELSE {style} END"
            )
            text = f"left({v}, {_STR_MAX})"  # XlsxWriter cuts a longer text there
            text = f"replace(replace(replace({text}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
        cell = f"""concat('<c r="{col}', rs, '" s="', {style}, '" t="inlineStr"><is><t>', {text}, '</t></is></c>')"""
        parts.append(f"CASE WHEN {v} <> '' THEN {cell} ELSE {blank} END")
    if heights:
        # set_row(r, 13.5 × lines): XlsxWriter stores whole pixels and writes them back in points
        ht = " ".join(
            f"""WHEN {n} THEN ' ht="{int(13.5 * n * 4.0 / 3.0 + 0.5) * 0.75:.16g}" customHeight="1"'"""
            for n in range(2, 31)
        )
        row = ["'<row r=\"'", "rs", "'\"'", f"CASE least(lines, 30) {ht} ELSE '' END", "'>'"]
    else:
        row = ["'<row r=\"'", "rs", "'\">'"]
    return f"concat({', '.join([*row, *parts, repr('</row>')])})"


def _rows_select(prefix: str, kinds: list[str], xf: dict, *, heights: bool) -> str:
    """A row's ``<row>`` element from its values ``{prefix}0 …``, ``rs``, ``od`` and ``lines``: on
    the fast path, or on the careful one when one of its values needs it (_CAREFUL)."""
    fast = _rows_xml(prefix, kinds, xf, careful=False, heights=heights)
    careful = _careful(_rows_xml(prefix, kinds, xf, careful=True, heights=heights))
    probe = f"concat_ws('{_SEP}', {', '.join(f'{prefix}{i}' for i, k in enumerate(kinds) if k != 'number')})"
    return f"""(CASE WHEN strlen({probe}) > {_STR_MAX} OR regexp_matches({probe}, {sql_str(_CAREFUL)})
                     THEN {careful} ELSE {fast} END)"""

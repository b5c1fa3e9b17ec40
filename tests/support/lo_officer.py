"""An officer at work in LibreOffice Calc, driven through UNO (tests/outputs/test_officer_round_trip.py).

Run by the *system* interpreter, which has LibreOffice's Python bridge (Debian package python3-uno),
never by the project's virtualenv, and never imported by a test::

    /usr/bin/python3 tests/support/lo_officer.py PIPE_NAME PLAN.json   # prints the result as JSON

``PIPE_NAME``: the pipe of a running ``soffice --headless --accept=pipe,name=PIPE_NAME;urp;`` (the test
module starts it once). ``PLAN.json``: ``{"jobs": [{"open": path, "do": [[action, ...], ...]}],
"quit": bool}``; each job opens a workbook, does its actions in order, and closes it unsaved. Actions:

* ``["type", sheet, cell, text]`` — typing: the text entered as the view enters what is typed into a
  cell (``.uno:EnterString``: the cell's number format, autodetection and input rules apply);
* ``["formula", sheet, cell, text]`` — ``XCell.setFormula`` (what a macro or an add-in writes: Calc's
  number detection, but not the cell's text format);
* ``["copy", sheet, range]``, ``["paste", sheet, cell]``, ``["paste_values", sheet, cell]`` (Paste
  Special › values only, which keeps the target's format);
* ``["sort", sheet, range, column, ascending]`` (the range's first row is its header);
* ``["filter", sheet, range, column, text]`` (standard filter: rows whose column is not ``text`` hidden);
* ``["width", sheet, column, hundredths_of_mm]``, ``["add_sheet", name, cell, text]``,
  ``["copy_sheet", sheet, new_name]``;
* ``["save", path, filter, options]`` (``Calc MS Excel 2007 XML``, ``calc8`` for .ods, ``MS Excel 97`` for
  .xls, ``Text - txt - csv (StarCalc)`` for CSV: options ``44,34,76,1,,0,false,true,false,false,false,N``
  saves sheet N, UTF-8, as ``<path stem>-<sheet name>.csv``);
* ``["cells", sheet, range]`` — the result gets the range's cells as ``[type, shown text]`` rows
  (type ``EMPTY``/``VALUE``/``TEXT``/``FORMULA``): what the officer sees.
"""

from __future__ import annotations

import json
import sys
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.table import TableSortField


def _prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def _connect(pipe: str, wait: float = 90.0):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    t0 = time.monotonic()
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except Exception:  # soffice still starting
            if time.monotonic() - t0 > wait:
                raise
            time.sleep(0.2)


class Officer:
    def __init__(self, ctx):
        smgr = ctx.ServiceManager
        self.desktop = smgr.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        self.dispatch = smgr.createInstanceWithContext("com.sun.star.frame.DispatchHelper", ctx)
        self.doc = None

    def _uno(self, command: str, *props) -> None:
        frame = self.doc.CurrentController.Frame
        self.dispatch.executeDispatch(frame, command, "", 0, tuple(_prop(k, v) for k, v in props))

    def _select(self, sheet: str, where: str):
        ctl = self.doc.CurrentController
        sh = self.doc.Sheets.getByName(sheet)
        ctl.setActiveSheet(sh)
        ctl.select(sh.getCellRangeByName(where))
        return sh

    def type(self, sheet, cell, text):
        self._select(sheet, cell)
        self._uno(".uno:EnterString", ("StringName", text))

    def formula(self, sheet, cell, text):
        self.doc.Sheets.getByName(sheet).getCellRangeByName(cell).setFormula(text)

    def copy(self, sheet, where):
        self._select(sheet, where)
        self._uno(".uno:Copy")

    def paste(self, sheet, cell):
        self._select(sheet, cell)
        self._uno(".uno:Paste")

    def paste_values(self, sheet, cell):
        self._select(sheet, cell)  # the dialog's "Values Only": text, numbers, dates; no formats
        self._uno(
            ".uno:InsertContents",
            ("Flags", "SVD"),
            ("FormulaCommand", 0),
            ("SkipEmptyCells", False),
            ("Transpose", False),
            ("AsLink", False),
            ("MoveMode", 4),
        )

    def sort(self, sheet, where, column, ascending):
        rng = self.doc.Sheets.getByName(sheet).getCellRangeByName(where)
        field = TableSortField()
        field.Field, field.IsAscending = column, ascending
        desc = rng.createSortDescriptor()
        for p in desc:
            if p.Name == "SortFields":
                p.Value = uno.Any("[]com.sun.star.table.TableSortField", (field,))
            elif p.Name == "ContainsHeader":
                p.Value = True
        rng.sort(desc)

    def filter(self, sheet, where, column, text):
        from com.sun.star.sheet import TableFilterField
        from com.sun.star.sheet.FilterOperator import EQUAL

        rng = self.doc.Sheets.getByName(sheet).getCellRangeByName(where)
        desc = rng.createFilterDescriptor(True)
        field = TableFilterField()
        field.Field, field.Operator, field.IsNumeric, field.StringValue = column, EQUAL, False, text
        desc.FilterFields = (field,)
        desc.ContainsHeader = True
        rng.filter(desc)

    def width(self, sheet, column, width):
        self.doc.Sheets.getByName(sheet).Columns.getByIndex(column).Width = width

    def add_sheet(self, name, cell, text):
        self.doc.Sheets.insertNewByName(name, self.doc.Sheets.Count)
        self.doc.Sheets.getByName(name).getCellRangeByName(cell).setString(text)

    def copy_sheet(self, sheet, new_name):
        self.doc.Sheets.copyByName(sheet, new_name, self.doc.Sheets.Count)

    def save(self, path, filter_name, options=None):
        props = (_prop("FilterName", filter_name),) + ((_prop("FilterOptions", options),) if options else ())
        self.doc.storeToURL(uno.systemPathToFileUrl(path), props)

    def cells(self, sheet, where):
        rng = self.doc.Sheets.getByName(sheet).getCellRangeByName(where)
        a = rng.RangeAddress
        return [
            [
                [rng.getCellByPosition(c, r).getType().value, rng.getCellByPosition(c, r).getString()]
                for c in range(a.EndColumn - a.StartColumn + 1)
            ]
            for r in range(a.EndRow - a.StartRow + 1)
        ]

    def job(self, job: dict) -> list:
        url = uno.systemPathToFileUrl(job["open"])
        self.doc = self.desktop.loadComponentFromURL(url, "_blank", 0, (_prop("Hidden", True),))
        out = []
        try:
            for action, *args in job["do"]:
                got = getattr(self, action)(*args)
                if got is not None:
                    out.append(got)
        finally:
            self.doc.close(True)
            self.doc = None
        return out


def main(pipe: str, plan_path: str) -> None:
    with open(plan_path, encoding="utf-8") as fh:
        plan = json.load(fh)
    officer = Officer(_connect(pipe))
    result = [officer.job(job) for job in plan.get("jobs", [])]
    if plan.get("quit"):
        try:
            officer.desktop.terminate()
        except Exception:  # the bridge goes away with the process
            pass
    json.dump(result, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""LibreOffice Calc as a county officer's spreadsheet program, headless: a workbook's every sheet
converted to CSV, to check what the program reads (ID numbers kept as text, the sheets' names).

``.ci/run`` installs the Debian package libreoffice-calc; without it the tests skip, saying so loudly.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# every sheet (token 12 = -1, LibreOffice >= 7.2), UTF-8 (76), values as stored (token 9 false)
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def soffice() -> str:
    """The program's path, or the test skipped with the reason."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        pytest.skip(
            "LIBREOFFICE MISSING: install the Debian package libreoffice-calc to check the workbook "
            "in a real spreadsheet program (.ci/run installs it)"
        )
    return found


def sheets_as_csv(workbook: Path, work: Path) -> dict[str, list[list[str]]]:
    """Every sheet of ``workbook`` as LibreOffice reads it: ``{"<stem>-<sheet>.csv": rows}``. The
    workbook is copied into ``work`` first; the program's profile and HOME are ``work``'s own."""
    src = work / workbook.name
    shutil.copyfile(workbook, src)
    res = subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation=file://{work}/lo-profile",
            "--headless",
            "--convert-to",
            CSV_FILTER,
            "--outdir",
            str(work / "csv"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(work)},
    )
    assert res.returncode == 0, res.stderr
    return {p.name: read_csv(p) for p in (work / "csv").glob("*.csv")}


def read_csv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))

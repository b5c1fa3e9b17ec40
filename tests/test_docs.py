"""The docs match the code (sqlite-utils' idea): every command and option, reason code, setting and
output column a user can meet is written down where a user looks for it."""

from __future__ import annotations

import argparse
import re
import tomllib
from dataclasses import fields

import pytest

from pipelines import DATA_DIR, PROJECT_ROOT
from pipelines.cli import build_parser
from pipelines.settings import Settings
from pipelines.tabular import dictionary

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
DOCS = "\n".join(p.read_text(encoding="utf-8") for p in sorted((PROJECT_ROOT / "docs").rglob("*.md")))


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _options(p: argparse.ArgumentParser) -> set[str]:
    return {s for a in p._actions for s in a.option_strings if s.startswith("--") and s != "--help"}


COMMANDS = _subcommands()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_and_option_is_in_the_readme(command):
    assert re.search(rf"retire-prep {command}\b", README), f"README shows no `retire-prep {command}`"
    parser = COMMANDS[command]
    if command == "sample":  # its arguments live with the generator
        from pipelines.sample import add_sample_arguments

        parser = add_sample_arguments(argparse.ArgumentParser())
    missing = sorted(o for o in _options(parser) if o not in README)
    assert not missing, f"`retire-prep {command}` options not in the README: {missing}"


def _reason_codes() -> set[str]:
    from pipelines.feedback import REASONS

    codes = set(REASONS)
    for f in (PROJECT_ROOT / "sql" / "ingest").glob("*.sql"):
        text = f.read_text(encoding="utf-8")
        codes |= set(re.findall(r"THEN\s+'([A-Z][A-Z0-9_]{3,})'", text))
        codes |= set(re.findall(r"WHEN\s+'([A-Z][A-Z0-9_]{3,})'\s+THEN\s+'", text))
    return codes


@pytest.mark.parametrize("code", sorted(_reason_codes()))
def test_every_reason_code_is_documented(code):
    assert re.search(rf"\b{code}\b", DOCS), f"reason code {code} appears in no file of docs/"


def test_every_setting_is_in_the_settings_file():
    with open(DATA_DIR / "settings.toml", "rb") as fh:
        shipped = tomllib.load(fh)
    missing = sorted(f.name for f in fields(Settings) if f.name not in shipped)
    assert not missing, f"settings with no line in data/settings.toml: {missing}"


def test_every_contract_column_is_in_the_dictionary():
    """outputs.md's column lists; the writers (pipelines.tabular) refuse any other column missing from it."""
    spec = (PROJECT_ROOT / "docs" / "spec" / "outputs.md").read_text(encoding="utf-8")
    cols = set()
    for block in re.findall(r"### \w+ columns \(at least\)\n`([^`]+)`", spec):
        cols |= {c.strip() for c in block.replace("\n", " ").split(",")}
    assert len(cols) > 20
    missing = sorted(cols - set(dictionary()))
    assert not missing, f"output columns not in data/dictionary.csv: {missing}"


def test_every_dictionary_row_has_a_chinese_name_and_a_meaning():
    import csv

    with open(DATA_DIR / "dictionary.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [r["column"] for r in rows if not r["header_zh"].strip() or not r["meaning"].strip()]
    assert not bad, bad
    assert len({r["column"] for r in rows}) == len(rows), "a column is listed twice"


def test_docs_point_inside_the_repository():
    """The repository stands alone: no doc sends the reader to ../shared."""
    offenders = [
        p.name
        for p in [PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md")]
        if "../shared" in p.read_text(encoding="utf-8")
    ]
    assert not offenders, offenders

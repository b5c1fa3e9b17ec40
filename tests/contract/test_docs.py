"""The docs match the code (sqlite-utils' idea): every command and option, reason code, setting and
output column a user can meet is written down where a user looks for it."""

from __future__ import annotations

import argparse
import ast
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


def _command_lines(command: str) -> str:
    """The README's line for ``retire-prep COMMAND`` in the block of commands, with the lines
    that continue it (indented)."""
    lines = README.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"\.venv/bin/retire-prep {command}\b", line):
            j = i + 1
            while j < len(lines) and lines[j].startswith(" ") and lines[j].strip():
                j += 1
            return "\n".join(lines[i:j])
    return ""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_and_option_is_in_the_readme(command):
    """Each command's options are on its own line of the README's commands (not merely somewhere)."""
    line = _command_lines(command)
    assert line, f"README shows no `.venv/bin/retire-prep {command}` line"
    parser = COMMANDS[command]
    if command == "sample":  # its arguments live with the generator
        from pipelines.sample import add_sample_arguments

        parser = add_sample_arguments(argparse.ArgumentParser())
    missing = sorted(o for o in _options(parser) if not re.search(rf"{re.escape(o)}\b", line))
    assert not missing, f"`retire-prep {command}` options not on its README line: {missing}"


def test_the_global_options_are_in_the_readme():
    top = {s for a in build_parser()._actions for s in a.option_strings if s not in ("-h", "--help")}
    assert top and all(o in README for o in top), sorted(o for o in top if o not in README)


#: where a user looks a code up (docs/reason-codes.md; the feedback codes with what to do)
CODE_DOCS = "\n".join(
    (PROJECT_ROOT / "docs" / f).read_text(encoding="utf-8") for f in ("reason-codes.md", "feedback-format.md")
)
CODE = re.compile(r"[A-Z][A-Z0-9_]{3,}")
#: the calls that give a feedback row or file its code (pipelines/feedback/; _Already: SENT_AGAIN)
FEEDBACK_REFUSALS = {"_Refuse", "_refuse", "_refuse_file", "FeedbackFileRefused", "_Already"}


def _called(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")


def _reason_codes() -> set[str]:
    """Every code a row or file can be given: the feedback reasons and every code its refusals
    raise; the ingest SQL's quarantine and applications codes; a batch refusal's code (MANIFEST,
    CONFLICT, STALE, DEPARTURES, BATCH, VALIDATION: pipelines/ingest/)."""
    from pipelines.feedback import REASONS

    codes = set(REASONS)
    for f in (PROJECT_ROOT / "pipelines" / "feedback").glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _called(node) in FEEDBACK_REFUSALS:
                codes |= {
                    a.value
                    for a in node.args
                    if isinstance(a, ast.Constant) and isinstance(a.value, str) and CODE.fullmatch(a.value)
                }
    for f in (PROJECT_ROOT / "sql" / "ingest").glob("*.sql"):
        text = f.read_text(encoding="utf-8")
        codes |= set(re.findall(r"THEN\s+'([A-Z][A-Z0-9_]{3,})'", text))
        codes |= set(re.findall(r"WHEN\s+'([A-Z][A-Z0-9_]{3,})'\s+THEN\s+'", text))
    ingest = "\n".join(f.read_text(encoding="utf-8") for f in (PROJECT_ROOT / "pipelines" / "ingest").glob("*.py"))
    codes |= set(re.findall(r'"REFUSE", f?"([A-Z]{4,}):', ingest))  # _decide's CONFLICT / STALE
    codes |= set(re.findall(r'_record_refusal\([^)]*"([A-Z]{4,})"\)', ingest))  # MANIFEST
    codes |= set(re.findall(r'code="([A-Z_]{4,})"', ingest))  # DEPARTURES
    codes |= set(re.findall(r'(?:or|else) "([A-Z]{4,})"', ingest))  # BATCH, VALIDATION
    return codes


def test_every_push_row_and_batch_refusal_code_has_a_chinese_label():
    """The report shows rejected rows and batches by label (data/code_labels.csv, kinds row_reason and
    batch_refusal); the INCR warnings are only counted, so they need none."""
    from pipelines.labels import code_label

    rows = set()
    for f in (PROJECT_ROOT / "sql" / "ingest").glob("*.sql"):
        rows |= set(re.findall(r"THEN\s+'([A-Z][A-Z0-9_]{3,})'", f.read_text(encoding="utf-8")))
    rows = (rows - {"INSERT_OF_PRESENT", "UPDATE_OF_ABSENT", "DELETE_OF_ABSENT"}) | {"UNPARSABLE_ROW"}
    batches = {"MANIFEST", "CONFLICT", "STALE", "DEPARTURES", "BATCH", "VALIDATION"}
    missing = [c for c in sorted(rows) if code_label("row_reason", c) == c]
    missing += [c for c in sorted(batches) if code_label("batch_refusal", c) == c]
    assert len(rows) > 20 and not missing, missing


def test_the_batch_refusal_codes_are_collected():
    assert {
        "MANIFEST",
        "CONFLICT",
        "STALE",
        "DEPARTURES",
        "BATCH",
        "VALIDATION",
        "NOT_XLSX",
        "ENCODING",
    } <= _reason_codes()


@pytest.mark.parametrize("code", sorted(_reason_codes()))
def test_every_reason_code_is_documented(code):
    assert re.search(rf"\b{code}\b", CODE_DOCS), (
        f"reason code {code} is in neither docs/reason-codes.md nor docs/feedback-format.md"
    )


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


def test_code_labels_holds_only_what_the_label_table_lacks():
    """pipelines.labels reads data/labels.csv first: a row of data/code_labels.csv whose kind and code
    are there too is never read (35 such rows, 11 with another label, were removed in issue 15)."""
    import csv

    from pipelines import labels

    with open(DATA_DIR / "code_labels.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    shadowed = [(r["kind"], r["code"]) for r in rows if r["code"] in labels.table().get(r["kind"], {})]
    assert rows and not shadowed, f"rows of data/code_labels.csv that data/labels.csv hides: {shadowed}"


def test_every_table_of_the_analysts_file_is_in_its_docs():
    """docs/analysts.md ("What is in it") and the README's section name every table the file holds."""
    from pipelines.analysts import TABLES

    tables = {t for t, _ in TABLES} | {"offices", "code_labels", "about", "dictionary"}  # _small_tables, about
    docs = {
        "docs/analysts.md": (PROJECT_ROOT / "docs" / "analysts.md").read_text(encoding="utf-8"),
        "README": README.split("## The analysts' file", 1)[1].split("\n## ", 1)[0],
    }
    missing = [(t, doc) for t in sorted(tables) for doc, text in docs.items() if f"`{t}`" not in text]
    assert not missing, f"tables of the analysts' file not named: {missing}"


# ------------------------------------------------------------------ docstrings name what exists (issue 15)

#: a repository path in prose (a glob such as ``sql/ingest/0*_*.sql`` and bench/work, made by the
#: benches, aside)
_PATH = re.compile(
    r"(?<![\w/.<-])((?:tests|pipelines|sql|bench|dags|deploy|data|templates|docs|expectations)/[\w./-]*\w)(?![\w*])"
)
#: Sphinx roles (``:func:`x```) and dotted ``pipelines.x.y`` names
_ROLE = re.compile(r":(?:func|data|class|mod|meth|attr|exc):`~?([\w.]+)`")
_DOTTED = re.compile(r"(?<![\w./])(pipelines(?:\.\w+)+)")
_SOURCES = sorted(
    [
        *(PROJECT_ROOT / "pipelines").rglob("*.py"),
        *(PROJECT_ROOT / "dags").glob("*.py"),
        *(PROJECT_ROOT / "bench").glob("*.py"),
    ]
)


def _docstrings(tree: ast.Module) -> list[str]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))]
    return [d for d in (ast.get_docstring(n, clean=False) for n in nodes) if d]


def _defined_names() -> set[str]:
    """Every name pipelines/ defines: functions, classes, methods, and module- and class-level names."""
    names: set[str] = set()
    for f in (PROJECT_ROOT / "pipelines").rglob("*.py"):
        for n in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(n.name)
            elif isinstance(n, (ast.Name, ast.Attribute)) and isinstance(n.ctx, ast.Store):
                names.add(n.id if isinstance(n, ast.Name) else n.attr)
    return names


def _module_file(dotted: str) -> bool:
    base = PROJECT_ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_docstrings_name_paths_that_exist():
    bad = []
    for f in _SOURCES:
        for doc in _docstrings(ast.parse(f.read_text(encoding="utf-8"))):
            for p in _PATH.findall(doc):
                if not p.startswith("bench/work") and not (PROJECT_ROOT / p.rstrip(".")).exists():
                    bad.append(f"{f.relative_to(PROJECT_ROOT)}: {p}")
    assert not bad, f"docstrings name paths that do not exist: {bad}"


def test_docstrings_name_functions_and_modules_that_exist():
    """``:func:`x``` and ``pipelines.a.b``: the module is a file of pipelines/, the name is defined there
    or in a class of it (a cheap check by name: a renamed or removed function is caught)."""
    defined = _defined_names()
    bad = []
    for f in (PROJECT_ROOT / "pipelines").rglob("*.py"):
        package = ".".join(f.relative_to(PROJECT_ROOT).with_suffix("").parts)
        package = package.removesuffix(".__init__") if f.name == "__init__.py" else package.rsplit(".", 1)[0]
        for doc in _docstrings(ast.parse(f.read_text(encoding="utf-8"))):
            refs = _ROLE.findall(doc) + _DOTTED.findall(doc)
            for ref in refs:
                name = package + ref if ref.startswith(".") else ref.rstrip(".")
                parts = name.split(".")
                if parts[0] == "pipelines":
                    k = max(i for i in range(1, len(parts) + 1) if _module_file(".".join(parts[:i])))
                    rest = parts[k:]
                else:
                    rest = parts
                if rest and rest[-1] not in defined:
                    bad.append(f"{f.relative_to(PROJECT_ROOT)}: {ref}")
    assert not bad, f"docstrings name what pipelines/ does not define: {bad}"


def test_the_labels_module_lists_every_domain_of_its_table():
    from pipelines import labels

    missing = sorted(d for d in labels.table() if not re.search(rf"\b{d}\b", labels.__doc__))
    assert not missing, f"domains of data/labels.csv the docstring of pipelines/labels.py leaves out: {missing}"

"""docs/rules.md, the index of the rules, points only at things that exist.

* every ``sql/…``, ``pipelines/…`` and ``tests/…`` path it names exists;
* every ``tests/x.py::name`` is a function defined in that file (parametrized tests by their
  function name; a ``[id]`` suffix is ignored), and every ``pipelines/x.py::name`` (or
  ``Class.method``) is defined in that module;
* every name in backticks in the parentheses after a ``sql/…`` or ``pipelines/…`` path (a macro, a
  column, a constant: ``sql/policy/scope.sql`` (``servable``)) is a word of that file;
* every section ``N.`` of docs/spec/rules.md has a ``## §N`` table in the index with at least one row.

Pure file reading and ``ast``: no warehouse, no pipeline import.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INDEX = ROOT / "docs" / "rules.md"
SPEC = ROOT / "docs" / "spec" / "rules.md"

# a path under sql/, pipelines/ or tests/, optionally ::name, ::Class.method, ::name[param-id]
_REF = re.compile(r"(?<![\w/.-])((?:sql|pipelines|tests)/[\w./-]*[\w])(?:::([A-Za-z_][\w.]*)(?:\[[^\]\s]*\])?)?")
_SPEC_SECTION = re.compile(r"^##\s+(\d+)\.\s", re.M)
_INDEX_SECTION = re.compile(r"^##\s+§(\d+)\b", re.M)


def _index_text() -> str:
    return INDEX.read_text(encoding="utf-8")


def _refs() -> list[tuple[str, str | None]]:
    return sorted(set(_REF.findall(_index_text())), key=lambda r: (r[0], r[1] or ""))


@lru_cache(maxsize=None)
def _defined(path: str) -> frozenset[str]:
    """Names defined in a Python file: top-level functions and classes, and ``Class.method``."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=path)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(f"{node.name}.{sub.name}")
    return frozenset(names)


def _test_functions(path: str) -> frozenset[str]:
    """Test functions pytest would collect by name: module-level ``test_*`` and ``Test*.test_*``."""
    return frozenset(n for n in _defined(path) if n.split(".")[-1].startswith("test_"))


def test_index_names_paths_and_functions():
    refs = _refs()
    assert refs, "docs/rules.md names no sql/, pipelines/ or tests/ path"
    kinds = {p.split("/")[0] for p, _ in refs}
    assert kinds == {"sql", "pipelines", "tests"}, kinds


def test_every_path_exists():
    missing = sorted({p for p, _ in _refs() if not (ROOT / p).exists()})
    assert not missing, f"docs/rules.md names paths that do not exist: {missing}"


def test_every_test_name_is_a_test_function_of_its_file():
    bad = []
    for path, name in _refs():
        if not path.startswith("tests/") or not name:
            continue
        if not path.endswith(".py") or not (ROOT / path).is_file():
            bad.append(f"{path}::{name} (not a Python file)")
        elif name not in _test_functions(path):
            bad.append(f"{path}::{name}")
    assert not bad, f"docs/rules.md names tests that are not defined: {bad}"


def test_every_pipelines_name_is_defined_in_its_module():
    bad = []
    for path, name in _refs():
        if not path.startswith("pipelines/") or not name:
            continue
        if not path.endswith(".py") or not (ROOT / path).is_file():
            bad.append(f"{path}::{name} (not a Python file)")
        elif name not in _defined(path):
            bad.append(f"{path}::{name}")
    assert not bad, f"docs/rules.md names functions that are not defined: {bad}"


# `path` (`name`, `name` …): the names a path is given in parentheses; one level of nested parentheses
_NAMED = re.compile(r"`((?:sql|pipelines)/[\w./-]+)`\s*\(((?:[^()]|\([^()]*\))*)\)")


def test_every_name_given_to_a_path_is_in_that_file():
    bad = []
    for m in _NAMED.finditer(_index_text()):
        path, inside = m.group(1), m.group(2)
        if not (ROOT / path).is_file():
            continue  # test_every_path_exists names it
        text = (ROOT / path).read_text(encoding="utf-8")
        for name in re.findall(r"`([A-Za-z_]\w*)`", inside):
            if not re.search(rf"\b{name}\b", text):
                bad.append(f"{path} ({name})")
    assert not bad, f"docs/rules.md names what its file does not hold: {bad}"


def test_no_sql_path_carries_a_function_name():
    # SQL objects are named in prose (`macro`), never as sql/x.sql::name, which nothing could check
    bad = [f"{p}::{n}" for p, n in _refs() if p.startswith("sql/") and n]
    assert not bad, bad


def _index_sections() -> dict[int, str]:
    text = _index_text()
    heads = list(_INDEX_SECTION.finditer(text))
    out = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        # up to the next level-2 heading of any kind
        nxt = re.search(r"^##\s", text[m.end() : end], re.M)
        out[int(m.group(1))] = text[m.end() : m.end() + nxt.start()] if nxt else text[m.end() : end]
    return out


def _table_rows(section: str) -> list[str]:
    rows = [ln for ln in section.splitlines() if ln.strip().startswith("|")]
    return [r for r in rows[2:] if not re.fullmatch(r"\|[\s:|-]*\|?", r.strip())]


def test_every_spec_section_has_a_table_with_rows():
    spec_sections = sorted({int(n) for n in _SPEC_SECTION.findall(SPEC.read_text(encoding="utf-8"))})
    assert spec_sections == list(range(1, 8)), spec_sections
    index = _index_sections()
    missing = [n for n in spec_sections if n not in index]
    assert not missing, f"docs/rules.md has no '## §N' heading for spec sections {missing}"
    empty = [n for n in spec_sections if not _table_rows(index[n])]
    assert not empty, f"docs/rules.md has no table row for spec sections {empty}"


@pytest.mark.parametrize("n", range(1, 8))
def test_each_row_of_a_section_cites_its_section_and_names_a_test_or_a_gap(n):
    rows = _table_rows(_index_sections()[n])
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert len(cells) == 5, row
        _, _, source, impl, tests = cells
        assert f"§{n}" in source or "preamble" in source, f"§{n} row does not cite rules.md §{n}: {row}"
        assert "tests/" in tests or "**gap**" in tests, f"row with neither a test nor a gap: {row}"
        assert re.search(r"(sql|pipelines|templates)/", impl) or "**gap**" in impl, (
            f"row with neither an implementation nor a gap: {row}"
        )

"""The rooms stay small (issue 15 item 2): no module over 600 lines, and no function over 80 lines
without a comment saying why it must be one piece (the words "one piece" in it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("pipelines", "dags", "bench", "deploy")
MAX_MODULE, MAX_FUNCTION = 600, 80
MODULES = sorted(p for d in FOLDERS for p in (ROOT / d).rglob("*.py") if "work" not in p.relative_to(ROOT).parts)


def test_the_folders_hold_modules():
    assert len(MODULES) > 50


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_within_600_lines_and_long_functions_say_why(path):
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= MAX_MODULE, f"{path.relative_to(ROOT)}: {len(lines)} lines (at most {MAX_MODULE})"
    long = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = lines[node.lineno - 1 : node.end_lineno]
            if len(body) > MAX_FUNCTION and "one piece" not in "\n".join(body).lower():
                long.append(f"{node.name} ({len(body)} lines, line {node.lineno})")
    assert not long, (
        f"{path.relative_to(ROOT)}: functions over {MAX_FUNCTION} lines without a 'one piece' comment: {long}"
    )

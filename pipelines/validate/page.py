"""Writing a stage's results: ``<stage>[-<label>].json``, our own self-contained HTML page (GX data
docs load their CSS and scripts from CDNs, so they are not readable offline, and they show raw
unexpected values) and an ``index.html`` of every result in the folder. The page's template is
``templates/validation/results.html.j2``."""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import replace
from pathlib import Path

from .. import TEMPLATES_DIR
from .results import StageResult
from .suites import STAGES

_SAFE_LABEL = re.compile(r"[^0-9A-Za-z_.-]+")
_template_lock = threading.Lock()
_template = None


def write_results(result: StageResult, out_dir: Path) -> StageResult:
    """Write the JSON and the page of ``result`` (and refresh the index); returns it with its paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = result.stage + (("-" + _SAFE_LABEL.sub("_", result.label)) if result.label else "")
    json_path, html_path = out_dir / f"{base}.json", out_dir / f"{base}.html"
    result = replace(result, json_path=json_path, html_path=html_path)
    doc = result.to_dict()
    _atomic_write(json_path, json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")
    _atomic_write(html_path, _render(r=doc, files=None))
    write_index(out_dir)
    return result


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_index(out_dir: Path) -> None:
    """``index.html`` of every stage result (JSON) in ``out_dir``."""
    rows = []
    for p in sorted(out_dir.glob("*.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if not isinstance(d, dict) or "stage" not in d or "expectations" not in d:
            continue
        rows.append(
            {
                "stage": d["stage"],
                "label": d.get("label", ""),
                "success": d.get("success"),
                "evaluated": d.get("evaluated"),
                "failed": d.get("failed"),
                "html": p.with_suffix(".html").name,
                "json": p.name,
            }
        )
    order = {s: i for i, s in enumerate(STAGES)}
    rows.sort(key=lambda r: (order.get(r["stage"], 99), r["stage"], r["label"]))
    _atomic_write(out_dir / "index.html", _render(r=None, files=rows))


def _render(r: dict | None, files: list | None) -> str:
    """The page of one stage result ``r``, or the index of ``files`` when ``r`` is None."""
    global _template
    if _template is None:
        import jinja2

        with _template_lock:
            env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "validation")),
                autoescape=True,
                undefined=jinja2.StrictUndefined,
            )
            env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False, "default": str}
            _template = env.get_template("results.html.j2")
    return _template.render(r=r, files=files)

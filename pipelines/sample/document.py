"""``python -m pipelines.sample.document`` prints the rates table as Markdown;
``--write PAGE`` refreshes it between the markers in PAGE (docs/sample.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from .rates import markdown, page_with_table


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.sample.document`` prints the table; ``--write PAGE`` refreshes it in PAGE."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--write"] and len(argv) == 2:
        page = Path(argv[1])
        page.write_text(page_with_table(page.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    if argv:
        print("usage: python -m pipelines.sample.document [--write PAGE]", file=sys.stderr)
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

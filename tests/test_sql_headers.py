"""Every SQL file states what it reads, writes and takes (issue 15), and the statement text agrees.

dbt's `ref()` made plain: a reader sees from a file's first three lines where its inputs come from.
This test holds the header to the text (tests/support/sql_headers.py parses both) and every table a
file reads to the schema, to a file of its own stage folder that writes it, or to a frame the Python
side registers (listed below with where it is made).
"""

from pathlib import Path

import pytest

from support.sql_headers import HEADER_KEYS, declared, parsed

SQL = Path(__file__).resolve().parents[1] / "sql"
FILES = sorted(SQL.rglob("*.sql"))

# made by the Python side of a stage, not by a file of sql/
REGISTERED = {
    "raw_persons",
    "raw_segments",
    "rej_persons",
    "rej_segments",  # pipelines.ingest: the files read as text
    "_apps",
    "_apps_rej",  # pipelines.ingest.load_applications
    "_notice_texts",  # pipelines.notify: rendered texts, one per distinct input
    "reject_errors",  # DuckDB's own: read_csv(store_rejects) in sql/ingest/01_read_csv.sql
}


def _schema() -> set[str]:
    out: set[str] = set()
    for f in (SQL / "warehouse").glob("*.sql"):
        out |= parsed(f.read_text(encoding="utf-8"))["writes"]
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SQL)))
def test_header_is_there_and_agrees_with_the_text(path):
    text = path.read_text(encoding="utf-8")
    head = declared(text)
    assert text.startswith("-- reads:"), "the file opens with -- reads: / -- writes: / -- params:"
    assert set(head) == set(HEADER_KEYS), f"missing header line(s): {set(HEADER_KEYS) - set(head)}"
    found = parsed(text)
    assert found["writes"] <= head["writes"], f"writes not declared: {found['writes'] - head['writes']}"
    assert found["reads"] <= head["reads"] | head["writes"], f"reads not declared: {found['reads'] - head['reads']}"
    assert found["params"] <= head["params"], f"params not declared: {found['params'] - head['params']}"
    assert head["writes"] <= found["writes"], f"declared but not written: {head['writes'] - found['writes']}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SQL)))
def test_every_read_has_a_source(path):
    """A table read is in the schema, written by a file of the same stage folder, or registered."""
    stage_writes: set[str] = set()
    for other in path.parent.glob("*.sql"):
        stage_writes |= declared(other.read_text(encoding="utf-8")).get("writes", set())
    policy = set()
    for f in (SQL / "policy").glob("*.sql"):
        policy |= declared(f.read_text(encoding="utf-8")).get("writes", set())
    known = _schema() | stage_writes | REGISTERED | policy | {"screen_results", "persons_p", "segments_p"}
    missing = declared(path.read_text(encoding="utf-8")).get("reads", set()) - known
    assert not missing, f"{path.name} reads {missing}: not in the schema, its stage, or REGISTERED"

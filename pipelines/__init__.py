"""retire-prep: Ningxia pension retirement pre-service (养老保险退休预服务) pipeline.

One module per stage of the monthly flow (ingest → screen → ledger → notify →
outputs; declare; feedback), plus ``policy`` (the pure rules of rules.md
sections 1–2) and ``cli``.  Set-based work lives in ``sql/`` as ``.sql`` files
named by stage; Python orchestrates and DuckDB computes.
"""

from pathlib import Path

__version__ = "0.1.0"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
DATA_DIR = PROJECT_ROOT / "data"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"

"""Query engines over Parquet: DuckDB in process, Trino across machines.

Each summary query is kept once, in DuckDB's dialect, in a ``.sql`` file; sqlglot
turns it into Trino's dialect, so there are never two hand-kept copies.
"""

from __future__ import annotations

from importlib import resources

import sqlglot

__all__ = ["load_query", "to_trino"]


def load_query(package: str, name: str) -> str:
    """Return the text of query ``name`` shipped in ``package``."""
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def to_trino(duckdb_sql: str) -> str:
    """Translate a DuckDB query to Trino's dialect; raise if it does not parse."""
    statements = [
        s
        for s in sqlglot.transpile(duckdb_sql, read="duckdb", write="trino")
        if s.strip()
    ]
    if len(statements) != 1:
        raise ValueError(f"expected one statement, found {len(statements)}")
    return statements[0]

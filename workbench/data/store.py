"""The embedded DuckDB store: short-lived connections, schema creation, and waiting politely for locks.

DuckDB lets one process at a time hold a read-write connection to a file. A
notebook left open in JupyterLab must never lock out a scheduled run, so every
piece of the workbench opens the store, does its work and closes it again
(``with connect(path) as con: ...``). When another process holds the file, we
wait and retry with a clear message instead of failing with a raw lock error.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from workbench.data.schema import load_schema
from workbench.paths import default_db_path

DDL_PATH = Path(__file__).with_name("store.sql")
LOCK_WAIT_SECONDS = 120.0


class StoreBusyError(RuntimeError):
    """Another process kept the database locked for longer than we were willing to wait."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def _open(path: Path, read_only: bool, wait: float, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait
    told = False
    delay = 0.05
    while True:
        try:
            config = {"memory_limit": memory_limit} if memory_limit else {}
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc) or time.monotonic() >= deadline:
                if _is_lock_error(exc):
                    raise StoreBusyError(
                        f"database {path} is in use by another process (for example an open notebook "
                        f"or a scheduled run) and stayed locked for {wait:.0f} s; close the other "
                        f"program's connection or try again later") from exc
                raise
            if not told:
                print(f"database {path} is in use by another process; waiting up to {wait:.0f} s ...",
                      file=sys.stderr)
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextmanager
def connect(path: str | Path | None = None, *, read_only: bool = False,
            wait: float = LOCK_WAIT_SECONDS, memory_limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store for one unit of work and close it afterwards.

    The schema is created on first use of a read-write connection. ``path``
    defaults to ``$WORKBENCH_DB`` and then to ``outputs/workbench.duckdb``.
    """
    db = Path(path) if path else default_db_path()
    if read_only and not db.exists():
        raise FileNotFoundError(f"database {db} does not exist yet: import some data first")
    db.parent.mkdir(parents=True, exist_ok=True)
    con = _open(db, read_only, wait, memory_limit)
    try:
        if not read_only:
            ensure_schema(con)
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block as one transaction: committed if it finishes, rolled back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table the workbench uses, if missing (idempotent)."""
    for table in load_schema().values():
        con.execute(table.ddl())
    sql = "\n".join(line.split("--", 1)[0] for line in DDL_PATH.read_text(encoding="utf-8").splitlines())
    for statement in sql.split(";"):
        if statement.strip():
            con.execute(statement)


def read_table(table: str, path: str | Path | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    """Read one table of the store into a DataFrame (internal ``_`` columns dropped)."""
    with connect(path, read_only=True) as con:
        df = con.sql(f'SELECT * FROM "{table}"').df()
    df = df[[c for c in df.columns if not c.startswith("_")]]
    return df[columns] if columns else df


def table_counts(path: str | Path | None = None) -> pd.DataFrame:
    """Row counts of every table in the store, as a tidy frame (table, rows)."""
    with connect(path, read_only=True) as con:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema='main' ORDER BY table_name").fetchall()]
        rows = [(n, con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]) for n in names]
    return pd.DataFrame(rows, columns=["table", "rows"])

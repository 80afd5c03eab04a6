"""The embedded DuckDB store: short-lived connections, schema creation, and waiting politely for locks.

DuckDB lets one process at a time hold a read-write connection to a file. A
notebook left open in JupyterLab must never lock out a scheduled run, so every
piece of the workbench opens the store, does its work and closes it again
(``with connect(path) as con: ...``). When another process holds the file, we
wait and retry with a clear message instead of failing with a raw lock error;
after ``$WORKBENCH_LOCK_WAIT`` seconds (default 120) we give up with
:class:`StoreBusyError`. Every open of a store file goes through :func:`connect`
(or :func:`attach` for a second store on an open connection); a static test
checks it.

A full disk must not cost the store: DuckDB can corrupt its file when the disk
fills up (or a file size limit is hit) while it checkpoints, that is while it
moves committed work from the write-ahead log into the file
(duckdb/duckdb#9667). So a read-write connection is refused, with a "disk
full" message, when there is not room enough to checkpoint what the log already
holds; a connection that closes without room keeps its committed work in the
log (a later connection with room moves it); and a big write checks its room
first (:func:`require_room`: the importer asks for twice the size of its input
files). A transaction that runs out of space itself fails whole and leaves the
store as it was. DuckDB's automatic checkpoints stay on: without them a
10-million-row import held 11.5 GiB of memory instead of 1.5 GiB.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from workbench.data.schema import load_schema
from workbench.errors import StoreBusy
from workbench.paths import default_db_path

DDL_PATH = Path(__file__).with_name("store.sql")
LOCK_WAIT_SECONDS = 120.0
#: Environment variable overriding how long to wait for a busy store (seconds), e.g. for a scheduled run.
ENV_LOCK_WAIT = "WORKBENCH_LOCK_WAIT"
#: Room kept free beyond what a checkpoint needs (bytes): a checkpoint rewrites metadata besides the logged data.
CHECKPOINT_MARGIN = 16 * 1024 * 1024


class StoreBusyError(StoreBusy):
    """Another process kept the database locked for longer than we were willing to wait."""


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def lock_wait_seconds() -> float:
    """How long to wait for a busy store: ``$WORKBENCH_LOCK_WAIT`` seconds, else :data:`LOCK_WAIT_SECONDS`."""
    text = os.environ.get(ENV_LOCK_WAIT, "").strip()
    try:
        return max(0.0, float(text)) if text else LOCK_WAIT_SECONDS
    except ValueError:
        raise ValueError(f"${ENV_LOCK_WAIT} must be a number of seconds, got {text!r}") from None


def _busy_error(path: Path, wait: float, exc: Exception) -> StoreBusyError:
    return StoreBusyError(
        f"database {path} is in use by another process (for example an open notebook or a scheduled run) "
        f"and stayed locked for {wait:g} s; close the other program's connection (or its notebook's kernel) "
        f"or try again later (${ENV_LOCK_WAIT} sets how long to wait)")


def _say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _with_lock_wait(path: Path, wait: float, open_once, say: Callable[[str], None] | None = None):
    """``open_once()``, retried while another process holds ``path``; says so once (``say``, default stderr)."""
    deadline = time.monotonic() + wait
    told = False
    delay = 0.05
    while True:
        try:
            return open_once()
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise _busy_error(path, wait, exc) from exc
            if not told:
                (say or _say_on_stderr)(f"database {path} is in use by another process (an open notebook or "
                                        f"another run?); waiting up to {wait:g} s for it ...")
                told = True
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)


def quote_identifier(name: str) -> str:
    """``name`` as a SQL identifier: in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _file_size_limit() -> int | None:
    """This process's largest writable file size (RLIMIT_FSIZE), or None when unlimited or unknown."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        return None if soft == resource.RLIM_INFINITY else int(soft)
    except (ImportError, OSError, ValueError):
        return None


def room_to_grow(path: Path) -> tuple[int, int]:
    """How many bytes the store file ``path`` (and its log) can still grow, and the errno to report when that is
    too few: the disk's free space (ENOSPC), or less when this process may not write files that large
    (RLIMIT_FSIZE, EFBIG)."""
    free = shutil.disk_usage(path.parent).free
    limit = _file_size_limit()
    if limit is not None:
        sizes = [p.stat().st_size for p in (path, _wal(path)) if p.exists()]
        by_limit = limit - max(sizes, default=0)
        if by_limit < free:
            return by_limit, errno.EFBIG
    return free, errno.ENOSPC


def checkpoint_room(path: Path) -> int:
    """Bytes a checkpoint of ``path`` may need: twice its write-ahead log plus a margin."""
    wal = _wal(path)
    return 2 * (wal.stat().st_size if wal.exists() else 0) + CHECKPOINT_MARGIN


def _check_room(path: Path) -> None:
    """Refuse a read-write connection when the disk is too full to checkpoint safely (its open checkpoints the log)."""
    if not path.exists():
        return
    room, code = room_to_grow(path)
    need = checkpoint_room(path)
    if room < need:
        what = "disk is full" if code == errno.ENOSPC else "file size limit is reached"
        raise OSError(code, f"{os.strerror(code)}: only {max(room, 0) / 2**20:.1f} MiB of room for database {path}, "
                            f"which needs {need / 2**20:.1f} MiB to save work safely (the {what}); the store "
                            f"was not opened for writing and is unchanged", str(path))


def require_room(path: Path, nbytes: int, what: str) -> None:
    """OSError (disk full / file too large) before a write of about ``nbytes`` into the store ``path`` that the
    disk could not hold: failing up front changes nothing, failing in a checkpoint could corrupt the file."""
    path = Path(path)
    room, code = room_to_grow(path)
    need = int(nbytes) + checkpoint_room(path)
    if room < need:
        raise OSError(code, f"{os.strerror(code)}: {what} needs about {need / 2**20:,.0f} MiB beside database "
                            f"{path}, only {max(room, 0) / 2**20:,.1f} MiB are free; nothing was written", str(path))


def _close(con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
    """Close ``con``; without room to checkpoint, leave the committed work in the write-ahead log instead."""
    if not read_only:
        try:
            room, _ = room_to_grow(path)
            if room < checkpoint_room(path):
                con.execute("PRAGMA disable_checkpoint_on_shutdown")
        except (OSError, duckdb.Error):
            pass
    con.close()


def _open(path: Path, read_only: bool, wait: float, memory_limit: str | None,
          say: Callable[[str], None] | None = None) -> duckdb.DuckDBPyConnection:
    config = {"memory_limit": memory_limit} if memory_limit else {}
    return _with_lock_wait(path, wait, lambda: duckdb.connect(str(path), read_only=read_only, config=config), say)


def attach(con: duckdb.DuckDBPyConnection, path: str | Path, alias: str, *, read_only: bool = True,
           wait: float | None = None) -> None:
    """``ATTACH`` another store file to ``con`` as ``alias``, waiting politely while another process holds it."""
    path = Path(path)
    quoted = str(path.resolve()).replace("'", "''")
    mode = " (READ_ONLY)" if read_only else ""
    _with_lock_wait(path, lock_wait_seconds() if wait is None else wait,
                    lambda: con.execute(f"ATTACH '{quoted}' AS {alias}{mode}"))


@contextmanager
def connect(path: str | Path | None = None, *, read_only: bool = False,
            wait: float | None = None, memory_limit: str | None = None,
            say: Callable[[str], None] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store for one unit of work and close it afterwards.

    The schema is created on first use of a read-write connection. ``path``
    defaults to ``$WORKBENCH_DB`` and then to ``outputs/workbench.duckdb``. A store
    held by another process is waited for (``wait`` seconds, default
    :func:`lock_wait_seconds`), then :class:`StoreBusyError`; ``say`` gets the
    one "waiting" message (default: stderr).
    """
    db = Path(path) if path else default_db_path()
    if read_only and not db.exists():
        raise FileNotFoundError(f"database {db} does not exist yet: import some data first")
    db.parent.mkdir(parents=True, exist_ok=True)
    if not read_only:
        _check_room(db)
    con = _open(db, read_only, lock_wait_seconds() if wait is None else wait, memory_limit, say)
    try:
        if not read_only:
            ensure_schema(con)
        yield con
    finally:
        _close(con, db, read_only)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block as one transaction: committed if it finishes, rolled back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # a COMMIT that failed (disk full) already ended the transaction: keep its error, not this one
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

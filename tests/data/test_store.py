"""The store: schema creation, short-lived connections shared by processes, clear lock messages."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest

from workbench.data import store
from workbench.data.schema import SchemaError, parse_schema

WRITER = textwrap.dedent("""
    import sys
    from workbench.data.store import connect
    db, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(n):
        with connect(db) as con:
            con.execute("INSERT INTO imports VALUES ((SELECT coalesce(max(import_id),0)+1 FROM imports), "
                        "?, 'f', NULL, 'x', 0, 0, 0, 0, now())", [who])
""")


def test_schema_creates_every_table(db):
    with store.connect(db) as con:
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"customers", "transactions", "events", "imports", "surveys", "survey_sample", "survey_responses",
            "campaigns", "rounds", "assignments", "contact_attempts"} <= names


@pytest.mark.slow
def test_two_processes_alternate_on_one_file(db):
    with store.connect(db):
        pass
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), who, "15"], stderr=subprocess.PIPE, text=True)
             for who in ("notebook", "scheduler")]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with store.connect(db, read_only=True) as con:
        counts = dict(con.execute("SELECT table_name, count(*) FROM imports GROUP BY 1").fetchall())
    assert counts == {"notebook": 15, "scheduler": 15}


@pytest.mark.slow
def test_busy_store_waits_then_says_so(db):
    with store.connect(db):
        pass
    holder = subprocess.Popen([sys.executable, "-c",
                               "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); print('held', flush=True); "
                               "time.sleep(30)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(store.StoreBusyError, match="in use by another process"):
            with store.connect(db, wait=1.0):
                pass
    finally:
        holder.kill()
        holder.wait()
    with store.connect(db, wait=5.0) as con:  # once the other process is gone, work goes on
        assert con.execute("SELECT 1").fetchall() == [(1,)]


def test_read_only_on_missing_store_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist yet"):
        with store.connect(tmp_path / "nope.duckdb", read_only=True):
            pass


@pytest.mark.parametrize("doc, key", [
    ({"tables": {"t": {"columns": {"a": {"type": "decimal"}}}}}, "tables.t.columns.a.type"),
    ({"tables": {"t": {"columns": {"a": {"type": "text", "colour": 1}}}}}, "tables.t.columns.a"),
    ({"tables": {"t": {"key": ["b"], "columns": {"a": {"type": "text"}}}}}, "tables.t.key"),
    ({"tables": {"t": {"columns": {"a": {"type": "enum"}}}}}, "tables.t.columns.a.values"),
    ({"tables": {"t": {"columns": {"a": {"type": "text", "aliases": ["x"]}, "b": {"type": "text", "aliases": ["X"]}}}}},
     "tables.t.columns.b.aliases"),
])
def test_bad_schema_names_the_key(doc, key):
    with pytest.raises(SchemaError, match=key.replace(".", r"\.")):
        parse_schema(doc)


def test_duckdb_is_the_pinned_major():
    assert int(duckdb.__version__.split(".")[0]) >= 2

"""Faults: an import killed with SIGKILL at four moments lands whole or not at all, and the next one succeeds.

(A whole monthly run killed mid-notebook is in test_faults_run.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.data.demo import generate
from workbench.data.importer import import_files
from workbench.data.store import connect

pytestmark = pytest.mark.slow

IMPORT = "from workbench.data.importer import import_files; import sys; import_files('transactions', [sys.argv[2]], sys.argv[1])"


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    d = generate("dealership", 40_000, seed=4)
    d.customers[["customer_id"]].to_csv(folder / "c.csv", index=False)
    tx = d.transactions.drop(columns="transaction_id")  # content keys: the slowest import path
    tx.to_csv(folder / "t.csv", index=False)
    return folder, len(tx)


def _counts(db: Path) -> tuple[int, int]:
    with connect(db, read_only=True) as con:
        return (con.execute("SELECT count(*) FROM transactions").fetchall()[0][0],
                con.execute("SELECT count(*) FROM imports WHERE table_name = 'transactions'").fetchall()[0][0])


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5, 2.5])
def test_import_killed_midway_leaves_store_consistent(big_files, tmp_path, delay):
    folder, n = big_files
    db = tmp_path / "s.duckdb"
    import_files("customers", [folder / "c.csv"], db)
    proc = subprocess.Popen([sys.executable, "-c", IMPORT, str(db), str(folder / "t.csv")])
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rows, imports = _counts(db)
    assert (rows, imports) in {(0, 0), (n, 1)}, (rows, imports, killed)  # all or nothing, never half
    [r] = import_files("transactions", [folder / "t.csv"], db)  # the next run succeeds
    assert _counts(db) == (n, imports + 1) and r.inserted == n - rows

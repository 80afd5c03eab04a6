"""A workbook write killed with SIGKILL: the target holds the previous file unchanged, or nothing; never a cut xlsx.

The writer is the monthly run's customer table (``import/customers.xlsx``),
25,000 customers: over a second of writing through ``excel_workbook`` /
``atomic_path``, the path every workbook of the workbench takes. It is killed
while the workbook is built in memory and while the zip is being written to
disk. A killed writer's temporary file is hidden and named by its pid; the next
write of the same workbook removes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from tests.robustness.faults_helpers import new_tag, tagged_env, wait_for
from workbench.data.importer import import_files

pytestmark = pytest.mark.slow

CUSTOMERS = 25_000
WRITER = ("import sys, time; from workbench.runner.import_step import write_customer_table; "
          "t = time.perf_counter(); write_customer_table(sys.argv[1], sys.argv[2]); "
          "print(time.perf_counter() - t, flush=True)")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A store of 25,000 customers with Chinese names (seeded)."""
    folder = tmp_path_factory.mktemp("workbook_store")
    rng = np.random.default_rng(7)
    n = CUSTOMERS
    frame = pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in range(n)],
        "name": [a + b for a, b in zip(rng.choice(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"), n),
                                        rng.choice(list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"), n))],
        "phone": [f"1{x}" for x in rng.integers(3_000_000_000, 9_999_999_999, n)],
        "region": rng.choice(["北京", "上海", "广州", "深圳", "成都"], n),
        "store": rng.choice(["TH01", "PY02", "BY03"], n),
        "birth_year": rng.integers(1950, 2005, n),
        "first_purchase_date": (pd.Timestamp("2015-01-01")
                                + pd.to_timedelta(rng.integers(0, 3800, n), unit="D")).strftime("%Y-%m-%d"),
    })
    frame.to_csv(folder / "customers.csv", index=False)
    db = folder / "workbench.duckdb"
    import_files("customers", [folder / "customers.csv"], db)
    return db


def start_writer(db: Path, target: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(target)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=tagged_env(new_tag()))


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".customers.*.part.xlsx"))


def kill_when(proc: subprocess.Popen, folder: Path, phase: str) -> None:
    """SIGKILL the writer while it builds the workbook (its temporary file exists, still empty) or while it writes
    the zip to disk (the temporary file has bytes); fail if the writer finished first."""
    if phase == "building":
        wait_for(lambda: parts(folder), 60, "the writer's temporary file", step=0.005)
    else:
        wait_for(lambda: any(p.exists() and p.stat().st_size > 0 for p in parts(folder)), 60,
                 "the zip being written", step=0.002)
    assert proc.poll() is None, "the writer finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def rows_of(path: Path) -> int:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return wb["customers"].max_row
    finally:
        wb.close()


def test_killed_workbook_writes_leave_the_previous_file_or_nothing(store, tmp_path):
    folder = tmp_path / "import"
    target = folder / "customers.xlsx"
    folder.mkdir()
    injections = 0

    first = start_writer(store, target)  # killed before any file existed: nothing at the target
    kill_when(first, folder, "building")
    injections += 1
    assert not target.exists()
    assert [p.name.startswith(".") for p in parts(folder)] == [True]  # hidden, named ".customers.<pid>-...part"

    done = start_writer(store, target)  # a complete write: the previous file of the next kills
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err[-3000:]
    assert float(out.split()[-1]) >= 1.0  # big enough that a kill lands inside the write
    assert parts(folder) == []  # the killed writer's leftover went with the next write
    previous = target.read_bytes()
    assert rows_of(target) == CUSTOMERS + 1

    for phase in ("building", "writing the zip"):
        proc = start_writer(store, target)
        kill_when(proc, folder, phase)
        injections += 1
        assert target.read_bytes() == previous, phase  # byte-identical: no byte of the old file was touched
    assert len(parts(folder)) == 1  # each new write removed the leftover of the writer killed before it

    final = start_writer(store, target)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err[-3000:]
    assert parts(folder) == [] and sorted(p.name for p in folder.iterdir()) == ["customers.xlsx"]
    assert rows_of(target) == CUSTOMERS + 1
    assert injections == 3

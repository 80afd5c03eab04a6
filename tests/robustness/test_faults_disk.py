"""A full disk and files that cannot grow: one clear paragraph, exit code 1, nothing half-written, the store intact.

A full disk is simulated two ways: RLIMIT_FSIZE in a child process (works
anywhere: no file of it may grow past the limit, writes fail with EFBIG), and a
small tmpfs really filled up (ENOSPC; only where the tests may mount, e.g. as
root). The store is checked at both moments a disk can fill: before a command
starts (the store refuses to open for writing rather than risk DuckDB
corrupting its file in a checkpoint) and in the middle of an import (the safety
margin shrunk to zero so the import itself hits the wall: its transaction fails
whole). Data lost is asserted to be zero by fingerprinting every row.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.robustness.faults_helpers import assert_clear_failure, files_of, limit_file_size, store_fingerprint
from workbench.cli import main
from workbench.data import store as store_module
from workbench.data.demo import generate
from workbench.data.importer import import_files

pytestmark = pytest.mark.slow

#: ``workbench`` with the store's safety margin shrunk to zero and the importer's room check off, so a full
#: disk hits an import mid-transaction.
NO_MARGIN = ("import sys; import workbench.data.store as s; s.CHECKPOINT_MARGIN = 0; "
             "import workbench.data.importer as i; i.require_room = lambda *a, **k: None; "
             "from workbench.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path, Path, int]:
    """A store holding 8,000 customers, and a transactions file for them (about 120,000 rows)."""
    folder = tmp_path_factory.mktemp("disk")
    data = generate("dealership", 8_000, seed=6)
    data.customers[["customer_id", "name", "store"]].to_csv(folder / "customers.csv", index=False)
    data.transactions.to_csv(folder / "transactions.csv", index=False)
    db = folder / "workbench.duckdb"
    import_files("customers", [folder / "customers.csv"], db)
    return db, folder / "customers.csv", folder / "transactions.csv", len(data.transactions)


def fresh_store(inputs, folder: Path) -> Path:
    db = folder / "workbench.duckdb"
    shutil.copy(inputs[0], db)
    return db


def counts(db: Path) -> dict[str, int]:
    return {t: n for t, (n, _) in store_fingerprint(db, ("customers", "transactions", "imports")).items()}


def test_import_that_fills_the_file_size_limit_mid_transaction_loses_nothing(inputs, tmp_path):
    db = fresh_store(inputs, tmp_path)
    _, _, transactions, n = inputs
    before = store_fingerprint(db)
    limit = db.stat().st_size + 512 * 1024  # room to open and start, not to finish
    proc = subprocess.run([sys.executable, "-c", NO_MARGIN, "--db", str(db), "import", "transactions",
                           str(transactions)], capture_output=True, text=True, preexec_fn=limit_file_size(limit))
    assert_clear_failure(proc.returncode, proc.stderr, str(db), "largest file size allowed", "Nothing was half-written")
    assert store_fingerprint(db) == before  # the transaction failed whole: no row half-imported, none lost
    assert main(["--db", str(db), "import", "transactions", str(transactions)]) == 0  # with room, it goes through
    assert counts(db)["transactions"] == n


def test_import_without_room_for_its_files_is_refused_up_front(inputs, tmp_path):
    """An import checks the room for twice its input before writing: it fails before any checkpoint could."""
    db = fresh_store(inputs, tmp_path)
    before = store_fingerprint(db)
    size = inputs[2].stat().st_size
    assert size > 2 * 2**20
    # room to open the store (16 MiB margin) and for the file once, not for twice the file plus the margin
    limit = db.stat().st_size + size + 17 * 2**20
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "--db", str(db), "import", "transactions",
                           str(inputs[2])], capture_output=True, text=True, preexec_fn=limit_file_size(limit))
    assert_clear_failure(proc.returncode, proc.stderr, str(db), "importing 1 file(s) needs about",
                         "nothing was written")
    assert store_fingerprint(db) == before


def test_store_without_room_is_not_opened_for_writing(inputs, tmp_path):
    """Files may not grow past the store's size: the store refuses to open for writing (a checkpoint could
    corrupt it), says so, and stays as it was."""
    db = fresh_store(inputs, tmp_path)
    before = store_fingerprint(db)
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "--db", str(db), "import", "transactions",
                           str(inputs[2])], capture_output=True, text=True,
                          preexec_fn=limit_file_size(db.stat().st_size))
    assert_clear_failure(proc.returncode, proc.stderr, f"could not write {db}", "was not opened for writing",
                         "To fix it")
    assert store_fingerprint(db) == before


def test_files_that_cannot_grow_leave_the_previous_files_whole(tmp_path):
    out = tmp_path / "exports"
    assert main(["demo-data", "--out", str(out), "--business", "phone_brand", "--customers", "300"]) == 0
    before = files_of(out)
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "demo-data", "--out", str(out), "--business",
                           "phone_brand", "--customers", "3000"], capture_output=True, text=True,
                          preexec_fn=limit_file_size(100_000))
    assert_clear_failure(proc.returncode, proc.stderr, f"could not write {out / 'phone_brand_customers.csv'}",
                         "largest file size allowed", "To fix it")
    assert files_of(out) == before  # byte-identical
    assert sorted(p.name for p in out.iterdir()) == sorted(before)  # and no temporary file left


@pytest.fixture
def small_disk(tmp_path):
    """A 40 MiB tmpfs, really full when a test fills it (skipped where the tests may not mount)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` until ``leave`` bytes are free."""
    filler = disk / f"filler-{uuid.uuid4().hex}"
    size = shutil.disk_usage(disk).free - leave
    with open(filler, "wb") as fh:
        fh.truncate(0)
        chunk = b"\0" * (1 << 20)
        while size > 0:
            fh.write(chunk[: min(size, len(chunk))])
            size -= len(chunk)
    return filler


def test_full_disk_store_and_files(inputs, small_disk, capsys, monkeypatch):
    """A really full disk (ENOSPC): the store refuses writing, an import that fills the disk fails whole,
    an export keeps its previous files; after space is freed, everything goes through."""
    db = fresh_store(inputs, small_disk)
    _, _, transactions, n = inputs
    out = small_disk / "exports"
    assert main(["demo-data", "--out", str(out), "--business", "phone_brand", "--customers", "300"]) == 0
    files_before, store_before = files_of(out), store_fingerprint(db)
    injections = 0

    filler = fill(small_disk, 64 * 1024)  # the disk is full before the commands start
    capsys.readouterr()
    assert main(["--db", str(db), "import", "transactions", str(transactions)]) == 1
    injections += 1
    err = capsys.readouterr().err
    assert f"could not write {db}: the disk is full" in err and "was not opened for writing" in err, err
    assert main(["demo-data", "--out", str(out), "--business", "phone_brand", "--customers", "3000"]) == 1
    injections += 1
    err = capsys.readouterr().err
    assert f"could not write {out / 'phone_brand_customers.csv'}: the disk is full" in err, err
    assert files_of(out) == files_before and sorted(p.name for p in out.iterdir()) == sorted(files_before)
    filler.unlink()

    filler = fill(small_disk, 1 << 20)  # the disk fills up in the middle of the import
    monkeypatch.setattr(store_module, "CHECKPOINT_MARGIN", 0)
    assert main(["--db", str(db), "import", "transactions", str(transactions)]) == 1
    injections += 1
    err = capsys.readouterr().err
    assert "the disk is full" in err and "Traceback" not in err, err
    assert store_fingerprint(db) == store_before
    filler.unlink()
    monkeypatch.undo()

    assert main(["--db", str(db), "import", "transactions", str(transactions)]) == 0  # space again: it goes through
    assert counts(db)["transactions"] == n
    assert injections == 3
    assert not [p for p in small_disk.rglob("*") if ".part" in p.name]
    assert os.listdir(small_disk)  # the store and exports are there

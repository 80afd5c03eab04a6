"""Faults in a monthly run of a group of stores (``workbench run --stores``), injected into real processes.

One small config (the group import notebook, then the scoring notebook per store
on a pool of two workers, stores kept beside the months as in production) runs
once to give every test an earlier month. Then each test breaks a copy of it:
the run's own process SIGKILLed while a store's notebook executes (its pool
workers and kernels must die with it), files that cannot grow (RLIMIT_FSIZE, a
full disk for that process tree), an outputs folder that is not writable, a
store held by another process. Every run goes through a subreaper, so orphans
cannot hide behind PID 1: the run counts as finished only when no process it
started is left. Data lost is asserted to be zero by fingerprinting every row.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.robustness.faults_helpers import (Reaped, assert_clear_failure, files_of, kill_tagged, limit_file_size,
                                             new_tag, read_only_folder, store_fingerprint, tagged_env,
                                             tagged_processes, wait_for)
from workbench.data.demo import generate, write_demo_files

pytestmark = pytest.mark.slow

MONTH = "2026-10"
STORES = "TH01,PY02"
DATA_TABLES = ("customers", "transactions", "events")
SCORE_TABLES = ("customers", "transactions", "events", "customer_scores", "scoring_correlations")
CONFIG = {
    "campaign": "faults", "business": "dealership",
    "db": "{outputs}/{campaign}/workbench.duckdb", "drop_folder": "{outputs}/{campaign}/inbox", "timeout": 300,
    "steps": [{"name": "import", "notebook": "import_data.ipynb", "scope": "group",
               "parameters": {"drop_folder": "{drop_folder}"}},
              {"name": "scoring", "notebook": "scoring.ipynb", "parameters": {"industry": "{business}"}}],
}


def open_folder() -> Path:
    """A folder under /tmp that user ``nobody`` can enter (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="wb-faults-", dir="/tmp"))
    folder.chmod(0o755)
    return folder


def run_argv(root: Path) -> list[str]:
    return [sys.executable, "-m", "workbench.cli", "run", str(root / "faults.yaml"), "--month", MONTH,
            "--outputs", str(root), "--stores", STORES, "--workers", "2", "--no-progress"]


class Layout:
    """Where a copy of the campaign lives."""

    def __init__(self, root: Path):
        self.root = root
        self.campaign = root / "faults"
        self.month = self.campaign / MONTH
        self.group_db = self.campaign / "workbench.duckdb"
        self.store_dbs = {s: self.campaign / "stores" / s / "workbench.duckdb" for s in STORES.split(",")}

    def fingerprints(self) -> dict[str, dict]:
        out = {"group": store_fingerprint(self.group_db, DATA_TABLES)}
        out |= {s: store_fingerprint(db, SCORE_TABLES) for s, db in self.store_dbs.items()}
        return out

    def leftovers(self) -> list[str]:
        """Temporary folders and files a run leaves when it cannot finish."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if ".partial" in p.name or ".old-" in p.name or ".part." in p.name)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A campaign whose month ran once, successfully, and left no process behind."""
    root = open_folder()
    try:
        (root / "faults.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
        write_demo_files(generate("dealership", 600, seed=3), root / "faults" / "inbox")
        logs = tmp_path_factory.mktemp("first_run")
        tag = new_tag()
        run = Reaped(run_argv(root), logs, tag, cwd=Path.cwd())
        code = run.finish(timeout=240)
        assert code == 0, run.stderr()[-3000:] + run.stdout()[-3000:]
        lay = Layout(root)
        assert lay.leftovers() == []
        yield lay, lay.fingerprints(), files_of(lay.month)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def campaign(finished):
    """A private copy of the finished campaign (world-readable, so a test can run it as another user)."""
    lay, prints, month = finished
    root = open_folder()
    try:
        shutil.copytree(lay.root, root, dirs_exist_ok=True, symlinks=True)
        copy = Layout(root)
        assert copy.fingerprints() == prints and files_of(copy.month) == month
        yield copy, prints, month
    finally:
        for p in [root, *root.rglob("*")]:  # undo a test's chmod so the copy can be removed
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)


def running_store_notebook(lay: Layout, tag: str) -> bool:
    """A store's notebook kernel of this run exists and one of its cells is executing."""
    kernels = [pid for pid, cmd in tagged_processes(tag).items() if "ipykernel_launcher" in cmd]
    in_store = []
    for pid in kernels:
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if "/stores/" in cwd and f".{MONTH}.partial-" in cwd:
            in_store.append(pid)
    if not in_store:
        return False
    for part in lay.campaign.glob(f".{MONTH}.partial-*/stores/*/scoring/.scoring.*.part.ipynb"):
        try:
            if '"status": "running"' in part.read_text(encoding="utf-8"):
                return True
        except (OSError, UnicodeDecodeError):
            continue
    return False


def test_run_killed_during_a_store_notebook_leaves_nothing_running_and_loses_nothing(campaign, tmp_path):
    """SIGKILL to the run's process only (not its group), while a store's scoring notebook executes: within
    seconds no worker or kernel of it is left, the earlier month and every store are as they were, and the
    next run succeeds with the same scores (data lost = 0)."""
    lay, prints, month = campaign
    tag = new_tag()
    run = Reaped(run_argv(lay.root), tmp_path, tag, cwd=Path.cwd())
    try:
        wait_for(lambda: running_store_notebook(lay, tag), 120, "a store's notebook cell to execute")
        workers_and_kernels = tagged_processes(tag)
        assert sum("ipykernel_launcher" in c for c in workers_and_kernels.values()) >= 1
        assert sum("multiprocessing.spawn" in c for c in workers_and_kernels.values()) == 2
        killed_at = time.monotonic()
        os.kill(run.pid, signal.SIGKILL)  # the parent only: its workers and kernels must follow by themselves
        assert run.finish(timeout=10) == -signal.SIGKILL  # raises, naming them, if any process of the run is left
        gone_after = time.monotonic() - killed_at
    finally:
        kill_tagged(tag)
    assert gone_after < 10
    assert files_of(lay.month) == month  # earlier outputs byte-identical
    assert lay.fingerprints() == prints  # every store opens (WAL replayed) and holds exactly what it held
    assert all(Path(p).name.startswith(".") for p in lay.leftovers()), lay.leftovers()  # hidden, and ...

    again = Reaped(run_argv(lay.root), tmp_path, new_tag(), cwd=Path.cwd())
    code = again.finish(timeout=240)
    assert code == 0, again.stderr()[-3000:] + again.stdout()[-3000:]
    assert lay.leftovers() == []  # ... removed by the next run
    assert lay.fingerprints() == prints  # same data, same scores: nothing lost, nothing doubled
    assert set(files_of(lay.month)) == set(month)


def test_run_that_cannot_grow_files_fails_clearly_and_keeps_the_month(campaign, tmp_path):
    """A full disk for the run's process tree (no file may grow past 64 KiB, RLIMIT_FSIZE: writes fail with
    EFBIG): the run says which file and why, exits non-zero, and leaves the month and the stores as they were."""
    lay, prints, month = campaign
    run = Reaped(run_argv(lay.root), tmp_path, new_tag(), cwd=Path.cwd(), preexec_fn=limit_file_size(64 * 1024))
    code = run.finish(timeout=240)
    said = run.stdout() + run.stderr()
    assert_clear_failure(code, said, "largest file size allowed", "Nothing was half-written", "To fix it")
    assert files_of(lay.month) == month
    assert lay.fingerprints() == prints
    assert not [p for p in lay.month.rglob("*") if ".part" in p.name]


def test_run_into_an_unwritable_outputs_folder_fails_clearly(campaign, tmp_path):
    """The campaign's outputs folder made unwritable for the run (read-only permissions and an unprivileged user
    when the tests run as root, else a read-only mount): one paragraph naming the folder, exit code 1, nothing
    changed."""
    lay, prints, month = campaign
    logs = open_folder()  # the run's stdout/stderr files and home, writable for an unprivileged user
    logs.chmod(0o777)
    try:
        with read_only_folder(lay.campaign) as (preexec, how):
            env = tagged_env(tag := new_tag(), HOME=str(logs))
            run = Reaped(run_argv(lay.root), logs, tag, env=env, cwd=Path.cwd(), preexec_fn=preexec)
            code = run.finish(timeout=120)
            said = run.stderr()
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    assert_clear_failure(code, said, "not writable", str(lay.campaign), "To fix it")
    assert files_of(lay.month) == month, how
    assert lay.fingerprints() == prints
    assert lay.leftovers() == []


HOLDER = ("import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
          "time.sleep(float(sys.argv[2]))")


def test_run_gives_up_on_a_store_held_by_a_notebook(campaign, tmp_path):
    """Another process (a notebook in JupyterLab) keeps a write connection to the group store: the run says it
    waits, gives up after ``$WORKBENCH_LOCK_WAIT`` with the store's name and exit code 1, no raw lock error."""
    lay, prints, month = campaign
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(lay.group_db), "60"], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        tag = new_tag()
        run = Reaped(run_argv(lay.root), tmp_path, tag, env=tagged_env(tag, WORKBENCH_LOCK_WAIT="2"),
                     cwd=Path.cwd())
        code = run.finish(timeout=120)
    finally:
        holder.kill()
        holder.wait()
    said = run.stdout() + run.stderr()
    assert_clear_failure(code, said, f"database {lay.group_db} is in use by another process", "waiting up to 2 s",
                         "stayed locked for 2 s")
    assert "IOException" not in said and "Conflicting lock" not in said
    assert files_of(lay.month) == month
    assert lay.fingerprints() == prints

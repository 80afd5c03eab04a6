"""Helpers for the fault tests: processes tagged and watched, a subreaper to catch orphans, store fingerprints.

Every process a fault test starts carries a unique ``WORKBENCH_FAULT_TAG`` in its
environment (inherited by pool workers and notebook kernels), so the test can
find exactly its own survivors in ``/proc`` and never touches anyone else's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workbench.data.store import connect

TAG = "WORKBENCH_FAULT_TAG"

#: Runs ``argv[3:]`` as a child with stdout/stderr to files ``argv[1]``/``argv[2]``, as a subreaper (as
#: ``systemd --user`` or a container's init is): orphans of the child's tree are re-parented here, not to PID 1.
#: Prints the child's pid, reaps every descendant, and exits only when none is left, printing the child's exit code.
REAPER = r"""
import ctypes, os, subprocess, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    child = subprocess.Popen(sys.argv[3:], stdout=out, stderr=err)
print(child.pid, flush=True)
code = None
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        break
    if pid == child.pid:
        code = os.waitstatus_to_exitcode(status)
print(code, flush=True)
"""


def tagged_env(tag: str, **extra: str) -> dict[str, str]:
    """The environment for a fault test's process: ours, plus its tag (and ``extra``)."""
    return {**os.environ, TAG: tag, "PYTHONUNBUFFERED": "1", **extra}


def new_tag() -> str:
    return uuid.uuid4().hex


def tagged_processes(tag: str) -> dict[int, str]:
    """Live processes (not zombies) whose environment carries ``tag``: pid -> command line."""
    found = {}
    needle = f"{TAG}={tag}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                found[int(entry)] = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
    return found


def kill_tagged(tag: str) -> None:
    """Clean-up after a failed test: SIGKILL the processes this test started (those carrying its tag)."""
    for pid in tagged_processes(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def wait_for(condition: Callable[[], object], timeout: float, what: str, step: float = 0.02) -> object:
    """Poll ``condition`` until it returns something true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Reaped:
    """A command run under :data:`REAPER`: ``pid`` is the command's own process (the one a fault test kills)."""

    def __init__(self, argv: list[str], folder: Path, tag: str, *, env: dict[str, str] | None = None,
                 cwd: Path | None = None, preexec_fn: Callable[[], None] | None = None):
        self.tag, self.out, self.err = tag, folder / f"{tag}.out", folder / f"{tag}.err"
        self.proc = subprocess.Popen([sys.executable, "-c", REAPER, str(self.out), str(self.err), *argv],
                                     stdout=subprocess.PIPE, text=True, env=env or tagged_env(tag), cwd=cwd,
                                     preexec_fn=preexec_fn)
        self.pid = int(self.proc.stdout.readline())

    def finish(self, timeout: float) -> int | None:
        """Wait until the command and every process it started are gone; the command's exit code (None: killed)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            left = {pid: cmd for pid, cmd in tagged_processes(self.tag).items() if pid != self.proc.pid}
            kill_tagged(self.tag)
            self.proc.wait()
            raise AssertionError(f"processes left {timeout} s after the run ended or was killed: {left}") from None
        last = self.proc.stdout.read().strip().splitlines()
        return int(last[-1]) if last and last[-1].lstrip("-").isdigit() else None

    def stderr(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def stdout(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""


def files_of(folder: Path, skip_suffixes: tuple[str, ...] = (".duckdb", ".wal")) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes), stores excepted."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith(skip_suffixes)}


def store_fingerprint(db: Path, tables: tuple[str, ...] | None = None) -> dict[str, tuple[int, int]]:
    """Row count and an order-free hash of every row of each table: equal fingerprints mean no row was lost,
    added or changed. Opening the store read-only also replays (checks) its write-ahead log."""
    with connect(db, read_only=True, wait=30) as con:
        names = tables or tuple(r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall())
        out = {}
        for name in names:
            n, h = con.execute(f'SELECT count(*), coalesce(sum(hash(t)), 0) FROM "{name}" AS t').fetchall()[0]
            out[name] = (int(n), int(h))
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall()[0][0] >= len(names)
    return out


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def _nobody_can_run_python() -> bool:
    try:
        return subprocess.run([sys.executable, "-c", "pass"], preexec_fn=_as_nobody, capture_output=True,
                              timeout=60).returncode == 0
    except OSError:
        return False


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[tuple[Callable[[], None] | None, str]]:
    """Make ``folder`` (and everything under it) unwritable for a child process; yields the child's ``preexec_fn``
    and how it was done. Not root: chmod. Root: chmod and run the child as ``nobody`` when that user can run this
    Python; else a read-only bind mount (EROFS); else the immutable attribute (EPERM); else skip the test."""
    dirs = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    if os.geteuid() != 0 or _nobody_can_run_python():
        for d in dirs:
            d.chmod(0o555)
        try:
            yield (None if os.geteuid() != 0 else _as_nobody), "read-only permissions"
        finally:
            for d in dirs:
                d.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
    if mounted:
        try:
            if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode == 0:
                yield None, "read-only bind mount"
                return
        finally:
            subprocess.run(["umount", str(folder)], capture_output=True)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", *map(str, dirs)],
                                                 capture_output=True).returncode == 0:
        try:
            yield None, "immutable attribute"
        finally:
            subprocess.run(["chattr", "-i", *map(str, dirs)], capture_output=True)
        return
    pytest.skip("cannot make a folder unwritable for a child process here (not root-droppable, no mount, no chattr)")


def limit_file_size(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` simulating a full disk for one process tree: files cannot grow past ``limit`` bytes, and a
    write that would fails with EFBIG instead of killing the process with SIGXFSZ."""
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def assert_clear_failure(code: int | None, stderr: str, *needles: str) -> None:
    """Exit code not 0, a message containing every needle, and no traceback as the message."""
    assert code not in (0, None), (code, stderr[-3000:])
    assert "Traceback (most recent call last)" not in stderr, stderr[-3000:]
    for needle in needles:
        assert needle in stderr, (needle, stderr[-3000:])

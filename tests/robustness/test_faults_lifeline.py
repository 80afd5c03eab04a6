"""Faults at the process level: a child whose parent is SIGKILLed at an awkward moment must not live on.

The two moments the runner's own safeguards used to miss: a pool worker whose
parent died before the worker armed PR_SET_PDEATHSIG, and a notebook kernel
whose launcher died while the kernel was still starting (ipykernel's parent
poller then waits for PID 1 to adopt it, which never happens under a subreaper
such as ``systemd --user``). Both run under a subreaper here, as in production.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.robustness.faults_helpers import Reaped, kill_tagged, new_tag, tagged_processes, wait_for

pytestmark = pytest.mark.slow

#: A "worker" started by a parent that exits at once; the worker arms its lifeline a second later, as a pool
#: worker does after its imports, then would work for a minute.
LATE_WORKER = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c",
    "import sys, time; time.sleep(1.0); "
    "from workbench.runner.lifeline import die_with_parent; die_with_parent(int(sys.argv[1])); "
    "print('still alive', flush=True); time.sleep(60)", str(os.getpid())])
print(child.pid, flush=True)
"""

SLEEPY_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "id": "params", "metadata": {"tags": ["parameters"]}, "source": "seconds = 60",
         "outputs": [], "execution_count": None},
        {"cell_type": "code", "id": "sleep", "metadata": {}, "source": "import time\ntime.sleep(seconds)",
         "outputs": [], "execution_count": None},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}
RUN_NOTEBOOK = ("import sys; from workbench.runner.notebooks import run_notebook; "
                "run_notebook(sys.argv[1], sys.argv[2], {'seconds': 60})")


def test_worker_whose_parent_died_before_it_armed_its_lifeline_exits(tmp_path):
    tag = new_tag()
    run = Reaped([sys.executable, "-c", LATE_WORKER], tmp_path, tag, cwd=Path.cwd())
    try:
        assert run.finish(timeout=20) == 0  # the parent is gone at once; the reaper waits for the worker too
    finally:
        kill_tagged(tag)
    assert "still alive" not in run.stdout()


@pytest.mark.parametrize("moment", ["kernel starting", "cell executing"])
def test_kernel_dies_with_the_process_that_launched_it(tmp_path, moment):
    """SIGKILL to the process running the notebook: its kernel must be gone within seconds, whether it was
    still starting or executing a cell."""
    notebook = tmp_path / "sleepy.ipynb"
    notebook.write_text(json.dumps(SLEEPY_NOTEBOOK), encoding="utf-8")
    output = tmp_path / "out" / "sleepy.ipynb"
    output.parent.mkdir()
    tag = new_tag()
    run = Reaped([sys.executable, "-c", RUN_NOTEBOOK, str(notebook), str(output)], tmp_path, tag, cwd=Path.cwd())
    try:
        def kernel() -> bool:
            return any("ipykernel" in c for p, c in tagged_processes(tag).items() if p != run.pid)

        def executing() -> bool:
            parts = list(output.parent.glob(".sleepy.*.part.ipynb"))
            return kernel() and any('"status": "running"' in p.read_text(encoding="utf-8", errors="replace")
                                    for p in parts if p.exists())

        wait_for(kernel if moment == "kernel starting" else executing, 60, moment, step=0.005)
        os.kill(run.pid, signal.SIGKILL)
        assert run.finish(timeout=5) == -signal.SIGKILL  # fails, naming the kernel, if it outlives its launcher
    finally:
        kill_tagged(tag)
    assert not output.exists()

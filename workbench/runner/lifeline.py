"""Processes that die with the run that started them: pool workers and notebook kernels.

A run killed with SIGKILL (a scheduler's timeout, the OOM killer, ``kill -9``)
cannot clean up: its pool workers and their notebook kernels would go on
computing a month nobody will move into place, holding the store's lock and
memory. On Linux each such child asks the kernel to SIGKILL it when its parent
dies (``prctl(PR_SET_PDEATHSIG)``) and, since the parent may already be gone by
the time it asks, checks its parent is still the one that started it.

Run as a script (``python lifeline.py PARENT_PID COMMAND...``) this file is the
kernel launcher's wrapper: it arms the signal and ``exec``s the kernel command,
so the kernel (same process) dies with the worker or run that started it even
while ipykernel's own parent poller is not running yet. It imports only the
standard library so it adds a few milliseconds to a kernel's start.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> None:
    """End this process with SIGKILL when its parent dies (Linux; elsewhere a no-op). With ``parent_pid``, end it
    at once if the parent is already gone (this process was re-parented before it could ask)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # our parent died before the signal was armed


def guarded_command(command: list[str], parent_pid: int | None = None) -> list[str]:
    """``command`` wrapped so that the process it starts dies with ``parent_pid`` (default: this process)."""
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), str(parent_pid or os.getpid()), *command]


def main(argv: list[str]) -> None:
    """``lifeline.py PARENT_PID COMMAND...``: arm the parent-death signal, then become ``COMMAND``."""
    parent, command = int(argv[0]), argv[1:]
    die_with_parent(parent)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])

"""One root for every error the workbench raises on purpose, and what the command line does with each.

Every error class in the package derives from :class:`WorkbenchError` through one of four kinds, so a
caller can catch them all (``except WorkbenchError``) or one kind, and the ``workbench`` command turns any
of them into one paragraph on stderr and an exit code, never a traceback:

============== ========================================================== ==========
kind           meaning                                                    exit code
============== ========================================================== ==========
ConfigError    a configuration file or option is invalid (names the key)  2
InputError     a file or value given to the workbench is wrong            2
NotFound       something asked for by name is not there (round, survey)  2
StoreBusy      another process holds the store past the wait              1
WorkbenchError anything else that failed while doing the work             1
============== ========================================================== ==========

Each kind also derives from the built-in exception it replaced (``ValueError``, ``KeyError``,
``RuntimeError``), so existing ``except ValueError`` code keeps working.
"""

from __future__ import annotations

__all__ = ["WorkbenchError", "ConfigError", "InputError", "NotFound", "StoreBusy", "exit_code"]


class WorkbenchError(Exception):
    """The root of every error the workbench raises on purpose; exit code 1 (the work failed)."""

    exit_code = 1


class ConfigError(WorkbenchError, ValueError):
    """A configuration file or option is invalid; the message names the file and the key. Exit code 2."""

    exit_code = 2


class InputError(WorkbenchError, ValueError):
    """A file or value given to the workbench is wrong; the message says where and why. Exit code 2."""

    exit_code = 2


class NotFound(WorkbenchError, KeyError):
    """Something asked for by name (a round, a survey, a customer) is not in the store. Exit code 2."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StoreBusy(WorkbenchError, RuntimeError):
    """Another process kept the store locked past the wait. Exit code 1 (try again later)."""

    exit_code = 1


def exit_code(exc: BaseException) -> int:
    """The command line's exit code for an error: 2 for a user's mistake, 1 for failed work."""
    return int(getattr(exc, "exit_code", 1)) if isinstance(exc, WorkbenchError) else 1

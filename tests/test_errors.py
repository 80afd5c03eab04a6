"""One error root: every error class the package defines derives from WorkbenchError through one of its
kinds, and the command line turns each into one paragraph and exit 2 (a user's mistake) or 1 (failed work)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import workbench
from workbench.cli import main
from workbench.errors import ConfigError, InputError, NotFound, StoreBusy, WorkbenchError, exit_code


def _modules():
    for info in pkgutil.walk_packages(workbench.__path__, "workbench."):
        yield importlib.import_module(info.name)


def test_every_error_class_has_the_one_root():
    found = {}
    for module in _modules():
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    assert len(found) >= 20
    stray = [name for name, cls in found.items() if not issubclass(cls, WorkbenchError)]
    assert stray == [], f"error classes outside workbench.errors' root: {stray}"


def test_kinds_keep_their_builtin_bases_and_exit_codes():
    assert issubclass(ConfigError, ValueError) and issubclass(InputError, ValueError)
    assert issubclass(NotFound, KeyError) and issubclass(StoreBusy, RuntimeError)
    assert str(NotFound("no round 'x'")) == "no round 'x'"      # not KeyError's quoted repr
    assert [exit_code(e("x")) for e in (ConfigError, InputError, NotFound, StoreBusy, WorkbenchError)] == [2, 2, 2, 1, 1]
    assert exit_code(RuntimeError("bug")) == 1


@pytest.mark.parametrize("argv", [["campaign-close", "no-such-round"], ["evaluate-verdicts", "--round", "nope"],
                                  ["simulate-round", "nope"]])
def test_unknown_round_is_one_message_and_exit_2(demo_store, tmp_path, capsys, argv):
    import shutil

    db = tmp_path / "s.duckdb"
    shutil.copy(demo_store[0], db)
    assert main(["--db", str(db), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("workbench: ") and "nope" in err or "no-such-round" in err
    assert "Traceback" not in err and err.count("\n") == 1

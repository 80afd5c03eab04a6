"""Two processes on one store: another process (a notebook in JupyterLab) holds a write connection while
``workbench`` commands start. Each either waits, says so naming the store, and proceeds, or gives up after
``$WORKBENCH_LOCK_WAIT`` with exit code 1 and one clear paragraph; never a raw DuckDB lock error, never a
changed store. A static check keeps every open of a store file on that path.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.robustness.faults_helpers import store_fingerprint
from workbench.cli import main
from workbench.paths import PROJECT_ROOT

HOLDER = ("import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
          "time.sleep(float(sys.argv[2]))")


@contextlib.contextmanager
def held(db: Path, seconds: float) -> Iterator[subprocess.Popen]:
    """Another process holding a read-write connection to ``db`` for ``seconds`` (as an open notebook does)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def round_store(tmp_path_factory) -> tuple[Path, str, Path]:
    """A scored 400-customer dealership store with a planned round and its call workbook."""
    from workbench.campaigns.rounds import create_round
    from workbench.campaigns.workbook import write_round_workbook
    from workbench.data.demo import DEMO_AS_OF, build_demo_db
    from workbench.scoring import score_customers

    folder = tmp_path_factory.mktemp("lock_store")
    db = folder / "workbench.duckdb"
    build_demo_db(db, "dealership", 400, seed=2, files_dir=folder / "files")
    score_customers(db, DEMO_AS_OF, "dealership")
    rid = create_round(db, "dealership_winback", dt.date(2026, 11, 2)).round["round_id"]
    calls = write_round_workbook(db, rid, folder / "calls.xlsx", privacy="masked")
    return db, rid, calls


@pytest.fixture
def store(round_store, tmp_path) -> Path:
    db, _, _ = round_store
    copy = tmp_path / "workbench.duckdb"
    shutil.copy(db, copy)
    return copy


def entry_points(store: Path, round_id: str, calls: Path, files: Path, out: Path) -> dict[str, list[str]]:
    """Every ``workbench`` command that opens the store, with arguments that get it as far as the store."""
    return {
        "import": ["import", "customers", str(files / "dealership_customers.xlsx")],
        "summary": ["summary"],
        "purge": ["purge", "--customer", "C000001"],
        "responses import": ["responses", "import", "churn_x", str(calls)],
        "responses analyse": ["responses", "analyse", "churn_x"],
        "campaign-round": ["campaign-round", "dealership_winback", "--date", "2026-12-01"],
        "campaign-workbook": ["campaign-workbook", round_id, str(out / "calls.xlsx")],
        "campaign-import": ["campaign-import", str(calls)],
        "campaign-close": ["campaign-close", round_id],
        "campaign-rounds": ["campaign-rounds"],
        "evaluate": ["evaluate", "--out", str(out / "evaluation")],
        "evaluate-verdicts": ["evaluate-verdicts"],
        "simulate-round": ["simulate-round", round_id],
    }


@pytest.mark.slow
def test_every_command_gives_up_on_a_held_store_with_a_clear_message(round_store, store, tmp_path, capsys,
                                                                     monkeypatch):
    _, round_id, calls = round_store
    commands = entry_points(store, round_id, calls, round_store[0].parent / "files", tmp_path)
    before = store_fingerprint(store)
    monkeypatch.setenv("WORKBENCH_LOCK_WAIT", "0.3")
    wrong = {}
    with held(store, 300):
        for name, argv in commands.items():
            capsys.readouterr()
            try:
                code = main(["--db", str(store), *argv])
            except BaseException as exc:  # noqa: BLE001 - any escape is the failure this test looks for
                wrong[name] = f"raised {type(exc).__name__}: {exc}"
                continue
            err = capsys.readouterr().err
            if (code != 1 or f"database {store} is in use by another process" not in err
                    or "stayed locked for 0.3 s" not in err or "Traceback" in err or "IOException" in err):
                wrong[name] = f"exit {code}: {err[-600:]}"
    assert wrong == {}
    assert len(commands) == 13  # lock contentions injected
    assert store_fingerprint(store) == before  # nothing changed, nothing lost
    assert not (tmp_path / "calls.xlsx").exists()


@pytest.mark.slow
def test_import_waits_for_a_held_store_says_so_and_proceeds(store, tmp_path, capsys, monkeypatch):
    new = tmp_path / "new_customers.csv"
    new.write_text("customer_id,name\nN0001,王伟\nN0002,李娜\nN0003,张敏\n", encoding="utf-8")
    before = store_fingerprint(store, ("customers",))["customers"][0]
    monkeypatch.setenv("WORKBENCH_LOCK_WAIT", "60")
    with held(store, 2.0):
        t0 = time.monotonic()
        code = main(["--db", str(store), "import", "customers", str(new)])
        waited = time.monotonic() - t0
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"database {store} is in use by another process" in err and "waiting up to 60 s" in err
    assert waited >= 1.0
    assert store_fingerprint(store, ("customers",))["customers"][0] == before + 3


@pytest.mark.slow
def test_run_waits_for_a_held_store_says_so_and_proceeds(round_store, tmp_path, capsys, monkeypatch):
    """``workbench run`` while a notebook holds the store: the run's log says it waits, then the month succeeds."""
    db, _, _ = round_store
    root = tmp_path / "outputs"
    (root / "lockrun").mkdir(parents=True)
    shutil.copy(db, root / "lockrun" / "workbench.duckdb")
    shutil.copytree(db.parent / "files", root / "lockrun" / "inbox")
    config = tmp_path / "lockrun.yaml"
    config.write_text(yaml.safe_dump({
        "campaign": "lockrun", "business": "dealership", "db": "{outputs}/{campaign}/workbench.duckdb",
        "drop_folder": "{outputs}/{campaign}/inbox",
        "steps": [{"name": "import", "notebook": "import_data.ipynb", "parameters": {"drop_folder": "{drop_folder}"}}],
    }), encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_LOCK_WAIT", "60")
    with held(root / "lockrun" / "workbench.duckdb", 3.0):
        code = main(["run", str(config), "--month", "2026-10", "--outputs", str(root), "--no-progress"])
    said = capsys.readouterr()
    assert code == 0, said.err[-3000:] + said.out[-3000:]
    log = (root / "lockrun" / "2026-10" / "run.log").read_text(encoding="utf-8")
    assert re.search(r"database .*workbench\.duckdb is in use by another process .*waiting up to 60 s", log), log
    assert json.loads((root / "lockrun" / "2026-10" / "run.json").read_text(encoding="utf-8"))["status"] == "succeeded"


#: Opens of a store file outside ``workbench.data.store`` that are allowed, and why.
OPEN_ALLOWED = {
    "workbench/data/purge.py": "attaches the new file it copies the store into (a file no other process knows)",
}


def _code_units() -> Iterator[tuple[str, str]]:
    for path in sorted((PROJECT_ROOT / "workbench").rglob("*.py")):
        yield str(path.relative_to(PROJECT_ROOT)), path.read_text(encoding="utf-8")
    for path in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        yield str(path.relative_to(PROJECT_ROOT)), "\n".join(ln for ln in code.splitlines()
                                                             if not ln.lstrip().startswith(("%", "!")))


ATTACH_SQL = re.compile(r"\bATTACH\s+(?:DATABASE\s+)?(?:IF\s+NOT\s+EXISTS\s+)?['\"]", re.I)


def store_opens(source: str) -> list[str]:
    """``duckdb.connect`` calls on a file (in-memory ones are fine), ``from duckdb import connect``, and SQL
    ``ATTACH`` in string literals: the ways to open a store without waiting for its lock."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "connect" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "duckdb":
            first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "database"), None)
            if first is not None and not (isinstance(first, ast.Constant) and first.value in (":memory:", "")):
                found.append(f"line {node.lineno}: duckdb.connect({ast.unparse(first)})")
        elif isinstance(node, ast.ImportFrom) and node.module == "duckdb" and any(a.name == "connect"
                                                                                 for a in node.names):
            found.append(f"line {node.lineno}: from duckdb import connect")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and ATTACH_SQL.search(node.value):
            found.append(f"line {node.lineno}: ATTACH in {node.value[:60]!r}")
    return found


def test_every_store_open_goes_through_the_store_module():
    assert store_opens("import duckdb\ncon = duckdb.connect(str(db))\n") != []  # the check can fail
    assert store_opens("import duckdb\ncon = duckdb.connect()\n") == []
    assert store_opens("con.execute(f\"ATTACH '{path}' AS g (READ_ONLY)\")\n") != []
    assert store_opens('"""Attach the file to the email."""\n') == []
    offenders = {}
    for name, source in _code_units():
        if name in ("workbench/data/store.py", *OPEN_ALLOWED):
            continue
        found = store_opens(source)
        if found:
            offenders[name] = found
    assert offenders == {}, "open stores with workbench.data.store.connect (it waits for a busy store): " + \
        json.dumps(offenders, ensure_ascii=False, indent=1)

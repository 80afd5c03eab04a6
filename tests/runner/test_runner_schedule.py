"""Scheduling: the shipped cron line and systemd units are valid and call `workbench run`; the monthly-run
notebook runs under jupyter-scheduler's own executor (when the extension is installed)."""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from workbench.cli import build_parser
from workbench.paths import PROJECT_ROOT
from workbench.runner.config import load_config

SCHEDULE = PROJECT_ROOT / "config" / "schedule"
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def cron_field_values(field: str, low: int, high: int) -> set[int]:
    """Expand one crontab field (``*``, ``a-b``, ``*/n``, lists) into its values; raise on anything invalid."""
    values: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        start, end = (low, high) if base == "*" else (tuple(int(x) for x in base.split("-")) + (None,))[:2]
        end = start if end is None else end
        n = int(step) if step else 1
        if not (low <= start <= end <= high) or n < 1:
            raise ValueError(f"{part!r} outside {low}-{high}")
        values |= set(range(start, end + 1, n))
    return values


def workbench_args(command: str) -> list[str]:
    """The arguments after ``workbench`` in a shell command line (``cd X && .venv/bin/workbench run ...``)."""
    words = shlex.split(command.split("&&")[-1].split(">>")[0])
    i = next(i for i, w in enumerate(words) if w.endswith("/workbench") or w == "workbench")
    return words[i + 1:]


def test_cron_line_runs_previous_month_on_the_second():
    lines = [ln for ln in (SCHEDULE / "winback-monthly.cron").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    minute, hour, day, month, weekday = (cron_field_values(f, *r) for f, r in zip(fields[:5], CRON_RANGES))
    assert (minute, hour, day, month, weekday) == ({0}, {6}, {2}, set(range(1, 13)), set(range(0, 8)))
    args = workbench_args(fields[5])
    parsed = build_parser().parse_args(args)
    assert parsed.command == "run" and parsed.month is None  # --month defaults to the previous month
    load_config(parsed.config)  # the config it names exists and is valid
    with pytest.raises(ValueError):
        cron_field_values("61", 0, 59)


def test_systemd_units_parse_and_verify(tmp_path):
    units = {}
    for name in ("winback-monthly.service", "winback-monthly.timer"):
        cp = configparser.ConfigParser(strict=True, interpolation=None)
        cp.optionxform = str
        cp.read(SCHEDULE / name, encoding="utf-8")
        units[name] = cp
    service, timer = units["winback-monthly.service"], units["winback-monthly.timer"]
    assert service["Service"]["Type"] == "oneshot"
    args = workbench_args(service["Service"]["ExecStart"])
    assert build_parser().parse_args(args).command == "run"
    assert timer["Timer"]["Unit"] == "winback-monthly.service" and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed: units only parsed")
    cal = subprocess.run([tool, "calendar", timer["Timer"]["OnCalendar"]], capture_output=True, text=True)
    assert cal.returncode == 0 and "Normalized form: *-*-02 06:00:00" in cal.stdout
    for name in units:  # verify against this checkout: its path and venv, no system user needed
        text = (SCHEDULE / name).read_text().replace("/srv/winback-workbench", str(PROJECT_ROOT))
        (tmp_path / name).write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("User=")))
    if not (PROJECT_ROOT / ".venv" / "bin" / "workbench").exists():
        pytest.skip("no .venv/bin/workbench to verify ExecStart against")
    files = [str(tmp_path / n) for n in units]
    ok = subprocess.run([tool, "verify", *files], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    broken = (tmp_path / "winback-monthly.timer").read_text().replace("*-*-02 06:00:00", "*-*-42 99:00")
    (tmp_path / "winback-monthly.timer").write_text(broken)
    assert subprocess.run([tool, "verify", *files], capture_output=True, text=True).returncode != 0


@pytest.mark.slow
def test_monthly_run_notebook_under_jupyter_scheduler(tmp_path):
    scheduler = pytest.importorskip(
        "jupyter_scheduler", reason="jupyter-scheduler is not installed (it resolves with our pins: "
        "pip install jupyter-scheduler; JupyterLab then offers 'Create a notebook job')")
    from jupyter_scheduler.executors import DefaultExecutionManager
    from jupyter_scheduler.models import Status
    from jupyter_scheduler.orm import Job, create_session, create_tables

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({
        "campaign": "tiny", "business": "dealership", "db": "{run_dir}/workbench.duckdb",
        "drop_folder": "{run_dir}/input_files",
        "steps": [{"name": "demo_data", "hook": "workbench.runner.demo:write_demo_inputs", "scope": "group",
                   "parameters": {"folder": "{drop_folder}", "customers": 200}},
                  {"name": "import", "notebook": "import_data.ipynb", "parameters": {"drop_folder": "{drop_folder}"}}]}))
    staging = tmp_path / "staging"
    staging.mkdir()
    shutil.copy(PROJECT_ROOT / "notebooks" / "monthly_run.ipynb", staging / "monthly_run.ipynb")
    db_url = f"sqlite:///{tmp_path / 'scheduler.sqlite'}"
    create_tables(db_url)
    # parameters as a user types them in the "Create job" form: inserted verbatim as `name = value`
    params = {"config": json.dumps(str(config)), "month": '"2026-10"', "outputs": json.dumps(str(tmp_path / "out"))}
    with create_session(db_url)() as session:
        job = Job(runtime_environment_name="winback-workbench", input_filename="monthly_run.ipynb",
                  output_formats=["ipynb", "html"], parameters=params, name="monthly")
        session.add(job)
        session.commit()
        job_id = job.job_id
    paths = {"input": str(staging / "monthly_run.ipynb"), "ipynb": str(staging / "out.ipynb"),
             "html": str(staging / "out.html")}
    DefaultExecutionManager(job_id, str(tmp_path), db_url, paths).process()
    with create_session(db_url)() as session:
        status, message = session.query(Job.status, Job.status_message).filter(Job.job_id == job_id).one()
    assert status == Status.COMPLETED, message
    m = json.loads((tmp_path / "out" / "tiny" / "2026-10" / "run.json").read_text())
    assert m["status"] == "succeeded" and [s["status"] for s in m["steps"]] == ["succeeded", "succeeded"]
    assert "status 状态: succeeded" in (staging / "out.html").read_text(encoding="utf-8")
    assert scheduler.__version__

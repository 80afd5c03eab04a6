"""The set-up promises: README's two commands, CI calling the test one, conda and pip environments in step."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```[a-z]*\n(.*?)```", text, re.S)
    assert block, "README has no fenced code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_demo_then_test_command():
    commands = readme_commands()
    assert len(commands) == 2
    assert "demo" in commands[0] and "test" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_command test" in ci or readme_commands()[1] in ci


def _requirement_map(reqs: list[str]) -> dict[str, str]:
    out = {}
    for req in reqs:
        m = re.match(r"^([A-Za-z0-9_.\-]+(?:\[[a-z,]+\])?)\s*(.*)$", req.strip())
        out[m.group(1).lower()] = m.group(2).replace(" ", "")
    return out


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pip_side = _requirement_map(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_side = _requirement_map([r for r in pip_block if not r.startswith("-e")])
    assert conda_side == pip_side


def test_design_card_packages_have_lower_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = _requirement_map(project["dependencies"])
    for name in ("jupyterlab", "ipywidgets", "pandas", "pingouin", "papermill", "xlsxwriter", "duckdb"):
        assert deps[name].startswith(">="), name


def test_every_stage_package_says_what_it_owns():
    import importlib

    for stage in ("data", "scoring", "surveys", "analysis", "campaigns", "evaluation", "reports", "runner"):
        doc = importlib.import_module(f"workbench.{stage}").__doc__ or ""
        assert len(doc.split()) > 15, stage


def test_data_model_doc_lists_every_column():
    from workbench.data.schema import load_schema

    doc = (ROOT / "docs" / "data_model.md").read_text(encoding="utf-8")
    for table in load_schema().values():
        assert f"## `{table.name}`" in doc
        for col in table.columns.values():
            assert f"| `{col.name}` |" in doc, (table.name, col.name)
            row = doc[doc.index(f"| `{col.name}` |", doc.index(f"## `{table.name}`")):].split("\n", 1)[0]
            assert ("personal" in row.split("|")[2]) is col.personal, row

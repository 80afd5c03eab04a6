"""Pipeline configs, plans and conditions: everything checked before a notebook runs (no kernels here)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from workbench.cli import main
from workbench.data.store import connect
from workbench.runner.conditions import ConditionContext, evaluate
from workbench.runner.config import (CONFIG_DIR, PipelineConfigError, apply_overrides, load_config, order_steps,
                                     parse_config, read_raw)
from workbench.runner.import_step import find_drop_files
from workbench.runner.plan import PlanError, make_plan, month_bounds, previous_month, render

GOOD = {
    "campaign": "shop",
    "business": "dealership",
    "db": "{outputs}/{campaign}/workbench.duckdb",
    "drop_folder": "{outputs}/{campaign}/inbox",
    "steps": [
        {"name": "import", "notebook": "import_data.ipynb", "scope": "group",
         "parameters": {"drop_folder": "{drop_folder}"}},
        {"name": "scoring", "notebook": "scoring.ipynb", "parameters": {"industry": "{business}"}},
        {"name": "survey_design", "notebook": "survey_design.ipynb", "when": {"not": "survey_in_field"},
         "parameters": {"margin": 0.08, "survey_id": "churn_{month_compact}"}},
    ],
}


def write_config(folder: Path, raw: dict, name: str = "p.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_configs_load_and_plan(tmp_path):
    names = sorted(p.name for p in CONFIG_DIR.glob("*.yaml"))
    assert {"demo.yaml", "demo_phone_brand.yaml", "monthly_dealership.yaml"} <= set(names)
    for name in names:
        plan = make_plan(load_config(CONFIG_DIR / name), "2026-10", outputs_root=tmp_path)
        assert plan.month_dir == (tmp_path / plan.config.campaign / "2026-10").resolve()
    phone = load_config("demo_phone_brand")  # extends demo.yaml: same steps, its own business and template
    demo = load_config("demo")
    assert [s.name for s in phone.steps] == [s.name for s in demo.steps]
    assert (phone.business, phone.variables["survey_template"]) == ("phone_brand", "phone_young_attrition")
    assert phone.variables["seed"] == demo.variables["seed"]


def test_every_problem_named_with_file_and_key(tmp_path):
    bad = {**GOOD, "campain": "x", "campaign": "../escape", "timeout": -1,
           "steps": [{"name": "a", "notebook": "scoring.ipynb", "when": "survey_maybe",
                      "parameters": {"as_of": "{montth}"}},
                     {"name": "a", "hook": "not a hook"},
                     {"name": "c", "notebook": "x.ipynb", "hook": "m:f", "scope": "region"}]}
    with pytest.raises(PipelineConfigError) as err:
        load_config(write_config(tmp_path, bad))
    text = str(err.value)
    for needle in ["p.yaml: campain: unknown key", "p.yaml: campaign: '../escape' is not a plain folder name",
                   "timeout: must be a positive", "steps[0] (a).when: unknown condition 'survey_maybe'",
                   "unknown placeholder {montth}", "steps[1] (a).name: 'a' is used twice",
                   "steps[1] (a).hook: must be 'package.module:function'", "steps[2] (c): give exactly one of",
                   "steps[2] (c).scope: must be one of"]:
        assert needle in text, needle
    assert len(err.value.problems) == 9


def test_needs_order_and_cycles():
    raw = {**GOOD, "steps": [{"name": "b", "notebook": "scoring.ipynb", "needs": ["a"]},
                             {"name": "a", "notebook": "import_data.ipynb", "parameters": {"drop_folder": "x"}},
                             {"name": "c", "notebook": "scoring.ipynb"}]}
    assert [s.name for s in parse_config(raw).steps] == ["a", "b", "c"]
    raw["steps"][1]["needs"] = ["b"]
    with pytest.raises(PipelineConfigError, match="circular needs among b, a"):
        parse_config(raw)
    steps = parse_config({**GOOD}).steps
    assert order_steps(steps[::-1])[0].name == "survey_design"  # no needs: file order kept


def test_overrides_and_their_errors():
    raw = apply_overrides(GOOD, {"campaign": "other", "variables.tag": "x"}, {"survey_design.margin": 0.1})
    assert raw["campaign"] == "other" and raw["variables"] == {"tag": "x"}
    assert raw["steps"][2]["parameters"] == {"margin": 0.1, "survey_id": "churn_{month_compact}"}
    assert GOOD["steps"][2]["parameters"]["margin"] == 0.08  # the file's mapping is not changed
    with pytest.raises(PipelineConfigError) as err:
        apply_overrides(GOOD, {"steps": []}, {"nosuch.margin": 1, "scoring": 2})
    assert len(err.value.problems) == 3 and "--param nosuch.margin" in str(err.value)


def test_extends_merges_steps_by_name(tmp_path):
    write_config(tmp_path, GOOD, "base.yaml")
    child = {"extends": "base.yaml", "campaign": "child",
             "steps": [{"name": "survey_design", "parameters": {"margin": 0.1}},
                       {"name": "extra", "notebook": "scoring.ipynb"}]}
    raw = read_raw(write_config(tmp_path, child, "child.yaml"))
    assert raw["campaign"] == "child" and [s["name"] for s in raw["steps"]][-1] == "extra"
    assert raw["steps"][2]["parameters"] == {"margin": 0.1, "survey_id": "churn_{month_compact}"}
    assert raw["steps"][2]["when"] == {"not": "survey_in_field"}
    write_config(tmp_path, {"extends": "child.yaml"}, "base.yaml")
    with pytest.raises(PipelineConfigError, match="circular"):
        read_raw(tmp_path / "child.yaml")


def test_months_and_rendering():
    assert previous_month(dt.date(2026, 1, 15)) == "2025-12"
    assert previous_month(dt.date(2026, 3, 1)) == "2026-02"
    assert month_bounds("2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    for bad in ("2026-13", "2026-1", "26-10", "2026/10"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_bounds(bad)
    v = {"n": 5, "xs": [1, 2], "m": "2026-10"}
    assert render({"a": "{n}", "b": ["{xs}", "s_{m}"], "c": "{{lit}}", "d": 1.5}, v) == \
        {"a": 5, "b": [[1, 2], "s_2026-10"], "c": "{lit}", "d": 1.5}


def test_plan_checks_parameters_against_notebooks_before_running(tmp_path):
    def plan_problems(raw, params=None, **kw):
        with pytest.raises(PlanError) as err:
            make_plan(load_config(write_config(tmp_path, raw), params=params), "2026-10", outputs_root=tmp_path, **kw)
        return str(err.value)

    text = plan_problems(GOOD, {"scoring.as_off": "2026-10-31", "survey_design.margin": "five percent"})
    assert "step scoring: unknown parameter(s) ['as_off']; scoring.ipynb declares" in text
    assert "step survey_design: parameter 'margin' = 'five percent' is a str, but survey_design.ipynb declares" in text
    no_drop = {**GOOD, "steps": [{"name": "import", "notebook": "import_data.ipynb"}]}
    assert "missing required parameter(s) ['drop_folder'] of import_data.ipynb" in plan_problems(no_drop)
    hooks = {**GOOD, "steps": [{"name": "h", "hook": "tests.runner.hooks:write_marker",
                                "parameters": {"folder": "f", "x": 1}},
                               {"name": "g", "hook": "workbench.nosuch:f"},
                               {"name": "n", "notebook": "nosuch.ipynb"}]}
    text = plan_problems(hooks)
    assert "step h: hook tests.runner.hooks:write_marker: got an unexpected keyword argument 'x'" in text
    assert "step g: hook 'workbench.nosuch:f' cannot be imported" in text
    assert "step n: notebook nosuch.ipynb not found" in text
    assert not (tmp_path / "shop").exists()  # nothing ran, nothing was written


def test_names_cannot_escape_outputs(tmp_path):
    with pytest.raises(PipelineConfigError, match="not a plain folder name"):
        load_config(write_config(tmp_path, GOOD), {"campaign": "../../etc"})
    cfg = load_config(write_config(tmp_path, GOOD))
    for store in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(ValueError):
            make_plan(cfg, "2026-10", outputs_root=tmp_path, stores=[store])


def test_dry_run_prints_plan_and_runs_nothing(tmp_path, capsys):
    path = write_config(tmp_path, GOOD)
    code = main(["run", str(path), "--month", "2026-09", "--outputs", str(tmp_path / "out"), "--dry-run",
                 "--param", "survey_design.margin=0.1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "month 2026-09 (as of 2026-09-30)" in out
    assert "notebook notebooks/survey_design.ipynb; runs when not survey_in_field" in out
    assert "margin = 0.1" in out and "survey_id = 'churn_202609'" in out and "as_of = '2026-09-30'" in out
    assert not (tmp_path / "out").exists()
    code = main(["run", str(path), "--month", "2026-09", "--outputs", str(tmp_path / "out"),
                 "--param", "scoring.nosuch=1"])
    assert code == 2 and "unknown parameter(s) ['nosuch']" in capsys.readouterr().err


def add_round(con, round_id: str, date: str) -> None:
    con.execute("INSERT INTO rounds BY NAME SELECT ? AS round_id, 'c' AS campaign_id, ?::DATE AS round_date, "
                "0.1 AS holdout_share, 1 AS seed, 'open' AS status, now() AS created_at", [round_id, date])


def test_conditions_follow_the_store(tmp_path):
    db = tmp_path / "s.duckdb"
    ctx = ConditionContext(db=db, month_start=dt.date(2026, 10, 1), month_end=dt.date(2026, 10, 31))
    assert evaluate("survey_in_field", ctx)[0] is False  # no store yet
    with connect(db) as con:
        for sid in ("s1", "s2"):
            con.execute("INSERT INTO surveys BY NAME SELECT ? AS survey_id, 't' AS template, '{}' AS definition, "
                        "now() AS created_at", [sid])
    assert evaluate("survey_in_field", ctx) == (True, "in the field: s1, s2")
    assert evaluate("survey_returned", ctx)[0] is False
    with connect(db) as con:
        con.execute("INSERT INTO survey_responses BY NAME SELECT 's1' AS survey_id, 'C1' AS customer_id, "
                    "'completed' AS status, 'q' AS question, 'a' AS answer")
    assert evaluate("survey_in_field", ctx) == (True, "in the field: s2")
    assert evaluate({"any": ["survey_in_field", "survey_returned"]}, ctx)[0] is True
    assert evaluate(["survey_in_field", {"not": "survey_returned"}], ctx)[0] is False
    assert evaluate("earlier_rounds", ctx)[0] is False
    with connect(db) as con:
        add_round(con, "r10", "2026-10-05")
    assert evaluate("rounds_exist", ctx)[0] is True and evaluate("earlier_rounds", ctx)[0] is False
    with connect(db) as con:
        add_round(con, "r09", "2026-09-05")
    assert evaluate("earlier_rounds", ctx) == (True, "earlier rounds: r09")


def test_drop_folder_files_by_table_and_checksum(tmp_path, demo_store):
    db, data = demo_store
    folder = tmp_path / "inbox"
    (folder / "transactions").mkdir(parents=True)
    data.customers.head(5).to_csv(folder / "客户导出_202610.csv", index=False)
    data.transactions.head(5).to_csv(folder / "transactions" / "october.csv", index=False)
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    (folder / "readme.pdf").write_bytes(b"%PDF")
    (folder / "~$customers.xlsx").write_bytes(b"lock")
    files = find_drop_files(folder, tmp_path / "new.duckdb").set_index("file")
    assert files.loc["客户导出_202610.csv", ["table", "status"]].tolist() == ["customers", "new"]
    assert files.loc["transactions/october.csv", ["table", "status"]].tolist() == ["transactions", "new"]
    assert files.loc["notes.txt", "status"] == "ignored" and files.loc["readme.pdf", "status"] == "ignored"
    assert "~$customers.xlsx" not in files.index
    assert list(files.index[:2]) == ["客户导出_202610.csv", "transactions/october.csv"]  # customers first
    demo_files = sorted((db.parent / "files").iterdir())
    seen = find_drop_files(db.parent / "files", db)  # the shared demo store imported exactly these
    assert set(seen["status"]) == {"imported"} and len(seen) == len(demo_files)


def test_a_second_run_of_the_same_month_is_refused(tmp_path, capsys):
    import fcntl

    raw = {**GOOD, "steps": [{"name": "marker", "hook": "tests.runner.hooks:write_marker",
                              "parameters": {"folder": "{run_dir}/marker"}}]}
    path = write_config(tmp_path, raw)
    lock = tmp_path / "out" / "shop" / ".2026-10.lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # another run holds the month
        code = main(["run", str(path), "--month", "2026-10", "--outputs", str(tmp_path / "out")])
        assert code == 1 and "another run of shop 2026-10 is in progress" in capsys.readouterr().err
    assert not (tmp_path / "out" / "shop" / "2026-10").exists()
    assert main(["run", str(path), "--month", "2026-10", "--outputs", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "shop" / "2026-10" / "marker" / "marker.txt").read_text() == "dealership \n"

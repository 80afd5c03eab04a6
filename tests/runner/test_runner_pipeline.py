"""The monthly pipeline end to end on demo data through papermill, and failed re-runs that change nothing.

The demo job (``make demo``: both demo businesses' months through ``workbench run``) runs once, small, for the
whole module; tests that run again copy its folder first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import openpyxl
import pytest

from workbench.cli import main
from workbench.data.store import connect
from workbench.runner.manifest import sha256
from workbench.scoring.store import read_scores

pytestmark = pytest.mark.slow

MONTH = "2026-10"
CUSTOMERS = 2_000  # small, but enough respondents for every segment test of the analysis


@pytest.fixture(scope="module")
def demo_month(tmp_path_factory) -> Path:
    """The demo job, run once: the dealership month at CUSTOMERS, the phone brand's at 300; its folder."""
    from workbench.runner.demo import run_demo

    return run_demo(tmp_path_factory.mktemp("runs") / "demo", log=lambda m: None,
                    n_customers={"dealership": CUSTOMERS, "phone_brand": 300})


def con_rows(month: Path, sql: str) -> list[tuple]:
    with connect(month / "workbench.duckdb", read_only=True) as con:
        return con.execute(sql).fetchall()


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_month_outputs_manifest_notebooks_and_workbooks(demo_month):
    root = demo_month
    month = root / "dealership" / MONTH
    assert sorted(p.name for p in root.iterdir()) == ["dealership", "phone_brand"]
    assert not root.with_name(f".{root.name}.partial").exists()
    for business in ("dealership", "phone_brand"):
        assert sorted(p.name for p in (root / business).iterdir() if p.is_dir()) == [MONTH]  # no partial, no failed
        assert json.loads((root / business / MONTH / "run.json").read_text(encoding="utf-8"))["status"] == "succeeded"
    m = json.loads((month / "run.json").read_text(encoding="utf-8"))
    assert (m["campaign"], m["month"], m["as_of"], m["status"]) == ("dealership", MONTH, "2026-10-31", "succeeded")
    assert m["started_at"] <= m["ended_at"] and m["packages"]["papermill"] and m["packages"]["pandas"]
    steps = {s["name"]: s for s in m["steps"]}
    assert [s["name"] for s in m["steps"]] == ["demo_data", "import", "scoring", "survey_design", "survey_answers",
                                               "response_analysis", "campaign", "round_outcomes", "evaluation"]
    assert all(s["status"] == "succeeded" for s in m["steps"])
    assert steps["scoring"]["parameters"] == {"industry": "dealership", "db": "workbench.duckdb",
                                              "output_dir": "scoring", "as_of": "2026-10-31"}
    assert steps["survey_design"]["parameters"]["survey_id"] == "car_aftersales_churn_202610"
    # input checksums are those of the files imported; outputs listed with their checksums
    inputs = {i["path"]: i["sha256"] for i in m["inputs"] if i["role"] == "drop_folder"}
    assert len(inputs) == 3 and all(sha256(month / p) == h for p, h in inputs.items())
    outputs = {o["path"]: o["sha256"] for o in m["outputs"]}
    assert outputs["scoring/scoring_2026-10-31.xlsx"] == sha256(month / "scoring" / "scoring_2026-10-31.xlsx")
    # no personal data in the manifest or the log: no customer's phone, name (other than a staff member's
    # own, which the demo draws from the same name list) or WeChat id
    with connect(month / "workbench.duckdb", read_only=True) as con:
        people = con.execute("SELECT name, phone, wechat_id FROM customers").fetchall()
    staff = {"王芳", "李强", "张敏"} | {str(a) for (a,) in con_rows(month, "SELECT DISTINCT agent FROM assignments")}
    for log in ("run.json", "run.log"):
        text = (month / log).read_text(encoding="utf-8")
        leaked = [v for person in people for v in person if v and v not in staff and v in text]
        assert leaked == [], (log, leaked[:5])

    for step in ("import", "scoring", "survey_design", "response_analysis", "campaign", "evaluation"):
        nb = nbformat.read(month / step / f"{step}.ipynb", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors and any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
        html = (month / step / f"{step}.html").read_text(encoding="utf-8")
        assert "from workbench" not in html and "<html" in html  # the report shows results, not code

    scores = read_scores(month / "workbench.duckdb")
    wb = openpyxl.load_workbook(month / "scoring" / "scoring_2026-10-31.xlsx", read_only=True)
    assert {"stages", "tiers"} <= set(wb.sheetnames)
    stages = {r[0]: r for r in wb["stages"].iter_rows(min_row=2, values_only=True)}
    header = next(wb["stages"].iter_rows(max_row=1, values_only=True))
    customers_col = header.index("customers")
    assert {k: v[customers_col] for k, v in stages.items()} == scores["stage"].value_counts().to_dict()
    summary = openpyxl.load_workbook(month / "import" / "data_summary.xlsx", read_only=True)
    tables = {r[0]: r[1] for r in summary["tables"].iter_rows(min_row=2, values_only=True)}
    assert tables["customers"] == CUSTOMERS == len(scores)
    rows = list(openpyxl.load_workbook(month / "import" / "import_log.xlsx", read_only=True)["files"]
                .iter_rows(values_only=True))
    log = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert [r["status"] for r in log] == ["imported now"] * 3
    assert [r["table"] for r in log] == ["customers", "transactions", "events"]
    assert log[0]["inserted"] == CUSTOMERS
    assert len(list((month / "survey_design" / "car_aftersales_churn_202610").glob("*_calls_zh.xlsx"))) == 1
    # the later stages' workbooks: answers analysed, the round assigned, its outcome evaluated
    with connect(month / "workbench.duckdb", read_only=True) as con:
        [(round_id, treated, holdout)] = con.execute(
            "SELECT round_id, count(*) FILTER (arm = 'treatment'), count(*) FILTER (arm = 'holdout') "
            "FROM assignments GROUP BY round_id").fetchall()
        completed = con.execute("SELECT count(DISTINCT customer_id) FROM survey_responses "
                                "WHERE status = 'completed'").fetchall()[0][0]
    assert round_id.endswith("20261101") and treated > holdout > 0 and completed > 0
    analysis = openpyxl.load_workbook(next((month / "response_analysis").glob("*_analysis.xlsx")), read_only=True)
    assert {"summary", "reason_ranking", "segment_tests"} <= set(analysis.sheetnames)
    calls = openpyxl.load_workbook(month / "campaign" / f"{round_id}_calls_zh.xlsx", read_only=True)
    agents = [n for n in calls.sheetnames if not n.startswith("_") and " " not in n]
    ids = {r[0] for n in agents for r in calls[n].iter_rows(min_row=2, values_only=True) if r and r[0]}
    assert len(ids) == treated  # every treated customer is on one agent's sheet, no holdout customer is
    evaluation = openpyxl.load_workbook(month / "evaluation" / "evaluation.xlsx", read_only=True)
    assert {"Summary", "Return rates", "Diff-in-diff"} <= set(evaluation.sheetnames)
    log_text = (month / "run.log").read_text(encoding="utf-8")
    assert "scoring: done in" in log_text and "survey_design: done in" in log_text


def test_failure_in_third_notebook_leaves_month_untouched(demo_month, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(demo_month / "dealership", root / "dealership")
    month = root / "dealership" / MONTH
    before = files_of(month)
    # the third notebook (survey design) fails in its population cell: the segment names no real column
    code = main(["run", "demo", "--month", MONTH, "--outputs", str(root), "--no-progress",
                 "--set", f"variables.customers={CUSTOMERS}",
                 "--param", "survey_design.segment=no_such_column > 1"])
    err = capsys.readouterr()
    assert code == 1
    assert files_of(month) == before  # byte-identical, run.json and the store included
    text = err.out + err.err
    assert "step survey_design: notebook survey_design.ipynb failed in cell" in text
    assert "no_such_column" in text
    failed = root / "dealership" / f"{MONTH}.failed"
    partial = nbformat.read(failed / "survey_design" / "survey_design.ipynb", as_version=4)
    banner = [c for c in partial.cells if c.get("outputs") and any(o.get("output_type") == "error"
                                                                    for o in c["outputs"])]
    assert len(banner) == 1
    m = json.loads((failed / "run.json").read_text(encoding="utf-8"))
    status = {s["name"]: s["status"] for s in m["steps"]}
    assert m["status"] == "failed" and status["scoring"] == "succeeded" and status["survey_design"] == "failed"
    source = nbformat.read(Path("notebooks/survey_design.ipynb"), as_version=4)
    cell = m["steps"][3]["error"]["cell"]  # counted in the notebook as shipped, as JupyterLab shows it
    assert source.cells[cell - 1].source == banner[0].source
    assert f"failed in cell {cell} of survey_design.ipynb (In [{banner[0].execution_count}]" in text
    assert "no_such_column" not in json.dumps(m["steps"][3]["error"])  # the message stays out of the manifest
    assert f"{MONTH} failed" in (root / "dealership" / "runs.log").read_text(encoding="utf-8")


def test_failed_demo_run_leaves_previous_outputs(demo_month, tmp_path):
    """A demo job whose months fail (in their worker processes, at their first step: a seed numpy refuses)
    leaves the previous demo outputs byte for byte; tests/test_demo.py fails one after every month succeeded."""
    from workbench.runner.demo import run_demo

    out = tmp_path / "demo"
    shutil.copytree(demo_month, out)
    before = files_of(out)
    assert {p.rsplit("/", 1)[-1] for p in before} >= {"data_summary.xlsx", "customers.xlsx"}
    with pytest.raises(RuntimeError, match="demo month of .* failed"):
        run_demo(out, n_customers={"dealership": CUSTOMERS, "phone_brand": 300}, seed=-1, log=lambda m: None)
    assert files_of(out) == before
